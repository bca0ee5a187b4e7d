import numpy as np
import pytest

from hyperion_core.fuse.boxes import Detections, nms, overlapping_pairs, pairwise_iou
from hyperion_core.fuse.ensemble import EnsembleConfig, Unmatched, ensemble, match_boxes


def _det(boxes, scores, labels):
    return Detections(
        boxes=np.array(boxes, float).reshape(-1, 4),
        scores=np.array(scores, float),
        labels=np.array(labels, int),
    )


def _reference_nms(boxes, scores, labels, thr):
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    kept = []
    for i in order:
        ok = True
        for k in kept:
            if labels[k] != labels[i]:
                continue
            x1, y1 = max(boxes[i][0], boxes[k][0]), max(boxes[i][1], boxes[k][1])
            x2, y2 = min(boxes[i][2], boxes[k][2]), min(boxes[i][3], boxes[k][3])
            inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
            area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
            union = area(boxes[i]) + area(boxes[k]) - inter
            if union > 0 and inter / union > thr:
                ok = False
                break
        if ok:
            kept.append(i)
    return kept


@pytest.mark.parametrize("seed", range(5))
def test_nms_matches_bruteforce(seed):
    rng = np.random.default_rng(seed)
    n = 300
    xy = rng.uniform(0, 400, (n, 2))
    boxes = np.hstack([xy, xy + rng.uniform(5, 80, (n, 2))])
    scores = rng.random(n).round(2)  # ties on purpose
    labels = rng.integers(0, 3, n)
    kept = nms(boxes, scores, labels, 0.4)
    assert kept.tolist() == _reference_nms(boxes.tolist(), scores.tolist(), labels.tolist(), 0.4)
    assert nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0), 0.5).size == 0


def test_nms_long_suppression_chain_matches_bruteforce():
    # Each box overlaps the next by IoU 0.6 in score order: greedy NMS must alternate
    # keep/suppress along the whole chain, far beyond the vectorised rounds.
    n = 120
    x = np.arange(n) * 5.0
    boxes = np.stack([x, np.zeros(n), x + 20, np.full(n, 40.0)], axis=1)
    scores = np.linspace(1.0, 0.1, n)
    labels = np.zeros(n, int)
    kept = nms(boxes, scores, labels, 0.5)
    assert kept.tolist() == _reference_nms(boxes.tolist(), scores.tolist(), labels.tolist(), 0.5)
    assert kept.size == n // 2


def test_candidate_pairs_cover_all_overlaps():
    rng = np.random.default_rng(13)
    a = np.hstack([xy := rng.uniform(0, 300, (80, 2)), xy + rng.uniform(1, 90, (80, 2))])
    b = np.hstack([xy := rng.uniform(0, 300, (70, 2)), xy + rng.uniform(1, 90, (70, 2))])
    i, j = overlapping_pairs(a, b)
    found = set(zip(i.tolist(), j.tolist(), strict=False))
    dense = pairwise_iou(a, b)
    assert {(p, q) for p, q in zip(*np.nonzero(dense > 0), strict=False)} <= found


def test_hand_fusion():
    edge = _det(
        [[0, 0, 10, 10], [100, 100, 110, 110], [200, 0, 210, 10]], [0.8, 0.9, 0.2], [1, 1, 1]
    )
    cloud = _det(
        [[1, 1, 11, 11], [100, 100, 110, 110], [300, 0, 310, 10]], [0.6, 0.5, 0.7], [1, 2, 1]
    )
    out = ensemble(edge, cloud, EnsembleConfig(cloud_weight=0.75, match_iou=0.5))
    fused = out.boxes[np.isclose(out.boxes[:, 0], 0.75)]
    np.testing.assert_allclose(fused, [[0.75, 0.75, 10.75, 10.75]])
    assert out.scores[np.isclose(out.boxes[:, 0], 0.75)][0] == pytest.approx(
        0.25 * 0.8 + 0.75 * 0.6
    )
    assert len(out) == 5  # fused + 2 unmatched cloud (one is another class) + 2 unmatched edge
    assert np.all(np.diff(out.scores) <= 0)
    cloud_only = ensemble(edge, cloud, EnsembleConfig(unmatched=Unmatched.CLOUD_ONLY))
    assert len(cloud_only) == 3
    picky = ensemble(edge, cloud, EnsembleConfig(edge_min_score=0.5))
    assert len(picky) == 4
    empty = ensemble(Detections.empty(), Detections.empty())
    assert len(empty) == 0
    with pytest.raises(ValueError):
        ensemble(edge, cloud, EnsembleConfig(cloud_weight=1.5))
    # Weighted box fusion's two-model rule: unmatched boxes keep half their confidence,
    # the fused box its weighted mean.
    wbf = ensemble(edge, cloud, EnsembleConfig(cloud_weight=0.5, unmatched_scale=0.5))
    found = sorted((round(float(b[0]), 2), int(lab), round(float(s), 6))
                   for b, s, lab in zip(wbf.boxes, wbf.scores, wbf.labels, strict=True))
    assert found == [(0.5, 1, 0.7), (100.0, 1, 0.45), (100.0, 2, 0.25), (200.0, 1, 0.1),
                     (300.0, 1, 0.35)]
    with pytest.raises(ValueError):
        ensemble(edge, cloud, EnsembleConfig(unmatched_scale=1.5))


def test_matching_is_greedy_one_to_one():
    edge = _det([[0, 0, 10, 10], [0, 0, 10, 9]], [0.5, 0.5], [0, 0])
    cloud = _det([[0, 0, 10, 9.5]], [0.5], [0])
    e, c = match_boxes(edge, cloud, 0.5)
    iou = pairwise_iou(edge.boxes, cloud.boxes)[:, 0]
    assert e.tolist() == [int(np.argmax(iou))] and c.tolist() == [0]


def _greedy_reference(edge, cloud, min_iou):
    """Brute force: every same-class pair's IoU, taken greedily by descending IoU."""
    pairs = []
    for i, a in enumerate(edge.boxes):
        for j, b in enumerate(cloud.boxes):
            if edge.labels[i] != cloud.labels[j]:
                continue
            w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
            h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
            inter = w * h
            union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
            if union > 0 and inter / union >= min_iou:
                pairs.append((-inter / union, i, j))
    used_e, used_c, matched = set(), set(), set()
    for _, i, j in sorted(pairs):
        if i not in used_e and j not in used_c:
            used_e.add(i)
            used_c.add(j)
            matched.add((i, j))
    return matched


@pytest.mark.parametrize("spread", [2.0, 40.0])  # crowded (many conflicts) and sparse
def test_matching_equals_brute_force_greedy(spread):
    rng = np.random.default_rng(int(spread))

    def jitter(centres, n):
        xy = centres[rng.integers(0, len(centres), n)] + rng.normal(0, spread, (n, 2))
        wh = rng.uniform(10, 30, (n, 2))
        return np.hstack([xy, xy + wh])

    for _ in range(20):
        centres = rng.uniform(0, 200, (30, 2))
        edge = Detections(boxes=jitter(centres, 40), scores=rng.uniform(0, 1, 40),
                          labels=rng.integers(0, 2, 40))
        cloud = Detections(boxes=jitter(centres, 40), scores=rng.uniform(0, 1, 40),
                           labels=rng.integers(0, 2, 40))
        e, c = match_boxes(edge, cloud, 0.3)
        assert set(zip(e.tolist(), c.tolist(), strict=True)) == _greedy_reference(edge, cloud, 0.3)
