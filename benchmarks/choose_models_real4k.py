"""Re-run the model selection on real 4K drone frames with human person labels, cross-fitted.

The frames: ``../shared/data/unicamp-uav-dev`` (12 frames of one DJI clip at 3840x2160, 134
person boxes drawn by the dataset's authors; CC BY-NC 4.0, read in place, never copied into
the repository). Without them the script says so and exits 0.

Cross-fitting: the two halves of the frames in time order (frames 0-5, 6-11) are the folds
of the evaluation. Each rule chooses on one half and the choice is reported on the other,
then the halves swap. Intervals are 95 % percentile bootstrap intervals over the frames of
the half they are computed on (6 units: wide by nature).

Rules (those of ``benchmarks/choose_models.py``, with the issue's POI targets):

- edge: among candidates whose latency per 4K frame is within 0.25 s, the cheapest whose
  AP50 on the choosing half is not significantly below the best's (the paired bootstrap
  interval of the difference reaches 0);
- cloud: the same with 2 s;
- importance: among candidates meeting the targets on the choosing half (classes >= 1 hold
  >= 90 % of person patches on <= 20 % of the frame, the top class >= 50 % on <= 5 %), the
  highest lift; if none meets them, the one closest to them (the smallest summed shortfall).

Latency: each candidate's passes over the 12 frames are timed as they run (one warm-up on
a crop first), so median and p90 are over 12 different frames. The machine has 2 cores
shared with other work (load average 4-7 during these runs), so measured times are 2-4x the
quiet machine's and vary with the neighbours' load from one candidate to the next. The
limits are therefore applied to *idle estimates* (``latency_*_idle_s``): a detector's cost
per 4K frame is its pass count times a per-pass cost, so the estimate is the composite-era
quiet-machine measurement (``docs/models/selection.json``: same machine, same 3840x2160
size) of the same family (role, backend, flip) at the same pass count, or else the
least-squares line through that family's measurements (e.g. NanoDet SAHI: about 70 ms +
17 ms per pass). The limit is applied to the p90 estimate (the composite-era rule) and,
for comparison, to the median estimate. Each candidate also records its measured times,
the load average and a probe (median of 10 single NanoDet passes) taken just before it.

POI uses the scorer's own path: :func:`hyperion_core.score.sources.importance_map`, Jenks
classes, and collaboration-aware re-classing as in
:func:`hyperion_core.eval.profile_builder.class_map`; the raw Jenks classes (the issue's
targets, as :mod:`hyperion_core.eval.poi` counts them) and the re-classed map (what is sent)
are both reported.

Every detector output and its timing is cached by (image content, full model spec) under
``--cache`` (default ``/tmp/real4k-cache``), so a re-run costs only the scoring.

Usage: python benchmarks/choose_models_real4k.py --json docs/models/real4k_selection.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from hyperion_core.eval.cache import DetectionCache, cache_key
from hyperion_core.eval.models import to_eval
from hyperion_core.eval.panda import read_ground_truth
from hyperion_core.eval.payloads import PATCH
from hyperion_core.eval.poi import PoiCounts, object_patches, poi_counts
from hyperion_core.eval.profile_builder import ProfileConfig, class_map
from hyperion_core.eval.stats import Interval, bootstrap, paired_difference
from hyperion_core.fuse.boxes import Detections
from hyperion_core.metrics.ap_matches import ImageMatches, ap50, match_image
from hyperion_core.models.ort_runtime import RuntimeConfig
from hyperion_core.models.registry import ModelSpec, build_detector, get_spec
from hyperion_core.models.sahi_backend import SahiConfig
from hyperion_core.models.tiled import TiledConfig
from hyperion_core.score.sources import ImportanceConfig, importance_map

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "unicamp-uav-dev"
EDGE_LIMIT_S, CLOUD_LIMIT_S = 0.25, 2.0
UPPER_RECALL_MIN, UPPER_SHARE_MAX, TOP_RECALL_MIN, TOP_SHARE_MAX = 0.90, 0.20, 0.50, 0.05
RUNTIME = RuntimeConfig(intra_op_threads=2)
REPS = 1000


@dataclass(frozen=True, kw_only=True, eq=False)
class Frame:
    name: str
    digest: str
    image: np.ndarray
    truth: Detections


def load_frames(data: Path) -> list[Frame]:
    """The frames in time order with their person boxes (the COCO file's image order)."""
    import cv2

    paths = sorted((data / "images").glob("*.jpg"))
    truths = read_ground_truth(data / "gt.json")
    if len(paths) != len(truths):
        raise SystemExit(f"{len(paths)} images but {len(truths)} labelled images in {data}")
    frames = []
    for path, truth in zip(paths, truths, strict=True):
        image = cv2.imread(str(path))
        if image is None:
            raise SystemExit(f"cannot read {path}")
        frames.append(Frame(name=path.name, digest=hashlib.sha1(path.read_bytes()).hexdigest(),
                            image=image, truth=truth))
    return frames


def probe_seconds(image: np.ndarray) -> float:
    """Median of 10 single NanoDet passes on a 416-px crop: how loaded the machine is now."""
    from hyperion_core.models.registry import latencies

    detector = build_detector(replace(get_spec("cloud", runtime=RUNTIME), sahi=None))
    crop = np.ascontiguousarray(image[:416, :416])
    return statistics.median(latencies(lambda: detector.predict(crop), runs=10))


class Runner:
    """Runs model specs over the frames, caching outputs and per-frame timings."""

    def __init__(self, frames: list[Frame], cache: DetectionCache) -> None:
        self.frames, self.cache = frames, cache

    def key(self, spec: ModelSpec, frame: Frame) -> str:
        return cache_key("real4k-v1", frame.digest, repr(spec))

    def outputs(self, spec: ModelSpec) -> tuple[list[Detections], dict[str, object]]:
        """Detections per frame (xyxy frame pixels) and the timing record of ``spec``."""
        keys = [self.key(spec, f) for f in self.frames]
        timing_key = cache_key("real4k-timing-v1", repr(spec), *[f.digest for f in self.frames])
        timing = self.cache.get_value(timing_key)
        if timing is None or not all(self.cache.has(k) for k in keys):
            probe = probe_seconds(self.frames[0].image)
            load = os.getloadavg()[0]
            detector = build_detector(spec)
            detector.predict(np.ascontiguousarray(self.frames[0].image[:720, :1280]))
            times = []
            for frame, key in zip(self.frames, keys, strict=True):
                start = time.perf_counter()
                found = detector.predict(frame.image)
                times.append(time.perf_counter() - start)
                self.cache.put(key, to_eval(found))
            timing = {"times_s": times, "probe_s": probe, "load_average": load}
            self.cache.put_value(timing_key, timing)
        outs = [self.cache.get(k) for k in keys]
        return outs, timing  # type: ignore[return-value]


def halves(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The evaluation's folds: the first and the second half of the frames in time order."""
    return np.arange(n // 2), np.arange(n // 2, n)


def ap_on(matches: list[ImageMatches], subset: np.ndarray) -> Callable[[np.ndarray], float]:
    return lambda idx: ap50([matches[subset[i]] for i in idx])


def interval(matches: list[ImageMatches], subset: np.ndarray) -> Interval:
    return bootstrap(ap_on(matches, subset), len(subset), reps=REPS)


def difference(a: list[ImageMatches], b: list[ImageMatches], subset: np.ndarray) -> Interval:
    return paired_difference(ap_on(a, subset), ap_on(b, subset), len(subset), reps=REPS)


def spec_summary(spec: ModelSpec) -> dict[str, object]:
    return {"backend": spec.backend, "flip_tta": spec.flip_tta,
            "score_threshold": spec.detector.score_threshold,
            "tiling": None if spec.tiling is None else spec.tiling.__dict__,
            "sahi": None if spec.sahi is None else spec.sahi.__dict__}


def measure(runner: Runner, name: str, spec: ModelSpec) -> dict:
    outs, timing = runner.outputs(spec)
    frames = runner.frames
    matches = [match_image(f.truth, o) for f, o in zip(frames, outs, strict=True)]
    times = np.asarray(timing["times_s"])
    everything = np.arange(len(frames))
    row = {"name": name, **spec_summary(spec),
           "ap50_all": interval(matches, everything).as_dict(),
           "ap50_half": [interval(matches, h).as_dict() for h in halves(len(frames))],
           # Mean of per-frame AP50 (all, first half, second half): not the pooled COCO
           # figure the rules use; shown because it is how per-frame averages read.
           "ap50_frame_mean": [float(np.nanmean([ap50([matches[i]]) for i in h]))
                               for h in (everything, *halves(len(frames)))],
           "latency_median_s": float(np.median(times)),
           "latency_p90_s": float(np.percentile(times, 90)),
           "probe_s": timing["probe_s"], "load_average": timing["load_average"],
           "matches": matches, "outputs": outs}
    print(f"  {name:44s} AP50 {row['ap50_all']['value']:.3f} (halves "
          f"{row['ap50_half'][0]['value']:.3f} / {row['ap50_half'][1]['value']:.3f})  "
          f"median {row['latency_median_s']:6.3f} s p90 {row['latency_p90_s']:6.3f} s  "
          f"probe {row['probe_s'] * 1e3:4.0f} ms load {row['load_average']:.1f}", flush=True)
    return row


def passes(spec: ModelSpec, size: tuple[int, int] = (3840, 2160)) -> int:
    """Detector passes ``spec`` makes on one frame of ``size`` (width, height): tiles, or
    SAHI slices plus the full-frame pass; twice that with flip."""
    if spec.tiling is not None:
        columns, rows = spec.tiling.grid_for(*size)
        count = columns * rows
    elif spec.sahi is not None:
        from sahi.slicing import get_slice_bboxes

        cfg = spec.sahi
        count = len(get_slice_bboxes(image_height=size[1], image_width=size[0],
                                     slice_height=cfg.slice_size, slice_width=cfg.slice_size,
                                     overlap_height_ratio=cfg.overlap,
                                     overlap_width_ratio=cfg.overlap)) + cfg.full_frame_pass
    else:
        count = 1
    return count * (2 if spec.flip_tta else 1)


def _family(role: str, spec: ModelSpec) -> str:
    return f"{role} {spec.backend}{' flip' if spec.flip_tta else ''}"


def idle_model() -> dict[str, dict]:
    """Per family (role, backend, flip), the composite-era idle latencies of
    ``docs/models/selection.json`` by pass count, and their least-squares line
    ``seconds = a + b x passes`` (median and p90)."""
    from hyperion_core.models.tiled import TiledConfig as Tiling

    selection = Path(__file__).resolve().parents[1] / "docs" / "models" / "selection.json"
    document = json.loads(selection.read_text())
    families: dict[str, dict] = {}
    for role in ("edge", "cloud", "reference"):
        for row in document[role]:
            spec = get_spec("cloud" if role == "reference" else role)
            spec = replace(spec, backend=row["backend"], flip_tta=role == "reference",
                           tiling=None if row["tiling"] is None else Tiling(**row["tiling"]),
                           sahi=None if row["sahi"] is None else SahiConfig(**row["sahi"]))
            family = families.setdefault(_family("cloud" if role == "reference" else role,
                                                 spec), {"points": []})
            family["points"].append((passes(spec), row["latency_s"], row["latency_p90_s"]))
    for family in families.values():
        n, median, p90 = (np.array(v, float) for v in zip(*family["points"], strict=True))
        if len(set(n)) > 1:
            family["median_line"] = np.polyfit(n, median, 1).tolist()
            family["p90_line"] = np.polyfit(n, p90, 1).tolist()
    return families


def add_idle_estimates(rows: list[dict], role: str, specs: dict[str, ModelSpec]) -> None:
    """``passes`` and ``latency_*_idle_s``: the quiet machine's latency of the same pass
    count and family measured in the composite era, or the family's line through those
    measurements (None where the family was never measured)."""
    model = idle_model()
    for r in rows:
        spec = specs[r["name"]]
        r["passes"] = n = passes(spec)
        family = model.get(_family(role, spec))
        r["latency_median_idle_s"] = r["latency_p90_idle_s"] = None
        if family is None:
            continue
        same = [p for p in family["points"] if p[0] == n]
        if same:
            r["latency_median_idle_s"], r["latency_p90_idle_s"] = same[0][1], same[0][2]
        elif "median_line" in family:
            r["latency_median_idle_s"] = float(np.polyval(family["median_line"], n))
            r["latency_p90_idle_s"] = float(np.polyval(family["p90_line"], n))


def pick(rows: list[dict], choose: np.ndarray, limit_s: float, latency: str, *,
         parsimonious: bool = True) -> dict | None:
    """The cheapest candidate within ``limit_s`` (by ``latency``) not significantly less
    accurate on the frames ``choose`` than the most accurate one there
    (``parsimonious=False``: simply the most accurate one there)."""
    allowed = [r for r in rows if r[latency] is not None and r[latency] <= limit_s]
    if not allowed:
        return None
    scores = {r["name"]: ap50([r["matches"][i] for i in choose]) for r in allowed}
    best = max(allowed, key=lambda r: scores[r["name"]])
    if not parsimonious:
        return best
    equivalent = [r for r in allowed if r is best
                  or difference(best["matches"], r["matches"], choose).low <= 0]
    return min(equivalent, key=lambda r: r[latency])


def cross_fit(rows: list[dict], limit_s: float, default: str) -> list[dict]:
    """Per fold: what each rule picks on one half and how it does on the other. Also adds
    ``minus_default`` to every row: its AP50 minus the default's per half, paired."""
    folds = []
    a, b = halves(len(rows[0]["matches"]))
    base = next(r for r in rows if r["name"] == default)
    for r in rows:
        r["minus_default"] = [difference(r["matches"], base["matches"], h).as_dict()
                              for h in (a, b)]
    for choose, report in ((a, b), (b, a)):
        fold = {"choose_on": choose.tolist(), "report_on": report.tolist()}
        for rule in ("latency_p90_idle_s", "latency_median_idle_s", "best within p90"):
            chosen = pick(rows, choose, limit_s, rule.replace("best within p90",
                                                              "latency_p90_idle_s"),
                          parsimonious=rule != "best within p90")
            if chosen is None:
                fold[rule] = None
                continue
            fold[rule] = {
                "pick": chosen["name"],
                "ap50_choose": interval(chosen["matches"], choose).as_dict(),
                "ap50_report": interval(chosen["matches"], report).as_dict(),
                "minus_default_report": difference(chosen["matches"], base["matches"],
                                                   report).as_dict()}
        folds.append(fold)
        print(f"  fold choose {choose[0]}-{choose[-1]}: " + "; ".join(
            f"{k}: {v['pick']} -> {v['ap50_report']['value']:.3f} on the other half"
            for k, v in fold.items() if isinstance(v, dict)), flush=True)
    return folds


def edge_specs() -> dict[str, ModelSpec]:
    base = get_spec("edge", runtime=RUNTIME)
    grids = ((0.5, 3, 2), (0.5, 4, 2), (0.5, 4, 3), (0.5, 5, 3), (0.75, 4, 2), (0.75, 4, 3),
             (0.75, 5, 3), (0.75, 6, 3), (1.0, 5, 3), (1.0, 6, 3), (1.0, 8, 4))
    specs = {f"nanodet {c}x{r} at {s}": replace(base, tiling=TiledConfig(
        scale=s, columns=c, rows=r, overlap=0.1)) for s, c, r in grids}
    for s, c, r in ((0.5, 4, 2), (0.75, 4, 3)):
        specs[f"centernet {c}x{r} at {s}"] = replace(base, backend="centernet",
                                                      tiling=TiledConfig(scale=s, columns=c,
                                                                         rows=r, overlap=0.1))
    return specs


def cloud_specs() -> dict[str, ModelSpec]:
    base = get_spec("cloud", runtime=RUNTIME)
    specs: dict[str, ModelSpec] = {}

    def add(backend: str, size: int, full: bool, *, overlap: float = 0.2, flip: bool = False,
            threshold: float = 0.1, merge: tuple[str, str] = ("NMS", "IOU")) -> None:
        name = (f"{backend}{' + flip' if flip else ''} SAHI {size}{' + full' if full else ''}"
                f"{f' overlap {overlap}' if overlap != 0.2 else ''}"
                f"{f' score {threshold}' if threshold != 0.1 else ''}"
                f"{f' merge {merge[0]} {merge[1]}' if merge != ('NMS', 'IOU') else ''}")
        specs[name] = replace(base, backend=backend, flip_tta=flip,
                              detector=replace(base.detector, score_threshold=threshold),
                              sahi=replace(base.sahi, slice_size=size, overlap=overlap,  # type: ignore[arg-type]
                                           full_frame_pass=full, postprocess=merge[0],
                                           match_metric=merge[1]))

    for size in (640, 512, 416, 320):
        add("nanodet", size, True)
        add("nanodet", size, False)
    for size in (640, 512, 416):
        add("centernet", size, True)
        add("pair", size, True)
    for size in (640, 512, 416):
        add("nanodet", size, True, flip=True)
    add("nanodet", 416, True, overlap=0.3)
    add("nanodet", 320, True, overlap=0.1)
    add("nanodet", 416, True, threshold=0.05)
    add("nanodet", 320, True, threshold=0.05)
    add("nanodet", 416, True, merge=("GREEDYNMM", "IOS"))
    add("nanodet", 416, True, merge=("NMS", "IOS"))
    add("nanodet", 480, True)
    add("nanodet", 384, True)
    return specs


EDGE_DEFAULT, CLOUD_DEFAULT = "nanodet 4x2 at 0.5", "nanodet SAHI 640 + full"
#: The edge both folds pick (docs/models/real4k.md): the cloud's margin over it is reported.
BEST_EDGE = "centernet 4x2 at 0.5"


def grown(boxes: np.ndarray, factor: float) -> np.ndarray:
    """Boxes grown on every side by ``factor`` x their height (expected motion between
    frames in body heights)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    margin = factor * (boxes[:, 3] - boxes[:, 1])[:, None]
    return boxes + np.hstack([-margin, -margin, margin, margin])


@dataclass(frozen=True, kw_only=True)
class ImportanceCandidate:
    """One importance source, painted as the scorer's ``edge_objectness``.

    Args:
        name: shown in the tables.
        edge: a key of the edge outputs (``"none"``: no edge boxes).
        floor: boxes below this confidence are ignored (``objectness_floor``).
        max_height: boxes *below the answer threshold* (0.1) taller than this fraction of
            the frame height are ignored (low-confidence big boxes are rarely small people);
            ``None``: no cap.
        prior: a cloud key: the previous frame's cloud answer, boxes >= ``prior_score``
            grown by ``prior_growth`` body heights on every side, painted at their score.
    """

    name: str
    edge: str
    floor: float = 0.0
    max_height: float | None = None
    prior: str | None = None
    prior_growth: float = 1.0
    prior_score: float = 0.3


ANSWER_THRESHOLD = 0.1
#: The most passes a NanoDet edge may make within 0.25 s (12: 4x3, est. 0.21 s p90), and
#: edges over the budget, measured only to show what resolution would buy.
HIGHER_RES_EDGE = "nanodet 4x3 at 0.5"
OVER_BUDGET_EDGES = ("nanodet 6x3 at 1.0",)


def importance_candidates(prior_cloud: str) -> list[ImportanceCandidate]:
    """Current objectness; other edge settings; low-confidence boxes; the temporal prior;
    hybrids."""
    out = [ImportanceCandidate(name=f"objectness of {e}", edge=e)
           for e in (EDGE_DEFAULT, "centernet 4x2 at 0.5", HIGHER_RES_EDGE, *OVER_BUDGET_EDGES)]
    for edge in (EDGE_DEFAULT, "centernet 4x2 at 0.5", HIGHER_RES_EDGE, *OVER_BUDGET_EDGES):
        for floor in (0.02, 0.03, 0.05):
            for cap in (None, 1 / 8, 1 / 16):
                if edge != EDGE_DEFAULT and cap is not None and floor != 0.03:
                    continue
                out.append(ImportanceCandidate(
                    name=f"objectness of {edge} down to {floor}"
                    + ("" if cap is None else f", low boxes <= 1/{round(1 / cap)} frame h"),
                    edge=f"{edge} score 0.02", floor=floor, max_height=cap))
    low = dict(edge=f"{EDGE_DEFAULT} score 0.02", floor=0.03, max_height=1 / 8)
    for growth in (0.5, 2.0):
        out.append(ImportanceCandidate(name=f"prior only (previous cloud answer, grown {growth} h)",
                                       edge="none", prior=prior_cloud, prior_growth=growth))
        out.append(ImportanceCandidate(name=f"objectness of {EDGE_DEFAULT} + prior (grown "
                                       f"{growth} h)", edge=EDGE_DEFAULT, prior=prior_cloud,
                                       prior_growth=growth))
        out.append(ImportanceCandidate(name=f"hybrid: down to 0.03, low boxes <= 1/8 frame h, "
                                       f"+ prior (grown {growth} h)", prior=prior_cloud,
                                       prior_growth=growth, **low))  # type: ignore[arg-type]
    return out


def importance_study(frames: list[Frame], edge_outs: dict[str, list[Detections]],
                     answer_edge: list[Detections], cloud_outs: dict[str, list[Detections]],
                     candidates: list[ImportanceCandidate]) -> list[dict]:
    """POI counts per candidate and frame: raw Jenks classes and the re-classed map."""
    profile = ProfileConfig()
    rows = []
    for cand in candidates:
        raw_counts, sent_counts = [], []
        for i, frame in enumerate(frames):
            h, w = frame.image.shape[:2]
            grid = (-(-h // PATCH), -(-w // PATCH))
            if cand.edge == "none":
                boxes, scores = np.zeros((0, 4)), np.zeros(0)
            else:
                found = edge_outs[cand.edge][i]
                boxes, scores = found.boxes, found.scores
            if cand.prior is not None and i > 0:
                previous = cloud_outs[cand.prior][i - 1]
                keep = previous.scores >= cand.prior_score
                boxes = np.vstack([boxes, grown(previous.boxes[keep], cand.prior_growth)])
                scores = np.concatenate([scores, previous.scores[keep]])
            config = ImportanceConfig(source="edge_objectness", objectness_floor=cand.floor,
                                      objectness_max_height=cand.max_height or 1.0,
                                      objectness_cap_below=ANSWER_THRESHOLD)
            values = importance_map(config,
                                    vit={}, boxes_xyxy=boxes, scores=scores, grid=grid,
                                    patch_size=PATCH)
            objects = object_patches(frame.truth.boxes, grid=grid, patch_size=PATCH)
            raw_counts.append(poi_counts(values, objects, classes=profile.classes))
            # What the graph sends: re-classing moves patches of the edge's own confident
            # answers to class 0 (answer_edge: the edge detector as deployed).
            classes = class_map(values, answer_edge[i], profile)
            sent_counts.append(_counts_of_classes(classes, objects, profile.classes))
        rows.append({"name": cand.name, "candidate": cand.__dict__,
                     "within_edge_budget": not any(cand.edge.startswith(e)
                                                   for e in OVER_BUDGET_EDGES),
                     "raw": raw_counts, "sent": sent_counts})
    return rows


def _counts_of_classes(labels: np.ndarray, objects: np.ndarray, classes: int) -> PoiCounts:
    top, upper = labels == classes - 1, labels >= 1
    return PoiCounts(objects=int(objects.sum()), objects_top=int((objects & top).sum()),
                     objects_upper=int((objects & upper).sum()), patches=int(labels.size),
                     top=int(top.sum()), upper=int(upper.sum()))


def pooled(counts: list[PoiCounts], subset: np.ndarray) -> dict[str, float]:
    total = PoiCounts()
    for i in subset:
        total += counts[i]
    return total.summary()


def meets(summary: dict[str, float]) -> bool:
    return (summary["upper_recall"] >= UPPER_RECALL_MIN
            and summary["upper_share"] <= UPPER_SHARE_MAX
            and summary["top_recall"] >= TOP_RECALL_MIN and summary["top_share"] <= TOP_SHARE_MAX)


def shortfall(summary: dict[str, float]) -> float:
    return (max(0.0, UPPER_RECALL_MIN - summary["upper_recall"])
            + max(0.0, summary["upper_share"] - UPPER_SHARE_MAX)
            + max(0.0, TOP_RECALL_MIN - summary["top_recall"])
            + max(0.0, summary["top_share"] - TOP_SHARE_MAX))


def importance_cross_fit(rows: list[dict], n: int) -> list[dict]:
    folds = []
    a, b = halves(n)
    for choose, report in ((a, b), (b, a)):
        scored = [(r, pooled(r["raw"], choose)) for r in rows if r["within_edge_budget"]]
        eligible = [(r, s) for r, s in scored if meets(s)]
        if eligible:
            chosen, _ = max(eligible, key=lambda rs: rs[1]["lift"])
        else:
            chosen, _ = min(scored, key=lambda rs: shortfall(rs[1]))
        folds.append({"choose_on": choose.tolist(), "report_on": report.tolist(),
                      "pick": chosen["name"], "met_targets_on_choose": bool(eligible),
                      "raw_choose": pooled(chosen["raw"], choose),
                      "raw_report": pooled(chosen["raw"], report),
                      "sent_report": pooled(chosen["sent"], report)})
        print(f"  fold choose {choose[0]}-{choose[-1]}: {chosen['name']} -> on the other half "
              + ", ".join(f"{k} {v:.3f}" for k, v in folds[-1]["raw_report"].items()),
              flush=True)
    return folds


def _ci(d: dict) -> str:
    return f"{d['value']:.3f} [{d['low']:.3f}, {d['high']:.3f}]"


def markdown_tables(document: dict) -> str:
    """The result tables of ``document`` as Markdown (for docs/models/real4k.md)."""
    out = []
    for role in ("edge", "cloud", "edge_low_threshold"):
        if role not in document:
            continue
        out += [f"### {role}", "",
                "| candidate | passes | AP50 all 12 | per-frame mean | AP50 frames 0-5 | "
                "AP50 frames 6-11 | minus default, 0-5 | minus default, 6-11 | median / p90 "
                "measured (s) | median / p90 idle est. (s) | load |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in document[role]:
            idle = ("-" if r.get("latency_median_idle_s") is None else
                    f"{r['latency_median_idle_s']:.2f} / {r['latency_p90_idle_s']:.2f}")
            out.append(f"| {r['name']} | {r.get('passes', '-')} | {_ci(r['ap50_all'])} | "
                       f"{r['ap50_frame_mean'][0]:.3f} | "
                       f"{_ci(r['ap50_half'][0])} | {_ci(r['ap50_half'][1])} | "
                       f"{_ci(r['minus_default'][0]) if 'minus_default' in r else '-'} | "
                       f"{_ci(r['minus_default'][1]) if 'minus_default' in r else '-'} | "
                       f"{r['latency_median_s']:.2f} / {r['latency_p90_s']:.2f} | {idle} | "
                       f"{r['load_average']:.1f} |")
        out.append("")
        for i, fold in enumerate(document.get(f"{role}_folds", [])):
            for rule in ("latency_p90_idle_s", "latency_median_idle_s", "best within p90"):
                v = fold.get(rule)
                if v:
                    out.append(f"- fold {i + 1} (choose on {fold['choose_on'][0]}-"
                               f"{fold['choose_on'][-1]}), limit on `{rule}`: **{v['pick']}**, "
                               f"{_ci(v['ap50_choose'])} there, {_ci(v['ap50_report'])} on "
                               f"{fold['report_on'][0]}-{fold['report_on'][-1]}; minus the "
                               f"default there {_ci(v['minus_default_report'])}")
        out.append("")
    for edge, by_cloud in document.get("cloud_minus_edge", {}).items():
        out += [f"### cloud minus edge ({edge}), paired", "",
                "| cloud | all 12 | frames 0-5 | frames 6-11 |", "|---|---|---|---|"]
        out += [f"| {cloud} | {' | '.join(_ci(d) for d in diffs)} |"
                for cloud, diffs in by_cloud.items()]
        out.append("")
    if "importance" in document:
        out += ["### importance (POI; raw Jenks classes | re-classed as sent)", "",
                "| candidate | top recall | top share | >=1 recall | >=1 share | lift | "
                "sent: top recall | sent: >=1 recall | sent: >=1 share |",
                "|---|---|---|---|---|---|---|---|---|"]
        for r in document["importance"]:
            a, s = r["raw_all"], r["sent_all"]
            over = "" if r["within_edge_budget"] else " (edge over budget)"
            out.append(f"| {r['name']}{over} | {a['top_recall']:.3f} | {a['top_share']:.3f} | "
                       f"{a['upper_recall']:.3f} | {a['upper_share']:.3f} | {a['lift']:.1f} | "
                       f"{s['top_recall']:.3f} | {s['upper_recall']:.3f} | "
                       f"{s['upper_share']:.3f} |")
        out.append("")
        for i, fold in enumerate(document.get("importance_folds", [])):
            r = fold["raw_report"]
            out.append(f"- fold {i + 1} (choose on {fold['choose_on'][0]}-"
                       f"{fold['choose_on'][-1]}): **{fold['pick']}** (targets met there: "
                       f"{fold['met_targets_on_choose']}); on the other half top "
                       f"{r['top_recall']:.3f} on {r['top_share']:.3f}, >=1 "
                       f"{r['upper_recall']:.3f} on {r['upper_share']:.3f}")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="the dev frames folder (images/, gt.json)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/real4k-cache"),
                        help="detector output cache")
    parser.add_argument("--only", choices=("edge", "cloud", "importance"), action="append",
                        help="parts to run (default: all)")
    parser.add_argument("--markdown", type=Path,
                        help="also write the result tables as Markdown here")
    args = parser.parse_args()
    if not (args.data / "gt.json").is_file():
        print(f"no dev frames at {args.data}: nothing to measure (skipped)")
        return
    parts = set(args.only or ("edge", "cloud", "importance"))
    frames = load_frames(args.data)
    runner = Runner(frames, DetectionCache(root=args.cache))
    n = len(frames)
    document: dict[str, object] = {
        "data": "unicamp-uav-dev (12 frames 3840x2160, 134 persons; read in place)",
        "rules": __doc__, "machine": f"{os.cpu_count()} cores, shared",
        "folds": [h.tolist() for h in halves(n)]}
    if args.json.is_file():  # keep the parts not re-run this time
        previous = json.loads(args.json.read_text())
        document = {**previous, **document}
    rows: dict[str, list[dict]] = {}
    if parts & {"edge", "importance"}:
        print("edge candidates:", flush=True)
        rows["edge"] = [measure(runner, k, s) for k, s in edge_specs().items()]
        add_idle_estimates(rows["edge"], "edge", edge_specs())
    if "cloud" in parts:
        print("cloud candidates:", flush=True)
        rows["cloud"] = [measure(runner, k, s) for k, s in cloud_specs().items()]
        add_idle_estimates(rows["cloud"], "cloud", cloud_specs())
    elif "importance" in parts:  # the temporal prior needs only the default cloud's answers
        rows["cloud"] = [measure(runner, CLOUD_DEFAULT, cloud_specs()[CLOUD_DEFAULT])]
    for role, limit, default in (("edge", EDGE_LIMIT_S, EDGE_DEFAULT),
                                 ("cloud", CLOUD_LIMIT_S, CLOUD_DEFAULT)):
        if role in parts:
            print(f"{role} cross-fit:", flush=True)
            document[f"{role}_folds"] = cross_fit(rows[role], limit, default)
            document[role] = [{k: v for k, v in r.items() if k not in ("matches", "outputs")}
                              for r in rows[role]]
    if "edge" in parts and "cloud" in parts:
        everything = np.arange(n)
        document["cloud_minus_edge"] = {}
        for edge_name in (EDGE_DEFAULT, BEST_EDGE):
            edge0 = next(r for r in rows["edge"] if r["name"] == edge_name)
            document["cloud_minus_edge"][edge_name] = {  # type: ignore[index]
                r["name"]: [difference(r["matches"], edge0["matches"], h).as_dict()
                            for h in (everything, *halves(n))]
                for r in rows["cloud"]}
    if "importance" in parts:
        edge_rows = {r["name"]: r for r in rows["edge"]}
        low_specs = {}
        for name in (EDGE_DEFAULT, "centernet 4x2 at 0.5", HIGHER_RES_EDGE, *OVER_BUDGET_EDGES):
            spec = edge_specs()[name]
            low_specs[f"{name} score 0.02"] = replace(
                spec, detector=replace(spec.detector, score_threshold=0.02))
        print("edge outputs down to 0.02 (importance only):", flush=True)
        low_rows = {k: measure(runner, k, s) for k, s in low_specs.items()}
        edge_outs = {k: r["outputs"] for k, r in {**edge_rows, **low_rows}.items()}
        cloud_outs = {r["name"]: r["outputs"] for r in rows["cloud"]}
        candidates = importance_candidates(CLOUD_DEFAULT)
        print("importance candidates:", flush=True)
        poi_rows = importance_study(frames, edge_outs, edge_outs[EDGE_DEFAULT], cloud_outs,
                                    candidates)
        a, b = halves(n)
        for r in poi_rows:
            r["raw_all"] = pooled(r["raw"], np.arange(n))
            r["raw_half"] = [pooled(r["raw"], a), pooled(r["raw"], b)]
            r["sent_all"] = pooled(r["sent"], np.arange(n))
            s = r["raw_all"]
            print(f"  {r['name']:64s} " + ", ".join(f"{k} {v:.3f}" for k, v in s.items()),
                  flush=True)
        document["importance_folds"] = importance_cross_fit(poi_rows, n)
        document["importance"] = [{k: v for k, v in r.items() if k not in ("raw", "sent")}
                                  for r in poi_rows]
        document["edge_low_threshold"] = [
            {k: v for k, v in r.items() if k not in ("matches", "outputs")}
            for r in low_rows.values()]
    document["load_average_at_end"] = os.getloadavg()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2, default=float))
    print(f"wrote {args.json}")
    if args.markdown:
        args.markdown.write_text(markdown_tables(document))


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
