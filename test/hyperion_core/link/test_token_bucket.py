"""Token-bucket shaper: exact goodput with a fake clock, one short real-time check."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from hyperion_core.link.token_bucket import (
    ShaperClosed,
    ShaperConfig,
    ShaperTimeout,
    TokenBucket,
)
from hyperion_core.link.trace import Trace


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def _run_sender(bucket: TokenBucket, clock: FakeClock, sizes: np.ndarray, until_s: float):
    """Greedy sender; returns (release time, bytes) per send."""
    out = []
    for n in sizes:
        if clock.t >= until_s:
            break
        try:
            bucket.send(int(n))
        except ShaperTimeout:  # the non-looping trace has ended
            break
        out.append((clock.t, int(n)))
    return np.array(out)


def test_goodput_per_second_follows_trace_exactly():
    rng = np.random.default_rng(3)
    trace = Trace.from_samples(rng.uniform(0, 50e6, 100) * (rng.random(100) > 0.1),
                               period_s=0.1, loop=False)  # ~10 % outage samples
    clock = FakeClock()
    burst = 16_000
    bucket = TokenBucket(trace=trace, config=ShaperConfig(burst_bytes=burst), clock=clock,
                         sleep=clock.sleep)
    sizes = rng.integers(200, 20_000, 100_000)
    sent = _run_sender(bucket, clock, sizes, until_s=trace.duration_s)
    # Release times are when a send's last bit is paid for, so bits released by time t
    # equal the trace's cumulative bits up to t, minus less than one send.
    want = trace.window_rates_bps(1.0)
    got = np.array([sent[(sent[:, 0] > k) & (sent[:, 0] <= k + 1), 1].sum() * 8.0
                    for k in range(len(want))])
    err = np.abs(got - want)
    bound = 2 * 8.0 * sizes.max()  # one send of slack at each window edge
    print(f"max |goodput - trace| per 1 s = {err.max() / 1e6:.3f} Mbit/s "
          f"(bound {bound / 1e6:.3f}), mean trace {want.mean() / 1e6:.1f} Mbit/s")
    assert err.max() <= bound
    assert bucket.sent_bytes == int(sent[:, 1].sum())


def test_burst_and_outage_timeout():
    clock = FakeClock()
    trace = Trace.from_steps([(8e6, 1.0), (0.0, 2.0), (8e6, 1.0)], loop=False)
    bucket = TokenBucket(trace=trace, config=ShaperConfig(burst_bytes=10_000, start_full=True),
                         clock=clock, sleep=clock.sleep)
    assert bucket.send(10_000) == 0.0  # a full bucket sends at once
    assert bucket.send(1_000_000) == pytest.approx(1.0)
    assert clock.t == pytest.approx(1.0)
    with pytest.raises(ShaperTimeout):  # in the outage: next bit at t=3
        bucket.send(1_000, timeout_s=1.5)
    assert bucket.send(1_000, timeout_s=2.5) == pytest.approx(2.0 + 0.001)
    clock.t = 10.0
    assert bucket.send(10_000) == 0.0  # the bucket refilled before the trace ended
    with pytest.raises(ShaperTimeout):  # more than the bucket, past the end of the trace
        bucket.send(1)
    with pytest.raises(ValueError):
        bucket.send(-1)


def test_close_wakes_blocked_sender():
    bucket = TokenBucket(trace=Trace.from_steps([(0.0, 1.0), (1e6, 1.0)], loop=True))
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            bucket.send(10_000_000)
        except BaseException as exc:
            errors.append(exc)

    th = threading.Thread(target=worker)
    th.start()
    bucket.close()
    th.join(timeout=5)
    assert not th.is_alive() and errors and isinstance(errors[0], ShaperClosed)


def test_real_time_rate_loose_bound():
    rate = 20e6
    bucket = TokenBucket(trace=Trace.from_samples([rate], period_s=1.0))
    t0 = time.monotonic()
    total = 0
    while time.monotonic() - t0 < 0.6:
        bucket.send(25_000)
        total += 25_000
    measured = total * 8.0 / (time.monotonic() - t0)
    print(f"real-time token bucket at 20 Mbit/s: {measured / 1e6:.2f} Mbit/s")
    assert abs(measured - rate) <= 0.2 * rate
