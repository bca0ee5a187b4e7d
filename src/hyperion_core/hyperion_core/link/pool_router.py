"""``hyperion run router``: the cloud's zenoh router, with the detector pool on its session.

Edges (client mode, ``key_prefix`` ``<root>/edge/<name>``) and pool workers (client mode)
connect to this router; nothing else is a broker. Settings come from a YAML file
(``config/router.yaml``), each overridable on the command line.

With mutual TLS (``tls_ca``, ``tls_cert``, ``tls_key``) and ``edges`` listed, the router
enforces zenoh access control by certificate common name (:func:`access_control`): edge
``<name>`` (its certificate's CN) may only publish frames under ``<root>/edge/<name>`` and
read its own acknowledgements, answers and queue delay there; certificates named in
``worker_names`` may only use ``<root>/worker/**``; everything else is denied. The pool
itself runs inside the router process, so its own declarations are local and not filtered.

``lease_s`` is the router's zenoh lease: edges and workers close their connection to a
router silent for that long (a frozen or unplugged host; a killed one is noticed at once)
and look for it again, or for the next router they list.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import yaml
import zenoh

from hyperion_core.link.pool_service import PoolConfig, PoolService
from hyperion_core.link.zenoh_link import LinkConfig

EDGE_UPLINK = ("up", "probe")
EDGE_DOWNLINK = ("ack", "down", "delay")
ALL_MESSAGES = ("put", "delete", "declare_subscriber", "query", "reply", "declare_queryable",
                "liveliness_token", "declare_liveliness_subscriber", "liveliness_query")


def access_control(*, root: str, edges: list[str], worker_names: list[str]) -> dict[str, Any]:
    """The router's zenoh ``access_control`` section: each edge confined to its own keys.

    Args:
        root: the pool's key prefix.
        edges: edge names = their certificates' common names = their key segment.
        worker_names: certificate common names of the pool's workers.
    """
    rules: list[dict[str, Any]] = []
    subjects: list[dict[str, Any]] = []
    policies: list[dict[str, Any]] = []
    for edge in edges:
        if not edge or any(c in edge for c in "/*$?#"):
            raise ValueError(f"edge name must be one plain key segment, got {edge!r}")
        own = f"{root}/edge/{edge}"
        rules += [
            {"id": f"{edge}-sends", "permission": "allow", "flows": ["ingress"],
             "messages": ["put"], "key_exprs": [f"{own}/{leaf}" for leaf in EDGE_UPLINK]},
            # The pool's subscription to the uplink reaches the edge as a declaration: it is
            # how the edge's publisher knows a pool listens (its "link up").
            {"id": f"{edge}-sees-pool", "permission": "allow", "flows": ["egress"],
             "messages": ["declare_subscriber"],
             "key_exprs": [f"{own}/{leaf}" for leaf in EDGE_UPLINK]},
            {"id": f"{edge}-reads", "permission": "allow", "flows": ["ingress", "egress"],
             "messages": ["declare_subscriber", "put"],
             "key_exprs": [f"{own}/{leaf}" for leaf in EDGE_DOWNLINK]},
        ]
        subjects.append({"id": f"cn-{edge}", "cert_common_names": [edge]})
        policies.append({"id": f"policy-{edge}", "subjects": [f"cn-{edge}"],
                         "rules": [f"{edge}-sends", f"{edge}-sees-pool", f"{edge}-reads"]})
    if worker_names:
        rules.append({"id": "workers", "permission": "allow", "flows": ["ingress", "egress"],
                      "messages": list(ALL_MESSAGES), "key_exprs": [f"{root}/worker/**"]})
        subjects.append({"id": "cn-workers", "cert_common_names": list(worker_names)})
        policies.append({"id": "policy-workers", "subjects": ["cn-workers"],
                         "rules": ["workers"]})
    return {"enabled": True, "default_permission": "deny", "rules": rules,
            "subjects": subjects, "policies": policies}


def router_config(settings: dict[str, Any]) -> zenoh.Config:
    """The zenoh router configuration of the settings (see ``config/router.yaml``)."""
    link = LinkConfig(
        listen=tuple(settings["listen"]), key_prefix=settings["root"],
        tls_ca=settings["tls_ca"] or None, tls_cert=settings["tls_cert"] or None,
        tls_key=settings["tls_key"] or None, tls_mutual=bool(settings["tls_cert"]),
        lease_s=float(settings["lease_s"]))
    conf = link.to_zenoh()
    conf.insert_json5("mode", json.dumps("router"))
    if settings["edges"]:
        if not link.tls_mutual:
            raise ValueError("edges (access control by certificate) need tls_ca, tls_cert "
                             "and tls_key")
        acl = access_control(root=settings["root"], edges=list(settings["edges"]),
                             worker_names=list(settings["worker_names"]))
        conf.insert_json5("access_control", json.dumps(acl))
    return conf


def pool_config(settings: dict[str, Any]) -> PoolConfig:
    """The pool settings of the settings file's ``pool`` section."""
    pool = dict(settings["pool"])
    return PoolConfig(root=settings["root"], weights=dict(pool.pop("weights", {}) or {}),
                      edges=tuple(settings["edges"]), **pool)


def load_settings(path: Path, overrides: argparse.Namespace) -> dict[str, Any]:
    """The YAML settings with command-line overrides applied."""
    settings = yaml.safe_load(path.read_text())
    # An empty override (a launch argument left at its default) keeps the file's value.
    for key in ("listen", "edges", "worker_names"):
        value = getattr(overrides, key)
        if value:
            settings[key] = [v for v in value.split(",") if v]
    for key in ("tls_ca", "tls_cert", "tls_key", "lease_s"):
        if getattr(overrides, key):
            settings[key] = getattr(overrides, key)
    return settings


def default_settings_path() -> Path:
    """``config/router.yaml`` of the checkout, or of the installed ``hyperion`` share."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "config" / "router.yaml"
        if candidate.is_file():
            return candidate
    share = Path(sys.prefix) / "share" / "hyperion" / "config" / "router.yaml"
    return share


def without_ros_args(argv: list[str]) -> list[str]:
    """``argv`` less any ``--ros-args ... [--]`` block that ``ros2 launch`` appends."""
    kept: list[str] = []
    inside = False
    for arg in argv:
        if arg == "--ros-args":
            inside = True
        elif inside and arg == "--":
            inside = False
        elif not inside:
            kept.append(arg)
    return kept


def stop_on_signal() -> threading.Event:
    """An event set by the first SIGINT or SIGTERM; later ones are then ignored.

    ``ros2 launch`` on Ctrl-C signals a process that the terminal has signalled already: a
    second SIGINT arriving while the interpreter finalizes (zenoh's threads make that take
    a moment) would kill it with the default action instead of a clean exit 0.
    """
    stop = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    return stop


def main(argv: list[str] | None = None) -> int:
    """`hyperion run router [--config F] [--listen E,...] [--edges a,b] [--tls-* P]
    [--lease-s S]`."""
    argv = without_ros_args(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(prog="hyperion run router", description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=None, help="settings YAML "
                    "(default config/router.yaml)")
    ap.add_argument("--listen", default=None, help="endpoints, comma-separated")
    ap.add_argument("--edges", default=None, help="edge names (= certificate CNs) allowed in")
    ap.add_argument("--worker-names", dest="worker_names", default=None,
                    help="worker certificate CNs, comma-separated")
    ap.add_argument("--tls-ca", dest="tls_ca", default=None)
    ap.add_argument("--tls-cert", dest="tls_cert", default=None)
    ap.add_argument("--tls-key", dest="tls_key", default=None)
    ap.add_argument("--lease-s", dest="lease_s", type=float, default=None,
                    help="the router's zenoh lease, s (settings file: lease_s)")
    args = ap.parse_args(argv)
    path = args.config or default_settings_path()
    try:
        settings = load_settings(path, args)
        pool = pool_config(settings)
        conf = router_config(settings)
    except (OSError, ValueError, TypeError, KeyError) as err:
        print(f"hyperion run router: {path}: {err}", file=sys.stderr)
        return 2
    stop = stop_on_signal()
    session = zenoh.open(conf)
    service = PoolService(session=session, config=pool)
    print(f"READY router {session.zid()} on {', '.join(settings['listen'])}", flush=True)
    stop.wait()
    service.close()
    session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
