"""Turn a folder of JPEG/PNG frames (a PANDA sequence) into a bag of CompressedImage frames.

The files' bytes go into the bag unchanged: no decode and no re-encode, so the bag is the
size of the sequence and a replay costs one decode, in the edge graph's decompressor
(``hyperion run edge --compressed-input``). Files are taken in name order (PANDA numbers
its frames with leading zeros); the stamps are spaced by ``fps``, since image files carry
no capture time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer

from hyperion.bag_types import header, hyperion_typestore
from hyperion.bag_video import CAMERA_QOS

COMPRESSED_TYPE = "sensor_msgs/msg/CompressedImage"
#: File signature -> the ``format`` image_transport's decoders understand.
SIGNATURES = {b"\xff\xd8\xff": "jpeg", b"\x89PNG\r\n\x1a\n": "png"}
SUFFIXES = (".jpg", ".jpeg", ".png")


def image_files(folder: Path) -> list[Path]:
    """The folder's ``.jpg``/``.jpeg``/``.png`` files in name order.

    Raises:
        FileNotFoundError: ``folder`` is no folder or holds no such file.
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} not found")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
    if not files:
        raise FileNotFoundError(f"no {'/'.join(SUFFIXES)} files in {folder}")
    return files


def _compressed_frames(files: list[Path]) -> Iterator[tuple[Path, bytes, str | None]]:
    for path in files:
        data = path.read_bytes()
        fmt = next((f for sig, f in SIGNATURES.items() if data.startswith(sig)), None)
        yield path, data, fmt


def import_images(
    folder: Path,
    output: Path,
    *,
    fps: float,
    frames: int | None = None,
    topic: str = "/hyperion/image/compressed",
    frame_id: str = "camera",
    storage: str = "mcap",
    start_ns: int | None = None,
) -> tuple[int, list[Path], float]:
    """Write the images of ``folder`` to a new bag at ``output`` as CompressedImage frames.

    Args:
        folder: folder of JPEG/PNG files.
        fps: frame rate for the stamps (> 0).
        frames: how many frames at most (default: all).
        topic: CompressedImage topic name in the bag.
        frame_id: header.frame_id of every frame.
        storage: ``"mcap"`` or ``"sqlite3"``.
        start_ns: header stamp of the first frame, ns since the epoch; default now.

    Returns:
        (frames written, files skipped because their content is neither JPEG nor PNG,
        seconds spent).
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    began = time.perf_counter()
    files = image_files(Path(folder))
    period_ns = int(1e9 / fps)
    first_ns = time.time_ns() if start_ns is None else start_ns
    store = hyperion_typestore()
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    written, skipped = 0, []
    with Writer(output, version=9, storage_plugin=plugin) as writer:
        connection = writer.add_connection(
            topic, COMPRESSED_TYPE, typestore=store, offered_qos_profiles=[CAMERA_QOS])
        for path, data, fmt in _compressed_frames(files):
            if frames is not None and written >= frames:
                break
            if fmt is None:
                skipped.append(path)
                continue
            stamp_ns = first_ns + written * period_ns
            msg = store.types[COMPRESSED_TYPE](
                header=header(store, stamp_ns=stamp_ns, frame_id=frame_id), format=fmt,
                data=np.frombuffer(data, np.uint8))
            writer.write(connection, stamp_ns, bytes(store.serialize_cdr(msg, COMPRESSED_TYPE)))
            written += 1
    return written, skipped, time.perf_counter() - began
