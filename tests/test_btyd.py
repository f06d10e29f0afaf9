"""BG/NBD, Gamma-Gamma and probabilistic CLV: against lifetimes on its CDNOW sample, against
the pure-Python twins and mpmath, per-segment fits, recovery of simulated truth, bad input."""

import math

import mpmath
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning

import crmjit
from crmjit import reference
from crmjit._btyd_core import _Layout
from crmjit.data_gen import BTYD_TRUTH, make_rfm
from crmjit.kernels import btyd as K
from crmjit.kernels import btyd_predict as P
from crmjit.kernels.special import _digamma, _trigamma


def lt_fitters(lifetimes_quiet, d, penalizer=0.0):
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    rep = d[d.frequency > 0]
    with lifetimes_quiet():
        bgf = BetaGeoFitter(penalizer_coef=penalizer).fit(d.frequency, d.recency, d["T"])
        ggf = GammaGammaFitter(penalizer_coef=penalizer).fit(rep.frequency, rep.monetary_value)
    return bgf, ggf


@pytest.mark.parametrize("penalizer", [0.0, 0.001, 0.1])
def test_cdnow_parameters_match_lifetimes(cdnow, lifetimes_quiet, penalizer):
    bgf, ggf = lt_fitters(lifetimes_quiet, cdnow, penalizer)
    bg = crmjit.BetaGeoModel(penalizer_coef=penalizer).fit(cdnow.frequency, cdnow.recency,
                                                           cdnow["T"])
    gg = crmjit.GammaGammaModel(penalizer_coef=penalizer).fit(cdnow.frequency,
                                                              cdnow.monetary_value)
    assert bg.converged_ and gg.converged_
    assert_allclose(bg.params_[["r", "alpha", "a", "b"]], bgf.params_[["r", "alpha", "a", "b"]],
                    rtol=1e-4)
    assert_allclose(gg.params_[["p", "q", "v"]], ggf.params_[["p", "q", "v"]], rtol=1e-4)
    if penalizer == 0:
        # the published CDNOW fit (Fader, Hardie & Lee 2005): LL -9582.4, r .243, a .793
        assert bg.log_likelihood(cdnow.frequency, cdnow.recency, cdnow["T"]) == \
            pytest.approx(-9582.4, abs=0.05)
        assert_allclose(bg.standard_errors_, bgf.standard_errors_, rtol=1e-4)


def test_cdnow_predictions_match_lifetimes_with_same_parameters(cdnow, lifetimes_quiet):
    bgf, ggf = lt_fitters(lifetimes_quiet, cdnow)
    bg = crmjit.BetaGeoModel().fit(cdnow.frequency, cdnow.recency, cdnow["T"])
    gg = crmjit.GammaGammaModel().fit(cdnow.frequency, cdnow.monetary_value)
    bgf.params_ = bg.params_.copy()  # the same parameters on both sides
    ggf.params_ = gg.params_.copy()
    f, r, T, m = cdnow.frequency, cdnow.recency, cdnow["T"], cdnow.monetary_value
    with lifetimes_quiet():
        for t in (0.5, 1, 10, 39, 52, 200):
            assert_allclose(bg.expected_purchases(t, f, r, T),
                            bgf.conditional_expected_number_of_purchases_up_to_time(t, f, r, T),
                            rtol=1e-6)
        assert_allclose(bg.p_alive(f, r, T), bgf.conditional_probability_alive(f, r, T),
                        rtol=1e-6)
        assert_allclose(bg.expected_purchases_new_customer(np.array([1.0, 10.0, 52.0])),
                        bgf.expected_number_of_purchases_up_to_time(np.array([1.0, 10.0, 52.0])),
                        rtol=1e-6)
        assert_allclose(gg.expected_average_value(f, m),
                        ggf.conditional_expected_average_profit(f, m), rtol=1e-6)
        for freq in ("W", "D", "M", "H"):
            for time, rate in ((12, 0.01), (3, 0.0), (24, 0.05)):
                ours = crmjit.customer_lifetime_value(bg, gg, f, r, T, m, time=time,
                                                      discount_rate=rate, freq=freq)
                theirs = ggf.customer_lifetime_value(bgf, f, r, T, m, time=time,
                                                     discount_rate=rate, freq=freq)
                assert isinstance(ours, pd.Series) and (ours.index == f.index).all()
                assert_allclose(ours, theirs, rtol=1e-6)


def test_special_functions_match_twins_and_mpmath():
    for x in (1e-6, 0.01, 0.3, 1.0, 2.5, 9.99, 10.0, 57.3, 1e4, 1e9):
        assert _digamma(x) == pytest.approx(float(mpmath.digamma(x)), rel=1e-13, abs=1e-14)
        assert _trigamma(x) == pytest.approx(float(mpmath.psi(1, x)), rel=1e-13)
        assert _digamma(x) == pytest.approx(reference.special.digamma(x), rel=1e-14, abs=1e-14)
        assert _trigamma(x) == pytest.approx(reference.special.trigamma(x), rel=1e-14)


def layout_and_data(rng, n=3000, groups=3):
    rfm = make_rfm(n, seed=int(rng.integers(1 << 30)))
    x, tx, T, m = (rfm[c].to_numpy() for c in rfm.columns)
    codes = rng.integers(0, groups, n)
    w = rng.uniform(0.5, 2.0, n)
    return x, tx, T, m, codes, w


@pytest.mark.parametrize("shift", [0.0, 1.0])  # BG/NBD, MBG/NBD
def test_likelihood_passes_match_twins_and_finite_differences(rng, shift, rows_close):
    """The twins' gradient and Hessian are central differences of lifetimes' formula."""
    x, tx, T, m, codes, w = layout_and_data(rng)
    layout = _Layout(codes, 3, x, w)
    take = layout.take
    bg_params = np.array([[0.3, 25.0, 0.8, 2.5], [1.2, 60.0, 1.7, 4.0], [0.1, 5.0, 0.4, 0.9]])
    active = np.ones(3, dtype=bool)
    tab = K._bg_table_pass(layout.ux, layout.uw, layout.u_ptr, shift, bg_params, active,
                           np.zeros((3, K.NACC_BG)), 0, 3)
    twin = reference.btyd.bg_table_pass(layout.ux.tolist(), layout.uw.tolist(),
                                        layout.u_ptr.tolist(), shift, bg_params.tolist(),
                                        active)
    rows_close(tab, twin, 4)
    moments = rng.normal(size=15)
    assert_allclose(K._log_moments(moments.copy(), 2.5),
                    reference.btyd.log_moments(moments.tolist(), 2.5), rtol=1e-14)
    lo, hi = layout.u_ptr[1], layout.u_ptr[2]
    assert_allclose(K._nbd_terms(layout.ux, layout.uw, lo, hi, 0.7),
                    reference.btyd.nbd_terms(layout.ux.tolist(), layout.uw.tolist(), lo, hi,
                                             0.7), rtol=1e-13)
    acc = K._bg_customer_pass(take(x), take(tx), take(T), take(w), layout.chunk_ptr,
                              layout.chunk_group, shift, bg_params, active,
                              np.zeros((layout.chunk_group.shape[0], K.NACC_BG)), 0,
                              layout.chunk_group.shape[0])
    twin = reference.btyd.bg_customer_pass(take(x).tolist(), take(tx).tolist(),
                                           take(T).tolist(), take(w).tolist(),
                                           layout.chunk_ptr.tolist(), layout.chunk_group.tolist(),
                                           shift, bg_params.tolist(), active)
    rows_close(acc, twin, 4)
    # one float weight for everyone (``row_weight``) equals that weight for each customer
    n_chunks = layout.chunk_group.shape[0]
    one = [K._bg_customer_pass(take(x), take(tx), take(T), wt, layout.chunk_ptr,
                               layout.chunk_group, shift, bg_params, active,
                               np.zeros((n_chunks, K.NACC_BG)), 0, n_chunks)
           for wt in (1.7, np.full(x.shape[0], 1.7))]
    assert_allclose(one[0], one[1], rtol=1e-13)
    # the total equals lifetimes' formula summed over customers
    total = tab[:, 0].sum() + acc[:, 0].sum()
    direct = sum(reference.btyd.bg_log_likelihood(list(bg_params[g]), x[codes == g].tolist(),
                                                  tx[codes == g].tolist(), T[codes == g].tolist(),
                                                  w[codes == g].tolist(), shift)
                 for g in range(3))
    assert total == pytest.approx(direct, rel=1e-11)

    rep = x > 0
    layout = _Layout(codes[rep], 3, x[rep], w[rep])
    gg_params = np.array([[6.0, 3.5, 15.0], [2.0, 8.0, 40.0], [0.7, 1.5, 3.0]])
    tab = K._gg_table_pass(layout.ux, layout.uw, layout.u_ptr, gg_params, active,
                           np.zeros((3, K.NACC_GG)), 0, 3)
    rows_close(tab, reference.btyd.gg_table_pass(layout.ux.tolist(), layout.uw.tolist(),
                                                 layout.u_ptr.tolist(), gg_params.tolist(),
                                                 active), 3)
    xs, ms, ws = (layout.take(a[rep]) for a in (x, m, w))
    acc = K._gg_customer_pass(xs, ms, ws, layout.chunk_ptr, layout.chunk_group, gg_params,
                              active, np.zeros((layout.chunk_group.shape[0], K.NACC_GG)), 0,
                              layout.chunk_group.shape[0])
    rows_close(acc, reference.btyd.gg_customer_pass(
        xs.tolist(), ms.tolist(), ws.tolist(), layout.chunk_ptr.tolist(),
        layout.chunk_group.tolist(), gg_params.tolist(), active), 3)


@pytest.mark.parametrize("shift", [0.0, 1.0])  # BG/NBD, MBG/NBD
def test_prediction_kernels_match_twins(rng, shift):
    x, tx, T, m, codes, _ = layout_and_data(rng, n=400)
    params = np.array([[0.243, 30.9, 0.793, 2.426], [1.5, 8.0, 3.0, 0.6], [0.05, 200.0, 0.3, 9.0]])
    gg = np.array([[6.25, 3.74, 15.4], [2.0, 8.0, 40.0], [1.1, 1.6, 3.0]])
    out = np.empty(len(x))
    for t in (0.0, 1.0, 30.0, 400.0):
        P._bg_expected(np.array([t]), x, tx, T, codes, params, shift, 7, out, 0, 7)
        assert_allclose(out, reference.btyd.bg_expected([t], x.tolist(), tx.tolist(), T.tolist(),
                                                        codes.tolist(), params.tolist(), shift),
                        rtol=1e-9, atol=1e-300)
    P._bg_p_alive(x, tx, T, codes, params, shift, out, 0, len(x))
    assert_allclose(out, reference.btyd.bg_p_alive(x.tolist(), tx.tolist(), T.tolist(),
                                                   codes.tolist(), params.tolist(), shift),
                    rtol=1e-12)
    assert (out[x == 0] < 1).all() == (shift > 0)
    P._gg_expected(x, m, codes, gg, out, 0, len(x))
    assert_allclose(out, reference.btyd.gg_expected(x.tolist(), m.tolist(), codes.tolist(),
                                                    gg.tolist()), rtol=1e-12)
    times, disc = np.arange(1, 13) * 30.0, 1.01 ** -np.arange(1, 13)
    no_tables = np.full((3, 1), -1, dtype=np.int64)
    spend = reference.btyd.gg_expected(x.tolist(), m.tolist(), codes.tolist(), gg.tolist())
    for scale in (np.asarray(spend), np.array([2.5])):  # per customer, or one for everyone
        P._bg_horizon(x, tx, T, scale, codes, params, shift, times, disc, no_tables,
                      np.zeros((0, P.MAX_PIECES, P.CHEB_DEGREE + 1)), np.zeros(0, np.int64),
                      5, out, 0, 5)
        assert_allclose(out, reference.btyd.bg_horizon(
            x.tolist(), tx.tolist(), T.tolist(), scale.tolist(), codes.tolist(),
            params.tolist(), shift, times.tolist(), disc.tolist()), rtol=1e-9)
    in_place = np.array(spend)  # the scale, overwritten by the result (as CLV runs it)
    P._bg_horizon(x, tx, T, in_place, codes, params, shift, times, disc, no_tables,
                  np.zeros((0, P.MAX_PIECES, P.CHEB_DEGREE + 1)), np.zeros(0, np.int64), 5,
                  in_place, 0, 5)
    P._bg_horizon(x, tx, T, np.array(spend), codes, params, shift, times, disc, no_tables,
                  np.zeros((0, P.MAX_PIECES, P.CHEB_DEGREE + 1)), np.zeros(0, np.int64), 5,
                  out, 0, 5)
    assert (in_place == out).all()
    # the series pieces on their own
    A, B, C = 0.9, -0.2, 2.4
    z = np.array([0.1, 0.5, 0.9])
    s, p = z * A / C, z.copy()
    P._expected_series(z, 1 - z[-1], A, B, C, A / C, s, p)
    assert_allclose(s, reference.btyd.expected_series(z.tolist(), A, B, C), rtol=1e-12)
    q = np.empty(3)
    t = np.array([5.0, 50.0, 500.0])
    P._conditional_q(t, 40.0, A, B, C, C - A, np.empty(3), np.empty(3), np.empty(3), q)
    assert_allclose(q, reference.btyd.conditional_q(t.tolist(), 40.0, A, B, C, C - A),
                    rtol=1e-11)
    assert P._gg_mean(3.0, 20.0, 6.25, 3.74, 15.4) == pytest.approx(
        reference.btyd.gg_mean(3.0, 20.0, 6.25, 3.74, 15.4), rel=1e-15)
    for at_zero in (False, True):
        assert P._p_alive(4.0, 20.0, 30.0, 0.2, 4.0, 0.8, 2.4, at_zero) == pytest.approx(
            reference.btyd.p_alive(4.0, 20.0, 30.0, 0.2, 4.0, 0.8, 2.4, at_zero), rel=1e-14)
        assert P._p_alive(0.0, 0.0, 30.0, 0.2, 4.0, 0.8, 2.4, at_zero) == pytest.approx(
            reference.btyd.p_alive(0.0, 0.0, 30.0, 0.2, 4.0, 0.8, 2.4, at_zero), rel=1e-14)


def test_p_alive_never_nan_at_high_frequency():
    bg = crmjit.BetaGeoModel.from_params([0.243, 4.41, 0.793, 2.43])
    p = bg.p_alive([0, 5, 500, 5000, 5000], [0, 10, 30, 1, 39], [39, 39, 39, 39, 39])
    assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
    assert p[0] == 1.0 and p[3] < 1e-300 and p[4] > 0.99


def test_grouped_fit_equals_separate_fits():
    rfm = make_rfm(40_000, seed=11)
    labels = np.array(["north", "south", "east", "west"])[np.arange(40_000) % 4]
    bg = crmjit.BetaGeoModel().fit(rfm.frequency, rfm.recency, rfm["T"], groups=labels)
    gg = crmjit.GammaGammaModel().fit(rfm.frequency, rfm.monetary_value, groups=labels)
    assert list(bg.params_.index) == ["east", "north", "south", "west"]
    assert bg.converged_.all() and gg.converged_.all()
    for lab in bg.groups_:
        part = rfm[labels == lab]
        one = crmjit.BetaGeoModel().fit(part.frequency, part.recency, part["T"])
        assert_allclose(bg.params_.loc[lab], one.params_, rtol=1e-8)
        one_gg = crmjit.GammaGammaModel().fit(part.frequency, part.monetary_value)
        assert_allclose(gg.params_.loc[lab], one_gg.params_, rtol=1e-8)
        sel = labels == lab
        assert_allclose(bg.p_alive(part.frequency, part.recency, part["T"],
                                   groups=labels[sel]),
                        one.p_alive(part.frequency, part.recency, part["T"]), rtol=1e-7)
    # the log-likelihood of a subset holding one segment is that segment's alone
    east = labels == "east"
    one = crmjit.BetaGeoModel().fit(rfm.frequency[east], rfm.recency[east], rfm["T"][east])
    assert bg.log_likelihood(rfm.frequency[east], rfm.recency[east], rfm["T"][east],
                             groups=labels[east]) == pytest.approx(
        one.log_likelihood(rfm.frequency[east], rfm.recency[east], rfm["T"][east]), rel=1e-9)
    clv = crmjit.customer_lifetime_value(bg, gg, rfm.frequency, rfm.recency, rfm["T"],
                                         rfm.monetary_value, groups=labels)
    assert np.isfinite(clv).all() and (clv > 0).all()
    with pytest.raises(ValueError, match="not seen at fit"):
        bg.p_alive([1], [2.0], [3.0], groups=["middle"])
    with pytest.raises(ValueError, match="pass groups="):
        bg.p_alive([1], [2.0], [3.0])


def test_weights_equal_repeated_rows(rng):
    rfm = make_rfm(2000, seed=5)
    w = rng.integers(1, 4, 2000)
    rep = rfm.loc[rfm.index.repeat(w)]
    a = crmjit.BetaGeoModel().fit(rfm.frequency, rfm.recency, rfm["T"], weights=w)
    b = crmjit.BetaGeoModel().fit(rep.frequency, rep.recency, rep["T"])
    assert_allclose(a.params_, b.params_, rtol=1e-7)
    a = crmjit.GammaGammaModel().fit(rfm.frequency, rfm.monetary_value, weights=w)
    b = crmjit.GammaGammaModel().fit(rep.frequency, rep.monetary_value)
    assert_allclose(a.params_, b.params_, rtol=1e-7)


def test_fit_recovers_simulated_truth_within_four_standard_errors():
    """1M simulated customers: the MLE is asymptotically normal around the truth with the
    inverse observed information as covariance, so each estimate lies within 4 standard
    errors (a 6e-5 chance per parameter of a false alarm; the seed is fixed)."""
    rfm = make_rfm(1_000_000, seed=2024)
    bg = crmjit.BetaGeoModel().fit(rfm.frequency, rfm.recency, rfm["T"])
    gg = crmjit.GammaGammaModel().fit(rfm.frequency, rfm.monetary_value)
    for model in (bg, gg):
        for name in model.params_.index:
            err = abs(model.params_[name] - BTYD_TRUTH[name])
            assert err <= 4 * model.standard_errors_[name], (name, model.params_[name])
            assert model.standard_errors_[name] < 0.05 * BTYD_TRUTH[name]  # informative


def test_nonconvergence_warns_and_stays_finite():
    rfm = make_rfm(5000, seed=1)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        bg = crmjit.BetaGeoModel(max_iter=2).fit(rfm.frequency, rfm.recency, rfm["T"])
    assert np.isfinite(bg.params_).all() and not bg.converged_


BAD_BG = [
    (dict(frequency=[-1, 2], recency=[0, 3], T=[5, 5]), "frequency must be >= 0"),
    (dict(frequency=[1.5, 2], recency=[1, 3], T=[5, 5]), "whole numbers"),
    (dict(frequency=[np.nan, 2], recency=[1, 3], T=[5, 5]), "frequency contains NaN"),
    (dict(frequency=[1, 2], recency=[np.inf, 3], T=[5, 5]), "recency contains NaN or inf"),
    (dict(frequency=[1, 2], recency=[6, 3], T=[5, 5]), "recency must be <= T"),
    (dict(frequency=[1, 2], recency=[-1, 3], T=[5, 5]), "recency must be >= 0"),
    (dict(frequency=[1, 2], recency=[1, 3], T=[-5, 5]), "T must be >= 0"),
    (dict(frequency=[0, 2], recency=[1, 3], T=[5, 5]), "recency must be 0 for customers"),
    (dict(frequency=[1, 2, 3], recency=[1, 3], T=[5, 5]), "length"),
    (dict(frequency=["a", "b"], recency=[1, 3], T=[5, 5]), "frequency must hold"),
    (dict(frequency=[], recency=[], T=[]), "empty"),
]


@pytest.mark.parametrize("kwargs, match", BAD_BG)
def test_bad_rfm_input_is_a_clear_error(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        crmjit.BetaGeoModel().fit(**kwargs)


def test_other_bad_input():
    rfm = make_rfm(2000, seed=1)
    f, r, T, m = rfm.frequency, rfm.recency, rfm["T"], rfm.monetary_value
    with pytest.raises(ValueError, match="penalizer_coef"):
        crmjit.BetaGeoModel(penalizer_coef=-1).fit(f, r, T)
    with pytest.raises(ValueError, match="tol must be"):
        crmjit.BetaGeoModel(tol=0).fit(f, r, T)
    with pytest.raises(ValueError, match="max_iter must be"):
        crmjit.GammaGammaModel(max_iter=2.5).fit(f, m)
    with pytest.raises(ValueError, match="not fitted"):
        crmjit.BetaGeoModel().p_alive(f, r, T)
    with pytest.raises(ValueError, match="weights must be >= 0"):
        crmjit.BetaGeoModel().fit(f, r, T, weights=-np.ones(len(f)))
    with pytest.raises(ValueError, match="groups has length"):
        crmjit.BetaGeoModel().fit(f, r, T, groups=[1, 2])
    with pytest.raises(ValueError, match="missing labels"):
        crmjit.BetaGeoModel().fit(f, r, T, groups=np.where(np.arange(len(f)) == 3, np.nan, 1.0))
    bad_m = m.copy()
    bad_m[f > 0] = 0.0
    with pytest.raises(ValueError, match="monetary_value must be > 0 for the repeat customers"):
        crmjit.GammaGammaModel().fit(f, bad_m)
    with pytest.raises(ValueError, match="no repeat customers"):
        crmjit.GammaGammaModel().fit([0, 0], [0.0, 0.0])
    with pytest.raises(ValueError, match=r"a segment has no repeat customers.*\['z'\]"):
        crmjit.GammaGammaModel().fit([1, 2, 0, 3], [5.0, 6.0, 0.0, 7.0],
                                     groups=["a", "a", "z", "a"])  # 'z' (last) only x = 0
    bg = crmjit.BetaGeoModel().fit(f, r, T)
    gg = crmjit.GammaGammaModel().fit(f, m)
    with pytest.raises(ValueError, match="freq must be one of"):
        crmjit.customer_lifetime_value(bg, gg, f, r, T, m, freq="Y")
    with pytest.raises(ValueError, match="time must be"):
        crmjit.customer_lifetime_value(bg, gg, f, r, T, m, time=0)
    with pytest.raises(ValueError, match="discount_rate"):
        crmjit.customer_lifetime_value(bg, gg, f, r, T, m, discount_rate=-1.0)
    with pytest.raises(TypeError, match="purchase_model"):
        crmjit.customer_lifetime_value(gg, gg, f, r, T, m)
    with pytest.raises(ValueError, match="t must be >= 0"):
        bg.expected_purchases(-1.0, f, r, T)
    with pytest.raises(ValueError, match="fitted without groups"):
        bg.p_alive(f, r, T, groups=np.zeros(len(f)))
    with pytest.raises(ValueError, match="neither model"):
        crmjit.customer_lifetime_value(bg, gg, f, r, T, m, groups=np.zeros(len(f)))
    gg_q = crmjit.GammaGammaModel.from_params([2.0, 0.9, 3.0])
    with pytest.raises(ValueError, match="q <= 1"):
        gg_q.expected_average_value(f, m)


def test_scalars_and_arrays_broadcast():
    bg = crmjit.BetaGeoModel.from_params([0.243, 4.41, 0.793, 2.43])
    one = bg.expected_purchases(10, 2, 30.0, 38.0)
    many = bg.expected_purchases(np.array([10.0, 20.0]), 2, 30.0, 38.0)
    assert one.shape == (1,) and many.shape == (2,) and many[0] == one[0]
    assert isinstance(bg.expected_purchases_new_customer(10.0), float)
    assert math.isclose(bg.expected_purchases_new_customer(10.0),
                        bg.expected_purchases(10.0, 0, 0, 0)[0])


def test_a_runaway_fit_names_the_parameter_and_its_true_iterations():
    """lifetimes' donations data (yearly opportunities, a BG/BB setting) does not identify
    BG/NBD: the fit runs a and b off.  The warning gives the iterations it really took and
    the parameter that ran away, and names max_iter only when it was reached."""
    import os
    import re
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes
    d = pd.read_csv(os.path.join(os.path.dirname(lifetimes.__file__), "datasets",
                                 "donations.csv"))
    with pytest.warns(ConvergenceWarning) as caught:
        bg = crmjit.BetaGeoModel().fit(d.frequency, d.recency, d.periods, weights=d.weights)
    message = str(caught[0].message)
    assert not bg.converged_
    if bg.n_iter_ < 200:
        assert f"stopped after {bg.n_iter_} iterations" in message
        assert "max_iter=200" not in message
    else:
        assert "max_iter=200 reached" in message
    name, where = re.search(r": (\w+) is running off to (0|infinity) \(", message).groups()
    value = bg.params_[name]
    assert (value < 1e-3) if where == "0" else (value > 1e3)


@pytest.mark.parametrize("cls", [crmjit.BetaGeoModel, crmjit.ParetoNBDModel])
def test_standard_errors_reuse_the_solvers_last_hessian_only_at_the_fitted_point(cls):
    """The fit's standard errors take the Hessian of the solver's last evaluation (a
    converged Newton step away); they equal those from a fresh pass at the parameters,
    and a last point further away than SAME_POINT is not reused."""
    from crmjit._btyd_core import SAME_POINT, _standard_errors, rfm_arrays
    rfm = make_rfm(4000, seed=5)
    x, tx, T = rfm.frequency, rfm.recency, rfm["T"]
    fitted = cls().fit(x, tx, T)
    assert fitted.converged_
    problem, _ = cls()._problem(*rfm_arrays(x, tx, T), np.ones(1), None, 1, 0.0)
    params = fitted._params
    fresh = _standard_errors(problem, params)  # nothing evaluated yet: a pass at params
    assert np.isfinite(fresh).all()
    assert_allclose(fitted.standard_errors_.to_numpy(), fresh[0], rtol=1e-7)
    problem.natural(params * (1 + 100 * SAME_POINT), np.arange(1))
    assert_allclose(_standard_errors(problem, params), fresh, rtol=1e-13)
