"""The scorer's other maps from the same forward pass: CLS attention and the saliency head."""

import numpy as np
import pytest

from hyperion_core.models.vit_scorer import OnnxVitScorer, VitScorerConfig, attention_graph
from hyperion_core.models.weights import VIT_S14_FOCUS

pytestmark = pytest.mark.models

try:
    MODEL = VIT_S14_FOCUS.locate()
except FileNotFoundError as err:
    pytest.skip(str(err), allow_module_level=True)


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 60, (270, 480, 3), dtype=np.uint8)
    frame[100:180, 200:260] = 230  # one bright block the saliency head should favour
    return frame


def test_extras_come_from_the_same_pass_without_changing_eq2(image):
    grid = (6, 10)
    plain = OnnxVitScorer(config=VitScorerConfig(model_path=MODEL, token_grid=grid))
    both = OnnxVitScorer(config=VitScorerConfig(model_path=MODEL, token_grid=grid,
                                                extras=("cls_attention", "saliency")))
    a, b = plain.score(image), both.score(image)
    np.testing.assert_allclose(b.patch_map, a.patch_map, rtol=1e-6)
    assert set(b.extra_maps) == {"cls_attention", "saliency"} and not a.extra_maps
    cls_map, saliency = b.extra_maps["cls_attention"], b.extra_maps["saliency"]
    assert cls_map.shape == saliency.shape == a.patch_map.shape == (17, 30)
    # The CLS row is a softmax over keys summed over 6 heads: spatial part sums to <= 6,
    # and the area-weighted resampling keeps the grid mean.
    assert (cls_map > 0).all() and cls_map.mean() * grid[0] * grid[1] <= 6 + 1e-6
    assert ((saliency > 0) & (saliency < 1)).all()  # a sigmoid


def test_cls_row_equals_the_full_attention_row(image):
    """In-graph Gather + ReduceSum against the last layer's full attention map."""
    import onnxruntime as ort

    data, names = attention_graph(MODEL, reduce_in_graph=False, extras=("cls_attention",))
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    scorer = OnnxVitScorer(config=VitScorerConfig(model_path=MODEL, token_grid=(4, 6)))
    feeds = {session.get_inputs()[0].name: scorer.preprocess(image[:56, :84])}
    last, cls_row = session.run([names[-2], names[-1]], feeds)
    np.testing.assert_allclose(cls_row[0], last[0, :, 0, :].sum(axis=0), rtol=1e-5)


def test_unknown_extra_is_refused():
    with pytest.raises(ValueError, match="unknown scorer outputs"):
        VitScorerConfig(model_path=MODEL, extras=("objectness",))
