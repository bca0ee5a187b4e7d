"""edge_link's trace parameters build the right shaper, and bad ones stop the node."""

import pytest

from hyperion_core.link.traces import EMBEDDED_TRACES_ROOT, load_memu
from hyperion_edge.edge_link_node import trace_shaper
from hyperion_runtime.params import ParameterError

BASE = {"trace": "", "trace_root": "", "trace_period_s": 0.1, "trace_offset_s": 0.0,
        "trace_rate_scale": 1.0}


def test_empty_trace_means_unshaped():
    assert trace_shaper(BASE) is None


def test_embedded_trace_drives_the_bucket_from_the_offset():
    shaper = trace_shaper({**BASE, "trace": "driving/lte/8", "trace_offset_s": 30.0})
    expected = load_memu(EMBEDDED_TRACES_ROOT, "driving/lte/8")
    assert shaper.trace.rates_bps.tolist() == expected.rates_bps.tolist()
    assert 30.0 <= shaper.trace_time() < 40.0
    shaper.close()


@pytest.mark.parametrize("spec", ["driving/lte/99", "nowhere/lte/1", "not a spec"])
def test_unknown_trace_names_the_parameter(spec):
    with pytest.raises(ParameterError, match="trace"):
        trace_shaper({**BASE, "trace": spec})


def test_rate_scale_multiplies_every_sample():
    shaper = trace_shaper({**BASE, "trace": "driving/lte/8", "trace_rate_scale": 0.05})
    expected = load_memu(EMBEDDED_TRACES_ROOT, "driving/lte/8")
    assert shaper.trace.rates_bps.tolist() == pytest.approx((expected.rates_bps * 0.05).tolist())
    assert shaper.trace.mean_rate_bps() == pytest.approx(expected.mean_rate_bps() * 0.05)
    shaper.close()
