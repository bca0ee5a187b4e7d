"""Compute-time profiles of the edge device and the cloud, per 3840x2160 frame.

``paper``: the paper's hardware (Jetson Orin Nano edge, V100 cloud). The paper gives few
numbers, so each field says where it comes from:

- ``edge_s`` 0.150 s (ViTDet-S on the downscaled frame, detections and attention from one
  pass): derived from Table I, assuming device time is the same in every row: 5G row
  device 31.2 % of a frame that must fit the 500 ms budget gives <= 156 ms; then the 4G row
  (edge only, device 96.5 %) implies a 155 ms frame, consistent. The paper's other number,
  ViTDet-*Base* at 0.46 FPS for 1080x720 on the same board, is for the larger backbone.
- ``cloud_s`` 0.040 s (ViTDet-B + SAHI on a V100): derived from Table I's cloud shares
  (9.3 % WiFi, 10.2 % 5G) of frames of ~300-480 ms: 28-49 ms.
- ``overhead_s`` 0.007 s (re-classing, scheduler, encoding, ensembling): Table I's
  "system" share 1.8-3.5 %; the scheduler alone is ~2.5 ms (paper text).
- ``elf_cloud_s`` 0.060 s (Mask R-CNN per partition, partitions in parallel): assumption,
  the paper gives no number.
- ``elf_overhead_s`` 0.005 s (Elf's ROI prediction and partitioning): assumption.
- ``remix_pass_s`` 0.030 s (one 640-px pass of a Remix EfficientDet on the Orin Nano):
  assumption, the paper gives no number.

``measured``: this machine, timed on the evaluation frames with the models actually run and
scaled to a 4K frame by pixel area (stored in the cache, so reruns are deterministic).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from hyperion_core.eval.cache import DetectionCache, cache_key


@dataclass(frozen=True, kw_only=True)
class DeviceProfile:
    """Seconds per 4K frame of each compute stage.

    Args:
        name: ``"paper"`` or ``"measured"``.
        edge_s: Hyperion's edge stage (detections + importance), also edge-only's time.
        edge_only_s: edge-only's stage (the edge detector without importance).
        cloud_s: Hyperion's cloud model on a received frame.
        overhead_s: Hyperion's own work per frame (re-class, schedule, encode, fuse).
        elf_cloud_s: Elf's CNN server model.
        elf_overhead_s: Elf's on-device ROI prediction, partitioning and encoding.
        remix_pass_s: one 640-px detector pass of Remix on the device.
        source: where the numbers come from.
    """

    name: str
    edge_s: float
    edge_only_s: float
    cloud_s: float
    overhead_s: float
    elf_cloud_s: float
    elf_overhead_s: float
    remix_pass_s: float
    source: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


PAPER = DeviceProfile(
    name="paper",
    edge_s=0.150,
    edge_only_s=0.150,
    cloud_s=0.040,
    overhead_s=0.007,
    elf_cloud_s=0.060,
    elf_overhead_s=0.005,
    remix_pass_s=0.030,
    source="Jetson Orin Nano / V100 as in the paper: edge, cloud, overhead derived from "
    "Table I; elf_cloud_s, elf_overhead_s, remix_pass_s are assumptions "
    "(see hyperion_core.eval.devices)",
)


def measured_profile(
    frame: np.ndarray, *, cache: DetectionCache, threads: int, runs: int = 3,
    scorer: bool = False,
) -> DeviceProfile:
    """Time the models on a 4K ``frame`` (or read the stored timing).

    Args:
        frame: ``(2160, 3840, 3)`` uint8 BGR evaluation frame.
        cache: where the timing is stored under the frame's digest.
        threads: ONNX Runtime threads, as in the evaluation.
        runs: timed runs per model after one warm-up (median).
        scorer: Hyperion's importance needs the ViT (its time is added to ``edge_s``).
    """
    from hyperion_core.eval.frames import frame_digest
    from hyperion_core.eval.models import build_eval_detector, remix_option
    from hyperion_core.eval.payloads import Payload, materialise
    from hyperion_core.models.ort_runtime import RuntimeConfig
    from hyperion_core.models.registry import build_scorer, get_spec, median_latency

    key = cache_key("device-measured/2", frame_digest(frame), threads, runs, scorer)
    stored = cache.get_value(key)
    if stored is None:
        timed = {}
        quarter = np.ascontiguousarray(frame[: frame.shape[0] // 2, : frame.shape[1] // 2])
        for name, image in (("edge", frame), ("cloud", frame), ("elf-cnn", quarter),
                            (remix_option("nanodet", 1.0), frame[:416, :416])):
            detector = build_eval_detector(name, threads=threads)
            timed[name] = median_latency(lambda d=detector, im=image: d.predict(im), runs=runs)
        timed["scorer"] = 0.0
        if scorer:
            vit = build_scorer(get_spec("scorer", runtime=RuntimeConfig(intra_op_threads=threads)))
            timed["scorer"] = median_latency(lambda: vit.score(frame), runs=runs)
        payload = Payload(kind="jpeg", quality=50)
        timed["encode"] = median_latency(lambda: materialise(frame, payload), runs=runs)
        cache.put_value(key, timed)
        stored = timed
    t = dict(stored)  # type: ignore[arg-type]
    return DeviceProfile(
        name="measured",
        edge_s=t["edge"] + t["scorer"],
        edge_only_s=t["edge"],
        cloud_s=t["cloud"],
        overhead_s=t["encode"],
        elf_cloud_s=t["elf-cnn"],  # one quarter-frame partition
        elf_overhead_s=t["encode"],
        remix_pass_s=t[remix_option("nanodet", 1.0)],
        source=f"measured on this machine ({threads} ORT threads, 4K frames)",
    )
