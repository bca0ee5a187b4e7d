"""Installing converted models from a package tarball: integrity pinning, selective
extraction, sidecars, the no-op re-run, and locating models at run time."""

import io
import json
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import onnx
import pytest

from hyperion_core.models.tfjs import install as installer
from hyperion_core.models.tfjs import store
from hyperion_core.models.tfjs.install import InstallError, extract_members, install, integrity_of
from hyperion_core.models.tfjs.store import ModelSource, is_current, locate_model, sidecar_path

from .tinymodel import TinyModel, run_onnx

SOURCES = {
    "tiny": ModelSource(
        name="tiny",
        model_json="package/models/tiny.json",
        shards=("package/models/tiny.group1-shard1of1.bin",),
        upstream="test model, no licence",
    )
}


@pytest.fixture
def tarball(tmp_path):
    """A package tarball holding a one-conv model, a file nobody needs, and a symlink."""
    rng = np.random.default_rng(7)
    tiny = TinyModel(tmp_path / "src")
    tiny.placeholder("x", (1, 4, 4, 2))
    tiny.const("w", rng.standard_normal((3, 3, 2, 3)).astype(np.float32), quantize="float16")
    tiny.op("Conv2D", "y", ["x", "w"], padding="SAME", strides=[1, 1, 1, 1])
    tiny.output("y")
    tiny.write(name="tiny.json")
    path = tmp_path / "package.tgz"
    with tarfile.open(path, "w:gz") as archive:
        for file in sorted((tmp_path / "src").iterdir()):
            archive.add(file, arcname=f"package/models/{file.name}")
        extra = b"not needed"
        info = tarfile.TarInfo("package/README.md")
        info.size = len(extra)
        archive.addfile(info, io.BytesIO(extra))
        link = tarfile.TarInfo("package/models/link.bin")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        archive.addfile(link)
    return path


def _no_npm(destination, spec=""):
    raise AssertionError("npm must not run")


def test_install_writes_model_and_sidecar(tmp_path, tarball, monkeypatch):
    monkeypatch.setattr(installer, "npm_pack", _no_npm)
    target = tmp_path / "models"
    integrity = integrity_of(tarball)
    (onnx_path,) = install(
        target, tarball=tarball, integrity=integrity, sources=SOURCES, log=lambda m: None
    )
    assert onnx_path == target / "tiny.onnx"
    model = onnx.load(onnx_path)
    x = np.ones((1, 4, 4, 2), np.float32)
    assert run_onnx(model, {"x:0": x})["y:0"].shape == (1, 4, 4, 3)
    record = json.loads(sidecar_path(onnx_path).read_text())
    assert record["source"] == {
        "package": store.PACKAGE,
        "version": store.VERSION,
        "integrity": integrity,
        "members": list(SOURCES["tiny"].members),
    }
    assert record["licence"] == {"package": "MIT", "upstream": "test model, no licence"}
    assert record["converter"]["fingerprint"] == store.converter_fingerprint()
    assert record["inputs"] == [{"name": "x:0", "dtype": "float32", "shape": [1, 4, 4, 2]}]
    assert record["outputs"] == [{"name": "y:0", "dtype": "float32", "shape": [1, 4, 4, 3]}]
    assert sorted(p.name for p in target.iterdir()) == ["tiny.onnx", "tiny.onnx.json"]


def test_rerun_is_a_cheap_noop(tmp_path, tarball, monkeypatch):
    target = tmp_path / "models"
    integrity = integrity_of(tarball)
    install(target, tarball=tarball, integrity=integrity, sources=SOURCES, log=lambda m: None)
    stamp = (target / "tiny.onnx").stat().st_mtime_ns
    monkeypatch.setattr(installer, "npm_pack", _no_npm)
    messages = []
    start = time.perf_counter()
    install(target, integrity=integrity, sources=SOURCES, log=messages.append)
    assert time.perf_counter() - start < 0.5
    assert messages == [f"models up to date in {target}"]
    assert (target / "tiny.onnx").stat().st_mtime_ns == stamp


def test_changed_converter_or_damaged_model_reinstalls(tmp_path, tarball, monkeypatch):
    target = tmp_path / "models"
    integrity = integrity_of(tarball)
    install(target, tarball=tarball, integrity=integrity, sources=SOURCES, log=lambda m: None)
    assert is_current("tiny", target, integrity=integrity)
    assert not is_current("tiny", target)  # made from another tarball than the pinned one
    assert not is_current("tiny", target, "0" * 64, integrity)  # another converter
    with (target / "tiny.onnx").open("ab") as stream:
        stream.write(b"\0")
    assert not is_current("tiny", target, integrity=integrity)
    install(target, tarball=tarball, integrity=integrity, sources=SOURCES, log=lambda m: None)
    assert is_current("tiny", target, integrity=integrity)


def test_integrity_mismatch_refused(tmp_path, tarball):
    target = tmp_path / "models"
    with pytest.raises(InstallError) as raised:
        install(target, tarball=tarball, sources=SOURCES, log=lambda m: None)
    message = str(raised.value)
    assert str(tarball) in message and store.INTEGRITY in message and "refusing" in message
    assert not (target / "tiny.onnx").exists()


def test_cli_reports_errors_without_traceback(tmp_path, tarball, capsys):
    code = installer.main(["--dir", str(tmp_path / "m"), "--tarball", str(tarball)])
    assert code == 1
    assert "does not match the pinned" in capsys.readouterr().err


def test_extracts_only_requested_regular_files(tmp_path, tarball):
    out = tmp_path / "out"
    extract_members(tarball, list(SOURCES["tiny"].members), out)
    found = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert found == sorted(SOURCES["tiny"].members)
    with pytest.raises(InstallError, match="not a regular file"):
        extract_members(tarball, ["package/models/link.bin"], tmp_path / "x")
    with pytest.raises(InstallError, match=r"no member package/models/absent\.json"):
        extract_members(tarball, ["package/models/absent.json"], tmp_path / "x")


def test_npm_missing_is_explained(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InstallError, match=r"npm not found.*--tarball"):
        installer.npm_pack(tmp_path)


def test_locate_model(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPERION_MODEL_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError) as raised:
        locate_model("nanodet")
    message = str(raised.value)
    assert str(tmp_path / "nanodet.onnx") in message
    assert f"{sys.executable} -m hyperion_core.models.tfjs.install --dir {tmp_path}" in message
    (tmp_path / "nanodet.onnx").write_bytes(b"x")
    assert locate_model("nanodet") == tmp_path / "nanodet.onnx"
    with pytest.raises(ValueError, match="unknown model 'yolo'"):
        locate_model("yolo")


def test_default_model_dir_is_in_the_environment(monkeypatch):
    monkeypatch.delenv("HYPERION_MODEL_DIR", raising=False)
    assert store.model_dir() == Path(sys.prefix) / "share" / "hyperion" / "models"
