"""Hyperion's edge answer when the cloud cannot help: Remix's idea, on the frame at hand.

A frame that goes edge-only has been answered by the edge stage (one whole-frame pass at
half resolution) long before its deadline: ``budget - (edge stage + overhead)`` is left.
The refiner spends that time on extra detector passes where this frame's own edge answer
says objects are, at the scale that finds them, with Remix's planner
(:func:`hyperion_core.eval.remix.plan`: quadtree partition, one option per block, optimal
under the pass budget), given

- **objects** per density cell and size bin, estimated from the edge's detections of this
  frame: boxes seen x the edge stage's precision / its recall for that size (bins the edge
  finds less often than :data:`~hyperion_core.eval.remix.MIN_RECALL` keep the offline
  profile's density), plus the profile's uniform prior so that empty-looking regions stay
  reachable;
- **value** of an option on a block: those objects times the option's *gain* for their
  size: the recall of the edge's boxes merged with the option's, less the edge's alone,
  both measured on the calibration frames (:func:`calibrate`). A different model finds
  different people, which a difference of recalls would not show.

The passes' boxes are merged with the edge's by NMS (answer kind ``edge``, several
passes). Remix plans from the previous frames' distribution; the refiner has the current
frame's edge answer, at the cost of the edge stage's time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from hyperion_core.eval.models import Job
from hyperion_core.eval.payloads import Payload
from hyperion_core.eval.remix import (
    DENSITY_PRIOR,
    MIN_RECALL,
    SKIP,
    Region,
    RemixProfile,
    cell_counts,
    plan,
    plan_passes,
    pooled_recall_counts,
)
from hyperion_core.eval.scoring import merge
from hyperion_core.eval.timeline import FrameInputs
from hyperion_core.fuse.boxes import Detections
from hyperion_core.fuse.calibrated import CalibratedFusion, calibrate_edge
from hyperion_core.metrics.ap_matches import ImageMatches, ap50, match_image


def _pooled_recall(references: Sequence[Detections], found: Sequence[Detections],
                   size_edges: Sequence[float]) -> np.ndarray:
    """``(S,)`` share of reference boxes per size bin that ``found`` matches, pooled over
    frames (0 for a bin without references)."""
    hits, totals = pooled_recall_counts(references, found, size_edges)
    return np.divide(hits, totals, out=np.zeros_like(hits), where=totals > 0)


def calibrate(profile: RemixProfile, references: Sequence[Detections],
              edges: Sequence[Detections], found: Mapping[str, Sequence[Detections]], *,
              pass_s: float) -> EdgeRefiner:
    """The refiner's statistics from calibration frames (never scored).

    Args:
        profile: Remix's offline profile of the same frames.
        references: per frame, the reference boxes.
        edges: per frame, the edge stage's detections.
        found: option → per frame, the option's detections on the whole frame.
        pass_s: device time of one pass, seconds.
    """
    size_edges = profile.size_edges
    recall = _pooled_recall(references, edges, size_edges)
    # Precision by size: the same matching with the roles swapped (each edge box, binned by
    # its own size, is "found" by a reference box).
    precision = _pooled_recall(edges, references, size_edges)
    gain = {option: np.clip(_pooled_recall(references, [merge([e, d]) for e, d in
                                                        zip(edges, dets, strict=True)],
                                           size_edges) - recall, 0.0, None)
            for option, dets in found.items()}
    return EdgeRefiner(profile=profile, edge_recall=recall, edge_precision=precision,
                       gain=gain, pass_s=pass_s)


@dataclass(frozen=True, kw_only=True, eq=False)
class EdgeRefiner:
    """Plans the extra edge passes of an edge-only frame (see the module docstring).

    Args:
        profile: Remix's offline profile (the options, the density prior).
        edge_recall: ``(S,)`` share of objects of each size bin the edge stage finds.
        edge_precision: ``(S,)`` share of the edge stage's boxes of each size bin that are
            objects.
        gain: option → ``(S,)`` recall it adds to the edge stage's, per size bin.
        pass_s: device time of one pass, seconds.
    """

    profile: RemixProfile
    edge_recall: np.ndarray
    edge_precision: np.ndarray
    gain: Mapping[str, np.ndarray]
    pass_s: float

    def objects(self, edge: Detections, *, source: str, frame_size: tuple[int, int]
                ) -> np.ndarray:
        """``(S, rows, cols)`` objects expected in this frame."""
        prior = self.profile.objects_for(source)
        cells = prior.shape[1] * prior.shape[2]
        spread = prior.sum(axis=(1, 2)) * DENSITY_PRIOR / (1 + DENSITY_PRIOR) / cells
        seen = cell_counts(edge, frame_size, self.profile.grid, self.profile.size_edges)
        ok = self.edge_recall >= MIN_RECALL
        out = prior.copy()
        rate = self.edge_precision[ok] / self.edge_recall[ok]
        out[ok] = seen[ok] * rate[:, None, None] + spread[ok][:, None, None]
        return out

    def plan(self, edge: Detections, *, source: str, frame_size: tuple[int, int],
             time_s: float) -> list[tuple[Region, str]]:
        """The blocks worth an extra pass within ``time_s`` (skipped blocks left out)."""
        if time_s < self.pass_s:
            return []
        blocks = plan(replace(self.profile, recall=dict(self.gain)), time_s, self.pass_s,
                      frame_size=frame_size,
                      objects=self.objects(edge, source=source, frame_size=frame_size))
        return [(region, option) for region, option in blocks if option != SKIP]

    def jobs(self, frame: FrameInputs, edge: Detections, time_s: float
             ) -> tuple[list[Job], float]:
        """The block passes for ``frame`` and the time they take, seconds."""
        size = (int(frame.shape[1]), int(frame.shape[0]))
        blocks = self.plan(edge, source=frame.source, frame_size=size, time_s=time_s)
        jobs = [Job(model=option, frame_path=frame.path, digest=frame.digest,  # type: ignore[arg-type]
                    payload=Payload(kind="block", region=region)) for region, option in blocks]
        return jobs, plan_passes(blocks) * self.pass_s


def refined_matches(refiner: EdgeRefiner, frames: Sequence[FrameInputs],
                    references: Sequence[Detections], edges: Sequence[Detections],
                    outputs: Callable[[list[Job]], list[Detections]], *, time_s: float,
                    fusion: CalibratedFusion | None = None) -> list[ImageMatches]:
    """Per frame, the refined edge answer matched against its reference.

    Args:
        refiner: the calibrated refiner.
        frames, references, edges: per frame, its inputs, reference boxes and edge-stage
            detections.
        outputs: runs (or reads) block jobs, returning their detections in order — the
            real passes, not an approximation: blocks cut objects at their borders.
        time_s: time left for refining, seconds (below one pass: the edge stage's answer).
        fusion: when given, the answer takes its edge-only scale, as Hyperion answers.
    """
    matches = []
    for frame, reference, edge in zip(frames, references, edges, strict=True):
        jobs, _ = refiner.jobs(frame, edge, time_s)
        answer = merge([edge, *outputs(jobs)])
        if fusion is not None:
            answer = calibrate_edge(answer, fusion)
        matches.append(match_image(reference, answer))
    return matches


def refined_accuracy(refiner: EdgeRefiner, frames: Sequence[FrameInputs],
                     references: Sequence[Detections], edges: Sequence[Detections],
                     outputs: Callable[[list[Job]], list[Detections]], *, time_s: float,
                     fusion: CalibratedFusion | None = None) -> float:
    """AP50 of the refined edge answer pooled over ``frames`` (see :func:`refined_matches`)."""
    return float(ap50(refined_matches(refiner, frames, references, edges, outputs,
                                      time_s=time_s, fusion=fusion)))
