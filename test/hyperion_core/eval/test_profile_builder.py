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
                        knots=(10, 50, 90), size_qualities=(10, 50, 90),
                        cache_dir=tmp_path / "cache")
    m = measure(cfg)
    assert m.shares.shape == (3, 3) and np.allclose(m.shares.sum(axis=1), 1)
    assert m.raw_bytes == [480 * 320 * 3] * 3
    # Real encodes: every class costs more at q90 than at q10, downsampled less again.
    for frame in m.class_bytes:
        by = {(c.cls, c.quality, c.downsample): c.nbytes for c in frame if c.share > 0}
        for (c, q, d), n in by.items():
            if q == 90:
                assert n > by[(c, 10, d)]
            if d == 4:
                assert n < by[(c, q, 1)]
    # 3 levels (prime) make a 9-row orthogonal array; class 0 at d = 2, 4 at every knot.
    assert len(m.combos) == len(accuracy_design(cfg)) == 9 + 2 * 3
    records = m.records()
    assert all(0.0 <= r.accuracy <= 1.0 for r in records)
    profiles, evidence = fit_profiles(m, cfg, qualities=(10, 50, 90), reps=20)
    assert set(evidence["held_out"]) == {"share_table", "share_linear", "paper_eq4"}
    assert len(evidence["effects"]) == 3
    assert profiles.edge_accuracy == pytest.approx(m.edge_accuracy())
    assert profiles.size.relative_error is not None
    write_profiles(tmp_path / "p.yaml", profiles)
    assert read_profiles(tmp_path / "p.yaml").size == profiles.size
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
    downsampled = [c for c in accuracy_design(ProfileConfig()) if c[1] != 1]
    assert sorted({d for _, d in downsampled}) == [2, 4]
    assert {q[0] for q, _ in downsampled} == set(levels)
    assert {q[1:] for q, _ in downsampled} == {(50, 50)}
