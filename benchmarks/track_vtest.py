"""Id stability of the tracker on a real clip with hand-checked track labels.

Ground truth: ``hyperion_core/eval/data/vtest_tracks.json``, every person of vtest.avi
frames 300-400 (10 s at 10 fps) with a track id (how it was made: the file's ``info``).
Answers are made as the graph makes them, from real model passes on each frame: the edge
detector (NanoDet-m on the frame at half resolution, what the default edge sees of one
vtest frame in the 4K array-camera composite) and the cloud detector (the registry's
SAHI NanoDet at full resolution), fused with the ensembler's Eq. 6 (defaults). Three
answer streams: edge only, the cloud answering every other frame (fused, edge, fused,
...), and every frame fused. Each is tracked at several camera rates (every frame of the
clip, every 5th, 10th, 20th: 10, 2, 1 and 0.5 Hz) with the node's default tracker, with and
without the distance stage, and scored with ``motmetrics`` (CLEAR MOT and IDF1, boxes
matched at IoU >= 0.5).

Usage: python benchmarks/track_vtest.py [--json docs/track/vtest.json] [--compare-trackers]

``--compare-trackers`` adds Roboflow's ``trackers`` ByteTrack, set like Hyperion's. It is
not a project dependency (it requires opencv-python, a second OpenCV beside the headless
one); install it apart, without its dependencies, and put it on the path:
``pip install --no-deps --target /tmp/trk trackers==2.6.1 supervision==0.31.2 pydeprecate
rich markdown-it-py mdurl pygments defusedxml`` then ``PYTHONPATH=/tmp/trk python ...``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import replace
from importlib import resources
from pathlib import Path

import motmetrics
import numpy as np

from hyperion_core.data.array_camera import find_vtest_clip, read_clip
from hyperion_core.fuse.boxes import Detections as FuseDetections
from hyperion_core.fuse.ensemble import EnsembleConfig, ensemble
from hyperion_core.models.boxes import pairwise_iou
from hyperion_core.models.registry import build_detector, get_spec
from hyperion_core.models.tiled import TiledConfig
from hyperion_core.track import ByteTracker, TrackerConfig

FPS = 10.0
STRIDES = (1, 5, 10, 20)
STREAMS = ("edge", "alternate", "fused")


def ground_truth() -> tuple[int, int, dict[int, list[tuple[int, list[float]]]]]:
    """First and last frame, and per frame the labelled ``(track id, xyxy box)`` pairs."""
    data = json.loads(resources.files("hyperion_core.eval.data")
                      .joinpath("vtest_tracks.json").read_text())
    frames: dict[int, list[tuple[int, list[float]]]] = {}
    for track in data["tracks"]:
        for frame, box in track["boxes"].items():
            frames.setdefault(int(frame), []).append((track["id"], box))
    return data["info"]["first_frame"], data["info"]["last_frame"], frames


def detections(first: int, last: int) -> tuple[list[FuseDetections], list[FuseDetections]]:
    """Edge and cloud detections (people) of every frame ``first..last``."""
    frames = read_clip(find_vtest_clip(), first, last - first + 1)
    edge_spec = get_spec("edge", tiling=TiledConfig(scale=0.5, columns=1, rows=1, overlap=0.0))
    edge, cloud = build_detector(edge_spec), build_detector(get_spec("cloud"))

    def people(found: object) -> FuseDetections:
        return FuseDetections(boxes=found.boxes, scores=found.scores,
                              labels=np.zeros(len(found.boxes), np.int64))

    return ([people(edge.predict(f)) for f in frames], [people(cloud.predict(f)) for f in frames])


def answers(stream: str, edge: list[FuseDetections], cloud: list[FuseDetections],
            frames: list[int]) -> list[FuseDetections]:
    """The answer of each frame index in ``frames`` for one stream."""
    config = EnsembleConfig()
    out = []
    for n, k in enumerate(frames):
        fused = stream == "fused" or (stream == "alternate" and n % 2 == 0)
        out.append(ensemble(edge[k], cloud[k], config) if fused else edge[k])
    return out


#: One run's tracker: boxes, scores and capture time in; the tracked boxes and their ids out.
Track = Callable[[np.ndarray, np.ndarray, float], tuple[np.ndarray, list[str]]]


def hyperion_tracker(config: TrackerConfig) -> Callable[[float], Track]:
    """Hyperion's tracker (``hyperion_core.track``) with ``config``, fresh for each run."""
    def make(camera_hz: float) -> Track:
        tracker = ByteTracker(config=config)

        def track(boxes: np.ndarray, scores: np.ndarray, stamp_s: float
                  ) -> tuple[np.ndarray, list[str]]:
            ids = tracker.update(boxes, scores, ["person"] * len(boxes), stamp_s=stamp_s)
            kept = [i for i, track_id in enumerate(ids) if track_id]
            return boxes[kept].reshape(-1, 4), [ids[i] for i in kept]

        return track

    return make


def roboflow_tracker(camera_hz: float) -> Track:
    """Roboflow's ``trackers`` ByteTrack (``--compare-trackers``), set like Hyperion's:
    tracks start at 0.5, IoU 0.2, ids at first sight, lost after 10 s, capture times."""
    import supervision
    from trackers import ByteTrackTracker

    tracker = ByteTrackTracker(
        lost_track_buffer=300, frame_rate=camera_hz, track_activation_threshold=0.5,
        high_conf_det_threshold=0.5, minimum_iou_threshold=0.2, minimum_consecutive_frames=1)

    def track(boxes: np.ndarray, scores: np.ndarray, stamp_s: float
              ) -> tuple[np.ndarray, list[str]]:
        found = supervision.Detections(xyxy=np.asarray(boxes, np.float32).reshape(-1, 4),
                                       confidence=np.asarray(scores, np.float32),
                                       class_id=np.zeros(len(boxes), int))
        out = tracker.update(found, timestamp=stamp_s)
        kept = out.tracker_id >= 0  # -1: no track (yet)
        return out.xyxy[kept].astype(np.float64), [str(i) for i in out.tracker_id[kept]]

    return track


def accumulate(truth: dict, first: int, frames: list[int], answered: list[FuseDetections],
               track: Track) -> tuple[motmetrics.MOTAccumulator, int]:
    """Track the answers; the accumulator against the labels and the ids handed out."""
    accumulator = motmetrics.MOTAccumulator(auto_id=True)
    seen: set[str] = set()
    for k, answer in zip(frames, answered, strict=True):
        boxes, ids = track(answer.boxes, answer.scores, k / FPS)
        seen.update(ids)
        labelled = truth.get(first + k, [])
        gt_boxes = np.array([b for _, b in labelled], np.float64).reshape(-1, 4)
        # motmetrics' convention: distance 1 - IoU, NaN for pairs that may not match. (Its
        # own iou_matrix calls np.asfarray, gone in NumPy 2.)
        iou = pairwise_iou(gt_boxes, boxes)
        distances = np.where(iou >= 0.5, 1.0 - iou, np.nan)
        accumulator.update([t for t, _ in labelled], ids, distances)
    return accumulator, len(seen)


def score(truth: dict, first: int, last: int, stride: int, stream: str,
          detections: tuple[list, list], make: Callable[[float], Track]) -> dict[str, float]:
    """Pooled over every phase of the camera against the clip (``stride`` runs, starting at
    frame 0, 1, ..., stride - 1), so each labelled frame counts once."""
    edge, cloud = detections
    runs, issued = [], []
    for phase in range(stride):
        frames = list(range(phase, last - first + 1, stride))
        accumulator, count = accumulate(truth, first, frames,
                                        answers(stream, edge, cloud, frames), make(FPS / stride))
        runs.append(accumulator)
        issued.append(count)
    names = ["num_frames", "idf1", "num_switches", "mota", "num_false_positives",
             "num_misses", "num_objects"]
    summary = motmetrics.metrics.create().compute_many(
        runs, metrics=names, names=[str(k) for k in range(stride)], generate_overall=True)
    row = {name: float(summary[name].loc["OVERALL"]) for name in names}
    row["switches_per_100_frames"] = 100 * row["num_switches"] / row["num_frames"]
    row["ids_issued_per_run"] = float(np.mean(issued))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--compare-trackers", action="store_true",
                    help="also Roboflow's trackers ByteTrack (installed apart, see above)")
    args = ap.parse_args()
    first, last, truth = ground_truth()
    found = detections(first, last)
    default = TrackerConfig()
    trackers: dict[str, Callable[[float], Track]] = {
        "Hyperion, IoU only": hyperion_tracker(replace(default, max_speed=0.0)),
        f"Hyperion (distance stage {default.max_speed:g} h/s)": hyperion_tracker(default),
    }
    if args.compare_trackers:
        trackers["trackers 2.6 ByteTrack"] = roboflow_tracker
    rows = []
    for name, make in trackers.items():
        for stride in STRIDES:
            for stream in STREAMS:
                row = score(truth, first, last, stride, stream, found, make)
                rows.append({"tracker": name, "stream": stream, "camera_hz": FPS / stride,
                             **row})
    print("| tracker | answers | camera | IDF1 | id switches | per 100 frames | MOTA "
          "| false pos. | misses | ids per run (6 people) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['tracker']} | {r['stream']} | {r['camera_hz']:g} Hz | "
              f"{r['idf1']:.3f} | {r['num_switches']:.0f} | "
              f"{r['switches_per_100_frames']:.1f} | {r['mota']:.3f} | "
              f"{r['num_false_positives']:.0f} | {r['num_misses']:.0f} | "
              f"{r['ids_issued_per_run']:.1f} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"clip": "vtest.avi", "first_frame": first,
                                         "last_frame": last, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
