"""Helpers for the tests that drive Hyperion the ROS way: the real ``ros2`` command-line
tools, ``launch`` and ``launch_pytest`` (vendored sources, see :data:`VENDOR`), the colcon
workspace and its parameter files.

Every wait is bounded; nothing sleeps to let something get ready.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

WORKSPACE = Path(__file__).resolve().parents[2]
#: The real ROS 2 tools' sources, beside the checkout as CI has them; `scripts/bootstrap.sh
#: --test` installs them into the venv from there.
VENDOR = Path(os.environ.get("HYPERION_ROS2_CLI", WORKSPACE.parent / "shared" / "vendor"
                             / "ros2-cli"))

_PATH = WORKSPACE / "test" / "integration" / "harness.py"
_SPEC = importlib.util.spec_from_file_location("hyperion_ros2_test_harness", _PATH)
harness = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(harness)

Probe, SMALL_EDGE = harness.Probe, harness.SMALL_EDGE
domain_pair, free_port, wait_until = harness.domain_pair, harness.free_port, harness.wait_until


def tools_missing() -> str:
    """Why the real ROS 2 tools cannot be used here, or ``""`` when they can."""
    needed = ("launch", "launch_ros", "launch_pytest", "ros2cli", "ros2launch")
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if not missing and shutil.which("ros2"):
        return ""
    where = (f"{VENDOR} is absent" if not VENDOR.is_dir()
             else f"run scripts/bootstrap.sh --test to install them from {VENDOR}")
    return (f"the real ROS 2 tools ({', '.join(missing) or 'ros2'}) are not installed: "
            f"{where}")


def require_tools() -> None:
    """Skip the calling test module unless the real ROS 2 tools are installed."""
    reason = tools_missing()
    if reason:
        pytest.skip(reason, allow_module_level=True)


def params_file(graph: str, overrides: list[str], path: Path) -> Path:
    """The installed ``config/<graph>.yaml`` with ``[node.]name:=value`` overrides applied,
    written to ``path``: what ``params_file:=`` of a launch file takes."""
    from hyperion.graph import config_path

    document = yaml.safe_load(config_path(f"{graph}.yaml").read_text())
    for item in overrides:
        key, _, value = item.partition(":=")
        node, dot, name = key.partition(".")
        if not dot:
            node, name = "/**", key
        document.setdefault(node, {}).setdefault("ros__parameters", {})[name] = (
            yaml.safe_load(value))
    path.write_text(yaml.safe_dump(document))
    return path


def edge_overrides(port: int, *extra: str) -> list[str]:
    """Small frames at 1 frame/s with a 6 s budget, linked to the cloud on ``port``; the
    camera waits for the three image readers of the graph and one probe."""
    return [*SMALL_EDGE, f"edge_link.connect:=tcp/127.0.0.1:{port}", "camera.rate_hz:=1.0",
            "camera.wait_for_subscribers:=4", "latency_budget_s:=6.0",
            "scheduler.cloud_latency_s:=1.5", *extra]


def cloud_overrides(port: int) -> list[str]:
    return [f"cloud_link.listen:=tcp/127.0.0.1:{port}", "diagnostics_period_s:=1.0"]


def ros2(*args: str, domain: int, timeout_s: float = 60.0) -> subprocess.CompletedProcess:
    """``ros2 ARGS`` in ``domain`` (no daemon is left behind: callers pass --no-daemon)."""
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain)}
    return subprocess.run([shutil.which("ros2") or "ros2", *args], env=env, text=True,
                          capture_output=True, timeout=timeout_s, check=False)


def answered(answers: list) -> list[int]:
    """Capture stamps (ns) of the answers, in arrival order."""
    return [a.header.stamp.sec * 10**9 + a.header.stamp.nanosec for a in answers]


def underlay() -> Path:
    """The underlay's setup script: the venv's (PyPI wheels) or the sourced distribution's."""
    venv = Path(sys.prefix) / "local_setup.sh"
    if venv.is_file():
        return venv
    distro = Path("/opt/ros") / os.environ.get("ROS_DISTRO", "none") / "setup.sh"
    if distro.is_file():
        return distro
    pytest.skip("no ROS underlay: neither a bootstrapped venv nor a sourced distribution")


def clean_shell(script: str, *, cwd: Path, timeout_s: float, **env: str
                ) -> subprocess.CompletedProcess:
    """Run ``script`` with bash in a fresh login-like environment (no workspace sourced; the
    underlay's setup script is the caller's first line), loopback discovery, and ``env``."""
    base = {key: os.environ[key] for key in ("HOME", "LANG", "TMPDIR")
            if key in os.environ}
    base.update(PATH="/usr/local/bin:/usr/bin:/bin", ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
                **env)
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(["bash", "-c", script], cwd=cwd, env=base, text=True,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            kill_session(proc.pid)
            proc.wait()
            log.write(f"\n[killed after {timeout_s:.0f} s]")
        finally:
            kill_session(proc.pid)  # anything the script left running
        log.seek(0)
        return subprocess.CompletedProcess(proc.args, proc.returncode, log.read(), "")


def kill_session(session: int) -> None:
    """SIGKILL every process of a session (Linux /proc): the script's jobs have process
    groups of their own under ``set -m``, so killing its group would miss them."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:  # after "(comm)": state, ppid, pgrp, session
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)


def copy_checkout(destination: Path) -> Path:
    """The checkout's files (tracked and not ignored: no venv, build or install) copied to
    ``destination``, as a ``git clone`` of the working tree would have them."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"],
                            cwd=WORKSPACE, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = WORKSPACE / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination
