"""Remix baseline: profile, non-uniform partitions, optimal planner, simulated method."""

import itertools
from pathlib import Path

import numpy as np
import pytest

from hyperion_core.eval.devices import PAPER
from hyperion_core.eval.models import remix_option, remix_tiling
from hyperion_core.eval.remix import (
    DEFAULT_OPTIONS,
    SIZE_EDGES,
    SKIP,
    QuadGrid,
    RemixMethod,
    RemixProfile,
    build_profile,
    cell_counts,
    expected_found,
    option_passes,
    plan,
    plan_passes,
    profile_jobs,
    recall_by_size,
)
from hyperion_core.eval.timeline import FrameInputs, Settings
from hyperion_core.fuse.boxes import Detections

UHD = (3840, 2160)
S = len(SIZE_EDGES) + 1
N025, N05, N1, C05 = DEFAULT_OPTIONS


def dets(*boxes, labels=None):
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    lab = np.zeros(len(b), np.int64) if labels is None else np.asarray(labels, np.int64)
    return Detections(boxes=b, scores=np.full(len(b), 0.9), labels=lab)


def square(cx, cy, side):
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def profile(objects, recall, *, grid=None, frame_size=UHD):
    grid = grid or QuadGrid()
    return RemixProfile(frame_size=frame_size, grid=grid, size_edges=SIZE_EDGES,
                        objects={"": np.asarray(objects, np.float64)},
                        recall={o: np.asarray(r, np.float64) for o, r in recall.items()},
                        frames=1)


def frame(index=0, size=UHD, source=""):
    return FrameInputs(index=index, path=Path(f"f{index}.npy"), digest=f"d{index}",
                       shape=(size[1], size[0]), raw_classes=np.zeros((1, 1), np.uint8),
                       classes=np.zeros((1, 1), np.uint8), source=source)


#: Recall by size: higher scales find small objects far better.
RECALL = {N025: [0.05, 0.1, 0.3, 0.6, 0.8], N05: [0.2, 0.4, 0.7, 0.8, 0.9],
          N1: [0.6, 0.8, 0.9, 0.9, 0.9], C05: [0.25, 0.45, 0.75, 0.85, 0.9]}


def random_objects(rng, grid=None):
    cols, rows = (grid or QuadGrid()).cells
    return rng.gamma(0.4, 2.0, (S, rows, cols)) * (rng.random((1, rows, cols)) < 0.5)


def assert_tiles_frame(blocks, size):
    area = sum((x1 - x0) * (y1 - y0) for (x0, y0, x1, y1), _ in blocks)
    assert area == size[0] * size[1]
    mask = np.zeros((size[1] // 10, size[0] // 10), int)
    for (x0, y0, x1, y1), _ in blocks:
        mask[y0 // 10:y1 // 10, x0 // 10:x1 // 10] += 1
    assert (mask == 1).all()


def test_option_passes_follow_block_size_and_tiling():
    assert option_passes(SKIP, 3840, 2160) == 0
    cols, rows = remix_tiling("nanodet", 1.0).grid_for(3840, 2160)
    assert option_passes(N1, 3840, 2160) == cols * rows == 45
    assert option_passes(N1, 1280, 1080) > option_passes(N1, 320, 270) == 1
    assert option_passes(N025, 1280, 1080) == 1
    with pytest.raises(ValueError, match="not a Remix option"):
        option_passes("remix-half", 100, 100)


@pytest.mark.parametrize("budget_s", [0.0, 0.05, 0.2, 0.4, 2.0])
def test_plan_partitions_4k_into_at_least_six_blocks(budget_s):
    p = profile(random_objects(np.random.default_rng(1)), RECALL)
    blocks = plan(p, budget_s, PAPER.remix_pass_s)
    assert len(blocks) >= 6
    assert_tiles_frame(blocks, UHD)
    sizes = {(x1 - x0, y1 - y0) for (x0, y0, x1, y1), _ in blocks}
    assert sizes <= {(1280, 1080), (640, 540), (320, 270)}
    assert all(o == SKIP or o in DEFAULT_OPTIONS for _, o in blocks)


def test_plan_respects_budget_and_uses_more_of_a_larger_one():
    rng = np.random.default_rng(2)
    for _ in range(5):
        p = profile(random_objects(rng), RECALL)
        used = []
        for budget_s in (0.0, 0.03, 0.1, 0.25, 0.4, 1.0):
            blocks = plan(p, budget_s, 0.03)
            assert plan_passes(blocks) * 0.03 <= budget_s + 1e-9
            used.append(expected_found(p, blocks))
        assert used[0] == 0.0
        assert all(b >= a - 1e-9 for a, b in itertools.pairwise(used))
        assert used[-1] > used[1] > 0


def brute_force(p, budget, size):
    """Best value over every quadtree partition and option assignment (no DP)."""
    grid, objects = p.grid, p.objects[""]
    xs = np.linspace(0, size[0], grid.cells[0] + 1).round().astype(int)
    ys = np.linspace(0, size[1], grid.cells[1] + 1).round().astype(int)
    names = [SKIP, *p.recall]

    def choices(c0, r0, c1, r1):
        gain = [0.0] + [float(objects[:, r0:r1, c0:c1].sum(axis=(1, 2)) @ p.recall[o])
                        for o in p.recall]
        cost = [option_passes(o, int(xs[c1] - xs[c0]), int(ys[r1] - ys[r0])) for o in names]
        return list(zip(cost, gain, strict=True))

    per_root = []
    for r in range(grid.rows):
        for c in range(grid.columns):
            whole = choices(2 * c, 2 * r, 2 * c + 2, 2 * r + 2)
            quads = [choices(2 * c + dc, 2 * r + dr, 2 * c + dc + 1, 2 * r + dr + 1)
                     for dr in (0, 1) for dc in (0, 1)]
            split = [(sum(k[0] for k in combo), sum(k[1] for k in combo))
                     for combo in itertools.product(*quads)]
            per_root.append(np.array(whole + split))
    best = -1.0
    for combo in itertools.product(*per_root):
        cost = sum(k[0] for k in combo)
        if cost <= budget:
            best = max(best, sum(k[1] for k in combo))
    return best


def test_planner_is_optimal_against_brute_force():
    grid, size = QuadGrid(columns=2, rows=1, depth=1), (1664, 832)
    options = (remix_option("nanodet", 0.5), remix_option("nanodet", 1.0),
               remix_option("centernet", 1.0))
    rng = np.random.default_rng(3)
    for trial in range(6):
        recall = {o: np.sort(rng.random(S)) for o in options}
        p = profile(random_objects(rng, grid), recall, grid=grid, frame_size=size)
        for passes in (0, 1, 2, 3, 5, 8):
            blocks = plan(p, passes * 0.03, 0.03, frame_size=size)
            assert plan_passes(blocks) <= passes
            assert_tiles_frame(blocks, size)
            best = brute_force(p, passes, size)
            assert expected_found(p, blocks, frame_size=size) == pytest.approx(
                best, abs=1e-9), (trial, passes)


def test_denser_regions_get_finer_blocks_and_more_passes():
    objects = np.zeros((S, 8, 12))
    objects[0] = 0.1
    objects[0, 0, 0] = 10.0  # a crowd of small objects in the top-left cell
    p = profile(objects, RECALL)
    blocks = plan(p, 0.4, 0.03)

    def density(block):
        (x0, y0, x1, y1), option = block
        return option_passes(option, x1 - x0, y1 - y0) / ((x1 - x0) * (y1 - y0))

    crowd = next(b for b in blocks if b[0][0] == 0 and b[0][1] == 0)
    assert crowd == ((0, 0, 320, 270), N1)
    others = [b for b in blocks if b is not crowd]
    area = [(x1 - x0) * (y1 - y0) for (x0, y0, x1, y1), _ in others]
    assert min(area) >= 320 * 270 and max(area) > 320 * 270
    assert all(density(crowd) > density(b) for b in others)


def test_empty_regions_are_skipped_when_the_budget_is_tight():
    objects = np.zeros((S, 8, 12))
    objects[2, :, :4] = 1.0  # only the left third of the frame is ever occupied
    p = profile(objects, RECALL)
    for budget_s in (0.06, 2.0):  # nothing to find there: skipped even with room
        blocks = plan(p, budget_s, 0.03)
        ran = [r for r, o in blocks if o != SKIP]
        assert ran and all(x1 <= 1280 for x0, y0, x1, y1 in ran)
        assert [r for r, o in blocks if r[0] >= 1280 and o == SKIP]
    # With a prior on never-occupied cells, room in the budget is spent there, not before.
    with_prior = objects + 0.001
    p = profile(with_prior, RECALL)
    tight = plan(p, 0.06, 0.03)
    roomy = plan(p, 2.0, 0.03)
    assert all(o == SKIP for r, o in tight if r[0] >= 1280)
    assert any(o != SKIP for r, o in roomy if r[0] >= 1280)


def test_ties_prefer_fewer_passes():
    objects = np.zeros((S, 8, 12))
    objects[4, 0, 0] = 1.0
    equal = {N025: [1.0] * S, N1: [1.0] * S}
    blocks = plan(profile(objects, equal), 2.0, 0.03)
    assert plan_passes(blocks) == 1
    assert [o for _, o in blocks if o != SKIP] == [N025]


def test_recall_by_size_on_hand_made_detections():
    ref = dets(square(100, 100, 10), square(300, 100, 20), square(500, 100, 40),
               square(700, 100, 40), labels=[0, 0, 0, 1])
    found = dets(square(100, 100, 10),  # exact: found
                 square(305, 100, 20),  # IoU 0.6: found
                 square(520, 100, 40),  # IoU 1/3: missed
                 square(700, 100, 40),  # same box, other label: missed
                 labels=[0, 0, 0, 0])
    hits, totals = recall_by_size(ref, found, SIZE_EDGES)
    np.testing.assert_array_equal(totals, [1, 1, 2, 0, 0])
    np.testing.assert_array_equal(hits, [1, 1, 0, 0, 0])
    hits, totals = recall_by_size(ref, Detections.empty(), SIZE_EDGES)
    np.testing.assert_array_equal(hits, 0)
    hits, totals = recall_by_size(dets(square(1, 1, 8), (np.nan, 0, 5, 5)), found, SIZE_EDGES)
    np.testing.assert_array_equal(totals, [1, 0, 0, 0, 0])


def test_build_profile_pools_frames_and_fills_empty_bins():
    refs = [dets(square(100, 100, 10), square(500, 100, 40)),
            dets(square(100, 100, 10), square(3700, 2100, 40))]
    found = {N05: [dets(square(100, 100, 10)), dets(square(3700, 2100, 40))],
             N1: [Detections.empty(), Detections.empty()]}
    p = build_profile(refs, found, frame_size=UHD, sources=["a", "b"], prior=0.0)
    # Pooled over frames: bin 0 found 1 of 2, bin 2 found 1 of 2; bins 1, 3, 4 from nearest.
    np.testing.assert_allclose(p.recall[N05], [0.5, 0.5, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(p.recall[N1], 0.0)
    found[N05][0] = dets(square(100, 100, 10), square(500, 100, 40))
    p = build_profile(refs, found, frame_size=UHD, sources=["a", "b"], prior=0.0)
    np.testing.assert_allclose(p.recall[N05], [0.5, 0.5, 1.0, 1.0, 1.0])
    assert p.options == (N05, N1) and p.frames == 2
    # Per-source and pooled distributions: mean objects per frame per cell.
    assert set(p.objects) == {"", "a", "b"}
    assert p.objects["a"][0, 0, 0] == 1.0 and p.objects["a"][2, 0, 1] == 1.0
    assert p.objects["b"][2, 7, 11] == 1.0 and p.objects["b"].sum() == 2.0
    assert p.objects[""][0, 0, 0] == 1.0 and p.objects[""][2, 7, 11] == 0.5
    assert p.objects[""].sum() == pytest.approx(2.0)
    assert p.objects_for("unknown") is p.objects[""]
    with_prior = build_profile(refs, found, frame_size=UHD, sources=["a", "b"], prior=0.05)
    assert with_prior.objects["a"].sum() == pytest.approx(2.0 * 1.05)
    assert with_prior.objects["a"][0, 5, 5] == pytest.approx(0.05 / 96)
    with pytest.raises(ValueError, match="detections for each"):
        build_profile(refs, {N05: [None, None]}, frame_size=UHD)
    with pytest.raises(ValueError, match="calibration frames"):
        build_profile([], {}, frame_size=UHD)


def test_cell_counts_by_centre_and_size():
    grid = QuadGrid()
    det = dets(square(10, 10, 10), square(330, 10, 200), square(3839, 2159, 70),
               (np.nan, 0, 1, 1))
    counts = cell_counts(det, UHD, grid, SIZE_EDGES)
    assert counts.shape == (S, 8, 12) and counts.sum() == 3
    assert counts[0, 0, 0] == 1 and counts[4, 0, 1] == 1 and counts[3, 7, 11] == 1


def test_profile_jobs_run_each_option_on_whole_calibration_frames():
    frames = [frame(0), frame(1)]
    jobs = profile_jobs(frames)
    assert list(jobs) == list(DEFAULT_OPTIONS)
    for option, js in jobs.items():
        assert [j.digest for j in js] == ["d0", "d1"]
        assert all(j.model == option and j.payload.kind == "block" for j in js)
        assert all(j.payload.region == (0, 0, 3840, 2160) for j in js)
    with pytest.raises(ValueError):
        profile_jobs(frames, options=("skip",))


def test_method_outcome_is_a_local_merge_of_block_jobs():
    p = profile(random_objects(np.random.default_rng(4)), RECALL)
    method = RemixMethod(profile=p, settings=Settings(budget_s=0.4), device=PAPER)
    method.start(None, 0.0)
    out = method.step(frame(5), None, 12.0)
    blocks = plan(p, 0.4, PAPER.remix_pass_s)
    ran = [(r, o) for r, o in blocks if o != SKIP]
    assert out.frame == 5 and out.start_s == 12.0 and out.answer == "merge"
    assert out.bytes_sent == 0.0
    assert out.latency_s == pytest.approx(plan_passes(blocks) * PAPER.remix_pass_s)
    assert 0.0 < out.latency_s <= 0.4
    assert [(j.payload.region, j.model) for j in out.jobs] == ran
    assert all(j.payload.kind == "block" and j.digest == "d5" for j in out.jobs)
    starved = RemixMethod(profile=p, settings=Settings(budget_s=0.01), device=PAPER)
    out = starved.step(frame(6), None, 0.0)
    assert out.jobs == [] and out.latency_s == 0.001 and out.answer == "merge"


def test_method_adapts_to_its_own_answers():
    objects = np.zeros((S, 8, 12))
    objects[2, :, :4] = 0.5  # calibration: people on the left only
    p = profile(objects + 1e-4, RECALL)
    moved = dets(*[square(3000 + 40 * i, 1500, 40) for i in range(10)])
    with pytest.raises(ValueError, match="lookup"):
        RemixMethod(profile=p, settings=Settings(budget_s=0.12), device=PAPER, adapt_rate=0.5)
    static = RemixMethod(profile=p, settings=Settings(budget_s=0.12), device=PAPER)
    method = RemixMethod(profile=p, settings=Settings(budget_s=0.12), device=PAPER,
                         adapt_rate=1.0, lookup=lambda job: moved)
    method.start(None, 0.0)
    first = method.step(frame(0), None, 0.0)
    assert all(j.payload.region[2] <= 1280 for j in first.jobs)
    # Its own answer says the people are now on the right, and the left is empty.
    second = method.step(frame(1), None, 0.1)
    assert any(j.payload.region[0] >= 2560 for j in second.jobs)
    assert all(j.payload.region[2] <= 1280 for j in static.step(frame(1), None, 0.1).jobs)
    method.start(None, 0.0)  # a new run forgets what the last one observed
    assert [j.key for j in method.step(frame(0), None, 0.0).jobs] == [
        j.key for j in first.jobs]
    missing = RemixMethod(profile=p, settings=Settings(budget_s=0.12), device=PAPER,
                          adapt_rate=1.0, lookup=lambda job: None)
    missing.step(frame(0), None, 0.0)
    with pytest.raises(KeyError, match="adaptation"):
        missing.step(frame(1), None, 0.1)


def test_plan_rejects_bad_inputs():
    p = profile(np.zeros((S, 8, 12)), RECALL)
    with pytest.raises(ValueError):
        plan(p, 0.4, 0.0)
    with pytest.raises(ValueError):
        plan(p, float("nan"), 0.03)
    with pytest.raises(ValueError, match="shape"):
        plan(p, 0.4, 0.03, objects=np.zeros((S, 2, 3)))
    assert all(o == SKIP for _, o in plan(p, 0.4, 0.03))  # nothing to find: run nothing
