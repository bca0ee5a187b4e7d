"""Runs the detector passes an evaluation needs, in parallel, skipping cached ones."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from hyperion_core.eval.cache import DetectionCache
from hyperion_core.eval.frames import frame_digest
from hyperion_core.eval.models import Job, run_job, worker_threads


class FrameStore:
    """Frames saved once as ``.npy`` under the cache, so workers read them by path.

    Args:
        cache_root: cache folder; frames go to ``<cache_root>/frames``.
        frames: the sequence, ``(H, W, 3)`` uint8 BGR each; not mutated.
    """

    def __init__(self, *, cache_root: Path, frames: list[np.ndarray]) -> None:
        self.frames = frames
        self.digests = [frame_digest(f) for f in frames]
        folder = Path(cache_root) / "frames"
        folder.mkdir(parents=True, exist_ok=True)
        self.paths = []
        for frame, digest in zip(frames, self.digests, strict=True):
            path = folder / f"{digest}.npy"
            if not path.is_file():
                np.save(path, frame)
            self.paths.append(path)


def _init_worker(threads: int) -> None:
    os.environ["HYPERION_EVAL_THREADS"] = str(threads)


def run_jobs(jobs: list[Job], *, cache_root: Path, workers: int, label: str) -> None:
    """Run every job whose output is not cached yet, ``workers`` processes at a time.

    Args:
        jobs: passes wanted (duplicates allowed; each key runs once).
        cache_root: where outputs are stored.
        workers: processes; 1 runs in this process (no pool, easier to debug).
        label: progress-bar title.
    """
    from tqdm import tqdm

    cache = DetectionCache(root=cache_root)
    todo: dict[str, Job] = {}
    for job in jobs:
        key = job.key
        done = cache.get_array(key) is not None if job.model == "scorer" else cache.has(key)
        if not done and key not in todo:
            todo[key] = job
    if not todo:
        return
    # Same model together: each worker builds a model once and reuses it.
    ordered = sorted(todo.values(), key=lambda j: (j.model, j.digest))
    bar = tqdm(total=len(ordered), desc=label, unit="pass", leave=False)
    threads = worker_threads(workers)
    try:
        if workers <= 1:
            _init_worker(threads)
            for job in ordered:
                run_job(job, cache_root)
                bar.update()
            return
        with ProcessPoolExecutor(
            max_workers=workers, initializer=_init_worker, initargs=(threads,)
        ) as pool:
            for _ in pool.map(run_job, ordered, [cache_root] * len(ordered), chunksize=1):
                bar.update()
    finally:
        bar.close()


def payload_sizes(cache: DetectionCache, digest: str, frame_path: Path, payload: object
                  ) -> tuple[int, tuple[int, ...]]:
    """Encoded size of ``payload`` for the stored frame, and for a ``patch`` payload the
    bytes of each class's JPEG segment (encoded once, then cached).

    Returns:
        ``(total bytes, per-class bytes)``; per-class is empty for other kinds.
    """
    from hyperion_core.codec.patch_codec import class_segment_bytes
    from hyperion_core.eval.cache import cache_key
    from hyperion_core.eval.payloads import encode_patches, materialise

    key = cache_key(digest, "sizes", *payload.descriptor())  # type: ignore[attr-defined]
    stored = cache.get_value(key)
    if stored is None:
        frame = np.load(frame_path)
        if payload.kind == "patch":  # type: ignore[attr-defined]
            data = encode_patches(frame, payload)  # type: ignore[arg-type]
            stored = [len(data), *class_segment_bytes(data)]
        else:
            stored = [materialise(frame, payload)[0]]  # type: ignore[arg-type]
        cache.put_value(key, stored)
    values = [int(v) for v in stored]  # type: ignore[union-attr]
    return values[0], tuple(values[1:])


def payload_size(cache: DetectionCache, digest: str, frame_path: Path, payload: object) -> int:
    """Encoded size in bytes of ``payload`` for the stored frame (see :func:`payload_sizes`)."""
    return payload_sizes(cache, digest, frame_path, payload)[0]
