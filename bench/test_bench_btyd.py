"""Probabilistic CLV against lifetimes (the package its users know): customer lifetime value
for a customer table, the BG/NBD fit, and RFM summaries from transaction logs.

lifetimes is slow, so it is timed on a sample (``LIFETIMES_MAX`` customers, or transactions
for the RFM summary) and its time scaled linearly to the full size (``scale`` in
extra_info); crmjit is timed on the full size.  Both use the same data and, for CLV, the
same parameters.
"""

from __future__ import annotations

import contextlib
import os
import warnings

import numpy as np
import pandas as pd
import pytest

import crmjit
from crmjit.data_gen import BTYD_TRUTH, make_rfm

SIZES = {"quick": [100_000], "full": [1_000_000, 10_000_000]}
RFM_SIZES = {"quick": [100_000], "full": [1_000_000, 100_000_000]}
LIFETIMES_MAX = 100_000  # customers; the RFM summary: 1M transactions
LIFETIMES_RFM_MAX = 1_000_000
_DATA = {}


@contextlib.contextmanager
def quiet():
    """lifetimes (unmaintained) warns under pandas 3 / NumPy 2; the config makes warnings
    errors, so every call into it (and its import) runs here."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def rfm(n):
    if ("rfm", n) not in _DATA:
        _DATA.clear()
        _DATA[("rfm", n)] = make_rfm(n, seed=0)
    return _DATA[("rfm", n)]


def models():
    bg = crmjit.BetaGeoModel()
    bg._params = np.array([[BTYD_TRUTH[k] for k in ("r", "alpha", "a", "b")]])
    bg.groups_ = None
    gg = crmjit.GammaGammaModel()
    gg._params = np.array([[BTYD_TRUTH[k] for k in ("p", "q", "v")]])
    gg.groups_ = None
    return bg, gg


def lifetimes_models():
    with quiet():
        from lifetimes import BetaGeoFitter, GammaGammaFitter
    bgf, ggf = BetaGeoFitter(), GammaGammaFitter()
    bgf.params_ = pd.Series({k: BTYD_TRUTH[k] for k in ("r", "alpha", "a", "b")})
    bgf.predict = bgf.conditional_expected_number_of_purchases_up_to_time
    ggf.params_ = pd.Series({k: BTYD_TRUTH[k] for k in ("p", "q", "v")})
    return bgf, ggf


@pytest.mark.parametrize("impl", ["crmjit", "lifetimes"])
def test_btyd_clv(record, benchmark, impl, n):
    """12-month CLV (lifetimes' definition, daily data, 1 % a month)."""
    data = rfm(n)
    if impl == "crmjit":
        bg, gg = models()
        x, tx, T, m = (data[c].to_numpy() for c in data.columns)

        def run():
            return crmjit.customer_lifetime_value(bg, gg, x, tx, T, m, time=12,
                                                  discount_rate=0.01, freq="D")
        record(run, work="btyd clv", impl=impl, size=n, items=n)
        return
    sample = data.iloc[:min(n, LIFETIMES_MAX)]
    bgf, ggf = lifetimes_models()

    def run():
        with quiet():
            return ggf.customer_lifetime_value(bgf, sample.frequency, sample.recency,
                                               sample["T"], sample.monetary_value, time=12,
                                               discount_rate=0.01, freq="D")
    benchmark.extra_info["scale"] = n / len(sample)
    theirs = record(run, work="btyd clv", impl=impl, size=n, items=len(sample), rounds=3)
    bg, gg = models()
    ours = crmjit.customer_lifetime_value(bg, gg, sample.frequency, sample.recency, sample["T"],
                                          sample.monetary_value)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize("impl", ["crmjit", "lifetimes"])
def test_btyd_fit(record, benchmark, impl, n):
    """BG/NBD maximum likelihood (lifetimes: BFGS on a sample, time scaled linearly)."""
    data = rfm(n)
    if impl == "crmjit":
        x, tx, T = (data[c].to_numpy() for c in ("frequency", "recency", "T"))
        record(lambda: crmjit.BetaGeoModel().fit(x, tx, T), work="bg/nbd fit", impl=impl,
               size=n, items=n, rounds=3)
        return
    with quiet():
        from lifetimes import BetaGeoFitter
    sample = data.iloc[:min(n, LIFETIMES_MAX)]

    def run():
        with quiet():
            return BetaGeoFitter().fit(sample.frequency, sample.recency, sample["T"])
    benchmark.extra_info["scale"] = n / len(sample)
    record(run, work="bg/nbd fit", impl=impl, size=n, items=len(sample), rounds=1)


def transactions(n):
    """n purchases of n/4 customers over a year: integer ids, datetime64[ns], float."""
    if ("log", n) not in _DATA:
        _DATA.clear()
        rng = np.random.default_rng(0)
        start = np.datetime64("2025-01-01", "ns").astype(np.int64)
        ns = start + rng.integers(0, 365 * 86_400 * 10**9, n)
        _DATA[("log", n)] = pd.DataFrame({
            "customer_id": rng.integers(0, max(1, n // 4), n),
            "date": ns.view("datetime64[ns]"),
            "amount": rng.gamma(6.0, 4.0, n),
        }, copy=False)
    return _DATA[("log", n)]


@pytest.mark.parametrize("impl", ["crmjit", "lifetimes"])
@pytest.mark.parametrize("n_txn", RFM_SIZES["full"] + RFM_SIZES["quick"])
def test_rfm_summary(record, benchmark, request, impl, n_txn):
    quick = (request.config.getoption("--quick")
             or os.environ.get("CRMJIT_BENCH_QUICK", "") not in ("", "0"))
    mode = "quick" if quick else "full"
    if n_txn not in RFM_SIZES[mode]:
        pytest.skip(f"size not in {mode} mode")
    if impl == "lifetimes" and n_txn > LIFETIMES_RFM_MAX:
        pytest.skip("lifetimes is timed up to 1M transactions only")
    log = transactions(n_txn)
    if impl == "crmjit":
        record(lambda: crmjit.rfm_summary(log, "customer_id", "date", "amount"),
               work="rfm summary", impl=impl, size=n_txn, items=n_txn,
               rounds=1 if n_txn > 10_000_000 else None)
        return
    with quiet():
        from lifetimes.utils import summary_data_from_transaction_data

    def run():
        with quiet():
            return summary_data_from_transaction_data(log, "customer_id", "date", "amount")
    theirs = record(run, work="rfm summary", impl=impl, size=n_txn, items=n_txn, rounds=1)
    ours = crmjit.rfm_summary(log, "customer_id", "date", "amount")
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-10)


HOLDOUT_SIZES = {"quick": [100_000], "full": [1_000_000]}


@pytest.mark.parametrize("impl", ["crmjit", "lifetimes"])
def test_rfm_calibration_holdout(record, request, impl):
    """The calibration/holdout split at the 9-month mark of a year of purchases, against
    lifetimes' calibration_and_holdout_data (with a monetary column), same data."""
    quick = (request.config.getoption("--quick")
             or os.environ.get("CRMJIT_BENCH_QUICK", "") not in ("", "0"))
    n_txn = HOLDOUT_SIZES["quick" if quick else "full"][0]
    log = transactions(n_txn)
    args = (log, "customer_id", "date", "2025-09-30", "2025-12-31")
    if impl == "crmjit":
        record(lambda: crmjit.rfm_calibration_holdout(*args, monetary_value_col="amount"),
               work="rfm calibration/holdout", impl=impl, size=n_txn, items=n_txn)
        return
    with quiet():
        from lifetimes.utils import calibration_and_holdout_data

    def run():
        with quiet():
            return calibration_and_holdout_data(*args, monetary_value_col="amount")
    theirs = record(run, work="rfm calibration/holdout", impl=impl, size=n_txn, items=n_txn,
                    rounds=1)
    ours = crmjit.rfm_calibration_holdout(*args, monetary_value_col="amount")
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-10)


SBG_SEGMENTS = {"quick": (100, 1_000), "full": (1_000, 1_000)}  # segments, customers each
SBG_SAMPLE = 20  # segments the scipy loop is timed on (scaled to all)


def _sbg_data(segments, per):
    """Subscribers simulated from sBG (theta ~ Beta(0.7, 1.2) within each segment), each
    observed for up to 12 periods: (lifetime, churned, segment)."""
    rng = np.random.default_rng(0)
    theta = rng.beta(0.7, 1.2, segments * per)
    life = rng.geometric(theta)  # the period a customer leaves in
    churned = life <= 12
    return np.minimum(life, 12).astype(float), churned, np.repeat(np.arange(segments), per)


def _scipy_sbg(t, c):
    """The usual script: scipy.optimize on the sBG log-likelihood in log parameters."""
    from scipy.optimize import minimize
    from scipy.special import betaln

    def nll(p):
        a, b = np.exp(p)
        return -np.sum(np.where(c, betaln(a + 1, b + t - 1), betaln(a, b + t)) - betaln(a, b))
    return minimize(nll, [0.0, 0.0], method="L-BFGS-B").x


@pytest.mark.parametrize("impl", ["crmjit", "scipy-loop"])
def test_sbg_fit_per_segment(record, request, impl):
    """sBG fitted per segment in one call against scipy.optimize segment by segment."""
    quick = (request.config.getoption("--quick")
             or os.environ.get("CRMJIT_BENCH_QUICK", "") not in ("", "0"))
    segments, per = SBG_SEGMENTS["quick" if quick else "full"]
    t, c, g = _sbg_data(segments, per)
    n = t.shape[0]
    work = f"sbg fit ({segments:,} segments)"
    if impl == "crmjit":
        record(lambda: crmjit.ShiftedBetaGeoModel().fit(t, c, groups=g), work=work,
               impl=impl, size=n, items=n)
        return
    rows = g < SBG_SAMPLE
    parts = [(t[g == s], c[g == s]) for s in range(SBG_SAMPLE)]
    mine = crmjit.ShiftedBetaGeoModel().fit(t[rows], c[rows], groups=g[rows])
    np.testing.assert_allclose(np.exp(_scipy_sbg(*parts[0])), mine.params_.iloc[0], rtol=1e-3)
    record(lambda: [_scipy_sbg(a, b) for a, b in parts], work=work, impl=impl, size=n,
           items=int(rows.sum()), rounds=3)
    request.node.user_properties.append(("scaled_from", SBG_SAMPLE))
    request.getfixturevalue("benchmark").extra_info["scale"] = n / int(rows.sum())


SBG_FIT = {"quick": 20_000, "full": 100_000}  # subscribers of the single fit


@pytest.mark.parametrize("impl", ["crmjit", "scipy"])
def test_sbg_fit(record, request, impl):
    """One sBG fit on every subscriber against scipy.optimize on the same data (lifetimes
    has no sBG; this is the script its users write), same optimum."""
    quick = (request.config.getoption("--quick")
             or os.environ.get("CRMJIT_BENCH_QUICK", "") not in ("", "0"))
    n = SBG_FIT["quick" if quick else "full"]
    t, c, _ = _sbg_data(1, n)
    work = "sbg fit"
    if impl == "crmjit":
        record(lambda: crmjit.ShiftedBetaGeoModel().fit(t, c), work=work, impl=impl, size=n,
               items=n)
        return
    mine = crmjit.ShiftedBetaGeoModel().fit(t, c)
    np.testing.assert_allclose(np.exp(_scipy_sbg(t, c)), mine.params_, rtol=1e-3)
    record(lambda: _scipy_sbg(t, c), work=work, impl=impl, size=n, items=n, rounds=3)
