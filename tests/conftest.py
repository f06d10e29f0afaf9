import os
import subprocess
import sys

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


@pytest.fixture
def rows_close():
    """Compare likelihood-pass accumulator rows (value, k gradients, upper Hessian) with
    a twin's, whose derivatives are central differences."""
    from numpy.testing import assert_allclose

    def check_rows(kernel_rows, twin_rows, k):
        for got, want in zip(kernel_rows, twin_rows):
            n_h = k * (k + 1) // 2
            assert got[0] == pytest.approx(want[0], rel=1e-11)
            assert_allclose(got[1:1 + k], want[1:1 + k], rtol=1e-6, atol=1e-6 * abs(want[0]))
            assert_allclose(got[1 + k:1 + k + n_h], want[1 + k:], rtol=1e-3,
                            atol=1e-5 * np.max(np.abs(want[1 + k:])) + 1e-7 * abs(want[0]))
    return check_rows


@pytest.fixture(scope="session")
def cdnow():
    """lifetimes' CDNOW sample summary: frequency, recency, T (weeks), monetary_value."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value
        return load_cdnow_summary_data_with_monetary_value()


@pytest.fixture
def run_python():
    """Run Python code in a fresh interpreter, its environment updated with ``env``;
    asserts it exited 0 (unless ``check=False``) and returns the CompletedProcess."""
    def run(code, env, check=True):
        done = subprocess.run([sys.executable, "-W", "always", "-c", code],
                              env={**os.environ, **env}, capture_output=True, text=True,
                              timeout=600)
        if check:
            assert done.returncode == 0, done.stderr[-3000:]
        return done
    return run
