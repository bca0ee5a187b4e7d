"""Print the README's parameter tables from the nodes' own declarations.

The nodes' ``PARAMS`` (with config/*.yaml, which a test keeps identical) are the single
source of every default, range and unit; this prints them as Markdown so the README never
drifts: ``.venv/bin/python scripts/param_table.py``. test/test_readme.py checks the README
against the same declarations.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

#: node name -> module declaring ``PARAMS``, in data-flow order.
NODE_MODULES = {
    "camera": "hyperion_edge.camera_node",
    "decompressor": "hyperion_edge.decompressor_node",
    "edge_detector": "hyperion_edge.edge_detector_node",
    "scorer": "hyperion_edge.scorer_node",
    "scheduler": "hyperion_edge.scheduler_node",
    "encoder": "hyperion_edge.encoder_node",
    "edge_link": "hyperion_edge.edge_link_node",
    "ensembler": "hyperion_edge.ensembler_node",
    "cloud_link": "hyperion_cloud.cloud_link_node",
    "cloud_detector": "hyperion_cloud.cloud_detector_node",
}


def node_params(node: str) -> tuple:
    """The ``ParamSpec`` tuple a node declares."""
    return importlib.import_module(NODE_MODULES[node]).PARAMS


def format_default(value: object) -> str:
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def format_range(spec: object) -> str:
    if spec.choices:
        return " \\| ".join(f"`{choice}`" for choice in spec.choices)
    if spec.low is not None or spec.high is not None:
        return f"[{spec.low}, {spec.high}]"
    return ""


def table(node: str) -> str:
    rows = [f"**{node}**", "", "| parameter | default | allowed | meaning |",
            "| --- | --- | --- | --- |"]
    for spec in node_params(node):
        meaning = spec.description.replace("|", "\\|")
        rows.append(f"| `{spec.name}` | {format_default(spec.default)} | {format_range(spec)} "
                    f"| {meaning} |")
    return "\n".join(rows)


def rewrite(readme: Path) -> None:
    """Replace every node's table in ``readme`` (after its ``**node**`` heading line)."""
    text = readme.read_text()
    for node in NODE_MODULES:
        pattern = rf"^(\*\*{re.escape(node)}\*\*.*\n\n)(?:\|.*\n)+"
        body = table(node).split("\n", 2)[2] + "\n"  # the rows, without the heading
        text, count = re.subn(pattern, lambda m, b=body: m.group(1) + b, text,
                              flags=re.MULTILINE)
        if count != 1:
            raise SystemExit(f"{readme}: expected one table for {node}, found {count}")
    readme.write_text(text)


def main() -> None:
    if sys.argv[1:2] == ["--write"] and len(sys.argv) == 3:
        rewrite(Path(sys.argv[2]))
        return
    print("\n\n".join(table(node) for node in NODE_MODULES))


if __name__ == "__main__":
    main()
