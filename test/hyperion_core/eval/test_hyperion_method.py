"""Hyperion in the simulator: real encodes of small frames, trace-driven link, no model runs."""

import numpy as np
import pytest

from hyperion_core.eval.cache import DetectionCache
from hyperion_core.eval.devices import PAPER
from hyperion_core.eval.hyperion_method import HyperionMethod
from hyperion_core.eval.network import Link
from hyperion_core.eval.payloads import Payload
from hyperion_core.eval.runner import FrameStore, payload_sizes
from hyperion_core.eval.simple_methods import CloudOnly, EdgeOnly
from hyperion_core.eval.timeline import FrameInputs, Settings, run_method
from hyperion_core.link.trace import Trace
from hyperion_core.schedule.accuracy_table import ShareAccuracy
from hyperion_core.schedule.profile_file import Profiles
from hyperion_core.schedule.profiles import FitStats
from hyperion_core.schedule.size_table import SizeTable

KNOTS = (10, 30, 50, 70, 90)
STATS = FitStats(r=1.0, r2=1.0, n=1, rmse=0.0)
H, W = 256, 512  # 16 x 32 patches
RAW = H * W * 3


def _frames(tmp_path, count=6):
    rng = np.random.default_rng(0)
    frames = []
    for k in range(count):
        base = rng.integers(0, 255, (H // 8, W // 8, 3), dtype=np.uint8)
        frame = np.kron(base, np.ones((8, 8, 1), np.uint8))  # blocky: compressible
        frame[64:128, 64 + 32 * k : 128 + 32 * k] = rng.integers(0, 255, (64, 64, 3))
        frames.append(frame)
    store = FrameStore(cache_root=tmp_path, frames=frames)
    classes = np.zeros((H // 16, W // 16), np.uint8)
    classes[4:8, 4:12] = 1
    classes[4:8, 6:8] = 2
    return [FrameInputs(index=i, path=store.paths[i], digest=store.digests[i], shape=(H, W),
                        raw_classes=np.ones_like(classes), classes=classes)
            for i in range(count)]


def _profiles(scale=1.0):
    """Size tables ``scale`` x what JPEG roughly costs here; accuracy saturating."""
    ratio = tuple(scale * r for r in (0.02, 0.035, 0.05, 0.07, 0.12))
    size = SizeTable(qualities=KNOTS, ratios={(c, 1): ratio for c in range(3)}, beta=0.002)
    gain = {(c, 1): (0.0, 0.1 * (c + 1), 0.15 * (c + 1), 0.17 * (c + 1), 0.18 * (c + 1))
            for c in range(3)}
    return Profiles(size=size, accuracy=ShareAccuracy(knots=KNOTS, tables=gain, bias=0.5,
                                                      stats=STATS))


def _method(tmp_path, variant="hyperion", scale=1.0, **settings):
    base = Settings(qualities=KNOTS, class0_downsample=(1,), size_safety=0.0, byte_price=0.0,
                    warmup_frames=0, **settings)
    return HyperionMethod(variant=variant, settings=base, device=PAPER,
                          profiles=_profiles(scale), cache=DetectionCache(root=tmp_path))


def _link(rate_bps):
    return Link(throughput=Trace.from_steps([(rate_bps, 1000.0)], loop=True, name="c"))


def _real(tmp_path, frame, outcome):
    payload = Payload(kind="patch", qualities=outcome.qualities, class_map=frame.classes)
    return payload_sizes(DetectionCache(root=tmp_path), frame.digest, frame.path, payload)[0]


def test_fast_link_fuses_and_sends_the_real_payload(tmp_path):
    frames = _frames(tmp_path)
    out = run_method(_method(tmp_path), frames, _link(200e6), 5.0, 0.4)
    for frame, o in zip(frames, out, strict=True):
        assert o.answer == "fuse" and o.on_time
        assert [j.model for j in o.jobs] == ["edge", "cloud"]
        assert o.bytes_sent == pytest.approx(_real(tmp_path, frame, o)) == o.real_bytes
        assert o.jobs[1].payload.qualities == o.qualities
        # Latency: edge + overhead, then the transfer and the cloud.
        assert o.latency_s == pytest.approx(PAPER.edge_s + PAPER.overhead_s
                                            + 8 * o.bytes_sent / 200e6 + PAPER.cloud_s)


def test_under_predicted_sizes_fall_back_then_the_loop_corrects_them(tmp_path):
    # The size model believes payloads are 4x smaller than they are: the first plan does
    # not fit its budget, so the encoder falls back to a smaller plan or sends nothing;
    # never is a payload over its budget sent. The correction then learns the ratio.
    frames = _frames(tmp_path, 8)
    method = _method(tmp_path, scale=0.25, size_correction_window=3)
    out = run_method(method, frames, _link(0.5e6), 5.0, 0.4)
    for o in out:
        if o.bytes_sent:
            budget = (0.4 - PAPER.edge_s - PAPER.overhead_s - PAPER.cloud_s) * 0.5e6 / 8
            assert o.real_bytes <= budget + 1
    assert any(o.answer == "edge" and "over budget" in o.reason for o in out[:2])
    sent = [o for o in out[3:] if o.bytes_sent]
    assert sent, "after the correction, plans fit again"
    errors = [abs(o.real_bytes - o.predicted_bytes) / o.real_bytes for o in sent]
    assert np.median(errors) < 0.15
    assert method.correction.factors()[0] > 2.0


def test_deadline_cancels_the_transfer_and_charges_what_was_carried(tmp_path):
    frames = _frames(tmp_path, 1)
    # Fast while planning (probe), then the link nearly stops when the payload goes up.
    trace = Trace.from_steps([(100e6, 5.0), (1e4, 100.0)], loop=False)
    o = run_method(_method(tmp_path), frames, Link(throughput=trace), 5.0 - 1e-9, 0.4)[0]
    assert o.answer == "edge" and o.reason == "cloud answer late"
    assert o.latency_s == pytest.approx(0.4)
    assert 0 < o.bytes_sent < o.real_bytes


def test_rtt_counts_against_the_budget(tmp_path):
    from hyperion_core.link.trace import DelayTrace

    frames = _frames(tmp_path, 1)
    slow_ping = DelayTrace(times_s=[0.0], rtt_s=[0.3], period_s=1.0)
    link = Link(throughput=_link(200e6).throughput, ping=slow_ping)
    o = run_method(_method(tmp_path), frames, link, 5.0, 0.4)[0]
    # 150 ms edge + 7 ms overhead + 300 ms round trip leave no time: edge-only at once.
    assert o.answer == "edge" and o.bytes_sent == 0 and o.latency_s < 0.2


def test_variants(tmp_path):
    frames = _frames(tmp_path, 2)
    link = _link(200e6)
    v1 = run_method(_method(tmp_path, "v1"), frames, link, 5.0, 0.4)
    assert (v1[0].jobs[1].payload.class_map == frames[0].raw_classes).all()
    v2 = run_method(_method(tmp_path, "v2"), frames, link, 5.0, 0.4)
    assert all(o.qualities == (10, 50, 90) for o in v2)
    v3 = run_method(_method(tmp_path, "v3"), frames, link, 5.0, 0.4)
    assert all(o.answer == "cloud" and [j.model for j in o.jobs] == ["cloud"] for o in v3)
    with pytest.raises(KeyError):
        _method(tmp_path, "v9")


def test_edge_only_and_cloud_only(tmp_path):
    frames = _frames(tmp_path, 2)
    edge = run_method(EdgeOnly(device=PAPER), frames, _link(1e6), 0.0, 0.4)
    assert all(o.answer == "edge" and o.latency_s == PAPER.edge_only_s for o in edge)
    settings = Settings(max_wait_s=1.0)
    cache = DetectionCache(root=tmp_path)
    cloud = run_method(CloudOnly(settings=settings, device=PAPER, cache=cache), frames,
                       _link(100e6), 0.0, 0.4)
    assert all(o.answer == "cloud" and o.bytes_sent == o.real_bytes > 0 for o in cloud)
    stuck = run_method(CloudOnly(settings=settings, device=PAPER, cache=cache), frames[:1],
                       _link(1e3), 0.0, 0.4)[0]
    assert stuck.answer is None and stuck.bytes_sent < stuck.real_bytes
