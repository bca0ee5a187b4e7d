"""Parameters of the zenoh link shared by edge_link and cloud_link, and their mapping."""

from __future__ import annotations

from typing import Any

from hyperion_core.link.zenoh_link import LinkConfig
from hyperion_runtime.params import ParamSpec


def link_params(*, connect: str, listen: str) -> tuple[ParamSpec, ...]:
    """The link parameters, with each end's endpoint defaults."""
    return (
        ParamSpec(name="connect", default=connect,
                  description="zenoh endpoints to connect to, comma-separated, e.g. "
                              "tcp/10.0.0.2:7447 or tls/host:7447 [endpoint]"),
        ParamSpec(name="listen", default=listen,
                  description="zenoh endpoints to listen on, comma-separated [endpoint]"),
        ParamSpec(name="mode", default="peer", choices=("peer", "client"),
                  description="zenoh session mode [-]"),
        ParamSpec(name="key_prefix", default="hyperion/link",
                  description="zenoh key prefix of the link (up, ack, down) [key]"),
        ParamSpec(name="tls_ca", default="", description="CA certificate, PEM [path]"),
        ParamSpec(name="tls_cert", default="", description="this end's certificate, PEM [path]"),
        ParamSpec(name="tls_key", default="", description="this end's private key, PEM [path]"),
        ParamSpec(name="tls_mutual", default=False,
                  description="require certificates from both ends [bool]"),
    )


def _endpoints(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def link_config(p: dict[str, Any]) -> LinkConfig:
    """A :class:`LinkConfig` from declared link parameters.

    Raises:
        ValueError: no endpoint, or an incomplete TLS setting.
    """
    return LinkConfig(
        mode=p["mode"], connect=_endpoints(p["connect"]), listen=_endpoints(p["listen"]),
        key_prefix=p["key_prefix"], tls_ca=p["tls_ca"] or None, tls_cert=p["tls_cert"] or None,
        tls_key=p["tls_key"] or None, tls_mutual=p["tls_mutual"],
    )
