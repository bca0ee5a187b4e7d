"""Remix baseline (Jiang et al., MobiCom 2021) at 4K: non-uniform blocks, a detector each.

Remix runs on the device only. Offline it profiles (a) where the objects of a camera are
and how large, from historical frames, and (b) how well each available detector finds
objects of each size; online it picks, under the latency budget, a partition of the frame
into blocks and one detector (or none) per block that maximise the objects expected found.

- Options: ``skip`` or a model name ``remix:<backend>@<scale>`` (:func:`remix_option`):
  the backend on the block at ``scale`` of its pixels, tiled into tiles of about one model
  input (:func:`remix_tiling`), so an option's passes follow the block's size.
- Object distribution (:func:`cell_counts`): mean objects per frame on a grid of cells
  (12x8 cells of 320x270 px on 4K, the finest blocks), per size bin, counted by box centre,
  per source (Remix profiles each camera) and pooled (key ``""``). Size = square root of
  the box area in frame px, bins split at 16/32/64/128 px: octaves around COCO's
  small-object limit (32 px), covering people seen at 4K. A uniform prior of
  :data:`DENSITY_PRIOR` of the source's objects is spread over all cells, so that a region
  never seen occupied is still run once the budget has room for nothing better.
- Detector profile (:func:`recall_by_size`): each option's recall per size bin (a
  reference box counts as found by a detection of its class with IoU >= 0.5), measured on
  whole calibration frames run as one block (:func:`profile_jobs`): recall follows object
  size at the option's scale; a block's size sets its passes.
- Candidate partitions (:class:`QuadGrid`): 3x2 root blocks of 1280x1080 px (so at least
  6 blocks), each kept or split 2x2, down to the cells: every such quadtree partition.
- Planner (:func:`plan`): ``Σ_blocks Σ_sizes objects · recall(option)`` under
  ``passes · pass_s <= budget_s``, exactly optimal over every candidate partition and every
  option per block: a knapsack over integer passes on the quadtree (each node's best value
  for each pass count is its best single option or the max-plus convolution of its
  children's). Ties: fewer passes, then fewer blocks.
- :class:`RemixMethod`: per frame one ``block`` job per non-skipped block, latency
  ``passes · remix_pass_s`` (at least 1 ms), nothing sent, answer ``merge`` (the
  evaluation merges the blocks' boxes by NMS). Optionally (``adapt_rate > 0``) it updates
  the distribution from its own previous answer, as Remix adapts to content changes.

Not modelled: Remix's AIMD plan adjustment (simulated latency equals the plan's), objects
cut by a block border (assumed found as on whole frames), backends with different times
per pass (one ``remix_pass_s`` for all).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from hyperion_core.eval.devices import DeviceProfile
from hyperion_core.eval.models import Job, remix_option, remix_tiling
from hyperion_core.eval.network import Link
from hyperion_core.eval.payloads import Payload
from hyperion_core.eval.timeline import FrameInputs, Outcome, Settings
from hyperion_core.fuse.boxes import Detections, pairwise_iou

Region = tuple[int, int, int, int]
SKIP = "skip"
#: The detectors Remix may choose per block (skip is always available).
DEFAULT_OPTIONS = (remix_option("nanodet", 0.25), remix_option("nanodet", 0.5),
                   remix_option("nanodet", 1.0), remix_option("centernet", 0.5))
#: Inner edges of the size bins: sqrt(box area), frame pixels.
SIZE_EDGES = (16.0, 32.0, 64.0, 128.0)
#: Uniform prior, as a share of a source's mean objects per frame, spread over all cells.
DENSITY_PRIOR = 0.05
MATCH_IOU = 0.5
MIN_LATENCY_S = 0.001
#: Adaptation: size bins an option finds less often than this are not re-estimated.
MIN_RECALL = 0.1
_TOL = 1e-9


@dataclass(frozen=True, kw_only=True)
class QuadGrid:
    """Candidate partitions: ``columns x rows`` root blocks, each recursively kept or split
    2x2 up to ``depth`` times; the finest blocks are the density cells.

    Args:
        columns: root blocks across the frame.
        rows: root blocks down the frame.
        depth: 2x2 splits below a root block.
    """

    columns: int = 3
    rows: int = 2
    depth: int = 2

    def __post_init__(self) -> None:
        if self.columns < 1 or self.rows < 1 or self.depth < 0:
            raise ValueError(f"invalid grid {self}")

    @property
    def cells(self) -> tuple[int, int]:
        """``(columns, rows)`` of density cells."""
        f = 2**self.depth
        return self.columns * f, self.rows * f


@dataclass(frozen=True, kw_only=True, eq=False)
class RemixProfile:
    """Remix's offline profile.

    Args:
        frame_size: ``(W, H)`` of the calibration frames, pixels.
        grid: candidate partitions and density cells.
        size_edges: inner edges of the ``S = len(size_edges) + 1`` size bins, frame px of
            sqrt(box area).
        objects: source → ``(S, rows, cols)`` mean objects per frame per size bin and cell
            (prior included); ``""``: all sources pooled.
        recall: option → ``(S,)`` share of reference objects it finds per size bin.
        frames: calibration frames measured.
    """

    frame_size: tuple[int, int]
    grid: QuadGrid
    size_edges: tuple[float, ...]
    objects: dict[str, np.ndarray]
    recall: dict[str, np.ndarray]
    frames: int

    @property
    def options(self) -> tuple[str, ...]:
        return tuple(self.recall)

    def objects_for(self, source: str) -> np.ndarray:
        """The source's distribution, or the pooled one for an unknown source."""
        return self.objects.get(source, self.objects[""])


def _parse(option: str) -> tuple[str, float]:
    if not option.startswith("remix:") or "@" not in option:
        raise ValueError(f"not a Remix option: {option!r}")
    backend, scale = option[len("remix:"):].split("@")
    return backend, float(scale)


@lru_cache(maxsize=4096)
def option_passes(option: str, width: int, height: int) -> int:
    """Detector passes of ``option`` on a ``width`` x ``height`` px block (0 for skip)."""
    if option == SKIP:
        return 0
    columns, rows = remix_tiling(*_parse(option)).grid_for(width, height)  # type: ignore[attr-defined]
    return int(columns * rows)


def plan_passes(blocks: Sequence[tuple[Region, str]]) -> int:
    """Total detector passes of a plan (list of ``(block xyxy px, option)``)."""
    return sum(option_passes(o, r[2] - r[0], r[3] - r[1]) for r, o in blocks)


def cell_edges(frame_size: tuple[int, int], grid: QuadGrid) -> tuple[np.ndarray, np.ndarray]:
    """Pixel edges ``(xs (cols+1,), ys (rows+1,))`` of the density cells of a ``(W, H)``
    frame."""
    cols, rows = grid.cells
    return (np.linspace(0, frame_size[0], cols + 1).round().astype(int),
            np.linspace(0, frame_size[1], rows + 1).round().astype(int))


def size_bins(boxes: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Size bin of each ``(N, 4)`` xyxy box: index of sqrt(area) among ``edges``."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    side = np.sqrt((b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0))
    return np.digitize(side, np.asarray(edges, np.float64))


def _finite(det: Detections) -> Detections:
    return det.select(np.isfinite(det.boxes.reshape(-1, 4)).all(axis=1))


def cell_counts(det: Detections, frame_size: tuple[int, int], grid: QuadGrid,
                edges: Sequence[float]) -> np.ndarray:
    """``(S, rows, cols)`` boxes per size bin and cell, by box centre (non-finite dropped).

    Args:
        det: boxes in frame pixels of a ``frame_size = (W, H)`` frame.
    """
    det = _finite(det)
    cols, rows = grid.cells
    counts = np.zeros((len(edges) + 1, rows, cols))
    xs, ys = cell_edges(frame_size, grid)
    cx = (det.boxes[:, 0] + det.boxes[:, 2]) / 2
    cy = (det.boxes[:, 1] + det.boxes[:, 3]) / 2
    col = (np.searchsorted(xs, cx, side="right") - 1).clip(0, cols - 1)
    row = (np.searchsorted(ys, cy, side="right") - 1).clip(0, rows - 1)
    np.add.at(counts, (size_bins(det.boxes, edges), row, col), 1.0)
    return counts


def recall_by_size(reference: Detections, found: Detections, edges: Sequence[float],
                   iou: float = MATCH_IOU) -> tuple[np.ndarray, np.ndarray]:
    """``(hits, totals)``, each ``(S,)``: reference boxes per size bin, and those matched by
    a ``found`` box of the same label with IoU >= ``iou`` (both in frame pixels)."""
    reference = _finite(reference)
    bins = size_bins(reference.boxes, edges)
    totals = np.bincount(bins, minlength=len(edges) + 1).astype(np.float64)
    if len(reference) == 0 or len(found) == 0:
        return np.zeros_like(totals), totals
    same = reference.labels[:, None] == found.labels[None, :]
    hit = ((pairwise_iou(reference.boxes, found.boxes) >= iou) & same).any(axis=1)
    return np.bincount(bins[hit], minlength=len(edges) + 1).astype(np.float64), totals


def profile_jobs(frames: Sequence[FrameInputs], options: Sequence[str] = DEFAULT_OPTIONS
                 ) -> dict[str, list[Job]]:
    """The passes the profile needs: option → one job per calibration frame (in order),
    the option on the whole frame as one block."""
    out: dict[str, list[Job]] = {}
    for option in options:
        _parse(option)
        out[option] = [Job(model=option, frame_path=f.path, digest=f.digest,  # type: ignore[arg-type]
                           payload=Payload(kind="block",
                                           region=(0, 0, f.shape[1], f.shape[0])))
                       for f in frames]
    return out


def pooled_recall_counts(references: Sequence[Detections], found: Sequence[Detections],
                         edges: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """``(hits, totals)`` per size bin of :func:`recall_by_size`, summed over frames."""
    hits, totals = np.zeros(len(edges) + 1), np.zeros(len(edges) + 1)
    for reference, det in zip(references, found, strict=True):
        h, t = recall_by_size(reference, det, edges)
        hits, totals = hits + h, totals + t
    return hits, totals


def _fill_empty_bins(hits: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Recall per bin; a bin without reference boxes takes its nearest measured bin's."""
    measured = np.flatnonzero(totals > 0)
    if measured.size == 0:
        return np.zeros_like(totals)
    recall = np.divide(hits, totals, out=np.zeros_like(hits), where=totals > 0)
    nearest = measured[np.abs(np.arange(totals.size)[:, None] - measured[None, :]).argmin(1)]
    return recall[nearest]


def build_profile(references: Sequence[Detections],
                  found: Mapping[str, Sequence[Detections | None]], *,
                  frame_size: tuple[int, int], sources: Sequence[str] | None = None,
                  grid: QuadGrid | None = None, size_edges: Sequence[float] = SIZE_EDGES,
                  prior: float = DENSITY_PRIOR) -> RemixProfile:
    """Remix's offline profile from calibration frames (never scored; use several).

    Args:
        references: per calibration frame, its reference detections (frame pixels).
        found: option → per calibration frame, the option's detections on the whole frame
            (outputs of :func:`profile_jobs`' jobs, in the same order).
        frame_size: ``(W, H)`` of the calibration frames, pixels.
        sources: per frame, the camera/clip it comes from (``None``: one source).
        grid: candidate partitions (default :class:`QuadGrid`).
        size_edges: size bin edges (:data:`SIZE_EDGES`).
        prior: :data:`DENSITY_PRIOR`.
    """
    grid = grid or QuadGrid()
    edges = tuple(float(e) for e in size_edges)
    n = len(references)
    sources = list(sources) if sources is not None else [""] * n
    if n == 0 or len(sources) != n:
        raise ValueError("need calibration frames, with one source each")
    recall = {}
    for option, dets in found.items():
        _parse(option)
        if len(dets) != n or any(d is None for d in dets):
            raise ValueError(f"{option}: need detections for each of the {n} frames")
        recall[option] = _fill_empty_bins(*pooled_recall_counts(references, dets, edges))  # type: ignore[arg-type]
    counts = [cell_counts(r, frame_size, grid, edges) for r in references]
    objects = {}
    for source in sorted({"", *sources}):
        mine = [c for c, s in zip(counts, sources, strict=True) if source in ("", s)]
        mean = np.mean(mine, axis=0)
        by_size = mean.sum(axis=(1, 2))[:, None, None]
        objects[source] = mean + prior * by_size / (mean.shape[1] * mean.shape[2])
    return RemixProfile(frame_size=frame_size, grid=grid, size_edges=edges, objects=objects,
                        recall=recall, frames=n)


@dataclass(kw_only=True, eq=False)
class _Node:
    """One candidate block, in cells ``(c0, r0, c1, r1)``, and its 2x2 split if any."""

    cells: tuple[int, int, int, int]
    children: list[_Node]
    value: np.ndarray = field(default_factory=lambda: np.zeros(0))  # best for <= p passes
    leaf: list[str] = field(default_factory=list)  # option of the best leaf for <= p
    split: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    args: list[np.ndarray] = field(default_factory=list)


def _tree(grid: QuadGrid) -> list[_Node]:
    def node(c0: int, r0: int, size: int) -> _Node:
        half = size // 2
        kids = [] if size == 1 else [node(c0 + dc, r0 + dr, half)
                                     for dr in (0, half) for dc in (0, half)]
        return _Node(cells=(c0, r0, c0 + size, r0 + size), children=kids)

    f = 2**grid.depth
    return [node(c * f, r * f, f) for r in range(grid.rows) for c in range(grid.columns)]


def _maxplus(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``c[p] = max_q a[q] + b[p - q]`` and its smallest maximising ``q``."""
    idx = np.arange(a.size)
    gap = idx[None, :] - idx[:, None]
    m = np.where(gap >= 0, a[:, None] + b[gap.clip(0)], -np.inf)
    arg = m.argmax(axis=0)
    return m[arg, idx], arg


def _combine(tables: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    total, args = tables[0], []
    for t in tables[1:]:
        total, arg = _maxplus(total, t)
        args.append(arg)
    return total, args


def _allocate(args: list[np.ndarray], p: int) -> list[int]:
    """Passes per part of a combination at ``p`` passes in all."""
    shares = []
    for arg in reversed(args):
        q = int(arg[p])
        shares.append(p - q)
        p = q
    return [p, *reversed(shares)]


def _region(cells: tuple[int, int, int, int], xs: np.ndarray, ys: np.ndarray) -> Region:
    c0, r0, c1, r1 = cells
    return int(xs[c0]), int(ys[r0]), int(xs[c1]), int(ys[r1])


def _solve(node: _Node, budget: int, objects: np.ndarray, recall: Mapping[str, np.ndarray],
           xs: np.ndarray, ys: np.ndarray) -> None:
    """Fill the node's tables over ``0..budget`` passes, bottom-up."""
    x0, y0, x1, y1 = _region(node.cells, xs, ys)
    c0, r0, c1, r1 = node.cells
    per_size = objects[:, r0:r1, c0:c1].sum(axis=(1, 2))
    priced = sorted((option_passes(o, x1 - x0, y1 - y0), o) for o in recall)
    names = [SKIP, *(o for _, o in priced)]
    value, leaf = np.zeros(budget + 1), np.zeros(budget + 1, int)
    for i, (cost, option) in enumerate(priced, start=1):
        # Cheapest first, so a dearer option replaces a cheaper one only if strictly better.
        gain = float(per_size @ recall[option])
        better = np.arange(budget + 1) >= cost
        better &= gain > value + _TOL
        value[better], leaf[better] = gain, i
    node.leaf, node.split, node.value = [names[i] for i in leaf], np.zeros(budget + 1, bool), value
    if node.children:
        for child in node.children:
            _solve(child, budget, objects, recall, xs, ys)
        split, node.args = _combine([c.value for c in node.children])
        node.split = split > value + _TOL
        node.value = np.where(node.split, split, value)


def _emit(node: _Node, p: int, xs: np.ndarray, ys: np.ndarray,
          out: list[tuple[Region, str]]) -> None:
    if node.split[p]:
        for child, q in zip(node.children, _allocate(node.args, p), strict=True):
            _emit(child, q, xs, ys, out)
    else:
        out.append((_region(node.cells, xs, ys), node.leaf[p]))


def _max_passes(node: _Node, xs: np.ndarray, ys: np.ndarray, options: Sequence[str]) -> int:
    """Upper bound of any plan's passes under ``node``: every block at its dearest option."""
    x0, y0, x1, y1 = _region(node.cells, xs, ys)
    own = max((option_passes(o, x1 - x0, y1 - y0) for o in options), default=0)
    return own + sum(_max_passes(c, xs, ys, options) for c in node.children)


def plan(profile: RemixProfile, budget_s: float, pass_s: float, *, source: str = "",
         frame_size: tuple[int, int] | None = None, objects: np.ndarray | None = None
         ) -> list[tuple[Region, str]]:
    """The best partition and option per block under the budget.

    Args:
        profile: offline profile.
        budget_s: latency budget per frame, seconds.
        pass_s: device time of one detector pass, seconds (> 0).
        source: whose object distribution to use (unknown: pooled).
        frame_size: ``(W, H)`` of the frame, pixels (default: the calibration frames').
        objects: ``(S, rows, cols)`` distribution overriding the profile's.

    Returns:
        Every block of the chosen partition, row-major within each root block, as
        ``((x0, y0, x1, y1) frame px, option or "skip")``; ``plan_passes(...) · pass_s <=
        budget_s``.
    """
    if not (pass_s > 0 and math.isfinite(pass_s)) or math.isnan(budget_s):
        raise ValueError(f"need pass_s > 0 and a budget, got {pass_s}, {budget_s}")
    size = frame_size or profile.frame_size
    objs = profile.objects_for(source) if objects is None else np.asarray(objects)
    cols, rows = profile.grid.cells
    if objs.shape != (len(profile.size_edges) + 1, rows, cols):
        raise ValueError(f"distribution shape {objs.shape} does not fit the grid")
    xs, ys = cell_edges(size, profile.grid)
    roots = _tree(profile.grid)
    cap = sum(_max_passes(r, xs, ys, profile.options) for r in roots)
    budget = int(min(cap, max(0.0, math.floor(budget_s / pass_s + _TOL))))
    for root in roots:
        _solve(root, budget, objs, profile.recall, xs, ys)
    total, args = _combine([r.value for r in roots])
    p = int(np.flatnonzero(total >= total[-1] - _TOL)[0])
    out: list[tuple[Region, str]] = []
    for root, q in zip(roots, _allocate(args, p), strict=True):
        _emit(root, q, xs, ys, out)
    return out


def expected_found(profile: RemixProfile, blocks: Sequence[tuple[Region, str]], *,
                   source: str = "", frame_size: tuple[int, int] | None = None,
                   objects: np.ndarray | None = None) -> float:
    """``Σ objects · recall`` of a plan whose blocks lie on the density cells."""
    xs, ys = cell_edges(frame_size or profile.frame_size, profile.grid)
    objs = profile.objects_for(source) if objects is None else np.asarray(objects)
    total = 0.0
    for (x0, y0, x1, y1), option in blocks:
        if option == SKIP:
            continue
        c0, c1 = np.searchsorted(xs, [x0, x1])
        r0, r1 = np.searchsorted(ys, [y0, y1])
        total += float(objs[:, r0:r1, c0:c1].sum(axis=(1, 2)) @ profile.recall[option])
    return total


class RemixMethod:
    """Remix on the device: per frame the best plan under the budget, blocks run locally.

    Adaptation (``adapt_rate`` in (0, 1]): before planning frame ``i``, the detections of
    frame ``i-1``'s blocks (from ``lookup``) re-estimate the distribution in the cells they
    covered: per size bin, count found / the option's recall (bins under
    :data:`MIN_RECALL` are left alone), blended in with weight ``adapt_rate``; skipped
    cells keep their estimate. This needs the detections of each frame before the next is
    planned, so ``lookup`` must return them (a miss raises). ``adapt_rate = 0`` (default)
    plans from the offline profile only, and the evaluation can run the jobs afterwards.
    """

    def __init__(self, *, profile: RemixProfile, settings: Settings, device: DeviceProfile,
                 adapt_rate: float = 0.0,
                 lookup: Callable[[Job], Detections | None] | None = None) -> None:
        """Args:
        profile: offline profile.
        settings: ``budget_s`` is the latency budget per frame.
        device: ``remix_pass_s`` is one pass's device time, seconds.
        adapt_rate: weight of the newest observation, 0 to 1 (0: no adaptation).
        lookup: a job → its detections (frame pixels), e.g. from the detection cache.
        """
        if not 0.0 <= adapt_rate <= 1.0 or (adapt_rate > 0 and lookup is None):
            raise ValueError("adapt_rate must lie in [0, 1] and adaptation needs a lookup")
        self.profile, self.s, self.dev = profile, settings, device
        self.adapt_rate, self.lookup = adapt_rate, lookup
        self._plans: dict[tuple[str, tuple[int, int]], list[tuple[Region, str]]] = {}
        self._objects: dict[str, np.ndarray] = {}
        self._last: tuple[str, tuple[int, int], list[tuple[Region, str, Job]]] | None = None

    def start(self, link: Link, t0_s: float) -> None:
        """A new run: forget what earlier runs observed."""
        del link, t0_s
        self._objects, self._last = {}, None

    def _observe(self) -> None:
        """Blend the previous frame's detections into its source's distribution."""
        if self._last is None:
            return
        source, size, ran = self._last
        objs = self._objects.setdefault(source, self.profile.objects_for(source).copy())
        xs, ys = cell_edges(size, self.profile.grid)
        edges = self.profile.size_edges
        for (x0, y0, x1, y1), option, job in ran:
            det = self.lookup(job)  # type: ignore[misc]
            if det is None:
                raise KeyError(f"Remix adaptation: no detections for {job.model} on "
                               f"{job.digest}; run each frame's jobs before the next step")
            c0, c1 = np.searchsorted(xs, [x0, x1])
            r0, r1 = np.searchsorted(ys, [y0, y1])
            seen = cell_counts(det, size, self.profile.grid, edges)[:, r0:r1, c0:c1]
            rec = self.profile.recall[option]
            ok = rec >= MIN_RECALL
            est = seen[ok] / rec[ok][:, None, None]
            old = objs[ok, r0:r1, c0:c1]
            objs[ok, r0:r1, c0:c1] = (1 - self.adapt_rate) * old + self.adapt_rate * est

    def _plan(self, source: str, size: tuple[int, int]) -> list[tuple[Region, str]]:
        pass_s = self.dev.remix_pass_s
        if self.adapt_rate > 0:
            self._observe()
            return plan(self.profile, self.s.budget_s, pass_s, source=source,
                        frame_size=size, objects=self._objects.get(source))
        key = (source, size)
        if key not in self._plans:
            self._plans[key] = plan(self.profile, self.s.budget_s, pass_s, source=source,
                                    frame_size=size)
        return self._plans[key]

    def step(self, frame: FrameInputs, link: Link, t_s: float) -> Outcome:
        del link
        size = (int(frame.shape[1]), int(frame.shape[0]))
        blocks = self._plan(frame.source, size)
        ran = [(region, option, Job(model=option, frame_path=frame.path,  # type: ignore[arg-type]
                                    digest=frame.digest,
                                    payload=Payload(kind="block", region=region)))
               for region, option in blocks if option != SKIP]
        self._last = (frame.source, size, ran)
        latency = max(plan_passes(blocks) * self.dev.remix_pass_s, MIN_LATENCY_S)
        return Outcome(frame=frame.index, start_s=t_s, latency_s=latency, bytes_sent=0.0,
                       on_time=False, answer="merge", jobs=[job for _, _, job in ran])
