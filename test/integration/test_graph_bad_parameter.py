"""Negative case: an out-of-range parameter stops `hyperion run edge` at start-up, naming it."""

import subprocess

import pytest

from .harness import HYPERION, domain_pair

pytestmark = pytest.mark.ros


@pytest.mark.parametrize(("override", "name"), [
    ("ensembler.latency_budget_s:=-1.0", "latency_budget_s"),
    ("camera.rate_hz:=1000.0", "rate_hz"),
])
def test_out_of_range_parameter_exits_non_zero(override, name):
    domain, _ = domain_pair()
    result = subprocess.run([HYPERION, "run", "edge", "--domain-id", str(domain), "-p", override],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert name in result.stderr and "range" in result.stderr, result.stderr[-2000:]
