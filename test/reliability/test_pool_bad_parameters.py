"""Bad settings stop the pool's processes at start-up, naming the setting and its range."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from hyperion.session import HYPERION

from .pool_processes import ROUTER_CONFIG


def run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("key", "value", "named"), [
    ("capacity", 0, "capacity must be >= 1"),
    ("slots_per_worker", 0, "slots_per_worker must be >= 1"),
    ("min_service_s", -1.0, "min_service_s must be >= 0"),
    ("default_deadline_s", 0.0, "default_deadline_s must be > 0"),
    ("delay_period_s", 0.0, "delay_period_s must be > 0"),
])
def test_router_refuses_bad_pool_settings(tmp_path, key, value, named):
    settings = yaml.safe_load(ROUTER_CONFIG.read_text())
    settings["pool"][key] = value
    path = tmp_path / "router.yaml"
    path.write_text(yaml.safe_dump(settings))
    done = run(sys.executable, "-m", "hyperion_core.link.pool_router", "--config", str(path))
    assert done.returncode == 2 and named in done.stderr, done.stderr


def test_router_refuses_access_control_without_certificates():
    done = run(sys.executable, "-m", "hyperion_core.link.pool_router", "--config",
               str(ROUTER_CONFIG), "--edges", "cam-1")
    assert done.returncode == 2 and "need tls_ca, tls_cert and tls_key" in done.stderr


@pytest.mark.parametrize("workers", ["-1", "65"])
def test_run_cloud_refuses_a_worker_count_out_of_range(workers):
    done = run(HYPERION, "run", "cloud", "--workers", workers)
    assert done.returncode == 2 and "--workers must be in [0, 64]" in done.stderr


def test_detector_worker_refuses_a_parameter_out_of_range():
    done = run(HYPERION, "run", "cloud", "--workers",
               "1", "-p", "cloud_detector.slice_size:=1", "--router", "tcp/127.0.0.1:1")
    assert done.returncode == 2, done.stderr
    assert "slice_size" in done.stderr and "[32, 8192]" in done.stderr, done.stderr


@pytest.mark.parametrize(("flag", "value"), [("--fps", "0"), ("--frames", "0"),
                                             ("--bytes", "4"), ("--budget-s", "-1")])
def test_simulated_edge_refuses_bad_flags(flag, value):
    done = run(sys.executable, "-m", "hyperion_core.link.pool_edge", "--connect",
               "tcp/127.0.0.1:1", "--name", "x", flag, value)
    assert done.returncode == 2 and flag in done.stderr, done.stderr


@pytest.mark.parametrize("lease", ["0.1", "4000"])
def test_router_refuses_a_lease_out_of_range(tmp_path, lease):
    settings = yaml.safe_load(ROUTER_CONFIG.read_text())
    settings["lease_s"] = float(lease)
    path = tmp_path / "router.yaml"
    path.write_text(yaml.safe_dump(settings))
    for flags in (["--config", str(path)], ["--config", str(ROUTER_CONFIG), "--lease-s", lease]):
        done = run(sys.executable, "-m", "hyperion_core.link.pool_router", *flags)
        assert done.returncode == 2, done.stderr
        assert "lease_s must be in [0.5, 3600.0] s" in done.stderr, done.stderr


def test_workers_refuse_a_lease_out_of_range():
    simulated = run(sys.executable, "-m", "hyperion_core.link.pool_worker", "--connect",
                    "tcp/127.0.0.1:1", "--id", "w", "--lease-s", "0.2")
    detector = run(HYPERION, "run", "cloud", "--workers", "1", "--lease-s", "0",
                   "--router", "tcp/127.0.0.1:1")
    for done in (simulated, detector):
        assert done.returncode == 2, done.stderr
        assert "lease_s must be in [0.5, 3600.0] s" in done.stderr, done.stderr
