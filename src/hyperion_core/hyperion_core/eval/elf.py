"""Elf (Zhang et al., MobiCom 2021) and Elf-V in the simulator.

Elf offloads a frame as a few partitions, each to its own server, plus a low-resolution
compensation (LRC) frame. Per frame, as simulated here:

1. **ROI prediction.** Elf predicts where its objects will be from its own earlier results
   (an attention LSTM). Here: the boxes of the method's own latest answer (never the
   reference) with score >= ``roi_score``; with ``extrapolate``, every box that matches a
   box of the answer before it (same label, greedy IoU >= ``match_iou``) is moved on by its
   displacement per frame (constant velocity), times the frames since the latest answer.
   Unmatched boxes stay where they were.
2. **RoI-based partitioning** (:func:`partition_regions`). The span of the ROIs along x is
   cut into ``servers`` equal columns; an ROI joins the column holding its centre; each
   non-empty column's ROIs give one rectangle (their bounding box), grown on each side by
   ``margin`` of its size but at least ``min_pad`` of the frame side, aligned outwards to
   the 16-px patch grid and clipped to the frame. Elf's public implementation does the
   same (equal columns over the ROIs' periphery, growth 6 % with a floor of 10 % of the
   frame side); we assign ROIs by centre instead of by largest overlap.
3. **Payloads.** Each partition is a JPEG of its crop at ``partition_quality`` (Elf sends
   regions at full quality; 95 is JPEG's practical ceiling). The LRC frame is the whole
   frame downsampled ``lrc_downsample`` x at ``lrc_quality`` (low, 30: it only has to
   reveal objects outside the predicted ROIs; Elf's code downsamples 2.5x on 1224x370
   KITTI frames, 4x here on 4K gives 960x540). With no answer yet (a run's first frame) or
   no ROI, only the LRC frame is sent.
4. **Network.** All payloads share the one uplink: their real encoded bytes in total go up
   in one transfer starting after ``elf_overhead_s`` (ROI prediction, partitioning,
   encoding); the frame is given up after ``settings.max_wait_s`` on the link (answer
   ``None``, as the other baselines). Each server starts when the whole transfer is done
   (a shared uplink finishes its concurrent streams at about the same time).
5. **Servers.** The partitions run in parallel, one per server, and the LRC frame on a
   server of its own (Elf's dedicated LRC server), so the server time is the longest of
   them. Elf: ``elf_cloud_s`` per pass whatever its size (the device profile's unit). Elf-V
   (the cloud model, SAHI slices at full resolution): ``cloud_s`` times the pass's share
   of the frame's pixels, since SAHI's work grows with the number of slices, i.e. with the
   area (the evaluation frames are 4K, the unit of ``cloud_s``; a whole frame costs
   ``cloud_s`` as for cloud-only). This ignores SAHI's fixed full-frame pass and the
   rounding up to whole slices, so small partitions are charged a little too little.
6. **Latency** = overhead + transmission + round trip (at the frame's start, as the other
   methods) + server time. The answer (kind ``merge``) is the partitions' and the LRC's
   boxes merged by :func:`merge`; the method reads them through ``detect`` to predict the
   next frame's ROIs.

Everything is deterministic: no randomness, ROIs depend only on the method's own answers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from hyperion_core.eval.cache import DetectionCache
from hyperion_core.eval.models import Job
from hyperion_core.eval.network import Link
from hyperion_core.eval.payloads import PATCH, Payload
from hyperion_core.eval.runner import payload_size
from hyperion_core.eval.scoring import merge
from hyperion_core.eval.timeline import FrameInputs, Outcome, Settings
from hyperion_core.fuse.boxes import Detections, pairwise_iou

VARIANTS = ("elf", "elf-v")
#: Server model per variant: Elf's CNN stand-in, or the cloud model (ViT + SAHI stand-in).
MODELS = {"elf": "elf-cnn", "elf-v": "cloud"}
Region = tuple[int, int, int, int]


@dataclass(frozen=True, kw_only=True)
class ElfConfig:
    """Elf's own settings (module docstring gives the reasons).

    Args:
        servers: partition servers, so at most this many partitions (the LRC frame has a
            server of its own).
        partition_quality: JPEG quality of a partition, 1..100.
        lrc_downsample: LRC frame's downsampling factor (>= 1).
        lrc_quality: LRC frame's JPEG quality, 1..100.
        margin: growth of a partition on each side, fraction of its width/height.
        min_pad: least growth on each side, fraction of the frame's width/height.
        roi_score: answer boxes below this confidence are no ROI (the detectors keep boxes
            down to 0.1 for AP; a low-confidence box is mostly a false positive, and each
            ROI costs bytes). Not measured.
        extrapolate: move matched ROIs on at constant velocity (module docstring).
        match_iou: least IoU for a box to match one of the answer before (extrapolation).
    """

    servers: int = 4
    partition_quality: int = 95
    lrc_downsample: int = 4
    lrc_quality: int = 30
    margin: float = 0.06
    min_pad: float = 0.1
    roi_score: float = 0.3
    extrapolate: bool = True
    match_iou: float = 0.3

    def __post_init__(self) -> None:
        if self.servers < 1 or self.lrc_downsample < 1:
            raise ValueError(f"need servers >= 1 and lrc_downsample >= 1: {self}")
        if not (1 <= self.partition_quality <= 100 and 1 <= self.lrc_quality <= 100):
            raise ValueError(f"JPEG qualities must lie in 1..100: {self}")
        if self.margin < 0 or self.min_pad < 0 or not 0 <= self.match_iou <= 1:
            raise ValueError(f"need margin, min_pad >= 0 and match_iou in [0, 1]: {self}")


def confident(det: Detections, min_score: float) -> Detections:
    """The boxes of ``det`` with score >= ``min_score`` and finite coordinates."""
    keep = (np.asarray(det.scores) >= min_score) & np.isfinite(det.boxes).all(axis=1)
    return det.select(keep)


def match_boxes(a: Detections, b: Detections, min_iou: float) -> list[tuple[int, int]]:
    """One-to-one pairs ``(i, j)`` of same-label boxes ``a[i]``, ``b[j]``, greedily by IoU
    (highest first, ties by index) with IoU >= ``min_iou``."""
    iou = pairwise_iou(a.boxes, b.boxes)
    iou[np.asarray(a.labels)[:, None] != np.asarray(b.labels)[None, :]] = 0.0
    ii, jj = np.nonzero((iou >= min_iou) & (iou > 0))
    order = np.argsort(-iou[ii, jj], kind="stable")
    used_a, used_b, pairs = set(), set(), []
    for i, j in zip(ii[order].tolist(), jj[order].tolist(), strict=True):
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
    return pairs


def extrapolate_rois(latest: Detections, earlier: Detections, steps: float,
                     min_iou: float) -> np.ndarray:
    """``latest``'s boxes, each one matched in ``earlier`` moved on by ``steps`` times its
    displacement since then (box size kept).

    Args:
        latest: the latest answer's ROIs, xyxy frame pixels.
        earlier: the answer before it.
        steps: (frames from ``latest`` to the predicted frame) / (frames from ``earlier``
            to ``latest``).
        min_iou: see :func:`match_boxes`.

    Returns:
        ``(N, 4)`` float64 predicted boxes, one per box of ``latest``.
    """
    boxes = np.array(latest.boxes, np.float64).reshape(-1, 4)
    for i, j in match_boxes(latest, earlier, min_iou):
        shift = (boxes[i, :2] + boxes[i, 2:] - earlier.boxes[j, :2] - earlier.boxes[j, 2:]) / 2
        boxes[i] += steps * np.concatenate([shift, shift])
    return boxes


def cluster_rois(rois: np.ndarray, groups: int) -> list[np.ndarray]:
    """ROIs grouped by which of ``groups`` equal columns of their x span holds their centre;
    empty columns left out, columns left to right.

    Args:
        rois: ``(N, 4)`` xyxy boxes, N >= 1.
        groups: columns, >= 1.
    """
    lo, hi = float(rois[:, 0].min()), float(rois[:, 2].max())
    centre = (rois[:, 0] + rois[:, 2]) / 2
    width = (hi - lo) / groups
    column = np.zeros(len(rois), np.int64) if width <= 0 else np.clip(
        np.floor((centre - lo) / width).astype(np.int64), 0, groups - 1)
    return [rois[column == k] for k in range(groups) if np.any(column == k)]


def grow_region(box: np.ndarray, shape: tuple[int, int], margin: float, min_pad: float
                ) -> Region:
    """``box`` grown by ``max(margin x its size, min_pad x frame side)`` on each side,
    aligned outwards to the 16-px grid and clipped to the frame.

    Args:
        box: ``(4,)`` xyxy frame pixels.
        shape: ``(H, W)`` of the frame, pixels.
        margin: fraction of the box's width/height.
        min_pad: fraction of the frame's width/height.

    Returns:
        ``(x0, y0, x1, y1)`` integer frame pixels, x0/y0 multiples of 16, x1/y1 multiples
        of 16 or the frame's edge.
    """
    h, w = shape
    x0, y0, x1, y1 = (float(v) for v in box)
    px = max(margin * (x1 - x0), min_pad * w)
    py = max(margin * (y1 - y0), min_pad * h)
    left = max(0, math.floor((x0 - px) / PATCH) * PATCH)
    top = max(0, math.floor((y0 - py) / PATCH) * PATCH)
    right = min(w, math.ceil((x1 + px) / PATCH) * PATCH)
    bottom = min(h, math.ceil((y1 + py) / PATCH) * PATCH)
    return int(left), int(top), int(right), int(bottom)


def partition_regions(rois: np.ndarray, shape: tuple[int, int], *, servers: int,
                      margin: float, min_pad: float) -> list[Region]:
    """Elf's RoI-based partitions of a frame (module docstring, step 2).

    Args:
        rois: ``(N, 4)`` predicted xyxy boxes, frame pixels (may lie partly outside).
        shape: ``(H, W)`` of the frame, pixels.
        servers: most partitions.
        margin, min_pad: growth, see :func:`grow_region`.

    Returns:
        At most ``servers`` regions, left to right; none when no ROI overlaps the frame.
    """
    h, w = shape
    boxes = np.asarray(rois, np.float64).reshape(-1, 4)
    boxes = boxes[np.isfinite(boxes).all(axis=1)]
    boxes = np.column_stack([boxes[:, 0].clip(0, w), boxes[:, 1].clip(0, h),
                             boxes[:, 2].clip(0, w), boxes[:, 3].clip(0, h)])
    boxes = boxes[(boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])]
    if len(boxes) == 0:
        return []
    return [grow_region(np.concatenate([g[:, :2].min(axis=0), g[:, 2:].max(axis=0)]),
                        shape, margin, min_pad) for g in cluster_rois(boxes, servers)]


def server_time_s(variant: str, regions: Sequence[Region], shape: tuple[int, int],
                  device: object, lrc_downsample: int) -> float:
    """Seconds from the last byte received to the last server's answer (step 5).

    Args:
        variant: one of :data:`VARIANTS`.
        regions: the partitions sent (may be empty: LRC only).
        shape: ``(H, W)`` of the frame, pixels.
        device: a :class:`~hyperion_core.eval.devices.DeviceProfile`.
        lrc_downsample: the LRC frame's downsampling factor.
    """
    if variant == "elf":
        return float(device.elf_cloud_s)  # type: ignore[attr-defined]
    h, w = shape
    lrc = (w // lrc_downsample) * (h // lrc_downsample)
    areas = [lrc] + [(x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in regions]
    return float(device.cloud_s) * max(areas) / float(h * w)  # type: ignore[attr-defined]


class ElfMethod:
    """Elf or Elf-V over one run (a :class:`~hyperion_core.eval.timeline.Method`).

    Args:
        variant: ``"elf"`` (Elf's CNN, ``elf-cnn``) or ``"elf-v"`` (the cloud model).
        settings: ``max_wait_s`` is used.
        device: compute times (:class:`~hyperion_core.eval.devices.DeviceProfile`).
        cache: payload sizes.
        detect: a job's detections, xyxy frame pixels (the evaluation's reads the cache
            and runs missing passes); the method's own answers, for its next ROIs.
        config: Elf's settings.
    """

    def __init__(self, *, variant: str, settings: Settings, device: object,
                 cache: DetectionCache, detect: Callable[[Job], Detections],
                 config: ElfConfig | None = None) -> None:
        if variant not in VARIANTS:
            raise KeyError(f"unknown variant {variant!r}; known: {VARIANTS}")
        self.variant, self.s, self.dev, self.cache = variant, settings, device, cache
        self.detect, self.cfg = detect, config or ElfConfig()
        self.model = MODELS[variant]
        self._answers: list[tuple[int, Detections]] = []

    def start(self, link: Link, t0_s: float) -> None:
        del link, t0_s
        self._answers = []  # nothing received yet

    def predicted_rois(self, index: int) -> np.ndarray | None:
        """``(N, 4)`` ROIs predicted for frame ``index`` from the answers received so far;
        ``None`` before the first answer of the run."""
        if not self._answers:
            return None
        latest_index, latest = self._answers[-1]
        if not self.cfg.extrapolate or len(self._answers) < 2:
            return np.array(latest.boxes, np.float64).reshape(-1, 4)
        earlier_index, earlier = self._answers[-2]
        steps = (index - latest_index) / max(latest_index - earlier_index, 1)
        return extrapolate_rois(latest, earlier, steps, self.cfg.match_iou)

    def payloads(self, frame: FrameInputs) -> list[Payload]:
        """The partitions for ``frame`` (left to right), then the LRC frame."""
        cfg = self.cfg
        rois = self.predicted_rois(frame.index)
        regions = [] if rois is None else partition_regions(
            rois, frame.shape, servers=cfg.servers, margin=cfg.margin, min_pad=cfg.min_pad)
        parts = [Payload(kind="partition", quality=cfg.partition_quality, region=r)
                 for r in regions]
        return [*parts, Payload(kind="lrc", quality=cfg.lrc_quality,
                                downsample=cfg.lrc_downsample)]

    def step(self, frame: FrameInputs, link: Link, t_s: float) -> Outcome:
        payloads = self.payloads(frame)
        total = float(sum(payload_size(self.cache, frame.digest, frame.path, p)  # type: ignore[arg-type]
                          for p in payloads))
        start = t_s + self.dev.elf_overhead_s  # type: ignore[attr-defined]
        sent = link.send(start, total, cancel_at_s=start + self.s.max_wait_s)
        if not sent.completed:
            return Outcome(frame=frame.index, start_s=t_s, latency_s=sent.end_s - t_s,
                           bytes_sent=sent.bytes_sent, on_time=False, answer=None,
                           real_bytes=total)
        regions = [p.region for p in payloads if p.kind == "partition"]
        server = server_time_s(self.variant, regions, frame.shape, self.dev,
                               self.cfg.lrc_downsample)
        done = sent.end_s + link.rtt_s(t_s) + server
        jobs = [Job(model=self.model, frame_path=frame.path, digest=frame.digest,  # type: ignore[arg-type]
                    payload=p) for p in payloads]
        answer = confident(merge([self.detect(j) for j in jobs]), self.cfg.roi_score)
        self._answers = [*self._answers[-1:], (frame.index, answer)]
        return Outcome(frame=frame.index, start_s=t_s, latency_s=done - t_s,
                       bytes_sent=sent.bytes_sent, on_time=False, answer="merge", jobs=jobs,
                       real_bytes=total)
