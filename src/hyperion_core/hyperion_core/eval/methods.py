"""Every method of the evaluation, by name, built for one configuration.

``hyperion``, ``v1``, ``v3`` and ``v2`` (its default fixed policy) or ``v2:q0-q1-q2`` (one
policy of the V2 sweep); ``no-refine`` (Hyperion whose edge-only frames keep the edge
stage's answer); ``edge-only``, ``cloud-only``; ``elf``, ``elf-v``; ``remix``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from hyperion_core.eval.devices import DeviceProfile
from hyperion_core.eval.edge_refine import (
    EdgeRefiner,
    calibrate,
    refined_accuracy,
    refined_matches,
)
from hyperion_core.eval.evaluate import EvalConfig, Prepared
from hyperion_core.eval.hyperion_method import HyperionMethod
from hyperion_core.eval.models import Job
from hyperion_core.eval.payloads import Payload
from hyperion_core.eval.runner import run_jobs
from hyperion_core.eval.scoring import Fusion
from hyperion_core.eval.simple_methods import CloudOnly, EdgeOnly
from hyperion_core.eval.timeline import Settings
from hyperion_core.fuse.boxes import Detections
from hyperion_core.fuse.calibrated import CalibratedFusion
from hyperion_core.metrics.ap_matches import ap50
from hyperion_core.schedule.profile_file import Profiles


def v2_name(qualities: Sequence[int]) -> str:
    """The method name of one fixed V2 policy."""
    return "v2:" + "-".join(str(q) for q in qualities)


def _detector(cfg: EvalConfig, prep: Prepared):
    """``detect(job)``: the job's detections, running the pass first when not cached
    (Elf needs its own previous answer to cut the next frame)."""
    def detect(job: Job) -> Detections:
        found = prep.cache.get(job.key)
        if found is None:
            run_jobs([job], cache_root=cfg.cache_dir, workers=1, label=f"{job.model} (Elf)")
            found = prep.cache.get(job.key)
        if found is None:
            raise KeyError(f"{job.model} produced no output for {job.digest}")
        return found

    return detect


def remix_calibration(cfg: EvalConfig, prep: Prepared) -> tuple[object, dict[str, list]]:
    """Remix's offline profile from the calibration frames (never scored), and the outputs
    it was built from: option → per calibration frame, its detections on the whole frame."""
    from hyperion_core.eval.remix import build_profile, profile_jobs

    frames = [f for f, _ in prep.calibration]
    jobs = profile_jobs(frames)
    run_jobs([j for js in jobs.values() for j in js], cache_root=cfg.cache_dir,
             workers=cfg.jobs, label="Remix profile")
    found = {option: [prep.cache.get(j.key) for j in js] for option, js in jobs.items()}
    height, width = frames[0].shape
    profile = build_profile([r for _, r in prep.calibration], found,
                            frame_size=(width, height), sources=[f.source for f in frames])
    return profile, found


def edge_refiner(cfg: EvalConfig, prep: Prepared, device: DeviceProfile, settings: Settings,
                 calibration: tuple[object, dict[str, list]],
                 fusion: CalibratedFusion | None = None) -> tuple[EdgeRefiner, float]:
    """Hyperion's edge refiner, calibrated on the calibration frames (never scored), and the
    AP50 of its refined edge answer in the time an edge-only frame has left.

    That AP50 is measured held out: the refiner (and the Remix profile it plans with) is
    calibrated on one half of the calibration frames and its answers scored on the other,
    then the other way round, pooled. Scored on the frames it was calibrated on it reads
    high, and on a handful of frames far too high: the scheduler then keeps frames on the
    edge that the cloud would answer better.

    Args:
        calibration: :func:`remix_calibration` of the same frames.
        fusion: the fitted fusion, whose edge-only scale the refined answers take.
    """
    from hyperion_core.eval.remix import build_profile

    profile, found = calibration
    frames = [f for f, _ in prep.calibration]
    references = [r for _, r in prep.calibration]
    edges = [prep.cache.get(Job(model="edge", frame_path=f.path, digest=f.digest,  # type: ignore[arg-type]
                                payload=Payload(kind="original")).key) for f in frames]
    if any(e is None for e in edges):
        raise KeyError("edge detections of the calibration frames are missing")
    refiner = calibrate(profile, references, edges, found, pass_s=device.remix_pass_s)  # type: ignore[arg-type]

    def outputs(jobs: list[Job]) -> list:
        run_jobs(jobs, cache_root=cfg.cache_dir, workers=cfg.jobs, label="refiner calibration")
        return [prep.cache.get(j.key) for j in jobs]

    left = settings.budget_s - device.edge_s - device.overhead_s
    n = len(frames)
    if n < 2:
        return refiner, refined_accuracy(refiner, frames, references, edges, outputs,
                                         time_s=left, fusion=fusion)  # type: ignore[arg-type]
    height, width = frames[0].shape
    matches = []
    for train, test in ((range(n // 2), range(n // 2, n)), (range(n // 2, n), range(n // 2))):
        half = build_profile([references[i] for i in train],
                             {o: [d[i] for i in train] for o, d in found.items()},
                             frame_size=(width, height), sources=[frames[i].source for i in train])
        held = calibrate(half, [references[i] for i in train], [edges[i] for i in train],  # type: ignore[misc]
                         {o: [d[i] for i in train] for o, d in found.items()},
                         pass_s=device.remix_pass_s)
        matches += refined_matches(held, [frames[i] for i in test],
                                   [references[i] for i in test], [edges[i] for i in test],  # type: ignore[misc]
                                   outputs, time_s=left, fusion=fusion)
    return refiner, float(ap50(matches))


def build_methods(cfg: EvalConfig, prep: Prepared, profiles: Profiles, *, settings: Settings,
                  device: DeviceProfile, names: Sequence[str]) -> dict[str, object]:
    """The named methods (``v2`` expands to the configured V2 sweep as well)."""
    out: dict[str, object] = {}
    refined_variants = {"hyperion", "v1", "v3"}
    calibration = (remix_calibration(cfg, prep)
                   if refined_variants.union({"remix"}).intersection(names) else None)
    refiner, refined = None, profiles
    if refined_variants.intersection(names):
        # Refined edge-only frames are the alternative an offload must beat.
        refiner, accuracy = edge_refiner(cfg, prep, device, settings, calibration,  # type: ignore[arg-type]
                                         fusion=profiles.fusion)
        refined = replace(profiles, edge_accuracy=accuracy)
    for name in names:
        if name == "no-refine":
            out[name] = HyperionMethod(variant="hyperion", settings=settings, device=device,
                                       profiles=profiles, cache=prep.cache)
        elif name in refined_variants:
            out[name] = HyperionMethod(variant=name, settings=settings, device=device,
                                       profiles=refined, cache=prep.cache, refiner=refiner)
        elif name == "v2":
            for policy in (settings.v2_qualities, *cfg.v2_policies):
                out.setdefault(v2_name(policy), HyperionMethod(
                    variant="v2", settings=settings, device=device, profiles=profiles,
                    cache=prep.cache, v2_qualities=tuple(policy)))
        elif name == "edge-only":
            out[name] = EdgeOnly(device=device)
        elif name == "cloud-only":
            out[name] = CloudOnly(settings=settings, device=device, cache=prep.cache)
        elif name in ("elf", "elf-v"):
            from hyperion_core.eval.elf import ElfMethod

            out[name] = ElfMethod(variant=name, settings=settings, device=device,
                                  cache=prep.cache, detect=_detector(cfg, prep))
        elif name == "remix":
            from hyperion_core.eval.remix import RemixMethod

            out[name] = RemixMethod(profile=calibration[0], settings=settings,  # type: ignore[index]
                                    device=device)
        else:
            raise KeyError(f"unknown method {name!r}")
    return out


#: Methods that fuse (or answer edge-only) as Hyperion's ensembler does: with the profile's
#: fitted fusion when it has one. V3 answers with the cloud's boxes alone.
FUSING = ("hyperion", "v1", "no-refine")


def method_fusion(methods: Sequence[str], profiles: Profiles) -> dict[str, Fusion]:
    """Per method, the fitted fusion it answers with (none when the profile has none)."""
    if profiles.fusion is None:
        return {}
    return {m: profiles.fusion for m in methods if m in FUSING or m.startswith("v2")}
