import numpy as np
import pytest

from hyperion_core.score.importance import ImportanceAccumulator, importance_on_patch_grid


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_matches_eq2_over_layers_heads_queries():
    rng = np.random.default_rng(0)
    layers = [_softmax(rng.normal(size=(3, 13, 13))) for _ in range(2)]  # 1 prefix + 3x4
    acc = ImportanceAccumulator(token_grid=(3, 4), prefix_tokens=1)
    acc.add_attention(layers[0][None])
    acc.add_column_sums(layers[1].sum(axis=(0, 1)), heads=3, queries=13)
    expected = np.stack(layers).mean(axis=(0, 1, 2))[1:].reshape(3, 4)
    assert acc.layers == 2
    np.testing.assert_allclose(acc.token_importance(), expected, rtol=1e-12)


def test_rejects_bad_input():
    acc = ImportanceAccumulator(token_grid=(2, 2))
    with pytest.raises(RuntimeError):
        acc.token_importance()
    with pytest.raises(ValueError):
        acc.add_attention(np.ones((2, 3, 5)))
    with pytest.raises(ValueError):
        acc.add_column_sums(np.array([1.0, np.nan, 1.0, 1.0]), heads=1, queries=1)
    with pytest.raises(ValueError):
        acc.add_attention(np.ones((2, 1, 3, 4)))
    with pytest.raises(ValueError):
        ImportanceAccumulator(token_grid=(0, 2))


def test_patch_grid_area_weighted():
    tokens = np.arange(6, dtype=float).reshape(2, 3)
    up = importance_on_patch_grid(tokens, (4, 6))
    np.testing.assert_allclose(up, np.kron(tokens, np.ones((2, 2))))
    down = importance_on_patch_grid(up, (2, 3))
    np.testing.assert_allclose(down, tokens)
    odd = importance_on_patch_grid(tokens, (3, 5))
    assert odd.mean() == pytest.approx(tokens.mean())
    # Patch (0, 1) spans token rows [0, 2/3] and token columns [0.6, 1.2]:
    # 0.4 of column 0 (value 0) and 0.2 of column 1 (value 1).
    assert odd[0, 1] == pytest.approx((0.4 * 0.0 + 0.2 * 1.0) / 0.6)
    with pytest.raises(ValueError):
        importance_on_patch_grid(np.zeros((0, 3)), (2, 2))
