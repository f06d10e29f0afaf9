"""Evaluation metrics on propensity scores (crmjit.metrics).

Peers, same run, same data: scikit-learn's ``roc_auc_score`` and ``log_loss``; per segment,
``roc_auc_score`` in a Python loop over segments, timed on SAMPLE segments and scaled to
all of them (``scale`` in extra_info); the gains table against crmjit's own AUC on the same
scores (impl "crmjit-auc": the table should cost at most twice the AUC) and against the
pandas recipe users write (``qcut`` on the rank, then ``groupby``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm

from crmjit import metrics

SIZES = {"quick": [100_000], "full": [1_000_000, 10_000_000]}
SEGMENTS = {"quick": (100_000, 100), "full": (10_000_000, 10_000)}  # rows, segments
SAMPLE = 100
_DATA = {}


def data(n, segments=1):
    """Scores of a fitted-looking model (probabilities with a long tail), 0/1 labels drawn
    from them, and segment ids in random order."""
    key = (n, segments)
    if key not in _DATA:
        _DATA.clear()
        rng = np.random.default_rng(0)
        p = 1 / (1 + np.exp(-rng.normal(-2.5, 1.5, n)))
        y = (rng.random(n) < p).astype(np.int8)
        _DATA[key] = p, y, rng.integers(0, segments, n)
    return _DATA[key]


def _mode(config):
    return SEGMENTS["quick" if config.getoption("--quick") else "full"]


@pytest.mark.parametrize("impl", ["crmjit", "sklearn"])
def test_roc_auc(record, n, impl):
    p, y, _ = data(n)
    if impl == "sklearn":
        theirs = record(lambda: skm.roc_auc_score(y, p), work="roc auc", impl=impl, size=n,
                        items=n, rounds=3)
        assert metrics.roc_auc_score(y, p) == pytest.approx(theirs, rel=1e-12)
        return
    record(lambda: metrics.roc_auc_score(y, p), work="roc auc", impl=impl, size=n, items=n)


@pytest.mark.parametrize("impl", ["crmjit", "sklearn"])
def test_log_loss(record, n, impl):
    p, y, _ = data(n)
    f = (lambda: skm.log_loss(y, p)) if impl == "sklearn" else lambda: metrics.log_loss(y, p)
    record(f, work="log loss", impl=impl, size=n, items=n, rounds=3 if impl == "sklearn" else None)


def _pandas_gains(y, p, n_bins=10):
    frame = pd.DataFrame({"y": y, "bin": pd.qcut(pd.Series(-p).rank(method="first"), n_bins,
                                                 labels=False)})
    g = frame.groupby("bin")["y"].agg(["size", "sum"])
    return g.assign(cumulative_gain=g["sum"].cumsum() / g["sum"].sum())


@pytest.mark.parametrize("impl", ["crmjit", "crmjit-auc", "pandas"])
def test_gains_table(record, n, impl):
    p, y, _ = data(n)
    funcs = {"crmjit": lambda: metrics.gains_table(y, p),
             "crmjit-auc": lambda: metrics.roc_auc_score(y, p),
             "pandas": lambda: _pandas_gains(y, p)}
    record(funcs[impl], work="gains table", impl=impl, size=n, items=n,
           rounds=3 if impl == "pandas" else None)


@pytest.mark.parametrize("impl", ["crmjit", "sklearn-loop"])
def test_roc_auc_per_segment(record, request, impl):
    n, segments = _mode(request.config)
    p, y, g = data(n, segments)
    work = f"roc auc per segment ({segments:,} segments)"
    if impl == "crmjit":
        record(lambda: metrics.roc_auc_score(y, p, groups=g, zero_division="nan"), work=work,
               impl=impl, size=n, items=n)
        return
    order = np.argsort(g[g < SAMPLE], kind="stable")
    ps, ys, gs = p[g < SAMPLE][order], y[g < SAMPLE][order], g[g < SAMPLE][order]
    bounds = np.searchsorted(gs, np.arange(SAMPLE + 1))
    parts = [(ys[a:b], ps[a:b]) for a, b in zip(bounds, bounds[1:])]

    def loop():
        return [skm.roc_auc_score(ys_, ps_) for ys_, ps_ in parts if 0 < ys_.sum() < ys_.size]

    record(loop, work=work, impl=impl, size=n, items=int(bounds[-1]), rounds=3)
    request.node.user_properties.append(("scaled_from", SAMPLE))
    request.getfixturevalue("benchmark").extra_info["scale"] = n / int(bounds[-1])
