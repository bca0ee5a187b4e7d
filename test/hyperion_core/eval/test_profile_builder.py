"""Profile builder on two small real frames: real encodes, real model passes, the cache."""

import cv2
import numpy as np
import pytest

from hyperion_core.eval.frames import FrameSpec, load_frames
from hyperion_core.eval.profile_builder import (
    ProfileConfig,
    accuracy_design,
    design_combos,
    measure,
)
from hyperion_core.eval.profile_fit import fit_profiles
from hyperion_core.schedule.profile_file import read_profiles, write_profiles


@pytest.fixture
def small_frame_dir(tmp_path):
    from hyperion_core.data.array_camera import find_vtest_clip, read_clip

    try:
        clip = find_vtest_clip()
    except FileNotFoundError as err:
        pytest.skip(str(err))
    folder = tmp_path / "frames"
    folder.mkdir()
    for k, first in enumerate((30, 300, 600)):
        frame = read_clip(clip, first, 1)[0][96:416, 160:640]  # 480x320 with people
        cv2.imwrite(str(folder / f"{k:04d}.png"), frame)
    return folder


@pytest.mark.models
def test_profiles_from_real_frames(small_frame_dir, tmp_path):
    cfg = ProfileConfig(frames=(FrameSpec(source=str(small_frame_dir), frames=3),),
                        knots=(10, 50, 90), low_knots=(5,), size_qualities=(5, 10, 50, 90),
                        class0_downsample=(1, 8), cache_dir=tmp_path / "cache")
    m = measure(cfg)
    assert m.shares.shape == (3, 3) and np.allclose(m.shares.sum(axis=1), 1)
    assert m.raw_bytes == [480 * 320 * 3] * 3
    # Real encodes: every class costs more at q90 than at q10 and q5, downsampled less.
    for frame in m.class_bytes:
        by = {(c.cls, c.quality, c.downsample): c.nbytes for c in frame if c.share > 0}
        for (c, q, d), n in by.items():
            if q == 90:
                assert n > by[(c, 10, d)] > by[(c, 5, d)]
            if d == 8:
                assert n < by[(c, q, 1)]
    # 3 levels (prime) make a 9-row orthogonal array; q5 once per class; class 0 at 8x at
    # every knot, low ones included.
    assert len(m.combos) == len(accuracy_design(cfg)) == 9 + 3 + 4
    records = m.records()
    assert all(0.0 <= r.accuracy <= 1.0 for r in records)
    profiles, evidence = fit_profiles(m, cfg, qualities=(5, 10, 50, 90), reps=20)
    assert profiles.accuracy.knots == (5, 10, 50, 90)
    assert all(profiles.accuracy.supports(c, 5, 1) for c in range(3))
    assert profiles.accuracy.supports(0, 5, 8) and not profiles.accuracy.supports(1, 5, 8)
    assert set(evidence["held_out"]) == {"share_table", "share_linear", "paper_eq4"}
    assert len(evidence["effects"]) == 3
    # The fusion is fitted on the same frames, and the accuracies are those of its answers.
    assert profiles.fusion is not None
    assert profiles.edge_accuracy == pytest.approx(m.with_fusion(profiles.fusion).edge_accuracy())
    assert profiles.size.relative_error is not None
    write_profiles(tmp_path / "p.yaml", profiles)
    assert read_profiles(tmp_path / "p.yaml").size == profiles.size
    assert read_profiles(tmp_path / "p.yaml").fusion.groups == profiles.fusion.groups
    # The same measurements give the same file, bit for bit.
    write_profiles(tmp_path / "q.yaml", fit_profiles(m, cfg, qualities=(5, 10, 50, 90),
                                                     reps=20)[0])
    assert (tmp_path / "q.yaml").read_bytes() == (tmp_path / "p.yaml").read_bytes()
    # Second run: every model output and size comes from the cache; results are equal.
    files = sorted(p.name for p in (tmp_path / "cache").rglob("*.npz"))
    again = measure(cfg)
    assert [r.accuracy for r in again.records()] == [r.accuracy for r in records]
    assert sorted(p.name for p in (tmp_path / "cache").rglob("*.npz")) == files


@pytest.mark.models
def test_frame_folder(small_frame_dir):
    frames = load_frames(FrameSpec(source=str(small_frame_dir), frames=2, stride=2))
    assert [f.shape for f in frames] == [(320, 480, 3)] * 2
    with pytest.raises(ValueError):
        load_frames(FrameSpec(source=str(small_frame_dir), frames=4))
    with pytest.raises(FileNotFoundError, match="vtest"):
        load_frames(FrameSpec(source="no-such-clip"))


def test_orthogonal_design_covers_every_pair_of_levels_once():
    levels = (10, 30, 50, 70, 90)
    rows = design_combos(levels, 3)
    assert len(rows) == 25 and len(set(rows)) == 25
    for i, j in ((0, 1), (0, 2), (1, 2)):
        assert sorted((r[i], r[j]) for r in rows) == sorted(
            (a, b) for a in levels for b in levels)
    assert len(design_combos((10, 20, 30, 40), 3)) == 64  # 4 levels: not prime, full
    design = accuracy_design(ProfileConfig())
    downsampled = [c for c in design if c[1] != 1]
    assert sorted({d for _, d in downsampled}) == [2, 4, 8]
    assert {q[0] for q, _ in downsampled} == {5, *levels}
    assert {q[1:] for q, _ in downsampled} == {(50, 50)}
    # The low knot: each class alone at q5, the others at the middle knot.
    low = [q for q, d in design if d == 1 and 5 in q]
    assert sorted(low) == [(5, 50, 50), (50, 5, 50), (50, 50, 5)]
