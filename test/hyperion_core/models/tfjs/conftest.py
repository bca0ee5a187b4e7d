"""Fixtures of the TF.js importer tests: a tiny-model writer in ``tmp_path``, a seeded RNG."""

import numpy as np
import pytest

from .tinymodel import TinyModel


@pytest.fixture
def tiny(tmp_path):
    return TinyModel(tmp_path)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
