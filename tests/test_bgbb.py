"""BG/BB (lifetimes' BetaGeoBetaBinomFitter): against lifetimes on its donations data,
against the pure-Python twins and mpmath, per-segment fits, save/load, large counts and
bad input."""

import os
import warnings

import mpmath
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import crmjit
from crmjit import reference
from crmjit._btyd_core import _Layout
from crmjit.kernels import bgbb as K

PAPER = [1.204, 0.750, 0.657, 2.783]  # Fader, Hardie & Shang (2010), the donations fit


@pytest.fixture(scope="module")
def donations():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes
    return pd.read_csv(os.path.join(os.path.dirname(lifetimes.__file__), "datasets",
                                    "donations.csv"))


@pytest.fixture(scope="module")
def model(donations):
    d = donations
    return crmjit.BetaGeoBetaBinomModel().fit(d.frequency, d.recency, d.periods,
                                              weights=d.weights)


def test_parameters_match_lifetimes_and_the_paper(donations, model, lifetimes_quiet):
    from lifetimes import BetaGeoBetaBinomFitter
    d = donations
    with lifetimes_quiet():
        theirs = BetaGeoBetaBinomFitter().fit(d.frequency, d.recency, d.periods,
                                              weights=d.weights)
    assert model.converged_
    assert_allclose(model.params_, theirs.params_, rtol=1e-5)
    assert_allclose(model.params_, PAPER, rtol=1e-3)
    assert_allclose(model.standard_errors_, theirs.standard_errors_, rtol=1e-4)
    ll = model.log_likelihood(d.frequency, d.recency, d.periods, weights=d.weights)
    assert ll == pytest.approx(-33225.6, abs=0.1)  # the paper's log-likelihood
    assert -ll / d.weights.sum() <= theirs._negative_log_likelihood_ + 1e-12


def test_predictions_match_lifetimes_with_same_parameters(donations, model, lifetimes_quiet):
    from lifetimes import BetaGeoBetaBinomFitter
    d = donations
    theirs = BetaGeoBetaBinomFitter()
    theirs.params_ = model.params_.copy()
    theirs.data = pd.DataFrame({"frequency": d.frequency, "weights": d.weights})
    # lifetimes adds 1e-15 to the likelihood's death terms: 4e-13 of difference
    with lifetimes_quiet():
        for m in (1, 5, 10):
            assert_allclose(model.expected_purchases(m, d.frequency, d.recency, d.periods),
                            theirs.conditional_expected_number_of_purchases_up_to_time(
                                m, d.frequency, d.recency, d.periods), rtol=1e-9)
        for m in (0, 3):
            assert_allclose(model.p_alive(d.frequency, d.recency, d.periods, m),
                            theirs.conditional_probability_alive(m, d.frequency, d.recency,
                                                                 d.periods), rtol=1e-9)
        counts = d.groupby("frequency").weights.sum()
        assert_allclose(model.expected_number_of_transactions_in_first_n_periods(6, counts),
                        theirs.expected_number_of_transactions_in_first_n_periods(6),
                        rtol=1e-9)
    assert model.expected_purchases(0, 3, 4, 6)[0] == 0


def test_probabilities_and_expectations_agree(model):
    for n in (1, 6, 40):
        probs = model.probability_of_n_purchases(np.full(n + 1, float(n)), np.arange(n + 1.0))
        assert probs.sum() == pytest.approx(1.0, rel=1e-12)
        assert (probs * np.arange(n + 1)).sum() == pytest.approx(
            model.expected_purchases_new_customer(n), rel=1e-11)
    # alive now, at the same history, is P(alive at n + 0) and falls with m
    alive = model.p_alive([3, 3, 3], [4, 4, 4], [6, 6, 6], [0, 1, 10])
    assert (np.diff(alive) < 0).all()
    # gamma = 1 takes the limit of the closed form
    one = crmjit.BetaGeoBetaBinomModel.from_params([1.2, 0.75, 1.0, 2.8])
    near = crmjit.BetaGeoBetaBinomModel.from_params([1.2, 0.75, 1.0 + 1e-7, 2.8])
    assert one.expected_purchases(10, 3, 4, 6)[0] == pytest.approx(
        near.expected_purchases(10, 3, 4, 6)[0], rel=1e-6)


def test_large_counts_are_finite_and_match_mpmath():
    """lifetimes multiplies beta functions (underflow to 0 beyond a few hundred
    opportunities); the log-space sums stay exact."""
    model = crmjit.BetaGeoBetaBinomModel.from_params(PAPER)
    for x, tx, n in ((0, 0, 2000), (900, 1500, 2000), (1999, 2000, 2000), (3, 4, 6)):
        mpmath.mp.dps = 30
        a, b, g, d = (mpmath.mpf(v) for v in PAPER)
        total = mpmath.beta(a + x, b + n - x) * mpmath.beta(g, d + n) + mpmath.fsum(
            mpmath.beta(a + x, b + tx - x + i) * mpmath.beta(g + 1, d + tx + i)
            for i in range(n - tx))
        want = float(mpmath.log(total / (mpmath.beta(a, b) * mpmath.beta(g, d))))
        assert model.log_likelihood(x, tx, n) == pytest.approx(want, rel=1e-12)
        e = model.expected_purchases(10, x, tx, n)
        assert np.isfinite(e).all() and (e >= 0).all()


def test_kernels_match_twins(rng, rows_close):
    out = np.empty(6)
    K._lbeta_terms(2.5, 0.7, True, out)
    assert_allclose(out, reference.bgbb.lbeta_terms(2.5, 0.7), rtol=1e-13)
    assert K._lbeta_terms(2.5, 0.7, False, out)[0] == pytest.approx(
        reference.bgbb.lbeta_terms(2.5, 0.7, False)[0], rel=1e-15)
    sums, p, q, g = np.empty(15), np.empty(6), np.empty(6), np.empty(4)
    for x, tx, n in ((0, 0, 6), (3, 4, 6), (5, 5, 5), (2, 9, 30)):
        K._pattern_terms(x, tx, n, 1.2, 0.75, 0.66, 2.8, True, sums, p, q, g)
        twin = reference.bgbb.pattern_terms(x, tx, n, 1.2, 0.75, 0.66, 2.8)
        assert sums[0] == pytest.approx(twin[0], rel=1e-13)
        assert_allclose(sums[1:5], twin[1:5], rtol=1e-6, atol=1e-9)
        assert_allclose(sums[5:], twin[5:], rtol=1e-3, atol=1e-6)
    n = rng.integers(1, 12, 3000).astype(float)
    tx = np.floor(rng.uniform(0, 1, 3000) * (n + 1))
    x = np.where(tx > 0, np.minimum(tx, rng.integers(1, 12, 3000)), 0.0)
    codes = rng.integers(0, 3, 3000)
    w = rng.uniform(0.5, 2.0, 3000)
    params = np.array([PAPER, [0.5, 2.0, 1.5, 0.7], [3.0, 3.0, 0.2, 9.0]])
    Kk = float(n.max() + 1)
    layout = _Layout(codes, 3, x + Kk * (tx + Kk * n), w)
    active = np.ones(3, dtype=bool)
    got = K._bgbb_table_pass(layout.ux, layout.uw, layout.u_ptr, Kk, params, active,
                             np.zeros((3, K.NACC_BGBB)), 0, 3)
    rows_close(got, reference.bgbb.bgbb_table_pass(layout.ux.tolist(), layout.uw.tolist(),
                                                   layout.u_ptr.tolist(), Kk,
                                                   params.tolist(), active), 4)
    ll = np.empty(3000)
    K._bgbb_log_lik(x, tx, n, codes, params, ll, 0, 3000)
    assert_allclose(ll, reference.bgbb.bgbb_log_lik(x.tolist(), tx.tolist(), n.tolist(),
                                                    codes.tolist(), params.tolist()),
                    rtol=1e-12)


def test_predictions_by_pattern_equal_per_customer(model, monkeypatch, rng):
    """Predictions are computed once per distinct pattern (dense table or sort): the same
    numbers as the per-customer formulas, in the customers' order."""
    import crmjit.bgbb as B
    n = rng.integers(1, 30, 5000).astype(float)
    tx = np.floor(rng.uniform(0, 1, 5000) * (n + 1))
    x = np.where(tx > 0, np.minimum(tx, rng.integers(1, 30, 5000)), 0.0)
    m = rng.integers(0, 4, 5000).astype(float)
    dense = model.expected_purchases(m, x, tx, n)
    monkeypatch.setattr(B, "DENSE_CELLS", 0)
    assert_allclose(model.expected_purchases(m, x, tx, n), dense, rtol=1e-15)
    for i in rng.integers(0, 5000, 20):
        assert dense[i] == pytest.approx(model.expected_purchases(m[i], x[i], tx[i], n[i])[0],
                                         rel=1e-13)


def test_per_segment_fit_and_save_load(donations, model, tmp_path):
    d = pd.concat([donations.assign(g="a"), donations.assign(g="b",
                                                             weights=donations.weights * 2)])
    both = crmjit.BetaGeoBetaBinomModel().fit(d.frequency, d.recency, d.periods,
                                              weights=d.weights, groups=d.g)
    assert_allclose(both.params_.loc["a"], model.params_, rtol=1e-8)
    assert_allclose(both.params_.loc["b"], model.params_, rtol=1e-8)  # weights scale
    both.save(tmp_path / "bgbb.json")
    back = crmjit.load(tmp_path / "bgbb.json")
    assert type(back) is crmjit.BetaGeoBetaBinomModel
    assert_allclose(back.p_alive(d.frequency, d.recency, d.periods, groups=d.g),
                    both.p_alive(d.frequency, d.recency, d.periods, groups=d.g))


@pytest.mark.parametrize("args, match", [
    (([1, 2], [1, 1], [6, 6]), r"frequency must be <= recency.*positions \[1\]"),
    (([1], [7], [6]), r"recency must be <= n_periods"),
    (([0], [2], [6]), r"recency must be 0 exactly when frequency is 0"),
    (([1.5], [2], [6]), r"frequency must hold whole numbers"),
    (([1], [2], [-6]), r"n_periods must be >= 0"),
    (([1], [2], [200_000]), r"n_periods must be <= 100,000"),
])
def test_bad_input_is_a_clear_error(args, match):
    with pytest.raises(ValueError, match=match):
        crmjit.BetaGeoBetaBinomModel().fit(*args)


def test_bad_prediction_input_is_a_clear_error(model):
    with pytest.raises(ValueError, match=r"m_periods_in_future must be >= 0"):
        model.expected_purchases(-1, 3, 4, 6)
    with pytest.raises(ValueError, match=r"m_periods_in_future must hold whole numbers"):
        model.p_alive(3, 4, 6, 0.5)
    with pytest.raises(ValueError, match=r"x must be <= n_periods; not at positions \[1\]"):
        model.probability_of_n_purchases([6, 6], [2, 7])
    with pytest.raises(TypeError, match="counts must be a pandas Series"):
        model.expected_number_of_transactions_in_first_n_periods(6, [3, 4])
