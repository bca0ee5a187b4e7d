"""Cross-fitting folds and run orders."""

from collections import Counter

import pytest

from hyperion_core.eval.crossfit import Fold, cyclic_sequences, fitted_specs, halves
from hyperion_core.eval.frames import FrameSpec


@pytest.mark.parametrize("count", [2, 5, 12])
def test_halves_are_disjoint_cover_every_frame_and_swap(count):
    a, b = halves(count)
    assert set(a.scored) | set(b.scored) == set(range(count))
    assert not set(a.scored) & set(a.fitted) and not set(b.scored) & set(b.fitted)
    assert a.scored == b.fitted and a.fitted == b.scored


def test_a_fold_that_scores_what_it_fitted_is_refused():
    with pytest.raises(ValueError, match="both fitted on and scored"):
        Fold(name="bad", scored=(0, 1), fitted=(1, 2))
    with pytest.raises(ValueError):
        halves(1)


def test_each_run_scores_every_frame_of_its_fold_once_after_the_warm_up():
    frames = (6, 7, 8, 9, 10, 11)
    runs = cyclic_sequences(frames, runs=9, warmup=3)
    for seq in runs:
        assert len(seq) == 9 and Counter(seq[3:]) == Counter(frames)
    assert Counter(seq[0] for seq in runs[:6]) == Counter(frames)  # every frame leads once


def test_fitted_specs_name_one_frame_each():
    specs = (FrameSpec(source="dir", first=0, frames=4, stride=1),
             FrameSpec(source="dir2", first=10, frames=3, stride=5))
    picked = fitted_specs(specs, [1, 5])
    assert [(s.source, s.first, s.frames) for s in picked] == [("dir", 1, 1), ("dir2", 15, 1)]
