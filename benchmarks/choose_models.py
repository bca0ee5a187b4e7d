"""Choose the default edge detector, cloud detector and importance source by measurement.

Everything is measured on the *selection* label set (hand labels of clip frames 0, 40, ...,
760, two 4K composites; see hyperion_core.eval.labelled), never on the report set that
`hyperion models --measure` reports on. Rules:

- edge: among candidates whose 90th-percentile latency per 4K frame (10 runs) is <= 0.25 s,
  the cheapest whose AP50 is not significantly below the most accurate one's (the paired
  bootstrap 95 % interval of their difference reaches 0): no accuracy is bought with time
  the measurement cannot show it buys;
- cloud: the same with a 2 s limit;
- importance: among sources meeting the targets (>= 50 % of object patches in the top class
  while it covers <= 20 % of the frame, >= 90 % in classes >= 1), the highest lift (share
  of object patches in the top class / share of the frame it covers);
- evaluation reference: the highest AP50, whatever its cost, among configurations no
  method uses (flip test-time augmentation over sliced passes); its boxes are ground truth
  above the confidence that maximises its F1 against the hand labels.

Usage: python benchmarks/choose_models.py --json docs/models/selection.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from dataclasses import replace
from pathlib import Path

import numpy as np

from hyperion_core.eval.labelled import (
    Composite,
    ap50_difference,
    ap50_interval,
    composites,
    score_tiles,
)
from hyperion_core.eval.models import to_eval
from hyperion_core.eval.poi import PoiCounts, object_patches, poi_counts
from hyperion_core.models.base import DetectorConfig
from hyperion_core.models.ort_runtime import RuntimeConfig
from hyperion_core.models.registry import (
    ModelSpec,
    build_detector,
    build_scorer,
    get_spec,
    latencies,
)
from hyperion_core.models.sahi_backend import SahiConfig
from hyperion_core.models.tiled import TiledConfig
from hyperion_core.score.sources import ImportanceConfig, importance_map

EDGE_LIMIT_S, CLOUD_LIMIT_S = 0.25, 2.0
TOP_SHARE_LIMIT, TOP_RECALL_MIN, UPPER_RECALL_MIN = 0.20, 0.50, 0.90
PATCH = 16
RUNTIME = RuntimeConfig(intra_op_threads=2)
THRESHOLDS = DetectorConfig(score_threshold=0.1, nms_iou=0.5)

EDGE_GRIDS = ((0.25, 2, 1), (0.33, 3, 2), (0.5, 3, 2), (0.5, 4, 2), (0.5, 5, 3))
CLOUD_SLICES = (512, 640, 768)
HYBRID_WEIGHTS = ((1, 0, 0, 1), (0, 0, 1, 1), (1, 0, 1, 2), (1, 1, 1, 3), (1, 0, 0, 3))


def measure(spec: ModelSpec, frames: list[Composite]) -> dict[str, object]:
    detector = build_detector(spec)
    times = latencies(lambda: detector.predict(frames[0].image), runs=10)
    scores = score_tiles(lambda image: to_eval(detector.predict(image)), frames)
    ap = ap50_interval(scores)
    p90 = float(np.percentile(times, 90))
    print(f"  {spec.description:64s} AP50 {ap}  median {statistics.median(times) * 1e3:5.0f} "
          f"ms, p90 {p90 * 1e3:5.0f} ms", flush=True)
    return {"description": spec.description, "backend": spec.backend,
            "tiling": None if spec.tiling is None else spec.tiling.__dict__,
            "sahi": None if spec.sahi is None else spec.sahi.__dict__,
            "ap50": ap.as_dict(), "latency_s": statistics.median(times),
            "latency_p90_s": p90, "scores": scores}


def edge_candidates() -> list[ModelSpec]:
    base = get_spec("edge", runtime=RUNTIME, detector=THRESHOLDS)
    return [replace(base, backend=backend, description=f"edge {backend} {c}x{r} at {s}",
                    tiling=TiledConfig(scale=s, columns=c, rows=r, overlap=0.1))
            for backend in ("nanodet", "centernet") for s, c, r in EDGE_GRIDS]


def cloud_candidates() -> list[ModelSpec]:
    base = get_spec("cloud", runtime=RUNTIME, detector=THRESHOLDS)
    return [replace(base, backend=backend, description=f"cloud {backend} SAHI {size} + full",
                    sahi=SahiConfig(slice_size=size, overlap=0.2, full_frame_pass=True,
                                    match_threshold=0.5))
            for backend in ("nanodet", "centernet", "pair") for size in CLOUD_SLICES]


def reference_candidates() -> list[ModelSpec]:
    base = get_spec("reference", runtime=RUNTIME)
    return [replace(base, backend=backend, description=f"reference {backend} SAHI {size} + "
                    "full, flip TTA",
                    sahi=replace(base.sahi, slice_size=size))  # type: ignore[arg-type]
            for backend in ("nanodet", "pair") for size in (512, 640)]


def f1_by_threshold(spec: ModelSpec, frames: list[Composite]) -> list[dict[str, float]]:
    """Precision, recall and F1 (IoU 0.5, crowd regions ignored) of ``spec``'s boxes above
    each confidence threshold, against the hand labels."""
    from hyperion_core.models.boxes import pairwise_iou

    detector = build_detector(spec)
    found = [detector.predict(c.image) for c in frames]
    rows = []
    for threshold in np.arange(0.15, 0.625, 0.05):
        tp = fp = fn = 0
        for c, f in zip(frames, found, strict=True):
            boxes = f.boxes[f.scores >= threshold]
            truth, crowd = c.truth.boxes[~c.truth.crowd], c.truth.boxes[c.truth.crowd]
            iou = pairwise_iou(truth, boxes)
            used: set[int] = set()
            for g in range(len(truth)):
                free = [(iou[g, d], d) for d in range(len(boxes)) if d not in used
                        and iou[g, d] >= 0.5]
                if free:
                    used.add(max(free)[1])
                    tp += 1
                else:
                    fn += 1
            ignored = (pairwise_iou(boxes, crowd).max(axis=1, initial=0) >= 0.5
                       if len(crowd) else np.zeros(len(boxes), bool))
            fp += sum(1 for d in range(len(boxes)) if d not in used and not ignored[d])
        precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        rows.append({"threshold": round(float(threshold), 2), "precision": precision,
                     "recall": recall,
                     "f1": 2 * precision * recall / max(precision + recall, 1e-9)})
        print(f"  reference above {threshold:.2f}: precision {precision:.3f}, recall "
              f"{recall:.3f}, F1 {rows[-1]['f1']:.3f}", flush=True)
    return rows


def pick(rows: list[dict], limit_s: float, *, parsimonious: bool = True) -> dict:
    """The rule of the module docstring (``parsimonious=False``: simply the best AP50)."""
    allowed = [r for r in rows if r["latency_p90_s"] <= limit_s]
    if not allowed:
        raise SystemExit(f"no candidate within {limit_s} s")
    best = max(allowed, key=lambda r: r["ap50"]["value"])
    if not parsimonious:
        return best
    for row in allowed:
        gap = ap50_difference(best["scores"], row["scores"]) if row is not best else None
        row["gap_to_best"] = None if gap is None else gap.as_dict()
    equivalent = [r for r in allowed if r is best or r["gap_to_best"]["low"] <= 0]
    return min(equivalent, key=lambda r: r["latency_p90_s"])


def importance_study(frames: list[Composite], edge: ModelSpec) -> list[dict]:
    detector = build_detector(edge)
    found = [detector.predict(c.image) for c in frames]
    sources = [ImportanceConfig(source=s) for s in
               ("attention", "cls_attention", "saliency", "edge_objectness")]
    sources += [ImportanceConfig(source="hybrid", weights=w) for w in HYBRID_WEIGHTS]
    rows = []
    for grid in ((16, 28), (24, 42)):
        scorer = build_scorer(get_spec("scorer", token_grid=grid, runtime=RUNTIME,
                                       scorer_extras=("cls_attention", "saliency")))
        maps = []
        for c in frames:
            result = scorer.score(c.image)
            maps.append({"attention": result.patch_map, **result.extra_maps})
        for config in sources:
            if grid != (24, 42) and not config.vit_maps():
                continue  # edge objectness does not depend on the token grid
            total = PoiCounts()
            for c, vit, boxes in zip(frames, maps, found, strict=True):
                patch_grid = vit["attention"].shape
                values = importance_map(config, vit=vit, boxes_xyxy=boxes.boxes,
                                        scores=boxes.scores, grid=patch_grid, patch_size=PATCH)
                truth = c.truth.boxes[~c.truth.crowd]
                total += poi_counts(values, object_patches(truth, grid=patch_grid,
                                                           patch_size=PATCH))
            summary = total.summary()
            rows.append({"source": config.source, "weights": list(config.weights),
                         "token_grid": list(grid), **summary})
            print(f"  {config.source:16s} w={config.weights} grid={grid}: "
                  + ", ".join(f"{k} {v:.3f}" for k, v in summary.items()), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    args = parser.parse_args()
    frames = composites("selection")
    print("edge candidates (limit 0.25 s):")
    edge_rows = [measure(s, frames) for s in edge_candidates()]
    print("cloud candidates (limit 2 s):")
    cloud_rows = [measure(s, frames) for s in cloud_candidates()]
    print("reference candidates (no limit):")
    reference_rows = [measure(s, frames) for s in reference_candidates()]
    edge, cloud = pick(edge_rows, EDGE_LIMIT_S), pick(cloud_rows, CLOUD_LIMIT_S)
    reference = pick(reference_rows, float("inf"), parsimonious=False)
    chosen_reference = next(s for s in reference_candidates()
                            if s.description == reference["description"])
    print("reference as ground truth:")
    f1_rows = f1_by_threshold(chosen_reference, frames)
    chosen_edge = next(s for s in edge_candidates() if s.description == edge["description"])
    print(f"edge: {edge['description']}; cloud: {cloud['description']}")
    print("importance sources (with the chosen edge detector):")
    poi_rows = importance_study(frames, chosen_edge)
    eligible = [r for r in poi_rows if r["top_share"] <= TOP_SHARE_LIMIT
                and r["top_recall"] >= TOP_RECALL_MIN and r["upper_recall"] >= UPPER_RECALL_MIN]
    best = max(eligible, key=lambda r: r["lift"])
    print(f"importance: {best['source']} {best['weights']} {best['token_grid']}")
    document = {"label_set": "selection", "rules": __doc__,
                "load_average_at_end": os.getloadavg(), "edge": edge_rows,
                "cloud": cloud_rows, "reference": reference_rows, "importance": poi_rows,
                "reference_threshold": f1_rows,
                "chosen": {"edge": edge["description"], "cloud": cloud["description"],
                           "reference": reference["description"], "importance": best,
                           "reference_score": max(f1_rows, key=lambda r: r["f1"])["threshold"]}}
    for row in edge_rows + cloud_rows + reference_rows:
        row.pop("scores")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2, default=float))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
