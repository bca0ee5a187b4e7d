"""The Hyperion graphs, described once: which nodes run, with which parameters.

Used by ``launch/edge.launch.py`` / ``launch/cloud.launch.py`` (real ROS installs) and by
``hyperion run edge|cloud`` (this machine, no launch). Edge and cloud are separate ROS
graphs (different ``ROS_DOMAIN_ID``); the only path between them is the zenoh link.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "hyperion"


@dataclass(frozen=True, kw_only=True)
class NodeSpec:
    """One node of a graph.

    Args:
        package: ROS package providing the executable.
        executable: console-script name.
        name: node name (the params file's section).
        params_file: file under the package's ``share/hyperion/config``.
        remappings: ``(from, to)`` topic remappings.
        env: extra environment variables of the process.
        start_if: the switch (a key of :data:`SWITCHES`) that must be on for the node to
            start; empty: the node always starts.
    """

    package: str
    executable: str
    name: str
    params_file: str
    remappings: tuple[tuple[str, str], ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    start_if: str = ""


@dataclass(frozen=True, kw_only=True)
class GraphSpec:
    """A graph: its nodes and the domain offset that keeps edge and cloud apart.

    Args:
        name: ``"edge"`` or ``"cloud"``.
        nodes: the nodes, in start order.
        domain_offset: added to the base ``ROS_DOMAIN_ID`` when no domain is given, so the
            two graphs of one host never share a domain by accident.
    """

    name: str
    nodes: tuple[NodeSpec, ...]
    domain_offset: int = 0


def _edge(executable: str, **kwargs: object) -> NodeSpec:
    return NodeSpec(package="hyperion_edge", executable=executable, name=executable,
                    params_file="edge.yaml", **kwargs)  # type: ignore[arg-type]


def _cloud(executable: str) -> NodeSpec:
    return NodeSpec(package="hyperion_cloud", executable=executable, name=executable,
                    params_file="cloud.yaml")


#: Switches that start optional nodes (``ros2 launch`` arguments, ``hyperion run`` flags),
#: with their defaults: the built-in camera, and the decoder of a compressed camera topic.
SWITCHES: dict[str, bool] = {"use_camera": True, "compressed_input": False}

GRAPHS: dict[str, GraphSpec] = {
    "edge": GraphSpec(name="edge", nodes=(
        _edge("camera", start_if="use_camera"),
        _edge("decompressor", start_if="compressed_input"),
        _edge("edge_detector"),
        _edge("scorer"),
        _edge("scheduler"),
        _edge("encoder"),
        _edge("edge_link"),
        _edge("ensembler"),
    )),
    "cloud": GraphSpec(name="cloud", domain_offset=1, nodes=(
        _cloud("cloud_link"),
        _cloud("cloud_detector"),
    )),
}

#: Fast DDS profile giving big frames a shared-memory transport (see the file).
FASTDDS_PROFILE = "fastdds_shm.xml"


def share_dir() -> Path:
    """``share/hyperion`` of the installed package (ament index), e.g.
    ``install/hyperion/share/hyperion`` after ``source install/setup.bash``.

    Sets ``AMENT_PREFIX_PATH`` to this Python's prefix when unset (pip-installed ROS).
    """
    os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory(PACKAGE))


def executable(package: str, name: str) -> Path:
    """The installed executable ``lib/<package>/<name>`` of a package, found through the
    ament index as ``ros2 run`` finds it (``bin/<name>`` for the ``hyperion`` command).

    Raises:
        FileNotFoundError: the package is not installed in a prefix on
            ``AMENT_PREFIX_PATH`` (source ``install/setup.bash``), or lacks the executable.
    """
    os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        prefix = Path(get_package_prefix(package))
    except PackageNotFoundError as err:
        raise FileNotFoundError(f"package {package} is not installed in any prefix of "
                                f"AMENT_PREFIX_PATH (source install/setup.bash)") from err
    for path in (prefix / "lib" / package / name, prefix / "bin" / name):
        if path.is_file():
            return path
    raise FileNotFoundError(f"package {package} at {prefix} has no executable {name}")


def config_path(filename: str) -> Path:
    """Installed ``config/<filename>``."""
    return share_dir() / "config" / filename


def graph_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a graph's processes: the shared-memory profile, loopback discovery
    unless set, and ``AMENT_PREFIX_PATH``; values already in ``base`` win."""
    env = dict(os.environ if base is None else base)
    env.setdefault("AMENT_PREFIX_PATH", sys.prefix)
    env.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(config_path(FASTDDS_PROFILE)))
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    return env
