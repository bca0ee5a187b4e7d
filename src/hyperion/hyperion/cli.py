"""The `hyperion` command: one entry point for setting up, running and measuring Hyperion.

Each sub-command lives in its own module and is imported only when used, so `hyperion
doctor` works even where heavy dependencies are missing.
"""

from __future__ import annotations

import importlib
import sys

#: sub-command -> (module whose ``main(argv) -> int`` runs it, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("hyperion.demo", "edge + cloud graphs on the embedded 4K clip over a real LTE trace"),
    "doctor": ("hyperion.doctor", "check the environment: ROS, RMW, interfaces, models"),
    "bench": ("hyperion_core.bench", "time every per-frame stage on a 4K frame (--json FILE)"),
    "models": ("hyperion_core.models.cli", "list the configured models and their latency"),
    "run": ("hyperion.run", "start the edge or cloud graph: hyperion run edge|cloud [-p K:=V]; "
                            "the pool's router: hyperion run router"),
    "bag": ("hyperion.bag", "record, play or import rosbag2 files (mcap/sqlite3)"),
    "view": ("hyperion.view", "live view: Foxglove WebSocket server on the graph's topics"),
    "profile": ("hyperion_core.eval.profile_cli", "fit the size/accuracy profilers on frames"),
    "eval": ("hyperion_core.eval.cli", "run Hyperion, baselines and ablations on traces"),
    "certs": ("hyperion_core.link.certs", "make a CA and edge/cloud certificates for the link"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: hyperion <command> [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``argv[0]`` to its sub-command module."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage())
        return 0
    if args[0] not in COMMANDS:
        print(f"hyperion: unknown command {args[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[args[0]][0])
    return int(module.main(args[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
