"""Certificates for the mutually authenticated edge–cloud link (`hyperion certs`).

Makes a private certificate authority and one key pair per party (by default ``cloud`` and
``edge``), each certificate signed by that CA. Both ends of the zenoh link are then
configured with the CA as the only trust root and their own certificate and key: the cloud
accepts only edges holding a certificate from this CA, and the edge accepts only a cloud
holding one. Private keys are written with mode 0600; keep ``ca.key`` offline once the
parties' certificates exist — it is only needed to issue more.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True, kw_only=True)
class PkiPaths:
    """Where :func:`make_pki` wrote the CA and each party's certificate and key."""

    ca_cert: Path
    ca_key: Path
    certs: dict[str, Path]
    keys: dict[str, Path]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Create with 0600 directly so the key is never readable by others, not even briefly.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)


def _subject_alternative_names(hostnames: tuple[str, ...]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            entries.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(entries)


def make_pki(
    out_dir: Path,
    *,
    parties: tuple[str, ...] = ("cloud", "edge"),
    hostnames: tuple[str, ...] = ("localhost", "127.0.0.1"),
    days: int = 365,
    ca_name: str = "hyperion-link-ca",
) -> PkiPaths:
    """Create a CA and a certificate/key pair per party under ``out_dir``.

    Args:
        out_dir: directory to write ``ca.pem``, ``ca.key``, ``<party>.pem``, ``<party>.key``.
        parties: names of the certificate holders; each becomes a certificate's common name.
        hostnames: DNS names or IP addresses the listening side is reached at; TLS clients
            check the server's certificate against the endpoint's host.
        days: validity of every certificate, days from now.
        ca_name: common name of the CA.
    """
    if days <= 0:
        raise ValueError(f"days must be positive, got {days}")
    out_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc)
    valid_from, valid_to = now - timedelta(minutes=5), now + timedelta(days=days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(ca_name))
        .issuer_name(_name(ca_name))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    paths = PkiPaths(ca_cert=out_dir / "ca.pem", ca_key=out_dir / "ca.key", certs={}, keys={})
    paths.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(paths.ca_key, ca_key)

    for party in parties:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(party))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(valid_from)
            .not_valid_after(valid_to)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_subject_alternative_names(hostnames), critical=False)
            # Either party may listen or connect (zenoh peers), so allow both uses.
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        paths.certs[party] = out_dir / f"{party}.pem"
        paths.keys[party] = out_dir / f"{party}.key"
        paths.certs[party].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(paths.keys[party], key)
    return paths


def main(argv: list[str] | None = None) -> int:
    """`hyperion certs --out DIR [--host H ...] [--days N]`."""
    parser = argparse.ArgumentParser(prog="hyperion certs", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument(
        "--host", action="append", default=None,
        help="hostname or IP the cloud listens at (repeatable; default localhost, 127.0.0.1)",
    )
    parser.add_argument("--days", type=int, default=365, help="validity in days (default 365)")
    parser.add_argument(
        "--party", action="append", default=None,
        help="certificate holder, its common name (repeatable; default cloud, edge); for a "
             "shared detector pool: router, pool-worker and one per edge, e.g. cam-1")
    args = parser.parse_args(argv)
    hosts = tuple(args.host) if args.host else ("localhost", "127.0.0.1")
    parties = tuple(args.party) if args.party else ("cloud", "edge")
    bad = [p for p in parties if not p or any(c in p for c in "/*$?# ")]
    if bad:
        parser.error(f"--party must be one plain key segment (no / * $ ? # or space): {bad}")
    paths = make_pki(args.out, parties=parties, hostnames=hosts, days=args.days)
    print(f"CA:    {paths.ca_cert} (key {paths.ca_key}: keep it offline)")
    for party in paths.certs:
        print(f"{party + ':':6} {paths.certs[party]}  key {paths.keys[party]}")
    return 0
