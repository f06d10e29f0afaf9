"""Pareto/NBD: against lifetimes on its CDNOW sample, against the pure-Python twins and
mpmath (up to frequencies in the thousands, where lifetimes' series overflows),
per-segment fits, save/load, CLV and bad input."""


import mpmath
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import crmjit
from crmjit import reference
from crmjit._btyd_core import _Layout
from crmjit.kernels import pareto as K

CDNOW_FIT = [0.553, 10.58, 0.606, 11.67]


@pytest.fixture(scope="module")
def model(cdnow):
    return crmjit.ParetoNBDModel().fit(cdnow.frequency, cdnow.recency, cdnow["T"])


def lt_fit(lifetimes_quiet, d, **kwargs):
    from lifetimes import ParetoNBDFitter
    np.random.seed(0)  # lifetimes starts from random parameters
    with lifetimes_quiet():
        return ParetoNBDFitter().fit(d.frequency, d.recency, d["T"], **kwargs)


def test_parameters_match_lifetimes(cdnow, model, lifetimes_quiet):
    """lifetimes' Nelder-Mead stops early at its default tol (1e-4): ours has the better
    likelihood there, and equals lifetimes run to tol=1e-10 within 1e-5."""
    assert model.converged_
    f, r, T = cdnow.frequency, cdnow.recency, cdnow["T"]
    default = lt_fit(lifetimes_quiet, cdnow)
    ll = model.log_likelihood(f, r, T)
    theirs = reference.pareto.log_likelihood(default.params_.tolist(), f.tolist(), r.tolist(),
                                             T.tolist(), [1.0])
    assert ll > theirs
    tight = lt_fit(lifetimes_quiet, cdnow, tol=1e-10, maxiter=20000)
    assert_allclose(model.params_[["r", "alpha", "s", "beta"]], tight.params_, rtol=1e-5)
    # Schmittlein et al.'s published CDNOW fit (Fader & Hardie's note): LL -9595.0
    assert ll == pytest.approx(-9595.0, abs=0.05)
    assert np.isfinite(model.standard_errors_).all() and (model.standard_errors_ > 0).all()


def test_predictions_match_lifetimes_with_same_parameters(cdnow, model, lifetimes_quiet):
    from lifetimes import ParetoNBDFitter
    theirs = ParetoNBDFitter()
    theirs.params_ = model.params_.copy()
    f, r, T = cdnow.frequency, cdnow.recency, cdnow["T"]
    with lifetimes_quiet():
        assert_allclose(model.p_alive(f, r, T), theirs.conditional_probability_alive(f, r, T),
                        rtol=1e-9)
        for t in (0.5, 1, 10, 39, 52, 200):
            assert_allclose(model.expected_purchases(t, f, r, T),
                            theirs.conditional_expected_number_of_purchases_up_to_time(
                                t, f, r, T), rtol=1e-9)
        ts = np.array([1.0, 10.0, 52.0])
        assert_allclose(model.expected_purchases_new_customer(ts),
                        theirs.expected_number_of_purchases_up_to_time(ts), rtol=1e-9)


def mp_terms(params, x, tx, T):
    """e^A and s I of one customer in mpmath (50 digits; the integrand, peaked at t_x for
    large x, integrated over 40 pieces)."""
    mpmath.mp.dps = 50
    r, al, s, be = (mpmath.mpf(v) for v in params)
    x, tx, T = mpmath.mpf(x), mpmath.mpf(tx), mpmath.mpf(T)
    alive = (al + T) ** -(r + x) * (be + T) ** -s
    death = s * mpmath.quad(lambda u: (al + u) ** -(r + x) * (be + u) ** -(s + 1),
                            mpmath.linspace(tx, T, 41)) if tx < T else 0
    return alive, death


def mp_log_likelihood(params, x, tx, T):
    """One customer's log-likelihood by mpmath quadrature of the death-time integral."""
    alive, death = mp_terms(params, x, tx, T)
    r, al, s, be = (mpmath.mpf(v) for v in params)
    return float(mpmath.loggamma(r + x) - mpmath.loggamma(r) + r * mpmath.log(al)
                 + s * mpmath.log(be) + mpmath.log(alive + death))


@pytest.mark.parametrize("params", [CDNOW_FIT, [0.553, 11.67, 0.606, 10.58],
                                    [2.0, 5.0, 1.5, 5.0], [0.2, 0.5, 3.0, 80.0],
                                    [5.0, 90.0, 0.3, 0.7], [0.5, 0.01, 0.8, 5e4],
                                    [0.5, 5e4, 0.8, 0.01]])
def test_likelihood_matches_mpmath_up_to_high_frequency(params):
    x = np.array([0.0, 1.0, 7.0, 60.0, 2000.0, 10000.0, 3.0])
    tx = np.array([0.0, 2.0, 30.0, 38.0, 38.5, 38.9, 39.0])
    T = np.full(7, 39.0)
    model = crmjit.ParetoNBDModel.from_params(params)
    for i in range(7):
        got = model.log_likelihood(x[i], tx[i], T[i])
        assert got == pytest.approx(mp_log_likelihood(params, x[i], tx[i], T[i]), rel=1e-13)
    alive = model.p_alive(x, tx, T)
    assert np.isfinite(alive).all() and ((alive > 0) & (alive <= 1)).all()


def test_high_frequency_where_lifetimes_overflows(lifetimes_quiet):
    """With alpha << beta lifetimes' untransformed series overflows at x = 1000 and gives
    NaN; ours equals mpmath's integral."""
    from lifetimes import ParetoNBDFitter
    params = [0.2, 0.5, 3.0, 80.0]
    theirs = ParetoNBDFitter()
    theirs.params_ = pd.Series(params, index=["r", "alpha", "s", "beta"])
    model = crmjit.ParetoNBDModel.from_params(params)
    for x, tx in ((1000.0, 38.99), (1000.0, 38.0), (3000.0, 38.999)):
        with lifetimes_quiet():
            assert np.isnan(theirs.conditional_probability_alive(x, tx, 39.0))
        alive, death = mp_terms(params, x, tx, 39.0)
        assert model.p_alive(x, tx, 39.0)[0] == pytest.approx(float(alive / (alive + death)),
                                                              rel=1e-12)


def test_probability_of_n_purchases(model):
    """Sums to 1 over n, its mean is the expected purchases of a new customer, and each
    value equals mpmath's integral."""
    for t in (1.0, 30.0, 80.0):
        probs = model.probability_of_n_purchases(np.full(1000, t), np.arange(1000.0))
        assert probs.sum() == pytest.approx(1.0, rel=1e-9)
        assert (probs * np.arange(1000)).sum() == pytest.approx(
            model.expected_purchases_new_customer(t), rel=1e-8)
    r, al, s, be = (mpmath.mpf(v) for v in model.params_)
    for t, n in ((10.0, 0), (10.0, 3), (80.0, 12)):
        nb = lambda u: (mpmath.gamma(r + n) / (mpmath.gamma(r) * mpmath.factorial(n))
                        * (al / (al + u)) ** r * (u / (al + u)) ** n)
        want = nb(t) * (be / (be + t)) ** s + mpmath.quad(
            lambda u: nb(u) * s * be ** s * (be + u) ** -(s + 1), [0, t])
        assert model.probability_of_n_purchases(t, n) == pytest.approx(float(want), rel=1e-10)


def test_kernels_match_twins(rng, rows_close):
    for tau, eM, em, M, m in ((0.0, 2.5, 1.6, 11.0, 10.0), (3.0, 1.6, 40.0, 9.0, 2.0),
                              (30.0, 1.2, 1.3, 5.0, 5.0)):
        out = np.empty(15)
        assert K._log_g(tau, eM, em, M, m, True, out)
        twin = reference.pareto.log_g_derivatives(tau, eM, em, M, m)
        assert out[0] == pytest.approx(twin[0], rel=1e-13)
        assert_allclose(out[1:5], twin[1:5], rtol=1e-6, atol=1e-9)
        assert_allclose(out[5:], twin[5:], rtol=1e-4, atol=1e-6)
    for al, be in ((10.58, 11.67), (11.67, 10.58)):
        v, g, h = np.empty(15), np.empty(4), np.empty((4, 4))
        for t2 in (-1.0, 9.0):  # the series at 4; the integral over (4, 9) by quadrature
            assert K._death_term(4.0, t2, 3.0, 0.55, al, 0.6, be, False, v, g, h)
            assert v[0] == pytest.approx(reference.pareto.death_term(4.0, t2, 3.0, 0.55, al,
                                                                     0.6, be), rel=1e-13)
        assert K._use_quad(4.0, al, be) == reference.pareto.use_quad(4.0, al, be)
    g, h = rng.normal(size=4), rng.normal(size=(4, 4))
    g2, h2 = np.empty(4), np.empty((4, 4))
    K._copy_term(g, h, g2, h2)
    want_g, want_h = reference.pareto.copy_term(g.tolist(), h.tolist())
    assert g2.tolist() == want_g and h2.tolist() == want_h
    # the quadrature: against the series' difference (the twin) with its derivatives, where
    # both work, from z(t1) = 0.05 to 0.98, and e_m below and above 1
    for t1, t2, eM, em, M, m in ((0.0, 30.0, 1.6, 0.55, 11.7, 10.6),
                                 (0.0, 39.0, 1.3, 2.5, 200.0, 0.5),
                                 (2.0, 39.0, 3.0, 0.3, 80.0, 0.2),
                                 (30.0, 39.0, 40.0, 1.6, 500.0, 5.0)):
        out = np.empty(15)
        assert K._log_i_quad(t1, t2, eM, em, M, m, True, out)
        twin = reference.pareto.log_i_quad_derivatives(t1, t2, eM, em, M, m)
        assert out[0] == pytest.approx(twin[0], rel=1e-13)
        assert_allclose(out[1:5], twin[1:5], rtol=1e-6, atol=1e-9)
        # (the twin's central differences are good to about 1e-4 here; against mpmath's
        # derivatives the kernel's Hessian agrees to 1e-12)
        assert_allclose(out[5:], twin[5:], rtol=1e-3, atol=1e-6)
        K._alive_term(3.0, 39.0, 0.55, al, 0.6, be, v, g, h)
        assert v[0] == pytest.approx(reference.pareto.alive_term(3.0, 39.0, 0.55, al, 0.6, be),
                                     rel=1e-14)
        assert K._p_alive_one(3.0, 20.0, 39.0, 0.55, al, 0.6, be, v, g, h) == pytest.approx(
            reference.pareto.p_alive_one(3.0, 20.0, 39.0, 0.55, al, 0.6, be), rel=1e-12)
    for s in (0.6, 1.0, 3.0):
        assert K._rate_integral(7.0, s, 40.0) == pytest.approx(
            reference.pareto.rate_integral(7.0, s, 40.0), rel=1e-13)
    # next to s = 1 the plain formula cancels; the kernel's expm1 form meets the limit
    assert K._rate_integral(7.0, 1.0 + 1e-12, 40.0) == pytest.approx(
        reference.pareto.rate_integral(7.0, 1.0, 40.0), rel=1e-11)

    rfm = crmjit.data_gen.make_rfm(800, seed=int(rng.integers(1 << 30)))
    x, tx, T, m = (rfm[c].to_numpy() for c in rfm.columns)
    codes = rng.integers(0, 3, x.shape[0])
    w = rng.uniform(0.5, 2.0, x.shape[0])
    params = np.array([CDNOW_FIT, [1.2, 60.0, 2.0, 20.0], [0.3, 5.0, 0.9, 5.0]])
    layout = _Layout(codes, 3, x, w)
    take = layout.take
    active = np.ones(3, dtype=bool)
    tab = K._pareto_table_pass(layout.ux, layout.uw, layout.u_ptr, params, active,
                               np.zeros((3, K.NACC_PARETO)), 0, 3)
    rows_close(tab, reference.pareto.pareto_table_pass(
        layout.ux.tolist(), layout.uw.tolist(), layout.u_ptr.tolist(), params.tolist(),
        active), 4)
    n_chunks = layout.chunk_group.shape[0]
    acc = K._pareto_customer_pass(take(x), take(tx), take(T), take(w), layout.chunk_ptr,
                                  layout.chunk_group, params, active,
                                  np.zeros((n_chunks, K.NACC_PARETO)), 0, n_chunks)
    rows_close(acc, reference.pareto.pareto_customer_pass(
        take(x).tolist(), take(tx).tolist(), take(T).tolist(), take(w).tolist(),
        layout.chunk_ptr.tolist(), layout.chunk_group.tolist(), params.tolist(), active), 4)
    # alpha << beta: z(t_x) > 0.9 for the young customers, whose integral is by quadrature
    quad = np.array([[0.5, 2.0, 1.2, 40.0]])
    few = slice(0, 40)
    assert any(K._use_quad(v, 2.0, 40.0) for v in tx[few])
    assert not all(K._use_quad(v, 2.0, 40.0) for v in tx[few])
    one = np.ones(1, dtype=bool)
    acc = K._pareto_customer_pass(x[few], tx[few], T[few], w[few], np.array([0, 40]),
                                  np.zeros(1, dtype=np.int64), quad, one,
                                  np.zeros((1, K.NACC_PARETO)), 0, 1)
    rows_close(acc, reference.pareto.pareto_customer_pass(
        x[few].tolist(), tx[few].tolist(), T[few].tolist(), w[few].tolist(), [0, 40], [0],
        quad.tolist(), one), 4)
    v, g, h = np.empty(15), np.empty(4), np.empty((4, 4))
    assert K._p_alive_one(0.0, 0.0, 30.0, 0.5, 2.0, 1.2, 40.0, v, g, h) == pytest.approx(
        reference.pareto.p_alive_one(0.0, 0.0, 30.0, 0.5, 2.0, 1.2, 40.0), rel=1e-12)
    gg = np.array([[6.25, 3.74, 15.4], [2.0, 8.0, 40.0], [1.1, 1.6, 3.0]])
    times, disc = np.arange(1, 13) * 30.0, 1.01 ** -np.arange(1, 13)
    t = rng.uniform(0, 100, x.shape[0])
    for what in (0, 1, 2):
        out = np.empty(x.shape[0])
        K._pareto_predict(t, x, tx, T, m, codes, params, codes, gg, times, disc, what, out, 0,
                          x.shape[0])
        assert_allclose(out, reference.pareto.pareto_predict(
            t.tolist(), x.tolist(), tx.tolist(), T.tolist(), m.tolist(), codes.tolist(),
            params.tolist(), codes.tolist(), gg.tolist(), times.tolist(), disc.tolist(), what),
            rtol=1e-10)


def test_per_segment_fit_save_load_and_clv(cdnow, model, tmp_path):
    f, r, T, m = cdnow.frequency, cdnow.recency, cdnow["T"], cdnow.monetary_value
    g = np.where(np.arange(len(f)) % 3 == 0, "a", "b")
    both = crmjit.ParetoNBDModel().fit(f, r, T, groups=g)
    for label in ("a", "b"):
        one = crmjit.ParetoNBDModel().fit(f[g == label], r[g == label], T[g == label])
        assert_allclose(both.params_.loc[label], one.params_, rtol=1e-8)
    both.save(tmp_path / "p.json")
    back = crmjit.load(tmp_path / "p.json")
    assert type(back) is crmjit.ParetoNBDModel
    assert_allclose(back.expected_purchases(10, f, r, T, groups=g),
                    both.expected_purchases(10, f, r, T, groups=g))
    gg = crmjit.GammaGammaModel().fit(f, m)
    clv = crmjit.customer_lifetime_value(model, gg, f, r, T, m, time=6, discount_rate=0.02,
                                         freq="W")
    assert isinstance(clv, pd.Series)
    e = [model.expected_purchases(4.345 * k, f, r, T) for k in range(7)]
    spend = gg.expected_average_value(f, m)
    assert_allclose(clv, sum(spend * (e[k] - e[k - 1]) / 1.02 ** k for k in range(1, 7)),
                    rtol=1e-10)
    grouped = crmjit.customer_lifetime_value(both, gg, f, r, T, m, groups=g)
    assert np.isfinite(grouped).all() and (grouped >= 0).all()


def test_bad_input_is_a_clear_error(model):
    with pytest.raises(ValueError, match="recency must be <= T"):
        crmjit.ParetoNBDModel().fit([1, 2], [5.0, 9.0], [4.0, 10.0])
    with pytest.raises(ValueError, match="not fitted"):
        crmjit.ParetoNBDModel().p_alive(1, 2.0, 3.0)
    with pytest.raises(ValueError, match=r"t must be >= 0; negative at positions \[1\]"):
        model.expected_purchases([1.0, -1.0], [1, 2], [3.0, 4.0], [5.0, 6.0])
    with pytest.raises(ValueError, match="n must hold whole numbers"):
        model.probability_of_n_purchases(10.0, 1.5)
    with pytest.raises(ValueError, match="T must be > 0"):
        crmjit.ParetoNBDModel().fit([0, 0], [0.0, 0.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="give all of frequency, recency and T, or none"):
        model.probability_of_n_purchases(10.0, 1, frequency=[2])
    with pytest.raises(ValueError, match=r"t must be > 0; not at positions \[0\]"):
        model.probability_of_n_purchases(0.0, 1)
    with pytest.raises(ValueError, match=r"T must be >= 0; negative at positions \[1\]"):
        model.simulate_frequency([3.0, -1.0])
    with pytest.raises(ValueError, match=r"T contains NaN or inf at positions \[0\]"):
        model.simulate_frequency([np.nan])


@pytest.mark.parametrize("cls, params", [("ParetoNBDModel", CDNOW_FIT),
                                         ("ModifiedBetaGeoModel", [0.525, 6.18, 0.891, 1.614]),
                                         ("BetaGeoModel", [0.243, 4.41, 0.793, 2.43])])
def test_simulated_purchases_follow_the_model(cls, params):
    """The simulation behind the period-transactions plot draws from the model's own
    distribution of purchases: frequencies within 5 standard errors of P(n purchases)."""
    model = getattr(crmjit, cls).from_params(params)
    n = 200_000
    sim = model.simulate_frequency(np.full(n, 30.0), seed=1)
    for k in range(4):
        p = model.probability_of_n_purchases(30.0, k)
        assert abs((sim == k).mean() - p) < 5 * np.sqrt(p * (1 - p) / n)
    assert sim.mean() == pytest.approx(model.expected_purchases_new_customer(30.0), rel=0.02)
    grouped = getattr(crmjit, cls).from_params([params, params], ["a", "b"])
    with pytest.raises(ValueError, match="simulate_frequency needs a model with one "
                                         "parameter set; this one has 2 segments"):
        grouped.simulate_frequency([10.0])
