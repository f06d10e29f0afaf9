"""Batched logistic regression: one model per segment.

Peers, same run: scikit-learn's ``LogisticRegression()`` (defaults) fitted segment by
segment in a Python loop.  The loop is timed on SAMPLE segments and scaled to all of them
(recorded as ``scaled_from`` in extra_info); the report uses the scaled time.  Skew: the
same total rows with Zipf segment sizes (largest ~10 % of rows) as impl "crmjit-zipf".
Scoring: batched (each row under its own segment's model) against single-model scoring of
the same X.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression as SkLogReg

import crmjit
from crmjit.data_gen import make_customers

D = 16
SAMPLE = 200
MODES = {"quick": (400, 250), "full": (10_000, 1_000)}  # segments, rows per segment
_DATA = {}


def data(segments, rows, skew):
    key = (segments, rows, skew)
    if key not in _DATA:
        _DATA.clear()
        _DATA[key] = make_customers(segments * rows, n_features=D, n_segments=segments,
                                    segment_skew=skew, seed=0)
    return _DATA[key]


def _mode(config):
    return MODES["quick" if config.getoption("--quick") else "full"]


@pytest.mark.parametrize("impl", ["crmjit", "crmjit-zipf", "sklearn-loop"])
def test_batched_fit(record, request, impl):
    segments, rows = _mode(request.config)
    c = data(segments, rows, 1.0 if impl == "crmjit-zipf" else 0.0)
    n = segments * rows
    work = f"batched fit ({segments:,} segments)"
    if impl == "sklearn-loop":
        order = np.argsort(c.segment, kind="stable")
        bounds = np.searchsorted(c.segment[order], np.arange(SAMPLE + 1))
        parts = [(c.X[order[a:b]], c.y[order[a:b]]) for a, b in zip(bounds, bounds[1:])]

        def loop():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for X, y in parts:
                    if np.unique(y).size == 2:
                        SkLogReg().fit(X, y)

        sampled_rows = int(bounds[-1])
        record(loop, work=work, impl=impl, size=n, items=sampled_rows, rounds=3)
        request.node.user_properties.append(("scaled_from", SAMPLE))
        request.getfixturevalue("benchmark").extra_info["scale"] = n / sampled_rows
        return
    model = crmjit.BatchedLogisticRegression(invalid="flag")
    fit = lambda: model.fit(c.X, c.y, c.segment)  # noqa: E731
    fit()
    if not model.converged_[model.valid_].all():
        pytest.skip("not every segment converged: not timed")
    record(fit, work=work, impl=impl, size=n, items=n, rounds=5, warmup=False)


@pytest.mark.parametrize("impl", ["crmjit", "single-model"])
def test_batched_score(record, request, impl):
    segments, rows = _mode(request.config)
    c = data(segments, rows, 0.0)
    n = segments * rows
    model = crmjit.BatchedLogisticRegression(invalid="flag", max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=Warning)
        model.fit(c.X, c.y, c.segment)  # rough coefficients are enough to time scoring
    model.valid_[:] = True
    funcs = {
        "crmjit": lambda: model.predict_proba(c.X, c.segment),
        "single-model": lambda: crmjit.predict_proba(c.X, model.coef_[0], model.intercept_[0]),
    }
    record(funcs[impl], work="batched score", impl=impl, size=n, items=n)
