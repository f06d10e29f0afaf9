"""Pareto/NBD, MBG/NBD and BG/BB against lifetimes' fitters: the fit on one customer
table, predictions for a large one, and per-segment fits in one call against a loop of
lifetimes fits.

lifetimes is slow, so it is timed on a sample (``LIFETIMES_FIT`` customers, the first
``LIFETIMES_SEGMENTS`` segments) and its time scaled linearly to the full size
(``scale`` in extra_info: the report marks those rows "scaled from a sample"); crmjit is
timed on the full size.  Same data, and for predictions the same parameters.
"""

from __future__ import annotations

import contextlib
import os
import warnings

import numpy as np
import pandas as pd
import pytest

import crmjit
from crmjit.data_gen import make_rfm

SIZES = {"quick": [20_000], "full": [100_000]}  # fits
PREDICT = {"quick": 100_000, "full": 1_000_000}
SEGMENTS = {"quick": (100, 500), "full": (1_000, 1_000)}  # segments, customers each
LIFETIMES_FIT = {"pareto": 5_000, "mbgnbd": 20_000, "bgbb": 20_000}
LIFETIMES_PREDICT = 100_000
LIFETIMES_SEGMENTS = 3
PENALTY = 0.01  # per-segment fits (see test_model_fit_per_segment)
BGBB_TRUTH = (1.204, 0.750, 0.657, 2.783)  # Fader, Hardie & Shang's donations fit
PARAMS = {"pareto": [0.55, 10.6, 0.61, 11.7], "mbgnbd": [0.525, 6.18, 0.891, 1.614],
          "bgbb": list(BGBB_TRUTH)}
OURS = {"pareto": "ParetoNBDModel", "mbgnbd": "ModifiedBetaGeoModel",
        "bgbb": "BetaGeoBetaBinomModel"}
THEIRS = {"pareto": "ParetoNBDFitter", "mbgnbd": "ModifiedBetaGeoFitter",
          "bgbb": "BetaGeoBetaBinomFitter"}
MODELS = list(OURS)
_DATA = {}


@contextlib.contextmanager
def quiet():
    """lifetimes warns under pandas 3 / NumPy 2 (the config makes warnings errors)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def bgbb_data(n, seed=0):
    """n donors over 6 to 12 yearly opportunities: each buys with probability p ~
    Beta(alpha, beta) while alive, and after each opportunity drops out with probability
    theta ~ Beta(gamma, delta)."""
    rng = np.random.default_rng(seed)
    a, b, g, d = BGBB_TRUTH
    periods = rng.integers(6, 13, n)
    p, theta = rng.beta(a, b, n), rng.beta(g, d, n)
    alive = np.ones(n, dtype=bool)
    x, tx = np.zeros(n), np.zeros(n)
    for t in range(1, 13):
        buy = alive & (t <= periods) & (rng.random(n) < p)
        x += buy
        tx[buy] = t
        alive &= rng.random(n) >= theta
    return pd.DataFrame({"frequency": x, "recency": tx, "T": periods.astype(float)})


def data(model, n):
    key = (model == "bgbb", n)
    if key not in _DATA:
        _DATA.clear()
        _DATA[key] = bgbb_data(n) if model == "bgbb" else make_rfm(n, seed=0)[
            ["frequency", "recency", "T"]]
    return _DATA[key]


def columns(frame):
    return frame.frequency.to_numpy(), frame.recency.to_numpy(), frame["T"].to_numpy()


def lifetimes_fit(model, frame, penalizer=0.0):
    with quiet():
        import lifetimes
        np.random.seed(0)  # ParetoNBDFitter starts from random parameters
        return getattr(lifetimes, THEIRS[model])(penalizer_coef=penalizer).fit(
            *columns(frame))


@pytest.mark.parametrize("impl", ["crmjit", "lifetimes"])
@pytest.mark.parametrize("model", MODELS)
def test_model_fit(record, benchmark, model, impl, n):
    """Maximum likelihood on n customers (lifetimes: its own optimiser on a sample)."""
    frame = data(model, n)
    work = f"{model} fit"
    if impl == "crmjit":
        cls = getattr(crmjit, OURS[model])
        record(lambda: cls().fit(*columns(frame)), work=work, impl=impl, size=n, items=n)
        return
    sample = frame.iloc[:min(n, LIFETIMES_FIT[model])]
    benchmark.extra_info["scale"] = n / len(sample)
    record(lambda: lifetimes_fit(model, sample), work=work, impl=impl, size=n,
           items=len(sample), rounds=1)


def lifetimes_predict(model, fitter, frame):
    x, tx, T = columns(frame)
    with quiet():
        if model == "bgbb":
            return fitter.conditional_expected_number_of_purchases_up_to_time(5, x, tx, T)
        return fitter.conditional_expected_number_of_purchases_up_to_time(30.0, x, tx, T)


@pytest.mark.parametrize("impl", ["crmjit", "lifetimes", "floor"])
@pytest.mark.parametrize("model", MODELS)
def test_model_predict(record, benchmark, request, model, impl):
    """Conditional expected purchases (the next 30 days; BG/BB: the next 5 opportunities)
    of every customer, same parameters on both sides.  ``floor``: reading the three input
    columns once (NumPy ``.sum()``), which no prediction can beat: lifetimes' time over
    it bounds the ratio any implementation could reach on this machine."""
    n = PREDICT["quick" if request.config.getoption("--quick") or os.environ.get(
        "CRMJIT_BENCH_QUICK", "") not in ("", "0") else "full"]
    frame = data(model, n)
    ours = getattr(crmjit, OURS[model]).from_params(PARAMS[model])
    horizon = 5 if model == "bgbb" else 30.0
    work = f"{model} expected purchases"
    if impl == "crmjit":
        record(lambda: ours.expected_purchases(horizon, *columns(frame)), work=work,
               impl=impl, size=n, items=n)
        return
    if impl == "floor":
        cols = columns(frame)
        record(lambda: [c.sum() for c in cols], work=work, impl=impl, size=n, items=n)
        return
    with quiet():
        import lifetimes
    fitter = getattr(lifetimes, THEIRS[model])()
    fitter.params_ = ours.params_.copy()
    sample = frame.iloc[:LIFETIMES_PREDICT]
    benchmark.extra_info["scale"] = n / len(sample)
    theirs = record(lambda: lifetimes_predict(model, fitter, sample), work=work, impl=impl,
                    size=n, items=len(sample), rounds=3)
    np.testing.assert_allclose(ours.expected_purchases(horizon, *columns(sample)), theirs,
                               rtol=1e-8)


@pytest.mark.parametrize("impl", ["crmjit", "lifetimes-loop"])
@pytest.mark.parametrize("model", MODELS)
def test_model_fit_per_segment(record, benchmark, request, model, impl):
    """One parameter set per segment: crmjit's one call against lifetimes fitted segment
    by segment (timed on the first segments, scaled).  A small penalty on both sides:
    segments of 1,000 customers drawn from BG/NBD do not all identify every model (without
    it a few run off to a boundary, and say so)."""
    quick = request.config.getoption("--quick") or os.environ.get(
        "CRMJIT_BENCH_QUICK", "") not in ("", "0")
    segments, per = SEGMENTS["quick" if quick else "full"]
    n = segments * per
    frame = data(model, n)
    groups = np.arange(n) // per
    work = f"{model} fit ({segments:,} segments)"
    if impl == "crmjit":
        cls = getattr(crmjit, OURS[model])
        record(lambda: cls(penalizer_coef=PENALTY).fit(*columns(frame), groups=groups),
               work=work, impl=impl, size=n, items=n, rounds=3)
        return
    parts = [frame.iloc[s * per:(s + 1) * per] for s in range(LIFETIMES_SEGMENTS)]
    benchmark.extra_info["scale"] = segments / LIFETIMES_SEGMENTS
    record(lambda: [lifetimes_fit(model, part, PENALTY) for part in parts], work=work,
           impl=impl, size=n, items=LIFETIMES_SEGMENTS * per, rounds=1)
