"""Frame sources on real files: a video and an image folder written here with OpenCV, and
the array camera on the real ``vtest.avi`` clip. Sizes, order, looping, finite lengths,
and errors raised when the source is opened rather than at its first frame."""

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from hyperion_core.data.array_camera import ArrayCameraLayout, array_camera_frames
from hyperion_edge.frame_sources import array_camera_stream, folder_frames, video_frames

W, H = 64, 48
FRAMES = 5


def marked_frame(k: int) -> np.ndarray:
    """A BGR frame whose mean level encodes ``k`` (survives lossy video coding)."""
    return np.full((H, W, 3), 20 + 40 * k, np.uint8)


def level(frame: np.ndarray) -> int:
    return round((float(frame.mean()) - 20) / 40)


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (W, H))
    assert writer.isOpened(), "OpenCV cannot write MJPG here"
    for k in range(FRAMES):
        writer.write(marked_frame(k))
    writer.release()
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "images"
    path.mkdir()
    # Written out of name order; read back in name order. PNG is lossless.
    for k in (2, 0, 1):
        assert cv2.imwrite(str(path / f"frame_{k:03d}.png"), marked_frame(k))
    (path / "notes.txt").write_text("not an image")
    (path / "broken.jpg").write_bytes(b"not a jpeg")  # unreadable: skipped
    return path


def test_video_frames_in_order_full_size_then_end(video):
    frames = list(video_frames(video, loop=False))
    assert [f.shape for f in frames] == [(H, W, 3)] * FRAMES
    assert all(f.dtype == np.uint8 for f in frames)
    assert [level(f) for f in frames] == list(range(FRAMES))


def test_video_frames_loop_restarts_at_the_first_frame(video):
    frames = list(itertools.islice(video_frames(video, loop=True), 2 * FRAMES + 2))
    assert [level(f) for f in frames] == [*range(FRAMES), *range(FRAMES), 0, 1]


def test_missing_video_fails_at_the_call(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.avi"):
        video_frames(tmp_path / "nope.avi", loop=True)


def test_unreadable_video_fails_at_the_first_frame(tmp_path):
    path = tmp_path / "fake.avi"
    path.write_bytes(b"\x00" * 1024)
    with pytest.raises(OSError, match=r"fake\.avi"):
        next(video_frames(path, loop=True))


def test_folder_frames_in_name_order_skipping_unreadable_files(folder):
    frames = list(folder_frames(folder, loop=False))
    assert [level(f) for f in frames] == [0, 1, 2]
    for k, frame in enumerate(frames):
        np.testing.assert_array_equal(frame, marked_frame(k))  # lossless, exact


def test_folder_frames_loop(folder):
    frames = list(itertools.islice(folder_frames(folder, loop=True), 7))
    assert [level(f) for f in frames] == [0, 1, 2, 0, 1, 2, 0]


def test_folder_without_images_fails_at_the_call(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="no images"):
        folder_frames(tmp_path, loop=True)
    with pytest.raises(FileNotFoundError, match="missing"):
        folder_frames(tmp_path / "missing", loop=True)


def test_folder_of_only_unreadable_images_ends_instead_of_spinning(tmp_path):
    (tmp_path / "a.png").write_bytes(b"garbage")
    (tmp_path / "b.jpg").write_bytes(b"")
    assert list(folder_frames(tmp_path, loop=True)) == []


LAYOUT = ArrayCameraLayout(columns=2, rows=2, width=320, height=180, tile_stride=2)


def test_array_camera_stream_matches_the_batch_composer():
    pytest.importorskip("hyperion_core.data.array_camera").find_vtest_clip()
    count = 3
    streamed = list(itertools.islice(array_camera_stream(layout=LAYOUT), count))
    batch = list(array_camera_frames(count, layout=LAYOUT))
    assert len(streamed) == len(batch) == count
    for got, want in zip(streamed, batch, strict=True):
        assert got.shape == (180, 320, 3) and got.dtype == np.uint8
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(streamed[0], streamed[1])  # frames move on


def test_array_camera_on_a_short_clip_finite_and_looping(video):
    layout = ArrayCameraLayout(columns=2, rows=1, width=2 * W, height=H, tile_stride=1)
    frames = list(array_camera_stream(layout=layout, clip=video, loop=False))
    # tile 0 shows clip frame t, tile 1 frame t + 1: FRAMES - 1 mosaics.
    assert [(level(f[:, :W]), level(f[:, W:])) for f in frames] == [
        (k, k + 1) for k in range(FRAMES - 1)]
    looped = list(itertools.islice(array_camera_stream(layout=layout, clip=video), FRAMES + 1))
    # Across the loop the window carries on: the last frame beside the first, then onwards.
    assert [(level(f[:, :W]), level(f[:, W:])) for f in looped][FRAMES - 2:] == [
        (3, 4), (4, 0), (0, 1)]


def test_array_camera_missing_clip_fails_at_the_call(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"gone\.avi"):
        array_camera_stream(layout=LAYOUT, clip=tmp_path / "gone.avi")
