"""crmjit.compat.lifetimes: lifetimes' quickstart (BG/NBD and Gamma-Gamma steps) run on
crmjit by changing one import, against lifetimes itself on the same CDNOW data."""

import numpy as np
import pytest

import crmjit


@pytest.fixture
def cdnow(lifetimes_quiet):
    with lifetimes_quiet():
        from lifetimes.datasets import (load_cdnow_summary,
                                        load_cdnow_summary_data_with_monetary_value)
        return load_cdnow_summary(index_col=[0]), load_cdnow_summary_data_with_monetary_value()


def test_quickstart_runs_on_crmjit(cdnow, lifetimes_quiet):
    quiet = lifetimes_quiet
    data, money = cdnow
    from crmjit.compat.lifetimes import BetaGeoFitter, GammaGammaFitter
    with quiet():
        import lifetimes
        theirs = lifetimes.BetaGeoFitter(penalizer_coef=0.0).fit(
            data["frequency"], data["recency"], data["T"])
    bgf = BetaGeoFitter(penalizer_coef=0.0)
    assert bgf.fit(data["frequency"], data["recency"], data["T"]) is bgf
    np.testing.assert_allclose(bgf.params_[["r", "alpha", "a", "b"]],
                               theirs.params_[["r", "alpha", "a", "b"]], rtol=1e-5)
    assert list(bgf.summary.columns) == ["coef", "se(coef)", "lower 95% bound",
                                         "upper 95% bound"]
    theirs.params_ = bgf.params_.copy()  # predictions compared at the same parameters
    f, r, T = data["frequency"], data["recency"], data["T"]
    with quiet():
        want = {"pred": theirs.conditional_expected_number_of_purchases_up_to_time(1, f, r, T),
                "alive": theirs.conditional_probability_alive(f, r, T),
                "new": theirs.expected_number_of_purchases_up_to_time(30),
                "pn": [theirs.probability_of_n_purchases_up_to_time(30, n)
                       for n in (0, 1, 2, 5, 20)]}
    pred = bgf.conditional_expected_number_of_purchases_up_to_time(1, f, r, T)
    np.testing.assert_allclose(pred, want["pred"], rtol=1e-9)
    assert pred.sort_values().index[-1] == want["pred"].sort_values().index[-1]
    np.testing.assert_allclose(bgf.conditional_probability_alive(f, r, T), want["alive"],
                               rtol=1e-9)
    assert bgf.expected_number_of_purchases_up_to_time(30) == pytest.approx(want["new"],
                                                                             rel=1e-9)
    got = [bgf.probability_of_n_purchases_up_to_time(30, n) for n in (0, 1, 2, 5, 20)]
    np.testing.assert_allclose(got, want["pn"], rtol=1e-9)

    returning = money[money.frequency > 0]
    with quiet():
        theirs_gg = lifetimes.GammaGammaFitter(penalizer_coef=0.0).fit(
            returning.frequency, returning.monetary_value)
    ggf = GammaGammaFitter(penalizer_coef=0.0).fit(returning.frequency,
                                                   returning.monetary_value)
    np.testing.assert_allclose(ggf.params_, theirs_gg.params_, rtol=1e-5)
    theirs_gg.params_ = ggf.params_.copy()
    with quiet():
        profit = theirs_gg.conditional_expected_average_profit(money.frequency,
                                                               money.monetary_value)
        theirs.params_ = bgf.params_.copy()
        clv = theirs_gg.customer_lifetime_value(theirs, money.frequency, money.recency,
                                                money["T"], money.monetary_value, time=12,
                                                discount_rate=0.01)
    np.testing.assert_allclose(ggf.conditional_expected_average_profit(
        money.frequency, money.monetary_value), profit, rtol=1e-9)
    bgf_money = BetaGeoFitter().fit(money.frequency, money.recency, money["T"])
    ours = ggf.customer_lifetime_value(bgf_money, money.frequency, money.recency, money["T"],
                                       money.monetary_value, time=12, discount_rate=0.01)
    np.testing.assert_allclose(ours, clv, rtol=1e-6)  # each side's own BG/NBD fit
    assert "r: " in repr(bgf)


def test_lifetimes_names_on_the_models_and_n_purchases_at_high_frequency():
    import mpmath
    bg = crmjit.BetaGeoModel.from_params([0.243, 4.41, 0.793, 2.43])
    assert bg.conditional_probability_alive(2, 30.0, 39.0)[0] == bg.p_alive(2, 30.0, 39.0)[0]
    assert bg.expected_number_of_purchases_up_to_time(10) == \
        bg.expected_purchases_new_customer(10)
    gg = crmjit.GammaGammaModel.from_params([6.25, 3.74, 15.4])
    assert gg.conditional_expected_average_profit(3, 20.0)[0] == \
        gg.expected_average_value(3, 20.0)[0]
    r, al, a, b = (mpmath.mpf(v) for v in (0.243, 4.41, 0.793, 2.43))

    def exact(t, n):  # lifetimes' formula at 50 digits
        mpmath.mp.dps = 50
        t = mpmath.mpf(t)
        first = (mpmath.beta(a, b + n) / mpmath.beta(a, b) * mpmath.gamma(r + n)
                 / mpmath.gamma(r) / mpmath.factorial(n) * (al / (al + t)) ** r
                 * (t / (al + t)) ** n)
        if n == 0:
            return first
        fsum = mpmath.fsum(mpmath.gamma(r + j) / mpmath.gamma(r) / mpmath.factorial(j)
                           * (t / (al + t)) ** j for j in range(n))
        return first + mpmath.beta(a + 1, b + n - 1) / mpmath.beta(a, b) * (
            1 - (al / (al + t)) ** r * fsum)
    for t, n in [(30.0, 0), (30.0, 3), (5000.0, 2000), (1e5, 3000), (0.5, 40)]:
        got = bg.probability_of_n_purchases(t, n)
        assert np.isfinite(got)
        assert got == pytest.approx(float(exact(t, n)), rel=1e-9, abs=1e-300)
    with pytest.raises(ValueError, match="t must be > 0"):
        bg.probability_of_n_purchases(0.0, 1)
    with pytest.raises(ValueError, match="n must hold whole numbers|n must be"):
        bg.probability_of_n_purchases(1.0, 1.5)


@pytest.mark.parametrize("name", ["ModifiedBetaGeoFitter", "ParetoNBDFitter"])
def test_other_purchase_fitters_run_lifetimes_steps(cdnow, lifetimes_quiet, name):
    """The quickstart's steps with the other fitters: fit, summary, predictions, P(alive)
    and CLV, against lifetimes at the same parameters (Pareto/NBD's fit against lifetimes
    run to tol=1e-10: at its default it stops early)."""
    import lifetimes
    from crmjit.compat import lifetimes as compat
    data, money = cdnow
    f, r, T = data["frequency"], data["recency"], data["T"]
    ours = getattr(compat, name)().fit(f, r, T)
    np.random.seed(0)
    with lifetimes_quiet():
        theirs = getattr(lifetimes, name)().fit(f, r, T, tol=1e-10, maxiter=20000) \
            if name == "ParetoNBDFitter" else getattr(lifetimes, name)().fit(f, r, T)
    np.testing.assert_allclose(ours.params_, theirs.params_, rtol=1e-5)
    assert list(ours.summary.index) == list(theirs.params_.index)
    theirs.params_ = ours.params_.copy()
    with lifetimes_quiet():
        for method, args in [("conditional_expected_number_of_purchases_up_to_time",
                              (10, f, r, T)),
                             ("conditional_probability_alive", (f, r, T)),
                             ("expected_number_of_purchases_up_to_time", (np.array([5., 30.]),))]:
            np.testing.assert_allclose(getattr(ours, method)(*args),
                                       getattr(theirs, method)(*args), rtol=1e-9)
        if name == "ParetoNBDFitter":
            for n in (0, 1, 4):
                assert ours.conditional_probability_of_n_purchases_up_to_time(
                    n, 20.0, 3, 30.0, 38.0) == pytest.approx(
                    theirs.conditional_probability_of_n_purchases_up_to_time(
                        n, 20.0, 3, 30.0, 38.0), rel=1e-9)
        else:
            for n in (0, 1, 4):
                assert ours.probability_of_n_purchases_up_to_time(20.0, n) == pytest.approx(
                    float(theirs.probability_of_n_purchases_up_to_time(20.0, n)), rel=1e-9)
    returning = money[money.frequency > 0]
    ggf = compat.GammaGammaFitter().fit(returning.frequency, returning.monetary_value)
    purchases = getattr(compat, name)().fit(money.frequency, money.recency, money["T"])
    theirs_bg = getattr(lifetimes, name)()
    theirs_bg.params_ = purchases.params_.copy()
    theirs_bg.predict = theirs_bg.conditional_expected_number_of_purchases_up_to_time
    theirs_gg = lifetimes.GammaGammaFitter()
    theirs_gg.params_ = ggf.params_.copy()
    with lifetimes_quiet():
        want = theirs_gg.customer_lifetime_value(theirs_bg, money.frequency, money.recency,
                                                 money["T"], money.monetary_value)
    got = ggf.customer_lifetime_value(purchases, money.frequency, money.recency, money["T"],
                                      money.monetary_value)
    np.testing.assert_allclose(got, want, rtol=1e-9)
    np.testing.assert_allclose(purchases.predict(10, money.frequency, money.recency,
                                                 money["T"]),
                               purchases.model.expected_purchases(10, money.frequency,
                                                                  money.recency, money["T"]))


def test_bg_bb_fitter_runs_lifetimes_steps(lifetimes_quiet):
    import os

    import lifetimes
    import pandas as pd
    from crmjit.compat.lifetimes import BetaGeoBetaBinomFitter
    d = pd.read_csv(os.path.join(os.path.dirname(lifetimes.__file__), "datasets",
                                 "donations.csv"))
    ours = BetaGeoBetaBinomFitter().fit(d.frequency, d.recency, d.periods, weights=d.weights)
    with lifetimes_quiet():
        theirs = lifetimes.BetaGeoBetaBinomFitter().fit(d.frequency, d.recency, d.periods,
                                                        weights=d.weights)
    np.testing.assert_allclose(ours.params_, theirs.params_, rtol=1e-5)
    theirs.params_ = ours.params_.copy()
    with lifetimes_quiet():
        np.testing.assert_allclose(
            ours.conditional_expected_number_of_purchases_up_to_time(5, d.frequency, d.recency,
                                                                     d.periods),
            theirs.conditional_expected_number_of_purchases_up_to_time(5, d.frequency,
                                                                       d.recency, d.periods),
            rtol=1e-9)
        np.testing.assert_allclose(
            ours.conditional_probability_alive(2, d.frequency, d.recency, d.periods),
            theirs.conditional_probability_alive(2, d.frequency, d.recency, d.periods),
            rtol=1e-9)
        np.testing.assert_allclose(ours.expected_number_of_transactions_in_first_n_periods(6),
                                   theirs.expected_number_of_transactions_in_first_n_periods(6),
                                   rtol=1e-9)
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        ours.nonsense
