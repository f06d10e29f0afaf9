"""Small calls on a shared machine: each call's p99 against its median, while another
process keeps one core busy, under default settings.  Calls are repeated with a pause
between them (as an application's requests arrive).  Rows: "crmjit" is the p99, the peers
are the median ("crmjit median": the ratio must stay >= 0.5, p99 within 2x the median)
and the same call in one thread ("crmjit 1 thread" p99).  Also scikit-learn's
GridSearchCV(n_jobs=2) over crmjit's LogisticRegression against over its own.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import crmjit

ROUNDS = {"quick": 60, "full": 200}
PAUSE = 0.01


@pytest.fixture(scope="module")
def busy_core():
    """Another process spinning on one core for the module's duration (bounded: it stops
    by itself after 20 minutes)."""
    spin = subprocess.Popen([sys.executable, "-c",
                             "import time\nend = time.time() + 1200\n"
                             "while time.time() < end: pass"])
    time.sleep(0.2)
    yield
    spin.kill()
    spin.wait()


def _calls():
    rng = np.random.default_rng(0)
    X5 = rng.standard_normal((5000, 5))
    y5 = (rng.random(5000) < 1 / (1 + np.exp(-X5 @ rng.standard_normal(5)))).astype(int)
    X10 = rng.standard_normal((10_000, 16))
    w = rng.standard_normal(16)
    log = pd.DataFrame({"id": rng.integers(0, 5000, 70_000),
                        "date": pd.Timestamp("2024-01-01")
                        + pd.to_timedelta(rng.integers(0, 365, 70_000), unit="D"),
                        "amount": rng.gamma(2, 20, 70_000)})
    return {"fit 5k x 5": lambda: crmjit.LogisticRegression().fit(X5, y5),
            "rfm_summary 70k": lambda: crmjit.rfm_summary(log, "id", "date", "amount"),
            "predict_proba 10k x 16": lambda: crmjit.predict_proba(X10, w, 0.1)}


def _times(call, rounds):
    call()
    out = []
    for _ in range(rounds):
        time.sleep(PAUSE)
        t0 = time.perf_counter()
        call()
        out.append(time.perf_counter() - t0)
    return np.array(out)


@pytest.mark.parametrize("name", list(_calls()))
def test_small_call_tail(benchmark, busy_core, request, name):
    import numba
    from conftest import MACHINE
    rounds = ROUNDS["quick" if request.config.getoption("--quick") else "full"]
    call = _calls()[name]
    t = _times(call, rounds)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        one = _times(call, rounds)
    finally:
        numba.set_num_threads(threads)
    p99, med = float(np.quantile(t, 0.99)), float(np.median(t))
    benchmark.group = f"p99 {name}"
    benchmark.extra_info.update(work=f"p99 latency, a core busy: {name}", impl="crmjit",
                                size=rounds, items=1, seconds=p99, **MACHINE,
                                peers={"crmjit median": med,
                                       "crmjit 1 thread p99": float(np.quantile(one, 0.99))})
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    assert p99 >= med > 0


def test_grid_search(benchmark, busy_core):
    from conftest import MACHINE
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    rng = np.random.default_rng(1)
    X = rng.standard_normal((5000, 5))
    y = (rng.random(5000) < 1 / (1 + np.exp(-X @ rng.standard_normal(5)))).astype(int)
    grid = {"C": [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0]}

    def search(est):
        t0 = time.perf_counter()
        GridSearchCV(est, grid, cv=3, n_jobs=2).fit(X, y)
        return time.perf_counter() - t0
    search(crmjit.LogisticRegression())  # start the workers, load the kernels
    search(LogisticRegression())
    ours = min(search(crmjit.LogisticRegression()) for _ in range(3))
    peer = min(search(LogisticRegression()) for _ in range(3))
    benchmark.group = "grid search"
    benchmark.extra_info.update(work="GridSearchCV(n_jobs=2), 30 fits of 5k x 5, a core busy",
                                impl="crmjit", size=5000, items=30, seconds=ours,
                                peers={"sklearn": peer}, **MACHINE)
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    assert ours > 0 and peer > 0
