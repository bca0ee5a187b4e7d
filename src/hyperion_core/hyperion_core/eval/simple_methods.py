"""The two reference points: the edge alone, and the whole frame sent to the cloud."""

from __future__ import annotations

from hyperion_core.eval.cache import DetectionCache
from hyperion_core.eval.models import Job
from hyperion_core.eval.network import Link
from hyperion_core.eval.payloads import Payload
from hyperion_core.eval.runner import payload_size
from hyperion_core.eval.timeline import FrameInputs, Outcome, Settings


class EdgeOnly:
    """The edge detector on every frame, nothing sent."""

    def __init__(self, *, device: object) -> None:
        self.dev = device

    def start(self, link: Link, t0_s: float) -> None:
        del link, t0_s

    def step(self, frame: FrameInputs, link: Link, t_s: float) -> Outcome:
        job = Job(model="edge", frame_path=frame.path, digest=frame.digest,  # type: ignore[arg-type]
                  payload=Payload(kind="original"))
        return Outcome(frame=frame.index, start_s=t_s, latency_s=self.dev.edge_only_s,  # type: ignore[attr-defined]
                       bytes_sent=0.0, on_time=False, answer="edge", jobs=[job])


class CloudOnly:
    """Every frame as one JPEG to the cloud model; an answer whenever it comes (the stale
    rule scores a late one with the last on-time answer)."""

    def __init__(self, *, settings: Settings, device: object, cache: DetectionCache) -> None:
        self.s, self.dev, self.cache = settings, device, cache

    def start(self, link: Link, t0_s: float) -> None:
        del link, t0_s

    def step(self, frame: FrameInputs, link: Link, t_s: float) -> Outcome:
        payload = Payload(kind="jpeg", quality=self.s.cloud_only_quality)
        nbytes = payload_size(self.cache, frame.digest, frame.path, payload)  # type: ignore[arg-type]
        start = t_s + self.dev.overhead_s  # type: ignore[attr-defined]
        sent = link.send(start, nbytes, cancel_at_s=start + self.s.max_wait_s)
        if not sent.completed:
            return Outcome(frame=frame.index, start_s=t_s, latency_s=sent.end_s - t_s,
                           bytes_sent=sent.bytes_sent, on_time=False, answer=None,
                           real_bytes=nbytes)
        done = sent.end_s + link.rtt_s(t_s) + self.dev.cloud_s  # type: ignore[attr-defined]
        job = Job(model="cloud", frame_path=frame.path, digest=frame.digest,  # type: ignore[arg-type]
                  payload=payload)
        return Outcome(frame=frame.index, start_s=t_s, latency_s=done - t_s,
                       bytes_sent=sent.bytes_sent, on_time=False, answer="cloud", jobs=[job],
                       real_bytes=nbytes)
