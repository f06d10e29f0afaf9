"""MBG/NBD (lifetimes' ModifiedBetaGeoFitter): parameters and predictions against lifetimes
on its CDNOW sample, per-segment fits, save/load and CLV."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

import crmjit


@pytest.fixture(scope="module")
def fitted(cdnow):
    from lifetimes import ModifiedBetaGeoFitter
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        theirs = ModifiedBetaGeoFitter().fit(cdnow.frequency, cdnow.recency, cdnow["T"])
    ours = crmjit.ModifiedBetaGeoModel().fit(cdnow.frequency, cdnow.recency, cdnow["T"])
    return ours, theirs


def test_parameters_match_lifetimes(cdnow, fitted):
    ours, theirs = fitted
    assert ours.converged_
    assert_allclose(ours.params_[["r", "alpha", "a", "b"]], theirs.params_[["r", "alpha", "a", "b"]],
                    rtol=1e-5)
    # lifetimes' objective is the mean negative log-likelihood in scaled time: ours is at
    # least as good in the same units
    ll = ours.log_likelihood(cdnow.frequency, cdnow.recency, cdnow["T"])
    from crmjit.reference.btyd import bg_log_likelihood
    p = theirs.params_[["r", "alpha", "a", "b"]].tolist()
    theirs_ll = bg_log_likelihood(p, cdnow.frequency.tolist(), cdnow.recency.tolist(),
                                  cdnow["T"].tolist(), [1.0], shift=1.0)
    assert ll >= theirs_ll - 1e-6
    assert np.isfinite(ours.standard_errors_).all()


def test_predictions_match_lifetimes_with_same_parameters(cdnow, fitted, lifetimes_quiet):
    ours, theirs = fitted
    theirs.params_ = ours.params_.copy()
    f, r, T = cdnow.frequency, cdnow.recency, cdnow["T"]
    with lifetimes_quiet():
        for t in (0.5, 1, 10, 39, 52, 200):
            assert_allclose(ours.expected_purchases(t, f, r, T),
                            theirs.conditional_expected_number_of_purchases_up_to_time(t, f, r, T),
                            rtol=1e-9)
        assert_allclose(ours.p_alive(f, r, T), theirs.conditional_probability_alive(f, r, T),
                        rtol=1e-9)
        ts = np.array([1.0, 10.0, 52.0])
        assert_allclose(ours.expected_purchases_new_customer(ts),
                        theirs.expected_number_of_purchases_up_to_time(ts), rtol=1e-9)
        for t in (1.0, 30.0):
            for n in (0, 1, 2, 7):
                assert ours.probability_of_n_purchases(t, n) == pytest.approx(
                    float(theirs.probability_of_n_purchases_up_to_time(t, n)), rel=1e-9)
    # a customer without repeat purchases is not certainly alive in MBG/NBD
    assert ours.p_alive(0, 0, 30.0)[0] < 1


def test_probabilities_sum_to_one_and_are_finite_at_high_frequency(fitted):
    ours, _ = fitted
    total = sum(ours.probability_of_n_purchases(40.0, n) for n in range(400))
    assert total == pytest.approx(1.0, rel=1e-9)
    x = np.array([1000.0, 5000.0])
    assert np.isfinite(ours.p_alive(x, [30.0, 30.0], [39.0, 39.0])).all()
    e = ours.expected_purchases(10.0, x, [38.0, 38.0], [39.0, 39.0])
    assert np.isfinite(e).all() and (e > 0).all()


def test_per_segment_fit_save_load_and_clv(cdnow, tmp_path):
    f, r, T, m = cdnow.frequency, cdnow.recency, cdnow["T"], cdnow.monetary_value
    g = np.where(np.arange(len(f)) % 2 == 0, "even", "odd")
    both = crmjit.ModifiedBetaGeoModel().fit(f, r, T, groups=g)
    for label in ("even", "odd"):
        one = crmjit.ModifiedBetaGeoModel().fit(f[g == label], r[g == label], T[g == label])
        assert_allclose(both.params_.loc[label], one.params_, rtol=1e-8)
    path = tmp_path / "mbg.json"
    both.save(path)
    back = crmjit.load(path)
    assert type(back) is crmjit.ModifiedBetaGeoModel
    assert_allclose(back.p_alive(f, r, T, groups=g), both.p_alive(f, r, T, groups=g))
    gg = crmjit.GammaGammaModel().fit(f, m)
    mbg = crmjit.ModifiedBetaGeoModel().fit(f, r, T)
    clv = crmjit.customer_lifetime_value(mbg, gg, f, r, T, m)
    # the fused CLV equals the month-by-month sum of the model's own expectations
    e = [mbg.expected_purchases(30.0 * k, f, r, T) for k in range(13)]
    spend = gg.expected_average_value(f, m)
    direct = sum(spend * (e[k] - e[k - 1]) / 1.01 ** k for k in range(1, 13))
    assert_allclose(clv, direct, rtol=1e-9)
    # and differs from BG/NBD's (the models differ for customers without repeat purchases)
    bg = crmjit.BetaGeoModel().fit(f, r, T)
    assert not np.allclose(clv, crmjit.customer_lifetime_value(bg, gg, f, r, T, m))


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="recency must be <= T"):
        crmjit.ModifiedBetaGeoModel().fit([1, 2], [5.0, 9.0], [4.0, 10.0])
    with pytest.raises(ValueError, match="not fitted"):
        crmjit.ModifiedBetaGeoModel().p_alive(1, 2.0, 3.0)
