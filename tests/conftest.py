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


@pytest.fixture
def lifetimes_quiet():
    """A context manager for calls into lifetimes (unmaintained since 2020: under pandas 3
    and NumPy 2 it warns about deprecated options, which the test config turns into
    errors).  lifetimes is only ever the yardstick, in tests and benchmarks."""
    import contextlib
    import warnings

    @contextlib.contextmanager
    def quiet():
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            yield
    return quiet
