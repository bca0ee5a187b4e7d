"""The README documents every node parameter (with its default), topic and command."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
spec = importlib.util.spec_from_file_location("param_table", ROOT / "scripts" / "param_table.py")
param_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(param_table)


@pytest.mark.parametrize("node", list(param_table.NODE_MODULES))
def test_every_parameter_is_in_the_readme_with_its_default(node):
    section = README.split(f"**{node}**", 1)
    assert len(section) == 2, f"no parameter table for {node}"
    body = section[1].split("\n\n", 2)[1]  # the table right after the heading
    for spec in param_table.node_params(node):
        row = re.search(rf"^\| `{re.escape(spec.name)}` \| (.*?) \|", body, re.MULTILINE)
        assert row, f"{node}.{spec.name} is not documented"
        assert row.group(1) == param_table.format_default(spec.default), (
            f"{node}.{spec.name}: README says {row.group(1)}, code {spec.default!r}")


def test_common_parameters_are_in_the_readme():
    from hyperion_runtime.params import common_params

    for spec in common_params():
        assert f"`{spec.name}` ({param_table.format_default(spec.default)}" in README, spec.name


def test_every_topic_is_in_the_readme():
    from hyperion_runtime import qos

    topics = [v for k, v in vars(qos).items() if k.isupper() and isinstance(v, str)
              and v.startswith("/")]
    assert topics
    for topic in topics:
        assert f"`{topic}`" in README, f"topic {topic} is not documented"


def test_every_command_is_in_the_readme():
    from hyperion.cli import COMMANDS

    for command in COMMANDS:
        assert f"`hyperion {command}" in README, f"hyperion {command} is not documented"
