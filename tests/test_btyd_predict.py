"""BG/NBD and MBG/NBD predictions beyond the kernels' twins: the Chebyshev tables of the
horizon sums (CLV, one horizon) against the series, expected purchases against mpmath at
extreme inputs, the survival sum where the series fails, long CLV horizons and zero
average spend."""

import warnings

import mpmath
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import crmjit
from crmjit import reference
from crmjit.data_gen import make_rfm
from crmjit.kernels import btyd_predict as P


def test_clv_tables_match_twins_and_the_series():
    """The per-(segment, frequency) Chebyshev tables of the CLV horizon sum over w:
    coefficients equal the twin's, and w times a table read equals summing the series to
    ~1e-13 relative, down to w = 1e-12 (a customer a million times older than the first
    horizon), where a table of the sum itself was off by 3e-6."""
    from crmjit._horizon import _COS
    times, disc = np.arange(1, 13) * 30.0, 1.01 ** -np.arange(1, 13)
    r, al, a, b = 0.243, 30.9, 0.793, 2.426
    A, B = np.array([a + b - 1 - r] * 3), np.array([a - 1] * 3)
    C = a + b + np.array([0.0, 3.0, 40.0]) - 1
    S = r + np.array([0.0, 3.0, 40.0])
    w_max = np.array([times[0] / al] * 2 + [50.0])
    coef = np.zeros((3, P.MAX_PIECES, P.CHEB_DEGREE + 1))
    pieces = P._clv_tables(times, disc, A, B, C, S, w_max, _COS, coef, np.zeros(3, np.int64),
                           0, 3)
    assert pieces.tolist() == [5, 5, 11]
    for i in range(3):
        twin = reference.btyd.clv_tables(times.tolist(), disc.tolist(), A[i], B[i], C[i],
                                         S[i], w_max[i])
        assert len(twin) == pieces[i]
        assert_allclose(coef[i, :pieces[i]], twin, rtol=0, atol=1e-12 * abs(twin[0][0]))
    scratch = [np.empty(12) for _ in range(4)]
    for w in (1e-12, 1e-9, 1e-4, 0.05, 1 / 12, 2 / 12, 4 / 12, 0.3, 0.97, 7.0, 49.0):
        p = P._piece_of(w, 12.0)
        assert p == reference.btyd.piece_of(w, 12.0)
        lo, hi = P._piece_edges(p, 12.0)
        assert (lo, hi) == reference.btyd.piece_edges(p, 12.0)
        for i in range(3):
            if p >= pieces[i]:
                continue
            got = P._clenshaw(coef[i, p], w, lo, hi)
            assert got == pytest.approx(reference.btyd.clenshaw(coef[i, p].tolist(), w, lo, hi),
                                        rel=1e-12)
            series = P._horizon_sum(times, disc, times[0] / w, A[i], B[i], C[i], S[i],
                                    *scratch)
            assert w * got == pytest.approx(series, rel=1e-12)
            assert series == pytest.approx(reference.btyd.horizon_sum(
                times.tolist(), disc.tolist(), times[0] / w, A[i], B[i], C[i], S[i]), rel=1e-10)


def test_pair_counts_match_twin(rng):
    x = rng.integers(0, 80, 5000).astype(float)
    codes = rng.integers(0, 4, 5000)
    got = P._pair_counts(x, codes, 64, np.zeros(4 * 64, dtype=np.int64))
    assert got.tolist() == reference.btyd.pair_counts(x.tolist(), codes.tolist(), 64, 4)
    one = P._pair_counts(x, np.array([2]), 64, np.zeros(4 * 64, dtype=np.int64))
    assert one.tolist() == reference.btyd.pair_counts(x.tolist(), [2], 64, 4)


def test_clv_and_expected_purchases_same_with_and_without_tables(monkeypatch):
    """CLV and expected purchases over one horizon read Chebyshev tables per (segment,
    frequency) where enough customers share one; summing every customer's series
    instead gives the same numbers, for BG/NBD and MBG/NBD, one horizon of 1 day or a
    year, and for customers a million times older than the others (w = t / (alpha + T)
    near 1e-9, where the tables' relative accuracy matters)."""
    rfm = make_rfm(30_000, seed=9)
    groups = np.arange(30_000) % 3
    fitted = (rfm.frequency, rfm.recency, rfm["T"])
    old = rfm.index < 3_000
    rfm.loc[old, ["recency", "T"]] *= 1e6
    cols = (rfm.frequency, rfm.recency, rfm["T"])
    gg = crmjit.GammaGammaModel().fit(rfm.frequency, rfm.monetary_value)
    for cls in (crmjit.BetaGeoModel, crmjit.ModifiedBetaGeoModel):
        model = cls().fit(*fitted, groups=groups)

        def predictions():
            clv = crmjit.customer_lifetime_value(model, gg, *cols, rfm.monetary_value,
                                                 groups=groups, freq="W", time=24)
            return [clv] + [model.expected_purchases(t, *cols, groups=groups)
                            for t in (1.0, 365.0)]

        with_tables = predictions()
        with monkeypatch.context() as patch:
            patch.setattr("crmjit._horizon.TABLE_MIN_CUSTOMERS", 10**12)
            without = predictions()
        for got, want in zip(with_tables, without):
            assert_allclose(got, want, rtol=1e-12)


def mp_expected(t, x, tx, T, r, al, a, b):
    mpmath.mp.dps = 40
    x, tx, T, t, r, al, a, b = map(mpmath.mpf, (x, tx, T, t, r, al, a, b))
    z = t / (al + T + t)
    hyp = mpmath.hyp2f1(r + x, b + x, a + b + x - 1, z)
    second = 1 - hyp * ((al + T) / (al + T + t)) ** (r + x)
    pal = 1 if x == 0 else 1 / (1 + a / (b + x - 1) * ((al + T) / (al + tx)) ** (r + x))
    return float((a + b + x - 1) / (a - 1) * second * pal)


EXTREME = [
    # frequency in the hundreds and thousands (the untransformed 2F1 overflows)
    ((0.243, 4.41, 0.793, 2.43), 300, 38.0, 39.0, 52.0),
    ((0.243, 4.41, 0.793, 2.43), 1000, 39.0, 39.0, 10.0),
    ((0.243, 4.41, 0.793, 2.43), 2000, 39.0, 39.5, 5000.0),
    ((0.5, 1.0, 50.0, 0.05), 800, 38.0, 39.0, 52.0),
    # a + b < 1: c = a + b - 1 < 0, where lifetimes (scipy's hyp2f1) returns NaN
    ((8.28, 7.09, 0.188, 0.113), 0, 0.0, 202.9, 681.4),
    ((0.935, 15.8, 0.145, 0.451), 0, 0.0, 22.1, 2898.7),
    ((0.152, 0.0133, 0.208, 0.328), 0, 0.0, 291.6, 1907.3),
    ((1.72, 0.0116, 0.0915, 0.501), 0, 0.0, 28.6, 34.8),
    # large a with z near 1: the series overflows before (1-z)^(a-1) brings it back
    ((0.0799, 0.0277, 47.5, 0.838), 0, 0.0, 178.7, 2262.8),
    ((0.5, 1.0, 50.0, 0.05), 40, 1.0, 1.0, 500.0),
    ((0.5, 1.0, 50.0, 0.05), 0, 0.0, 0.5, 500.0),
    # z near 1 and slowly converging
    ((0.05, 0.5, 5.0, 5.0), 0, 0.0, 0.5, 500.0),
    ((0.05, 0.5, 5.0, 5.0), 3, 1.0, 1.0, 1000.0),
    # a = 1 exactly (0/0 in the textbook formula)
    ((0.243, 4.41, 1.0, 2.43), 5, 20.0, 39.0, 52.0),
]


@pytest.mark.parametrize("params, x, tx, T, t", EXTREME)
def test_expected_purchases_finite_positive_and_exact_at_extremes(params, x, tx, T, t,
                                                                  lifetimes_quiet):
    bg = crmjit.BetaGeoModel.from_params(params)
    ours = bg.expected_purchases(t, x, tx, T)[0]
    assert np.isfinite(ours) and ours > 0
    if params[2] != 1.0:
        assert ours == pytest.approx(mp_expected(t, x, tx, T, *params), rel=1e-9)
    else:  # the a -> 1 limit: between a = 1 -+ 1e-7
        lo, hi = (mp_expected(t, x, tx, T, *params[:2], 1 + s * 1e-7, params[3]) for s in (-1, 1))
        assert min(lo, hi) * (1 - 1e-6) <= ours <= max(lo, hi) * (1 + 1e-6)
    if x == 0 and params[2] + params[3] < 1:
        with lifetimes_quiet():  # its import warns too
            from lifetimes import BetaGeoFitter
            bgf = BetaGeoFitter()
            bgf.params_ = pd.Series(params, index=["r", "alpha", "a", "b"])
            theirs = bgf.conditional_expected_number_of_purchases_up_to_time(t, x, tx, T)
        assert not np.isfinite(theirs)  # where lifetimes fails, we do not


def test_the_same_horizon_for_every_customer_is_one_horizon(monkeypatch):
    """A horizon column that holds one value (a holdout period's length, read-only as
    pandas hands it out) is predicted as one horizon: the same numbers, to the bit, as the
    scalar, by the tables, never the per-customer series; horizons that differ take the
    series, equal to the tables customer by customer (1e-12)."""
    rfm = make_rfm(5000, seed=4)
    f, r, T = rfm.frequency, rfm.recency, rfm["T"]
    for cls, params in ((crmjit.BetaGeoModel, [0.243, 4.41, 0.793, 2.43]),
                        (crmjit.ModifiedBetaGeoModel, [0.525, 6.18, 0.891, 1.614]),
                        (crmjit.ParetoNBDModel, [0.55, 10.6, 0.61, 11.7])):
        model = cls.from_params(params)
        scalar = model.expected_purchases(30.0, f, r, T)
        column = pd.Series(30.0, index=rfm.index)
        varied = model.expected_purchases(np.where(rfm.index % 2, 30.0, 60.0), f, r, T)
        with monkeypatch.context() as patch:
            if cls is not crmjit.ParetoNBDModel:  # the one-horizon path of BG/NBD, MBG/NBD
                patch.setattr("crmjit.btyd._bg_expected", None)
            assert_array_equal(model.expected_purchases(column, f, r, T), scalar)
        assert_allclose(varied[1::2], scalar[1::2], rtol=1e-12)
        assert (varied[::2] > scalar[::2]).all()


def _beta_average_mpmath(u, s, a1, a2):
    """E[(1 - (1 + p u)^-s) / p], p ~ Beta(a1, a2), by mpmath's tanh-sinh quadrature
    around the mean (60 digits: the nodes stay off 0 and 1, where the density may be
    singular)."""
    mpmath.mp.dps = 60
    A, B = mpmath.mpf(a1), mpmath.mpf(a2)
    log_beta = mpmath.log(mpmath.beta(A, B))
    mu = A / (A + B)
    sd = mpmath.sqrt(mu * (1 - mu) / (A + B + 1))
    tiny = mpmath.mpf(10) ** -50
    pts = sorted({max(tiny, mu - k * sd) for k in (60, 5)} | {mu} |
                 {min(1 - tiny, mu + k * sd) for k in (5, 60)})
    value = mpmath.quad(lambda p: mpmath.exp((A - 1) * mpmath.log(p) + (B - 1) *
                                             mpmath.log(1 - p) - log_beta) *
                        (1 - (1 + p * u) ** (-s)) / p, pts)
    mpmath.mp.dps = 15
    return float(value)


@pytest.mark.parametrize("a1, a2", [(0.8, 2.5), (1.39, 1.2), (0.5, 0.5), (256, 1e8),
                                    (300, 10), (7e7, 1.3e8), (1e6, 0.5), (1e3, 1.5)])
def test_survival_sum_matches_mpmath_and_twin(a1, a2):
    """The exact expected purchases of an alive customer, as a sum of positive terms,
    against mpmath's quadrature of the Beta average, over shapes where the series works
    and where it overflows (a large) or cancels (s u large)."""
    for u, s in [(0.4, 2.25), (9.0, 0.25), (250.0, 13.25), (1.9e-6, 3.2e7), (1e-5, 1.0)]:
        got = P._survival_sum(u, s, a1, a2)
        assert got == pytest.approx(_beta_average_mpmath(u, s, a1, a2), rel=1e-10)
        assert got == pytest.approx(reference.btyd.survival_sum(u, s, a1, a2), rel=1e-12)
    assert P._survival_sum(0.0, 2.0, a1, a2) == 0.0


def test_unsummable_windows_are_an_error_not_a_hang():
    """Parameters run off to alpha -> 0 put ~1e44 purchase opportunities in a 30-day
    window: NaN from the kernel (not an endless sum), a ValueError naming
    the customers from the model."""
    assert np.isnan(P._survival_sum(3e36, 1e8, 1.4, 0.2))
    bg = crmjit.BetaGeoModel.from_params([1e8, 1e-30, 1.4, 0.2])
    with pytest.raises(ValueError, match=r"positions \[0, 1\].*penalizer_coef"):
        bg.expected_purchases(30.0, [0, 1], [0.0, 0.5], [0.5, 0.5])


def test_series_and_survival_sum_agree_where_both_work(rng):
    """Where the series is used (a < SERIES_MAX_A, A z >= -1), the survival sum gives the
    same expected purchases: one model, two exact summations."""
    for _ in range(200):
        r, al = rng.uniform(0.05, 3), rng.uniform(1, 80)
        a, b = rng.uniform(0.1, 200), rng.uniform(0.1, 50)
        x, T = float(rng.integers(0, 40)), rng.uniform(1, 100)
        t = rng.uniform(0.5, 400)
        A, B, C = a + b - 1 - r, a - 1, a + b + x - 1
        if A * t / (al + T + t) < -1 or abs(B) < 1e-3:
            continue
        q = np.empty(1)
        P._conditional_q(np.array([t]), al + T, A, B, C, r + x, np.empty(1), np.empty(1),
                         np.empty(1), q)
        assert C * q[0] == pytest.approx(P._survival_sum(t / (al + T), r + x, a, b + x),
                                         rel=1e-9)


def test_bg_nbd_with_huge_a_and_b_is_finite_and_exact():
    """A fit that runs to huge a and b (a segment of 20 customers): expected
    purchases, new-customer purchases and CLV are finite and equal the Beta average
    (the exact expectation, ``_survival_sum``) where the series would overflow."""
    rfm = make_rfm(40, seed=1)
    f, rc, T = rfm.frequency, rfm.recency, rfm["T"]
    groups = np.arange(40) // 20
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bg = crmjit.BetaGeoModel().fit(f, rc, T, groups=groups)
    r, alpha, a, b = bg.params_.loc[0]
    assert a > P.SERIES_MAX_A  # the case: the series would overflow
    for t in (30.0, 365.0):
        got = bg.expected_purchases(t, f, rc, T, groups=groups)
        assert np.isfinite(got).all() and (got > 0).all()
        i = 3
        x, age = float(f.iloc[i]), float(T.iloc[i])
        want = (reference.btyd.p_alive(x, float(rc.iloc[i]), age, r, alpha, a, b)
                * _beta_average_mpmath(t / (alpha + age), r + x, a, b + x))
        assert got.iloc[i] == pytest.approx(want, rel=1e-10)
        new = bg.expected_purchases_new_customer(t, groups=0)
        assert np.isfinite(new) and new == pytest.approx(
            _beta_average_mpmath(t / alpha, r, a, b), rel=1e-10)
    rep = f > 0
    gg = crmjit.GammaGammaModel().fit(f[rep], rfm.monetary_value[rep])
    clv = crmjit.customer_lifetime_value(bg, gg, f, rc, T, rfm.monetary_value, groups=groups)
    assert np.isfinite(clv).all() and np.isfinite(clv.sum())


def test_clv_long_horizons_skip_only_months_that_cannot_matter():
    """Months past the point where discounting makes them negligible (``TAIL``) are left
    out: the value equals the twin's full sum over every month, and a 60,000-month horizon
    equals a 5,000-month one (summing every month grows as the square of the horizon)."""
    from crmjit import btyd_clv
    rfm = make_rfm(2000, seed=2)
    bg = crmjit.BetaGeoModel().fit(rfm.frequency, rfm.recency, rfm["T"])
    rep = rfm.frequency > 0
    gg = crmjit.GammaGammaModel().fit(rfm.frequency[rep], rfm.monetary_value[rep])
    few = rfm.iloc[:5]
    args = (bg, gg, few.frequency, few.recency, few["T"], few.monetary_value)
    rate, months = 0.5, 200  # 1.5^-j < TAIL * rate from month 106 on
    assert (1 + rate) ** -months < btyd_clv.TAIL * rate
    got = crmjit.customer_lifetime_value(*args, time=months, discount_rate=rate)
    steps = np.arange(1, months + 1, dtype=float)
    spend = reference.btyd.gg_expected(few.frequency.tolist(), few.monetary_value.tolist(),
                                       [0], [gg.params_.tolist()])
    twin = reference.btyd.bg_horizon(few.frequency.tolist(), few.recency.tolist(),
                                     few["T"].tolist(), spend, [0], [bg.params_.tolist()],
                                     0.0, (steps * 30).tolist(), ((1 + rate) ** -steps).tolist())
    assert_allclose(got, twin, rtol=1e-12)
    far = crmjit.customer_lifetime_value(*args, time=60_000)
    assert_allclose(far, crmjit.customer_lifetime_value(*args, time=5_000), rtol=1e-15)
    assert (far > crmjit.customer_lifetime_value(*args, time=1_200)).all()


def test_zero_average_spend_of_a_repeat_buyer_is_scored_as_lifetimes_does(lifetimes_quiet):
    """A repeat buyer whose purchases average 0 (real logs have them): the Gamma-Gamma
    conditional mean spend, and so CLV, is defined there (lifetimes scores it); only the
    fit, whose likelihood has log m, needs m > 0, and says so.  Negative spend is an
    error everywhere."""
    gg = crmjit.GammaGammaModel.from_params([6.25, 3.74, 15.4])
    got = gg.expected_average_value([3, 2, 0], [0.0, 20.0, 0.0])
    with lifetimes_quiet():  # its import warns too
        from lifetimes import GammaGammaFitter
        theirs = GammaGammaFitter()
        theirs.params_ = pd.Series([6.25, 3.74, 15.4], index=["p", "q", "v"])
        want = theirs.conditional_expected_average_profit(pd.Series([3, 2, 0]),
                                                          pd.Series([0.0, 20.0, 0.0]))
    assert_allclose(got, want, rtol=1e-13)
    bg = crmjit.BetaGeoModel.from_params([0.243, 4.41, 0.793, 2.43])
    clv = crmjit.customer_lifetime_value(bg, gg, [3, 2], [20.0, 30.0], [39.0, 39.0],
                                         [0.0, 20.0])
    assert np.isfinite(clv).all() and (clv > 0).all()
    with pytest.raises(ValueError, match=r"monetary_value must be >= 0; not at positions \[1\]"):
        gg.expected_average_value([3, 2], [5.0, -1.0])
