"""`hyperion models`: the configured models, where their weights come from, and their cost."""

from __future__ import annotations

import argparse
import json
import sys

from hyperion_core.models.registry import describe_models


def format_table(rows: list[dict]) -> str:
    """Plain-text table of :func:`describe_models` rows."""
    lines = []
    for row in rows:
        latency = row.get("latency_s")
        timing = (
            f"{latency * 1e3:8.0f} ms per {row['frame']} frame" if latency is not None
            else row.get("error", "not measured")
        )
        lines += [
            f"{row['name']} ({row['role']}): {row['description']}",
            f"    weights  {row['package']} {row['installed'] or 'NOT INSTALLED'}: {row['file']}",
            f"    licence  {row['licence']}",
            f"    input    {row['input_size']}",
            f"    latency  {timing}",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the model table; ``--measure`` times each model on a real 4K frame."""
    parser = argparse.ArgumentParser(prog="hyperion models", description=__doc__)
    parser.add_argument("--measure", action="store_true",
                        help="load every model and time it on one 3840x2160 frame")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per model (median)")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    rows = describe_models(args.measure, runs=args.runs)
    print(format_table(rows))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2, default=str)
    return 1 if any(row["installed"] is None or "error" in row for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
