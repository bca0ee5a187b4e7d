"""Profile builder on one small real frame: real encodes, real detector passes, the cache."""

import cv2
import numpy as np
import pytest

from hyperion_core.eval.frames import FrameSpec, area_scale, load_frames
from hyperion_core.eval.profile_builder import ProfileConfig, build_records, fit
from hyperion_core.schedule.profiles import load_profiles, save_profiles

pytestmark = pytest.mark.models


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


def test_profile_builder_one_small_frame(small_frame_dir, tmp_path):
    cfg = ProfileConfig(frames=FrameSpec(source=str(small_frame_dir), frames=1),
                        qualities=(10, 90), cache_dir=tmp_path / "cache")
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


def test_frame_folder_and_area_scale(small_frame_dir):
    frames = load_frames(FrameSpec(source=str(small_frame_dir), frames=1))
    assert frames[0].shape == (320, 448, 3) and frames[0].dtype == np.uint8
    assert area_scale(np.zeros((1080, 1536, 3))) == pytest.approx(5.0)
