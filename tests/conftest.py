import numpy as np
import pandas as pd
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


@pytest.fixture(scope="session")
def cdnow_log():
    """lifetimes' CDNOW master log: 69,659 purchases of 23,570 customers, 1997-01 to
    1998-06 (customer_id, date, number of CDs, dollar_value)."""
    import os
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifetimes warns at import under pandas 3
        import lifetimes
    path = os.path.join(os.path.dirname(lifetimes.__file__), "datasets", "CDNOW_master.txt")
    log = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str})
    log["date"] = pd.to_datetime(log["date"].astype(str), format="%Y%m%d")
    return log
