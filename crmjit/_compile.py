"""Compiling ahead of time: every kernel signature the public API uses, compiled into the
cache (``crmjit.kernels._jit.cache_dir()``) by calling each public function on tiny data,
in float64 and float32 where both are accepted.  ``crmjit compile`` runs it, for Docker
images and CI caches; ``crmjit demo`` runs it before timing anything.  And the helper
process a first fit starts to compile part of its kernels on another core (the end of this
module)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import warnings

import numpy as np


def _propensity(dtype):
    import crmjit
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 3)).astype(dtype)
    y = (rng.random(600) < 0.4).astype(np.int64)
    groups = np.repeat(np.arange(3), 200)
    m = crmjit.LogisticRegression().fit(X, y)
    crmjit.LogisticRegression().fit(X, y, sample_weight=rng.uniform(0.5, 2, 600))
    m.predict_proba(X)
    crmjit.decision_function(X, m.coef_[0], m.intercept_[0])
    b = crmjit.BatchedLogisticRegression().fit(X, y, groups)
    crmjit.BatchedLogisticRegression().fit(X, y, rng.permutation(groups),
                                           sample_weight=np.ones(600))
    b.predict_proba(X, groups)
    b.decision_function(X, groups)
    named = groups.astype(str)
    crmjit.BatchedLogisticRegression().fit(X, y, named).predict_proba(X, named)
    # the label and segment dtypes of crmjit.data_gen.make_customers
    crmjit.LogisticRegression().fit(X, y.astype(np.int8))
    g32 = rng.permutation(groups).astype(np.int32)  # not grouped: the counting sort
    crmjit.BatchedLogisticRegression().fit(X, y, g32).predict_proba(X, g32)
    wide = rng.standard_normal((40, 200)).astype(dtype)  # Newton-CG: more features than rows
    yw = np.arange(40) % 2
    crmjit.LogisticRegression().fit(wide, yw)
    crmjit.LogisticRegression().fit(wide, yw, sample_weight=np.ones(40))
    crmjit.BatchedLogisticRegression().fit(wide, yw, np.arange(40) // 20)


def _value():
    import crmjit
    from crmjit.data_gen import make_customers
    for dtype in (np.float64, np.float32):
        c = make_customers(64, n_features=2, n_segments=2, seed=1, dtype=dtype)
        v = crmjit.clv(c.cash_flows, c.rate, c.lifespan)
        crmjit.clv(c.cash_flows, 0.01)
        crmjit.clv(c.cash_flows[:, 0], c.rate, c.lifespan)
        crmjit.channel_summary(c.channel, v, c.spend + 1, c.new_customers + 1)
    crmjit.cac(np.array([100.0]), np.array([4.0]))
    crmjit.conversion_rate(np.array([2.0]), np.array([40.0]))


def _btyd_fits():
    """The likelihood passes of BG/NBD (and MBG/NBD), Gamma-Gamma and Pareto/NBD, with one
    weight (a float reaches the kernels) or one a customer, with and without segments."""
    import crmjit
    from crmjit.data_gen import make_rfm
    rfm = make_rfm(400, seed=1)
    f, r, T, m = rfm.frequency, rfm.recency, rfm["T"], rfm.monetary_value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for g in (None, np.arange(len(rfm)) % 2):
            for w in (None, np.ones(len(rfm))):
                crmjit.BetaGeoModel(max_iter=3).fit(f, r, T, weights=w, groups=g)
                crmjit.GammaGammaModel(max_iter=3).fit(f, m, weights=w, groups=g)
                crmjit.ParetoNBDModel(max_iter=3).fit(f, r, T, weights=w, groups=g)


def _btyd():
    import crmjit
    from crmjit.data_gen import make_rfm, make_transactions
    log, _ = make_transactions(40, seed=1)
    crmjit.rfm_summary(log, "customer_id", "date", "amount")
    crmjit.rfm_summary(log, "customer_id", "date")
    _btyd_fits()
    rfm = make_rfm(400, seed=1)
    f, r, T, m = rfm.frequency, rfm.recency, rfm["T"], rfm.monetary_value
    groups = np.arange(len(rfm)) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for g in (None, groups):
            labels = None if g is None else np.unique(g)  # valid models for the predictions
            rows = 1 if g is None else labels.shape[0]
            bg = crmjit.BetaGeoModel.from_params([[0.243, 30.9, 0.793, 2.426]] * rows, labels)
            gg = crmjit.GammaGammaModel.from_params([[6.25, 3.74, 15.4]] * rows, labels)
            bg.p_alive(f, r, T, groups=g)
            bg.expected_purchases(30, f, r, T, groups=g)
            gg.expected_average_value(f, m, groups=g)
            crmjit.customer_lifetime_value(bg, gg, f, r, T, m, groups=g)
            bg.expected_purchases_new_customer(30, groups=None if g is None else 0)
            crmjit.ShiftedBetaGeoModel(max_iter=3).fit([1, 2, 3, 3], [1, 1, 0, 1],
                                                       groups=None if g is None else
                                                       [0, 1, 0, 1])


def _btyd_models():
    import crmjit
    from crmjit.data_gen import make_rfm
    rfm = make_rfm(400, seed=1)
    f, r, T, m = rfm.frequency, rfm.recency, rfm["T"], rfm.monetary_value
    gg = crmjit.GammaGammaModel.from_params([6.25, 3.74, 15.4])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the Pareto/NBD fits: in _btyd_fits
        pm = crmjit.ParetoNBDModel.from_params([0.55, 10.6, 0.61, 11.7])
        pm.p_alive(f, r, T)
        pm.expected_purchases(30, f, r, T)
        crmjit.customer_lifetime_value(pm, gg, f, r, T, m)
        bb = crmjit.BetaGeoBetaBinomModel(max_iter=3).fit([0, 1, 2], [0, 2, 4], [6, 6, 6])
        bb.expected_purchases(5, [0, 1, 2], [0, 2, 4], [6, 6, 6])
    # MBG/NBD runs BG/NBD's kernels (a shift argument): nothing more to compile


def _metrics():
    from crmjit import metrics
    rng = np.random.default_rng(0)
    y = (np.arange(3000) % 3 == 0).astype(np.int64)
    groups = np.arange(3000) % 2
    for dtype in (np.float64, np.float32):
        p = rng.random(3000).astype(dtype)
        p[:1500] = 0.5  # a bucket too large to tally pairwise: the sort
        metrics.roc_auc_score(y, p, groups=groups)
        metrics.gains_table(y, p, sample_weight=np.ones(3000))
        metrics.log_loss(y, p, groups=groups)
        metrics.calibration_curve(y, p, strategy="quantile", groups=groups)


def _generators():
    from crmjit.data_gen import customer_chunks, make_customers
    make_customers(50, n_features=2, dtype=np.float32)
    next(iter(customer_chunks(50, n_features=2, chunk_rows=50)))


def _parquet():
    try:
        import pyarrow  # noqa: F401
    except ImportError:  # the parquet extra is not installed: nothing of it to compile
        return
    import pathlib
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    import crmjit
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 2))
    y = (rng.random(200) < 0.5).astype(np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        m = crmjit.LogisticRegression().fit(X, y)
        for dtype in (np.float64, np.float32):
            src = tmp / f"in-{np.dtype(dtype).name}.parquet"
            pq.write_table(pa.table({"a": X[:, 0].astype(dtype), "b": X[:, 1].astype(dtype)}),
                           src)
            crmjit.score_parquet(src, m, tmp / "out.parquet", features=["a", "b"],
                                 progress=False)


STEPS = (("propensity float64", lambda: _propensity(np.float64)),
         ("evaluation metrics", _metrics),
         ("CLV and channel value", _value),
         ("synthetic data", _generators),
         ("Parquet scoring", _parquet),
         ("Pareto/NBD predictions, BG/BB", _btyd_models),
         ("propensity float32", lambda: _propensity(np.float32)),
         ("RFM, BG/NBD, Gamma-Gamma, Pareto/NBD fits, CLV", _btyd))


def helper(module, function):
    """Start ``python -c "from MODULE import FUNCTION; FUNCTION()"``, a helper process that
    compiles kernels into the shared cache while this process compiles others (numba
    compiles one function at a time per process: a second process uses the second core).
    None where it would not help: no cache, no writable cache folder, one core, no Python
    executable, or ``CRMJIT_COMPILE_HELPER=0`` (which every helper runs with: a helper
    starts no helper of its own)."""
    import sys

    from .kernels._jit import CACHE, cache_dir
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if (not CACHE or (cores or 1) < 2 or not sys.executable
            or os.environ.get("CRMJIT_COMPILE_HELPER", "") not in ("", "1")):
        return None
    try:
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            return None
        return subprocess.Popen([sys.executable, "-c",
                                 f"from {module} import {function}; {function}()"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "CRMJIT_COMPILE_HELPER": "0"})
    except OSError:  # no folder to write, or no process to start: compile here alone
        return None


def helper_steps():
    """The helper's side of ``compile_all``: every step, last first."""
    for _, step in STEPS[::-1]:
        step()


def compile_all(progress=True, out=None):
    """Run every step (each compiles its kernels, or loads them from the cache); returns
    the seconds each took, by step name.  A helper process takes the same steps last
    first (``helper_steps``), so the two meet in the middle, and each loads what the other
    compiled: no split to keep balanced by hand."""
    from ._progress import progress_bar
    no_first_call_helper()
    background = helper("crmjit._compile", "helper_steps")
    seconds = {}
    try:
        with progress_bar(total=len(STEPS), enabled=progress, desc="compile",
                          unit="step") as bar:
            for name, step in STEPS:
                t0 = time.perf_counter()
                step()
                seconds[name] = time.perf_counter() - t0
                bar.update(1)
    finally:
        if background is not None:
            background.wait()
    return seconds


# ------------------------------------------------------------------ first-call helpers
# A first fit in a fresh environment starts a helper process that compiles, into the
# cache, kernels whose signatures do not depend on the data (the float64 block terms,
# the merge of chunk sums, the Newton solver's), while this process compiles the rest; it
# loads those from the cache when it reaches them.  One helper a process, the first
# asked for.  Cold first calls on 2 cores, without -> with (``bench/coldstart.py``, run
# one after the other): LogisticRegression.fit 6.80 -> 3.87 s,
# BatchedLogisticRegression.fit 7.35 -> 5.36 s, ParetoNBDModel.fit 5.51 -> 3.91 s,
# BetaGeoModel.fit 3.51 -> 2.72 s.  Timing never changes a result: a kernel the helper
# has not written yet is compiled here, and the two compile the same code.  A warm-up
# that no longer matches its fit's signatures only costs time (and fails
# ``tests/test_cache.py::test_a_first_call_helper_compiles_what_the_fit_uses``).

_helper = None  # the helper process: None not decided yet, False none (or done)
_helper_lock = threading.Lock()


def _cold(kernel) -> bool:
    """Whether ``kernel`` is neither compiled in this process nor in the cache (False
    where the cache's index cannot be located: no cache, or a numba laid out otherwise)."""
    cached = getattr(getattr(kernel, "_cache", None), "_cache_file", None)
    index = getattr(cached, "_index_path", None)
    return not kernel.signatures and index is not None and not os.path.exists(index)


def first_call_helper(name, kernel):
    """Start the helper running ``crmjit._compile.NAME()`` when ``kernel`` is cold and no
    helper was started in this process (see ``helper`` for when none starts)."""
    global _helper
    with _helper_lock:
        if _helper is None:
            _helper = (_cold(kernel) and helper("crmjit._compile", name)) or False


def no_first_call_helper():
    """For work that splits its compiling with a helper of its own (``compile_all``, the
    demo): a first-call helper too would only compete with both for the two cores."""
    global _helper
    with _helper_lock:
        _helper = False


def await_helper():
    """Wait (a minute at most) for a running helper; from then on this process compiles
    anything the cache lacks itself."""
    global _helper
    with _helper_lock:
        running, _helper = _helper, False
    if running:
        try:
            running.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass


def _warm_blocks():
    """The per-block loss terms and Hessian of every logistic fit (float64 blocks)."""
    from .kernels.logloss import _hess_upper, _row_terms
    b = np.zeros(8)
    _row_terms(b, b, b, 8, np.zeros(8), np.zeros(8), np.zeros(8))
    _hess_upper(np.zeros((3, 8)), b, 8, np.zeros((4, 8)), np.zeros((3, 3)))


def warm_solver():
    """A first probabilistic-CLV fit's: the Newton solver's kernels (directions,
    acceptance, stopping rule)."""
    from ._newton import _Quadratic, minimize
    minimize(_Quadratic(), np.zeros((2, 3)), 1e-8, 10)


def warm_logistic():
    """``LogisticRegression.fit``'s: block terms, the merge of chunk sums, the solver."""
    from ._newton import _slots
    from .kernels.passes import _merge_parts
    _warm_blocks()
    _merge_parts(*_slots(2, 3), np.zeros((1, 3))[0], np.zeros((1, 3, 3))[0])
    warm_solver()


def warm_batched():
    """``BatchedLogisticRegression.fit``'s: block terms and the per-segment Newton rules."""
    from .kernels.newton import _accept, _converged, _lagged, _newton_direction
    _warm_blocks()
    g = np.zeros(3)
    _newton_direction(g, np.eye(3), 3, np.zeros(3), np.zeros((6, 3)))
    _accept(1.0, 1.0, g, g, g, 1.0)
    _converged(g, g, 1e-8)
    _lagged(g, g, 1.0, 1e-2)
