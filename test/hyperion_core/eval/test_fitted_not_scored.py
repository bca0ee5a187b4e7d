"""No shipped profile, fusion or threshold was fitted on a frame its evaluation scores.

- the composite profile (``default_profiles.yaml``) was fitted on composites whose clip
  frames no evaluated composite shows;
- the graph's shipped profile (``real4k_profiles.yaml``) was fitted on the real 4K
  development frames, and is checked on other real frames kept apart;
- the real 4K track (``docs/eval/real4k``) was cross-fitted: each fold's profile, fusion and
  calibrations come from frames (by content hash) that fold never scores.
"""

import json
import re
from pathlib import Path

import pytest
import yaml

from hyperion_core.data.sources import SOURCES
from hyperion_core.eval.evaluate import DEFAULT_PROFILES
from hyperion_core.eval.frames import EVALUATION, FrameSpec
from hyperion_core.schedule.profile_file import SHIPPED_PROFILES

ROOT = Path(__file__).resolve().parents[3]
REAL4K = ROOT / "docs" / "eval" / "real4k"


def clip_frames(spec: FrameSpec) -> set[int]:
    """The clip frames a composite spec's frames show (every tile of every frame)."""
    layout = SOURCES[spec.source].layout
    return {spec.first + k * spec.stride + t * layout.tile_stride
            for k in range(spec.frames) for t in range(layout.tiles)}


def parse(described: str) -> FrameSpec:
    source, frames, first, stride = re.fullmatch(
        r"(\S+) (\d+) frames from (\d+) every (\d+)", described).groups()
    return FrameSpec(source=source, frames=int(frames), first=int(first), stride=int(stride))


def test_the_composite_profile_saw_no_evaluated_clip_frame():
    provenance = yaml.safe_load(DEFAULT_PROFILES.read_text())["provenance"]
    fitted = [parse(d) for d in provenance["frames"]]
    for spec in fitted:
        scored = [e for e in EVALUATION if e.source == spec.source]
        assert scored, spec
        for other in scored:
            assert not clip_frames(spec) & clip_frames(other), (spec, other)


def test_the_shipped_real4k_profile_names_only_the_development_frames():
    # Its check is on the held-out clip kept outside this repository; the real 4K track
    # here never uses it (each fold fits its own, see below).
    provenance = yaml.safe_load(SHIPPED_PROFILES.read_text())["provenance"]
    assert provenance["frames"] and all("unicamp-uav-dev/images" in d
                                        for d in provenance["frames"])
    assert "gt.json" in provenance["accuracy"]


def test_the_overlap_check_can_fail():
    spec = FrameSpec(source="vtest", first=190, frames=2, stride=5)
    assert clip_frames(spec) & clip_frames(EVALUATION[0])


@pytest.mark.skipif(not (REAL4K / "results.json").exists(), reason="no real 4K results")
def test_each_real4k_fold_was_fitted_on_frames_it_never_scores():
    results = json.loads((REAL4K / "results.json").read_text())
    folds = results["folds"]
    assert len(folds) == 2
    scored_all = set()
    for fold in folds.values():
        provenance = yaml.safe_load((REAL4K / fold["profiles"]).read_text())["provenance"]
        crossfit = provenance["cross_fit"]
        assert set(crossfit["fitted_frames"]) == set(fold["fitted_frames"])
        assert not set(crossfit["fitted_digests"]) & set(crossfit["scored_digests"])
        assert not set(fold["fitted_frames"]) & set(fold["scored_frames"])
        scored_all |= set(fold["scored_frames"])
    assert scored_all == set(range(results["setup"]["evaluated_frames"]))
