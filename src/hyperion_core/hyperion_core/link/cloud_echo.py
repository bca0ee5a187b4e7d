"""A stand-in cloud: acks every uplink payload and replies with a fixed-size payload.

Run as ``python -m hyperion_core.link.cloud_echo --listen tcp/127.0.0.1:7447``. Prints
``READY`` once subscribed, one JSON line per payload received (seq, bytes), and exits when
its standard input closes, so a parent process that dies takes it down too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading

from hyperion_core.link.zenoh_link import CloudLink, LinkConfig


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--listen", action="append", default=[], help="endpoint to listen on")
    ap.add_argument("--connect", action="append", default=[], help="endpoint to connect to")
    ap.add_argument("--mode", default="peer", choices=("peer", "client"))
    ap.add_argument("--prefix", default="hyperion/link", help="key prefix")
    ap.add_argument("--reply-bytes", type=int, default=1024, help="reply size, bytes")
    ap.add_argument("--tls-ca", default=None, help="CA certificate, PEM path")
    ap.add_argument("--tls-cert", default=None, help="own certificate, PEM path")
    ap.add_argument("--tls-key", default=None, help="own private key, PEM path")
    ap.add_argument("--tls-mutual", action="store_true", help="require client certificates")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Console entry: serve until stdin closes."""
    args = _parse(argv)
    config = LinkConfig(mode=args.mode, listen=tuple(args.listen), connect=tuple(args.connect),
                        key_prefix=args.prefix, tls_ca=args.tls_ca, tls_cert=args.tls_cert,
                        tls_key=args.tls_key, tls_mutual=args.tls_mutual)
    lock = threading.Lock()
    holder: dict[str, CloudLink] = {}
    ready = threading.Event()  # a payload may arrive before the constructor returns
    reply = b"r" * args.reply_bytes

    def on_payload(seq: int, payload: bytes) -> None:
        with lock:
            print(json.dumps({"seq": seq, "bytes": len(payload)}), flush=True)
        if ready.wait(10.0):
            holder["link"].reply(seq, reply)

    with CloudLink(config=config, on_payload=on_payload) as link:
        holder["link"] = link
        ready.set()
        print("READY", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            sys.stdin.read()  # block until the parent closes our stdin
    return 0


if __name__ == "__main__":
    sys.exit(main())
