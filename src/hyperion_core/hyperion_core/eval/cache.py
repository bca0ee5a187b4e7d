"""On-disk cache of detector outputs and payload sizes, keyed by (frame hash, configuration).

A detector pass on a 4K frame costs seconds on a CPU, so every pass an evaluation or a
profile needs is stored once under ``<root>/<key[:2]>/<key>.npz`` and every later sweep
(other traces, budgets, seeds) reads it back. Keys hash the frame digest, the model name
and a canonical description of the payload, so a changed quality or class map is a miss.
Files are written to a temporary name and renamed, so parallel workers never read halves.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from hyperion_core.fuse.boxes import Detections


def cache_key(*parts: object) -> str:
    """Stable 32-hex key of JSON-able parts (numpy arrays are hashed by bytes and shape)."""
    h = hashlib.sha1()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(str((part.shape, str(part.dtype))).encode())
            h.update(np.ascontiguousarray(part).data)
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
        h.update(b"|")
    return h.hexdigest()[:32]


class DetectionCache:
    """Stores :class:`Detections` (xyxy frame pixels) and small JSON values by key.

    Args:
        root: cache folder, created on first write.
    """

    def __init__(self, *, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str, suffix: str) -> Path:
        return self.root / key[:2] / f"{key}{suffix}"

    def _write(self, path: Path, write: object) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        write(tmp)  # type: ignore[operator]
        os.replace(tmp, path)

    def has(self, key: str) -> bool:
        return self._path(key, ".npz").is_file()

    def get(self, key: str) -> Detections | None:
        """Cached detections, or ``None`` on a miss."""
        path = self._path(key, ".npz")
        if not path.is_file():
            return None
        with np.load(path) as data:
            return Detections(
                boxes=data["boxes"].astype(np.float64),
                scores=data["scores"].astype(np.float64),
                labels=data["labels"].astype(np.int64),
            )

    def put(self, key: str, det: Detections) -> None:
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, boxes=det.boxes, scores=det.scores, labels=det.labels)

        self._write(self._path(key, ".npz"), write)

    def get_array(self, key: str) -> np.ndarray | None:
        """Cached array (e.g. a patch importance map), or ``None``."""
        path = self._path(key, ".npy")
        return np.load(path) if path.is_file() else None

    def put_array(self, key: str, array: np.ndarray) -> None:
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.save(fh, np.asarray(array))

        self._write(self._path(key, ".npy"), write)

    def get_value(self, key: str) -> object | None:
        """Cached JSON value (payload sizes, timings), or ``None``."""
        path = self._path(key, ".json")
        return json.loads(path.read_text()) if path.is_file() else None

    def put_value(self, key: str, value: object) -> None:
        self._write(self._path(key, ".json"), lambda tmp: tmp.write_text(json.dumps(value)))
