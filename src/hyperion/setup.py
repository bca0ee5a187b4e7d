"""hyperion: bringup package (launch, parameters, DDS profile, rviz2) and the `hyperion` CLI.

The launch and parameter files live at the workspace top level (launch/, config/) so the
whole graph is visible at a glance; this package installs them to share/hyperion.
"""

from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "hyperion"
WORKSPACE = Path(__file__).resolve().parents[2]


def workspace_files(pattern: str) -> list[str]:
    """Workspace files matching ``pattern``, as paths relative to this setup.py."""
    return [f"../../{path}" for path in sorted(glob(pattern, root_dir=WORKSPACE))]


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", workspace_files("launch/*.py")),
        (f"share/{PACKAGE}/config", workspace_files("config/*")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    description="Hyperion bringup and command-line tool",
    license="Apache-2.0",
    entry_points={"console_scripts": ["hyperion = hyperion.cli:main"]},
)
