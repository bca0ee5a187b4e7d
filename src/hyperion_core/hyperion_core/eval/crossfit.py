"""Cross-fitting: with few labelled frames, fit on one half and score the other, then swap.

Everything Hyperion fits on labelled frames — the scheduler's size and accuracy profiles,
the byte price, the fused answer's calibration (:mod:`hyperion_core.fuse.fit`), Remix's
offline profile and the edge refiner's calibration — is fitted on the frames of one fold and
used to answer the frames of the other, never on a frame it is scored on. The halves are
contiguous in time (the first and the second half of the sequence), so neighbouring frames
of one scene do not sit on both sides.

A run plays its fold's frames as a loop: the warm-up frames, then every frame of the fold
once, starting at a different frame in each run; so every labelled frame is scored equally
often, whatever the warm-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from hyperion_core.eval.frames import FrameSpec
from hyperion_core.fuse.boxes import Detections


@dataclass(frozen=True, kw_only=True)
class Fold:
    """One side of a cross-fit.

    Args:
        name: how results name it.
        scored: evaluated frame indices this fold answers and scores.
        fitted: evaluated frame indices everything it uses was fitted on (disjoint).
    """

    name: str
    scored: tuple[int, ...]
    fitted: tuple[int, ...]

    def __post_init__(self) -> None:
        if set(self.scored) & set(self.fitted):
            both = sorted(set(self.scored) & set(self.fitted))
            raise ValueError(f"fold {self.name}: frames {both} are both fitted on and scored")
        if not self.scored or not self.fitted:
            raise ValueError(f"fold {self.name}: needs frames to score and frames to fit on")


def halves(count: int) -> tuple[Fold, Fold]:
    """The two folds of ``count`` frames: first half scored (fitted on the second), and back."""
    if count < 2:
        raise ValueError(f"cross-fitting needs at least 2 frames, got {count}")
    mid = count // 2
    first, second = tuple(range(mid)), tuple(range(mid, count))
    return (Fold(name="first half", scored=first, fitted=second),
            Fold(name="second half", scored=second, fitted=first))


def cyclic_sequences(frames: Sequence[int], *, runs: int, warmup: int) -> list[list[int]]:
    """Per run, its frame order: ``warmup`` frames then each of ``frames`` once, as a loop
    starting at frame ``run mod len(frames)``."""
    n = len(frames)
    return [[frames[(start + k) % n] for k in range(warmup + n)]
            for start in (r % n for r in range(runs))]


def fitted_specs(specs: Sequence[FrameSpec], indices: Sequence[int]) -> tuple[FrameSpec, ...]:
    """Frame specs of the evaluated frames ``indices`` (positions in ``specs``' frames), one
    spec per frame, in order."""
    flat = [replace(s, first=s.first + k * s.stride, frames=1, stride=1)
            for s in specs for k in range(s.frames)]
    return tuple(flat[i] for i in indices)


def folder_truth(specs: Sequence[FrameSpec], coco_json: Path) -> list[Detections]:
    """Ground truth of the frames of ``specs``, from a COCO JSON with one image per file of
    their folder, in sorted order (as the dev set's ``gt.json``)."""
    from hyperion_core.eval.panda import read_ground_truth

    every = read_ground_truth(coco_json)
    out = []
    for spec in specs:
        for k in range(spec.frames):
            i = spec.first + k * spec.stride
            if i >= len(every):
                raise ValueError(f"{coco_json}: {len(every)} images, frame {i} of "
                                 f"{spec.source} asked for")
            out.append(every[i])
    return out


__all__ = ["Fold", "cyclic_sequences", "fitted_specs", "folder_truth", "halves"]
