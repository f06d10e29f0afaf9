import numpy as np
import pytest

# Random tests must pass for any seed (scikit-learn's global_random_seed contract).
SEEDS = [0, 1, 42]


@pytest.fixture(params=SEEDS)
def seed(request):
    return request.param


@pytest.fixture
def rng(seed):
    return np.random.default_rng(seed)
