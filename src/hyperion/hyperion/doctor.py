"""`hyperion doctor`: what this environment has, and what it is missing to run Hyperion.

Only the standard library is imported at module level, so the doctor also runs (and names
what is missing) in a bare Python without ROS or the project's dependencies.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

BOOTSTRAP_HINT = "run scripts/bootstrap.sh"


@dataclass(frozen=True)
class Finding:
    """Outcome of one check: ``ok`` False on a required check makes the doctor fail."""

    name: str
    ok: bool
    detail: str
    required: bool = True


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_ros() -> list[Finding]:
    """rclpy importable, which distribution it comes from, and which RMW it loads."""
    try:
        rclpy_utilities = importlib.import_module("rclpy.utilities")
    except ImportError as error:
        return [Finding("ROS 2 (rclpy)", False, f"not importable ({error}); {BOOTSTRAP_HINT}")]
    distro = os.environ.get("ROS_DISTRO")
    wheel = _version("ros-rclpy")
    if distro:
        origin = f"ROS 2 {distro} (system install)"
    elif wheel:
        origin = f"ROS 2 Kilted from PyPI wheels (ros-rclpy {wheel})"
    else:
        origin = "ROS 2 of unknown origin"
    rmw = rclpy_utilities.get_rmw_implementation_identifier()
    return [Finding("ROS 2 (rclpy)", True, origin), Finding("RMW", True, rmw)]


INTERFACES = ("std_msgs", "sensor_msgs", "diagnostic_msgs", "vision_msgs", "hyperion_msgs")


def check_interfaces() -> list[Finding]:
    """Each message package Hyperion publishes or subscribes to is importable."""
    findings = []
    for package in INTERFACES:
        try:
            module = importlib.import_module(f"{package}.msg")
            findings.append(Finding(f"interfaces: {package}", True, module.__file__ or ""))
        except ImportError as error:
            findings.append(
                Finding(f"interfaces: {package}", False, f"missing ({error}); {BOOTSTRAP_HINT}")
            )
    return findings


PYTHON_PACKAGES = (
    # (import name, distribution, required, why)
    ("numpy", "numpy", True, "arrays"),
    ("cv2", "opencv-python-headless", True, "video input, resizing"),
    ("yaml", "PyYAML", True, "parameter and profile files"),
    ("onnxruntime", "onnxruntime", True, "embedded detector and scorer"),
    ("sahi", "sahi", True, "sliced cloud inference"),
    ("simplejpeg", "simplejpeg", True, "patch codec (libjpeg-turbo)"),
    ("pycocotools", "pycocotools", True, "AP50 / COCO AP"),
    ("zenoh", "eclipse-zenoh", True, "edge-cloud link"),
    ("hyperion_core", "hyperion_core", True, "Hyperion algorithms"),
    ("torch", "torch", False, "PyTorch backends (optional)"),
    ("detectron2", "detectron2", False, "ViTDet backend (optional)"),
)


def check_python_packages() -> list[Finding]:
    """Each Python dependency imports; versions are reported."""
    findings = []
    for module, distribution, required, why in PYTHON_PACKAGES:
        try:
            importlib.import_module(module)
        except Exception as error:  # a broken native extension raises more than ImportError
            label = "missing" if required else "not installed"
            findings.append(Finding(module, False, f"{label}: {why} ({error})", required))
            continue
        version = _version(distribution) or "installed"
        findings.append(Finding(module, True, f"{version}: {why}", required))
    return findings


def check_models() -> list[Finding]:
    """The embedded default models' weight files are present."""
    try:
        registry = importlib.import_module("hyperion_core.models.registry")
    except Exception as error:
        return [Finding("default models", False, f"model registry unavailable ({error})")]
    findings = []
    for name, spec in registry.MODELS.items():
        for weights in spec.weights:
            try:
                path = weights.locate()
                findings.append(Finding(f"model: {name}", True, f"{path} [{weights.licence}]"))
            except FileNotFoundError as error:
                findings.append(Finding(f"model: {name}", False, str(error)))
    return findings


CHECKS: tuple[Callable[[], list[Finding]], ...] = (
    check_ros,
    check_interfaces,
    check_python_packages,
    check_models,
)


def diagnose() -> list[Finding]:
    """Run every check; never raises."""
    findings: list[Finding] = []
    for check in CHECKS:
        try:
            findings.extend(check())
        except Exception as error:
            findings.append(Finding(check.__name__, False, f"check crashed: {error!r}"))
    return findings


def main(argv: list[str] | None = None) -> int:
    """Print one line per finding; exit 1 when a required piece is missing."""
    del argv
    findings = diagnose()
    width = max(len(f.name) for f in findings)
    for finding in findings:
        mark = "ok " if finding.ok else ("MISSING" if finding.required else "-- ")
        print(f"{mark:7} {finding.name:<{width}}  {finding.detail}")
    failed = [f.name for f in findings if f.required and not f.ok]
    print(f"python {sys.version.split()[0]} at {sys.executable}")
    if failed:
        print(f"\n{len(failed)} required piece(s) missing: {', '.join(failed)}")
        return 1
    print("\nall required pieces present")
    return 0


if __name__ == "__main__":
    sys.exit(main())
