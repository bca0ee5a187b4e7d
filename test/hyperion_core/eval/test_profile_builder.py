"""Profile builder on one small real frame: real encodes, real detector passes, the cache."""

import cv2
import numpy as np
import pytest

from hyperion_core.eval.frames import FrameSpec, area_scale, load_frames
from hyperion_core.eval.profile_builder import (
    ProfileConfig,
    build_records,
    design_combos,
    fit,
    fit_nonnegative_accuracy,
)
from hyperion_core.schedule.profiles import ProfileRecord, load_profiles, save_profiles


@pytest.fixture
def small_frame_dir(tmp_path):
    from hyperion_core.data.array_camera import find_vtest_clip, read_clip

    try:
        clip = find_vtest_clip()
    except FileNotFoundError as err:
        pytest.skip(str(err))
    frame = read_clip(clip, 30, 1)[0][100:420, 200:648]  # 448x320 crop with people
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "0000.png"), frame)
    return folder


@pytest.mark.models
def test_profile_builder_one_small_frame(small_frame_dir, tmp_path):
    cfg = ProfileConfig(frames=FrameSpec(source=str(small_frame_dir), frames=1),
                        qualities=(10, 90), design="full", cache_dir=tmp_path / "cache")
    records = build_records(cfg)
    assert len(records) == 8
    assert all(r.raw_bytes == 448 * 320 * 3 for r in records)
    by_q = {r.qualities: r for r in records}
    # Real encodes: all-q90 is bigger than all-q10.
    assert by_q[(90, 90, 90)].bytes > by_q[(10, 10, 10)].bytes > 0
    assert all(0.0 <= r.accuracy <= 1.0 for r in records)
    assert sum(records[0].shares) == pytest.approx(1.0)
    size, accuracy = fit(records)
    assert size.stats.n == 8 and size.stats.r > 0.5
    save_profiles(tmp_path / "p.yaml", size, accuracy)
    assert load_profiles(tmp_path / "p.yaml")[0].alpha == size.alpha
    # Second run: every detector output comes from the cache, nothing new is written.
    files = sorted(p.name for p in (tmp_path / "cache").rglob("*.npz"))
    again = build_records(cfg)
    assert [r.accuracy for r in again] == [r.accuracy for r in records]
    assert sorted(p.name for p in (tmp_path / "cache").rglob("*.npz")) == files


@pytest.mark.models
def test_frame_folder_and_area_scale(small_frame_dir):
    frames = load_frames(FrameSpec(source=str(small_frame_dir), frames=1))
    assert frames[0].shape == (320, 448, 3) and frames[0].dtype == np.uint8
    assert area_scale(np.zeros((1080, 1536, 3))) == pytest.approx(5.0)


def test_orthogonal_design_covers_every_pair_of_levels_once():
    levels = (10, 30, 50, 70, 90)
    rows = design_combos(levels, 3)
    assert len(rows) == 25 and len(set(rows)) == 25
    for i, j in ((0, 1), (0, 2), (1, 2)):
        assert sorted((r[i], r[j]) for r in rows) == sorted(
            (a, b) for a in levels for b in levels)
    assert len(design_combos((10, 20, 30, 40), 3)) == 64  # 4 levels: not prime, full
    assert len(design_combos(levels, 3, "full")) == 125
    with pytest.raises(ValueError):
        design_combos(levels, 3, "random")


def _records(weights, bias, noise, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for q in design_combos((10, 30, 50, 70, 90), 3):
        acc = float(np.dot(weights, q) + bias + rng.normal(0.0, noise))
        out.append(ProfileRecord(shares=(0.7, 0.2, 0.1), qualities=q, bytes=1000 + sum(q),
                                 raw_bytes=10_000, accuracy=acc))
    return out


def test_nonnegative_fit_recovers_weights_and_clips_noise():
    exact = fit_nonnegative_accuracy(_records((1e-4, 5e-4, 1e-3), 0.8, 0.0))
    assert [exact.weights[(c, 1)] for c in range(3)] == pytest.approx([1e-4, 5e-4, 1e-3])
    assert exact.bias == pytest.approx(0.8) and exact.stats.r == pytest.approx(1.0)
    # A class whose true weight is 0 gets a negative least-squares weight from noise
    # (this seed), which the constrained fit pins to 0 while keeping the others.
    noisy = _records((0.0, 5e-4, 1e-3), 0.8, 0.01, seed=1)
    free = fit(noisy)[1]
    assert free.weights[(0, 1)] < 0
    clipped = fit(noisy, nonnegative=True)[1]
    assert clipped.weights[(0, 1)] == 0.0
    assert all(clipped.weights[(c, 1)] > 0 for c in (1, 2))
    assert clipped.stats.r2 <= free.stats.r2 + 1e-12  # a constraint never fits better
    with pytest.raises(ValueError):
        fit_nonnegative_accuracy(noisy[:5])
