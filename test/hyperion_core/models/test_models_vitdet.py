"""detectron2 ViTDet backend: importable without detectron2; math checked with torch alone."""

import importlib.util

import numpy as np
import pytest

from hyperion_core.models import vitdet

HAS_DETECTRON2 = importlib.util.find_spec("detectron2") is not None


def test_module_imports_without_detectron2_and_says_why():
    assert "Python 3.11" in vitdet.UNAVAILABLE
    if not HAS_DETECTRON2:
        with pytest.raises(ImportError, match="detectron2"):
            vitdet.VitDetDetector(config=vitdet.VitDetConfig())


def _cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


@pytest.mark.parametrize("device", ["cpu", "cuda"] if _cuda_available() else ["cpu"])
def test_chunked_column_sums_match_full_softmax(device):
    torch = pytest.importorskip("torch", reason="torch is optional (pip install torch==2.13.0)")
    gen = torch.Generator().manual_seed(0)
    heads, tokens, dim = 3, 20, 8
    q = torch.randn(heads, tokens, dim, generator=gen).to(device)
    k = torch.randn(heads, tokens, dim, generator=gen).to(device)
    bias_full = torch.randn(heads, tokens, tokens, generator=gen).to(device)
    scale = dim**-0.5
    expected = ((q * scale) @ k.transpose(-2, -1) + bias_full).softmax(-1).sum(dim=(0, 1))
    got = vitdet.attention_column_sums(
        q, k, scale=scale, chunk=7, bias=lambda a, b: bias_full[:, a:b]
    )
    assert got.device == q.device
    np.testing.assert_allclose(got.cpu().numpy(), expected.double().cpu().numpy(), rtol=1e-5)
    assert got.sum().item() == pytest.approx(heads * tokens, rel=1e-6)


@pytest.mark.skipif(not HAS_DETECTRON2, reason=vitdet.UNAVAILABLE)
def test_tiny_vitdet_detections_and_importance():
    config = vitdet.VitDetConfig(
        detector=vitdet.DetectorConfig(input_size=(256, 256), score_threshold=0.0),
        embed_dim=64,
        depth=4,
        num_heads=2,
        global_blocks=(1, 3),
    )
    detector = vitdet.VitDetDetector(config=config)
    image = np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    found, importance = detector.predict_with_importance(image)
    assert importance.shape == (16, 16) and np.isfinite(importance).all()
    assert found.boxes.shape[1] == 4
    assert (found.boxes[:, 2] <= 300).all() and (found.boxes[:, 3] <= 200).all()
