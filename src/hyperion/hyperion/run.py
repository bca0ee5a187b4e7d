"""``hyperion run edge|cloud|router``: start a graph's nodes as processes, without ros2 launch.

Each node of :data:`hyperion.graph.GRAPHS` runs as ``<executable> --ros-args -r
__node:=<name> --params-file <share>/config/<file> [-p k:=v ...] [-r from:=to ...]`` in an
environment with the shared-memory Fast DDS profile, loopback discovery (unless set) and
the graph's ``ROS_DOMAIN_ID``. SIGINT/SIGTERM are forwarded to every node; if a node exits
with a non-zero status (e.g. a parameter out of range at start-up), the others are
stopped and ``hyperion run`` exits with that status.

Many cameras, one cloud: ``hyperion run router`` starts the cloud's zenoh router with the
shared detector pool (:mod:`hyperion_core.link.pool_router`, settings ``config/router.yaml``,
its own flags), and ``hyperion run cloud --workers N --router ENDPOINT`` starts N detector
workers of that pool (``pool_worker`` of hyperion_cloud, the ``cloud_detector`` section of
``config/cloud.yaml`` and ``-p [cloud_detector.]k:=v``) instead of the point-to-point cloud
graph; they are supervised the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from hyperion.graph import (
    GRAPHS,
    SWITCHES,
    GraphSpec,
    NodeSpec,
    config_path,
    executable,
    graph_env,
)

STOP_TIMEOUT_S = 10.0
MAX_WORKERS = 64


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hyperion run", description=__doc__.splitlines()[0])
    parser.add_argument("graph", choices=sorted(GRAPHS))
    parser.add_argument("-p", "--param", action="append", default=[], metavar="[NODE.]K:=V",
                        help="parameter override, for one node (camera.rate_hz:=1.0) or all")
    parser.add_argument("-r", "--remap", action="append", default=[], metavar="FROM:=TO",
                        help="topic remapping for every node, e.g. /hyperion/image:=/cam/image")
    parser.add_argument("--params-file", action="append", default=[], type=Path,
                        help="extra params file, applied after the installed one")
    parser.add_argument("--domain-id", type=int, default=None,
                        help="ROS_DOMAIN_ID (default: $ROS_DOMAIN_ID or 0, +1 for cloud)")
    parser.add_argument("--no-camera", action="store_true",
                        help="do not start the camera; remap /hyperion/image to your topic")
    parser.add_argument("--compressed-input", action="store_true",
                        help="start the decompressor: JPEG/PNG CompressedImage frames on "
                             "/hyperion/image/compressed (remap it to your camera's topic)")
    pool = parser.add_argument_group("shared detector pool (cloud only)")
    pool.add_argument("--workers", type=int, default=0,
                      help=f"start this many pool workers instead of the cloud graph "
                           f"(0-{MAX_WORKERS}; 0 = the cloud graph)")
    pool.add_argument("--router", default="tcp/127.0.0.1:7447",
                      help="the pool router's endpoint, e.g. tls/cloud.example:7447")
    pool.add_argument("--worker-id", default=socket.gethostname(),
                      help="worker ids are <this>-<i> (default the host name)")
    for name in ("ca", "cert", "key"):
        pool.add_argument(f"--tls-{name}", default=None, help=f"workers' TLS {name}, PEM path")
    pool.add_argument("--lease-s", type=float, default=None,
                      help="workers' zenoh lease, s: the pool gives a frozen worker's frames "
                           "to others this long after it stops (default 10)")
    return parser.parse_args(argv)


def worker_commands(args: argparse.Namespace) -> dict[str, list[str]]:
    """Command line of each pool worker, by worker id."""
    common = ["--connect", args.router, "--params-file", str(config_path("cloud.yaml"))]
    for extra in args.params_file:
        common += ["--params-file", str(extra)]
    for item in args.param:
        target, dot, rest = item.partition(".")
        if not dot or target == "cloud_detector":
            common += ["-p", rest if dot else item]
    for name in ("ca", "cert", "key"):
        value = getattr(args, f"tls_{name}")
        if value:
            common += [f"--tls-{name}", value]
    if args.lease_s is not None:
        common += ["--lease-s", str(args.lease_s)]
    pool_worker = str(executable("hyperion_cloud", "pool_worker"))
    return {f"{args.worker_id}-{i}": [pool_worker, "--id", f"{args.worker_id}-{i}", *common]
            for i in range(args.workers)}


def start_workers(args: argparse.Namespace) -> dict[str, subprocess.Popen]:
    procs = {name: subprocess.Popen(cmd, env=graph_env(), preexec_fn=_die_with_parent)
             for name, cmd in worker_commands(args).items()}
    print(f"[hyperion run] pool workers {', '.join(procs)} -> {args.router}", file=sys.stderr,
          flush=True)
    return procs


def executable_path(node: NodeSpec) -> str:
    """The node's executable, ``lib/<package>/<executable>`` of its installed package."""
    return str(executable(node.package, node.executable))


def overrides_file(graph: GraphSpec, params: list[str], folder: Path) -> Path | None:
    """Write ``-p [node.]k:=v`` overrides as a params file with one section per node.

    A plain ``--ros-args -p`` would not do: rcl ranks it like a ``/**`` entry, below the
    node-named sections of the installed params file. Values are parsed as YAML, as
    ``-p`` values are.
    """
    sections: dict[str, dict[str, object]] = {n.name: {} for n in graph.nodes}
    for item in params:
        key, sep, value = item.partition(":=")
        if not sep or not key:
            raise ValueError(f"parameter override {item!r} is not [NODE.]NAME:=VALUE")
        target, dot, name = key.partition(".")
        if not dot:
            target, name = "", key
        if target and target not in sections:
            raise ValueError(f"{item!r}: no node {target!r} in the {graph.name} graph")
        for node in sections if not target else [target]:
            sections[node][name] = yaml.safe_load(value)
    document = {node: {"ros__parameters": values} for node, values in sections.items() if values}
    if not document:
        return None
    path = folder / "overrides.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def node_command(
    node: NodeSpec, args: argparse.Namespace, overrides: Path | None
) -> list[str]:
    """Command line of one node with the graph's parameters and the overrides."""
    cmd = [executable_path(node), "--ros-args", "-r", f"__node:={node.name}",
           "--params-file", str(config_path(node.params_file))]
    for extra in [*args.params_file, *([overrides] if overrides else [])]:
        cmd += ["--params-file", str(extra)]
    for src, dst in node.remappings:
        cmd += ["-r", f"{src}:={dst}"]
    for item in args.remap:
        cmd += ["-r", item]
    return cmd


def _die_with_parent() -> None:
    """In the child: get SIGTERM if ``hyperion run`` dies, so no node is orphaned (Linux)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def nodes_to_start(graph: GraphSpec, args: argparse.Namespace) -> list[NodeSpec]:
    """The graph's nodes whose switch (``--no-camera``, ``--compressed-input``) is on."""
    switches = {**SWITCHES, "use_camera": not args.no_camera,
                "compressed_input": args.compressed_input}
    return [node for node in graph.nodes if not node.start_if or switches[node.start_if]]


def start(
    graph: GraphSpec, args: argparse.Namespace, overrides: Path | None
) -> dict[str, subprocess.Popen]:
    env = graph_env()
    if args.domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(args.domain_id)
    else:
        env["ROS_DOMAIN_ID"] = str(int(env.get("ROS_DOMAIN_ID", "0")) + graph.domain_offset)
    procs = {}
    for node in nodes_to_start(graph, args):
        cmd = node_command(node, args, overrides)
        procs[node.name] = subprocess.Popen(cmd, env={**env, **node.env},
                                            preexec_fn=_die_with_parent)
    print(f"[hyperion run] {graph.name}: {', '.join(procs)} "
          f"(ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']})", file=sys.stderr, flush=True)
    return procs


def stop(procs: dict[str, subprocess.Popen]) -> None:
    """SIGINT every running node, then SIGKILL what is left after the timeout."""
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for proc in procs.values():
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def supervise(procs: dict[str, subprocess.Popen]) -> int:
    """Wait until a stop signal (→ 0), a failed node (→ its status) or all nodes ended."""
    stopping: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    finished: set[str] = set()
    status = 0
    while not stopping:
        for name, proc in procs.items():
            code = proc.poll()
            if code is None or name in finished:
                continue
            finished.add(name)
            print(f"[hyperion run] node {name} exited with status {code}", file=sys.stderr,
                  flush=True)
            if code != 0:
                status = code if code > 0 else 1
        if status or len(finished) == len(procs):
            break
        time.sleep(0.1)
    stop(procs)
    return status


def run_router(argv: list[str]) -> int:
    """``hyperion run router [flags]``: the installed ``config/router.yaml`` unless given."""
    from hyperion_core.link.pool_router import main as router_main

    if "--config" not in argv:
        argv = ["--config", str(config_path("router.yaml")), *argv]
    return router_main(argv)


def main(argv: list[str]) -> int:
    if argv[:1] == ["router"]:
        return run_router(argv[1:])
    args = parse_args(argv)
    graph = GRAPHS[args.graph]
    if not 0 <= args.workers <= MAX_WORKERS:
        print(f"hyperion run: --workers must be in [0, {MAX_WORKERS}], got {args.workers}",
              file=sys.stderr)
        return 2
    if args.workers and graph.name != "cloud":
        print("hyperion run: --workers applies to the cloud only", file=sys.stderr)
        return 2
    for extra in args.params_file:
        if not extra.is_file():
            print(f"hyperion run: params file {extra} not found", file=sys.stderr)
            return 2
    os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)
    with tempfile.TemporaryDirectory(prefix="hyperion-run-") as folder:
        try:
            overrides = overrides_file(graph, args.param, Path(folder))
        except ValueError as err:
            print(f"hyperion run: {err}", file=sys.stderr)
            return 2
        if args.workers:
            return supervise(start_workers(args))
        return supervise(start(graph, args, overrides))
