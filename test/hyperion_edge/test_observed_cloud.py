"""The scheduler's measured cloud time: what an answer took beyond its upload, edge-seen."""

import pytest

from hyperion_edge.scheduler_node import observed_cloud_s
from hyperion_msgs.msg import CloudDetections
from hyperion_runtime.node import ns_to_stamp

S = 10**9
SENT = 1000 * S


def answer(*, received_s: float, inferred_s: float, size: int, encoded_ns: int = SENT):
    msg = CloudDetections(received_bytes=size)
    msg.encoded_stamp = ns_to_stamp(encoded_ns)
    msg.received_stamp = ns_to_stamp(int(received_s * S))
    msg.inferred_stamp = ns_to_stamp(int(inferred_s * S))
    return msg


def test_hops_and_queues_beyond_the_detector_count():
    # Sent at 1000 s, back 2.5 s later; 500 kB at 1 MB/s took 0.5 s; the detector said 1.2 s.
    msg = answer(received_s=5000.0, inferred_s=5001.2, size=500_000)
    taken = observed_cloud_s(msg, arrived_ns=SENT + int(2.5 * S), bandwidth_bytes_per_s=1e6)
    assert taken == pytest.approx(2.0)


def test_never_below_the_detectors_own_time():
    # An upload estimate too pessimistic would leave less than the detector alone took.
    msg = answer(received_s=5000.0, inferred_s=5001.2, size=2_000_000)
    taken = observed_cloud_s(msg, arrived_ns=SENT + int(2.5 * S), bandwidth_bytes_per_s=1e6)
    assert taken == pytest.approx(1.2)


@pytest.mark.parametrize("bandwidth", [None, 0.0])
def test_without_an_estimate_only_the_detector_time_is_known(bandwidth):
    msg = answer(received_s=5000.0, inferred_s=5000.7, size=500_000)
    taken = observed_cloud_s(msg, arrived_ns=SENT + 3 * S, bandwidth_bytes_per_s=bandwidth)
    assert taken == pytest.approx(0.7)


def test_answers_without_stamps_are_not_measurements():
    msg = answer(received_s=0.0, inferred_s=0.0, size=0)
    assert observed_cloud_s(msg, arrived_ns=SENT, bandwidth_bytes_per_s=1e6) is None
    backwards = answer(received_s=5001.0, inferred_s=5000.0, size=10)
    assert observed_cloud_s(backwards, arrived_ns=SENT, bandwidth_bytes_per_s=1e6) is None
