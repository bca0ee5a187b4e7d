"""Every method against human labels: the hand-labelled 4K composites (report set).

Two labelled frames cannot carry a trace-driven timeline, so each method runs the sequence
A, B, A, B, A, B of the two composites on a constant uplink (the paper's 4G rate and two
slow ones); the first two frames warm it up (bandwidth estimate, Elf's previous answer)
and are not scored. Each scored answer (after the stale rule) is cut into its tiles and
scored against the hand labels; the 20 labelled clip frames are the bootstrap units.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hyperion_core.eval.evaluate import EvalConfig, Prepared, frame_inputs
from hyperion_core.eval.labelled import (
    TileScores,
    ap50_difference,
    ap50_interval,
    composites,
    split_by_tile,
)
from hyperion_core.eval.methods import build_methods, method_fusion
from hyperion_core.eval.network import Link
from hyperion_core.eval.runner import run_jobs
from hyperion_core.eval.scoring import resolve
from hyperion_core.eval.timeline import run_method
from hyperion_core.fuse.ensemble import EnsembleConfig
from hyperion_core.link.trace import Trace
from hyperion_core.metrics.latency import answers_for_scoring
from hyperion_core.schedule.profile_file import Profiles

#: Constant uplinks, bit/s: the paper's 4G mean, and two slow links.
RATES_BPS = (47.9e6, 10e6, 2e6)
SEQUENCE = (0, 1, 0, 1, 0, 1)
WARMUP = 2


def human_label_table(cfg: EvalConfig, prep: Prepared, profiles: Profiles, *,
                      names: list[str]) -> dict[str, object]:
    """Per uplink rate: each method's AP50 against the hand labels, and Hyperion's gaps."""
    from hyperion_core.eval.frames import FrameSpec

    spec = FrameSpec(source="labelled:report", frames=2)
    inputs, _, cache, _ = frame_inputs(replace(cfg, frames=(spec,)), (spec,), "labelled")
    frames = composites("report")
    sequence = [replace(inputs[i], index=k) for k, i in enumerate(SEQUENCE)]
    labelled = replace(prep, inputs=sequence)
    settings = replace(cfg.settings, warmup_frames=WARMUP)
    fusion = EnsembleConfig()
    out: dict[str, object] = {}
    for rate in RATES_BPS:
        link = Link(throughput=Trace.from_steps([(rate, 1e6)], loop=True, name="constant"))
        methods = build_methods(cfg, labelled, profiles, settings=settings,
                                device=prep.device, names=names)
        fitted = method_fusion(list(methods), profiles)
        outcomes = {m: run_method(method, sequence, link, 10.0, settings.budget_s)  # type: ignore[arg-type]
                    for m, method in methods.items()}
        run_jobs([j for outs in outcomes.values() for o in outs for j in o.jobs],
                 cache_root=cfg.cache_dir, workers=cfg.jobs, label="detect (labelled)")
        tiles = {}
        for m, outs in outcomes.items():
            answers = answers_for_scoring([resolve(o, cache, fitted.get(m, fusion))
                                           for o in outs],
                                          [o.on_time for o in outs])
            parts = [split_by_tile(answers[k], frames[SEQUENCE[k]])
                     for k in range(WARMUP, len(outs))]
            tiles[m] = TileScores(frames=[f for p in parts for f in p.frames],
                             truth=[t for p in parts for t in p.truth],
                             crowd=[c for p in parts for c in p.crowd],
                             found=[d for p in parts for d in p.found])
        row = {m: ap50_interval(t, reps=cfg.reps).as_dict() for m, t in tiles.items()}
        gaps = {m: ap50_difference(tiles["hyperion"], t, reps=cfg.reps).as_dict()
                for m, t in tiles.items() if m != "hyperion"} if "hyperion" in tiles else {}
        out[f"{rate / 1e6:g}"] = {"ap50": row, "hyperion_minus": gaps,
                                  "mb_per_frame": {m: float(np.mean(
                                      [o.bytes_sent for o in outs[WARMUP:]]) / 1e6)
                                      for m, outs in outcomes.items()}}
    return out
