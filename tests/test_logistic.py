import math
import threading
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning, SkipTestWarning
from sklearn.linear_model import LogisticRegression as SkLogReg
from sklearn.utils.estimator_checks import check_estimator

import crmjit
from crmjit import reference
from crmjit.kernels._jit import fixed_chunks
from crmjit._newton import logistic_pass as _logistic_pass
from crmjit.kernels.elementwise import _exp_neg_abs, _log1p_unit, _log1pexp, _sigmoid

ATOL = 1e-6


def sk_tight(C=1.0, **kw):
    return SkLogReg(C=C, tol=1e-10, max_iter=10_000, **kw)


def assert_same_fit(ours, sk, what):
    assert_allclose(ours.coef_, sk.coef_, atol=ATOL, rtol=0, err_msg=f"coef: crmjit vs sklearn, {what}")
    assert_allclose(ours.intercept_, sk.intercept_, atol=ATOL, rtol=0,
                    err_msg=f"intercept: crmjit vs sklearn, {what}")


def make_data(rng, n=2000, d=6, pos=0.3):
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    z = X @ w + math.log(pos / (1 - pos))
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return X, y


# ---------------------------------------------------------------- the seed example
def test_seed_example_probability():
    p = crmjit.predict_proba(np.array([[6.0, 35.0]]), [0.3, 0.2], 0.5)[0]
    assert round(float(p), 5) == 0.99991
    assert_allclose(p, reference.sigmoid(0.5 + 0.3 * 6 + 0.2 * 35), rtol=1e-15)


# ---------------------------------------------------------------- scikit-learn parity
@pytest.mark.parametrize("C", [1e-4, 1e-2, 1.0, 1e2, 1e4])
def test_matches_sklearn_over_C(rng, C):
    X, y = make_data(rng)
    assert_same_fit(crmjit.LogisticRegression(C=C).fit(X, y), sk_tight(C).fit(X, y), f"C={C}")


def test_matches_sklearn_sample_weight(rng):
    X, y = make_data(rng)
    sw = rng.uniform(0, 3, size=len(y))
    sw[:50] = 0.0
    ours = crmjit.LogisticRegression().fit(X, y, sample_weight=sw)
    assert_same_fit(ours, sk_tight().fit(X, y, sample_weight=sw), "sample weights")
    # integer weights are repetitions
    reps = rng.integers(0, 3, size=len(y))
    rep = crmjit.LogisticRegression().fit(np.repeat(X, reps, axis=0), np.repeat(y, reps))
    wtd = crmjit.LogisticRegression().fit(X, y, sample_weight=reps)
    assert_allclose(wtd.coef_, rep.coef_, atol=1e-8)


def test_matches_sklearn_float32(rng):
    X, y = make_data(rng)
    X32 = X.astype(np.float32)
    ours = crmjit.LogisticRegression().fit(X32, y)
    assert ours.coef_.dtype == np.float64
    sk64 = sk_tight().fit(X32.astype(np.float64), y)
    assert_same_fit(ours, sk64, "float32 X (its float64 values)")
    # scikit-learn fits float32 input in float32 (its coef_ is float32 and sits ~1e-5 off
    # the optimum); we accumulate in float64 and land on the float64 optimum.
    sk32 = sk_tight().fit(X32, y)
    assert sk32.coef_.dtype == np.float32
    assert np.abs(ours.coef_ - sk64.coef_).max() < np.abs(sk32.coef_ - sk64.coef_).max()
    assert_allclose(ours.coef_, sk32.coef_, atol=1e-4)


def test_matches_sklearn_correlated_columns(rng):
    n = 3000
    base = rng.standard_normal((n, 3))
    X = np.column_stack([base, base[:, 0] + 1e-3 * rng.standard_normal(n),
                         base[:, 1] * 0.999 + 0.001 * rng.standard_normal(n)])
    y = (rng.random(n) < 1 / (1 + np.exp(-(base @ [1.0, -1.0, 0.5])))).astype(int)
    assert_same_fit(crmjit.LogisticRegression().fit(X, y), sk_tight().fit(X, y), "correlated")


def test_matches_sklearn_rare_positives(rng):
    n = 20_000
    X = rng.standard_normal((n, 5))
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ [0.5, -0.3, 0.2, 0, 0.1] - 4.7)))).astype(int)
    assert 0.005 < y.mean() < 0.02
    assert_same_fit(crmjit.LogisticRegression().fit(X, y), sk_tight().fit(X, y), "1% positives")


def test_matches_sklearn_unscaled_columns(rng):
    n = 3000
    X = np.column_stack([rng.uniform(1000, 5000, n), rng.standard_normal(n) * 1e-3,
                         rng.standard_normal(n)])
    z = 0.001 * (X[:, 0] - 3000) + 300 * X[:, 1] + X[:, 2]
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    ours = crmjit.LogisticRegression().fit(X, y)
    sk = SkLogReg(tol=1e-10, max_iter=10_000, solver="newton-cholesky").fit(X, y)
    assert_same_fit(ours, sk, "unscaled columns (sklearn newton-cholesky)")
    # sklearn's default lbfgs can stop early on this scaling without a warning (seed 42:
    # 6.5e-6 off, gradient 4.96 at its answer, ours 4e-10), so against lbfgs we require the
    # same coefficients or a strictly better objective.
    lbfgs = sk_tight().fit(X, y)
    gap = np.abs(ours.coef_ - lbfgs.coef_).max()
    if gap > ATOL:
        assert objective(X, y, ours, 1.0) < objective(X, y, lbfgs, 1.0)


def objective(X, y, model, C):
    z = X @ model.coef_[0] + model.intercept_[0]
    return C * np.sum(np.logaddexp(0, z) - y * z) + 0.5 * model.coef_[0] @ model.coef_[0]


def test_no_intercept_and_no_penalty(rng):
    X, y = make_data(rng)
    assert_same_fit(crmjit.LogisticRegression(fit_intercept=False).fit(X, y),
                    sk_tight(fit_intercept=False).fit(X, y), "fit_intercept=False")
    # scikit-learn 1.9 rejects C=inf (and deprecates penalty=None); C=1e12 is the same
    # optimum to ~1e-12
    ours = crmjit.LogisticRegression(C=np.inf).fit(X, y)
    assert_same_fit(ours, sk_tight(C=1e12).fit(X, y), "C=inf vs sklearn C=1e12")


def test_matches_reference_fit(rng):
    X, y = make_data(rng, n=60, d=3)
    sw = rng.uniform(0.5, 2, 60)
    coef, b = reference.fit(X.tolist(), y.tolist(), sw.tolist(), C=0.7)
    ours = crmjit.LogisticRegression(C=0.7, tol=1e-10).fit(X, y, sample_weight=sw)
    assert_allclose(ours.coef_[0], coef, atol=1e-9)
    assert_allclose(ours.intercept_[0], b, atol=1e-9)


@pytest.mark.parametrize("n", [200_000, 600_000])
def test_large_n_subsampling_keeps_the_optimum(n):
    """200k rows: subsampled Hessian; 600k: also the warm start on a subset of blocks."""
    from crmjit._newton import HESS_MIN_ROWS, hess_stride, row_stride
    assert hess_stride(n) == n // HESS_MIN_ROWS > 1
    assert row_stride(n) == (1 if n < 4 * HESS_MIN_ROWS else n // HESS_MIN_ROWS)
    c = crmjit.data_gen.make_customers(n, n_features=8, seed=3)
    ours = crmjit.LogisticRegression().fit(c.X, c.y)
    sk = SkLogReg(tol=1e-10, max_iter=10_000, solver="newton-cholesky").fit(c.X, c.y)
    assert_same_fit(ours, sk, f"{n} rows, subsampled Hessian / warm start")
    assert_allclose(ours.coef_[0], c.coef[0], atol=0.05)  # recovers the truth


# ---------------------------------------------------------------- estimator contract
def test_check_estimator():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkipTestWarning)  # array-API check needs SCIPY_ARRAY_API
        check_estimator(crmjit.LogisticRegression())


def test_any_two_labels_and_dataframe(rng):
    X, y = make_data(rng, n=500, d=3)
    labels = np.where(y == 1, "buy", "skip")
    df = pd.DataFrame(X, columns=["recency", "frequency", "spend"])
    m = crmjit.LogisticRegression().fit(df, labels)
    assert m.classes_.tolist() == ["buy", "skip"]
    assert m.feature_names_in_.tolist() == ["recency", "frequency", "spend"]
    assert m.n_features_in_ == 3 and m.coef_.shape == (1, 3) and m.intercept_.shape == (1,)
    assert m.n_iter_.shape == (1,) and m.n_iter_[0] >= 1
    proba = m.predict_proba(df)
    assert proba.shape == (500, 2)
    assert_allclose(proba.sum(axis=1), 1.0)
    pred = m.predict(df)
    assert_array_equal(pred, m.classes_[(m.decision_function(df) > 0).astype(int)])
    assert 0.5 < m.score(df, labels) <= 1.0
    sk = sk_tight().fit(X, labels)
    assert_allclose(proba, sk.predict_proba(X), atol=1e-6)


def test_convergence_warning_and_finite(rng):
    X = np.r_[rng.normal(-3, 1, (50, 2)), rng.normal(3, 1, (50, 2))]
    y = np.r_[np.zeros(50), np.ones(50)]
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        m = crmjit.LogisticRegression(C=np.inf, max_iter=30).fit(X, y)
    assert np.all(np.isfinite(m.coef_)) and np.isfinite(m.intercept_[0])
    assert m.score(X, y) == 1.0
    Xr, yr = make_data(rng)
    with pytest.warns(ConvergenceWarning):
        m = crmjit.LogisticRegression(max_iter=1).fit(Xr, yr)
    assert np.all(np.isfinite(m.coef_))


def test_layouts_give_identical_fits(rng):
    X, y = make_data(rng, n=1500)
    a = crmjit.LogisticRegression().fit(X, y)
    b = crmjit.LogisticRegression().fit(np.asfortranarray(X), y)
    assert_array_equal(a.coef_, b.coef_)


# ---------------------------------------------------------------- kernels vs reference
def test_stable_helpers_match_math():
    zs = np.r_[np.linspace(-1000, 1000, 4001), np.linspace(-40, 40, 4001), 0.0, -0.0,
               -708.0, -707.9, 36.0, -36.0, 18.0, 33.3, -37.0, -2.0]
    for z in zs:
        e = _exp_neg_abs(z)
        ref = reference.exp_neg_abs(z)
        # within 2-4 ulp of libm
        assert e == pytest.approx(ref, rel=5e-16, abs=4e-308), z
        assert _log1p_unit(e) == pytest.approx(reference.log1p_unit(e), rel=5e-16, abs=1e-307)
        assert _sigmoid(z) == pytest.approx(reference.sigmoid(z), rel=7e-16, abs=4e-308), z
        assert _log1pexp(z) == pytest.approx(reference.log1pexp(z), rel=1e-15, abs=4e-308), z
        assert np.isfinite(_log1pexp(z)) and 0.0 <= _sigmoid(z) <= 1.0


def test_log_within_two_ulp_everywhere(rng):
    """``_log`` (the BG/NBD passes' vectorisable log) against mpmath over the whole float64
    range, subnormals and the edges of its mantissa split included; math.log's answers
    for 0, inf, negatives and NaN."""
    import mpmath
    from crmjit.kernels.elementwise import _log
    mpmath.mp.prec = 90
    us = np.r_[np.logspace(-323, 308, 3001), rng.random(2000) * 4, 5e-324, 1e-310,
               2.2250738585072014e-308, 1.7976931348623157e308, 1.0, 2.0, 0.5,
               np.sqrt(2.0), np.nextafter(np.sqrt(2.0), 0.0), np.nextafter(1.0, 0.0),
               np.nextafter(1.0, 2.0)]
    for u in us:
        ref = mpmath.log(mpmath.mpf(float(u)))
        got = _log(u)
        assert abs(mpmath.mpf(got) - ref) <= 2 * np.spacing(abs(float(ref))), u
        assert got == pytest.approx(reference.elementwise.log(float(u)), rel=5e-16, abs=1e-300)
    assert _log(0.0) == -np.inf and _log(-0.0) == -np.inf and _log(np.inf) == np.inf
    assert all(np.isnan(_log(v)) for v in (-1.0, -np.inf, np.nan, -5e-324))
    assert reference.elementwise.log(0.0) == -np.inf
    assert np.isnan(reference.elementwise.log(-1.0))


def test_float32_helpers_match_math(rng):
    from crmjit.kernels.elementwise import _exp_neg_abs32, _sigmoid32
    zs = np.r_[np.linspace(-120, 120, 24001), rng.normal(0, 4, 5000), 0.0, -0.0, -87.3,
               -88.0, -102.9, -103.97, -104.0, -104.1, -149.0 * np.log(2), 17.0, -17.0,
               3.4e38, -3.4e38].astype(np.float32)
    ulp = float(np.finfo(np.float32).eps)  # 2**-23
    tiny = float(np.finfo(np.float32).tiny)  # smallest normal float32
    for z in zs:
        e, s = _exp_neg_abs32(z), _sigmoid32(z)
        assert type(e) is float or isinstance(e, np.floating)
        ref_e = reference.elementwise.exp_neg_abs32(float(z))
        ref_s = reference.elementwise.sigmoid32(float(z))
        if ref_e >= tiny:  # 4 float32 ulp while normal, one subnormal step (2**-149) below
            assert e == pytest.approx(ref_e, rel=4 * ulp), z
        else:
            assert abs(e - ref_e) <= 2.0 ** -149, z
        if ref_s >= tiny:
            assert s == pytest.approx(ref_s, rel=4 * ulp), z
        else:
            assert abs(s - ref_s) <= 2.0 ** -149, z
        assert 0.0 <= s <= 1.0
    assert _exp_neg_abs32(np.float32(np.inf)) == 0.0
    assert _sigmoid32(np.float32(-np.inf)) == 0.0 and _sigmoid32(np.float32(np.inf)) == 1.0


def _pass(X, y, sw, theta, stride=1, chunks=None, rows=1):
    d = X.shape[1]
    g, H = np.empty(d + 1), np.empty((d + 1, d + 1))
    loss, weight, hw = _logistic_pass(X, y, sw, theta, chunks or fixed_chunks(len(y)), rows,
                                      stride, g, H)
    return loss, weight, hw, g, H


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_pass_matches_reference(rng, dtype):
    n, d = 700, 4
    X = rng.standard_normal((n, d)).astype(dtype)
    y = (rng.random(n) < 0.4).astype(np.uint8)
    sw = rng.uniform(0, 2, n)
    theta = rng.standard_normal(d + 1)
    theta[0] = 30.0  # push some |z| far out
    for rows, stride in ((1, 1), (1, 2), (1, 0), (2, 1), (3, 2)):
        loss, weight, hw, g, H = _pass(X, y, sw, theta, stride, chunks=3, rows=rows)
        rl, rw, rhw, rg, rH = reference.logistic_pass(X.astype(np.float64).tolist(),
                                                      y.tolist(), sw.tolist(), theta.tolist(),
                                                      3, rows, stride)
        assert loss == pytest.approx(rl, rel=1e-12)
        assert weight == pytest.approx(rw, rel=1e-12)
        assert hw == pytest.approx(rhw, rel=1e-12)
        assert_allclose(g, rg, rtol=1e-11, atol=1e-9)
        if stride:
            assert_allclose(H, rH, rtol=1e-11, atol=1e-9)


def test_gradient_and_hessian_match_finite_differences(rng):
    n, d = 400, 3
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < 0.5).astype(np.uint8)
    sw = np.ones(1)
    theta = rng.standard_normal(d + 1) * 0.5
    _, _, _, g, H = _pass(X, y, sw, theta)
    h = 1e-6
    for j in range(d + 1):
        e = np.zeros(d + 1)
        e[j] = h
        lp, _, _, gp, _ = _pass(X, y, sw, theta + e)
        lm, _, _, gm, _ = _pass(X, y, sw, theta - e)
        assert (lp - lm) / (2 * h) == pytest.approx(g[j], rel=1e-6, abs=1e-6)
        assert_allclose((gp - gm) / (2 * h), H[j], rtol=1e-5, atol=1e-5)


def test_scoring_matches_reference(rng):
    X = rng.standard_normal((1000, 7)) * 50  # |z| well past the cutoffs
    coef, b = rng.standard_normal(7), 0.3
    expected = reference.predict_proba(X.tolist(), [0], [coef.tolist()], [b])
    # exp(z) turns the dot product's rounding (summation order) into |z| * 1e-16 relative
    assert_allclose(crmjit.predict_proba(X, coef, b), expected, rtol=1e-12, atol=1e-300)
    assert_allclose(crmjit.decision_function(X, coef, b),
                    reference.decision_function(X.tolist(), [0], [coef.tolist()], [b]),
                    rtol=1e-12)
    assert_allclose(crmjit.predict_proba(np.asfortranarray(X), coef, b), expected, rtol=1e-12)


def test_sigmoid_into_matches_reference(rng):
    from crmjit.kernels.scoring import _sigmoid_into
    z = np.r_[rng.normal(0, 30, 50), np.nan, np.inf, -np.inf]
    out = np.full(60, -1.0)
    bad = _sigmoid_into(z, z.size, out, 7)
    ref, ref_bad = reference.sigmoid_into(z.tolist(), z.size)
    assert bad == ref_bad == 3
    assert_allclose(out[7:57], ref[:50], rtol=1e-15)
    assert out[0] == -1.0 and out[6] == -1.0
    # float32 z: the float32 sigmoid, within 4 float32 ulp (or one subnormal step)
    out32 = np.full(60, -1.0, dtype=np.float32)
    z32 = z.astype(np.float32)
    assert _sigmoid_into(z32, z.size, out32, 7) == 3
    ref32, _ = reference.sigmoid_into([float(v) for v in z32], z.size)  # of the rounded z
    assert_allclose(out32[7:57], ref32[:50], rtol=4 * 2.0 ** -23, atol=2.0 ** -149)
    assert out32[0] == -1.0 and out32[6] == -1.0
    assert out32[58] == 1.0 and out32[59] == 0.0  # sigmoid(inf), sigmoid(-inf)


def test_scoring_dtypes_out_and_threads(rng):
    X = rng.standard_normal((5000, 16))
    coef = rng.standard_normal(16) * 0.3
    p64 = crmjit.predict_proba(X, coef, -0.2)
    X32 = X.astype(np.float32)
    p32 = crmjit.predict_proba(X32, coef, -0.2)
    assert p64.dtype == np.float64 and p32.dtype == np.float32
    assert_allclose(p32, p64, rtol=1e-5, atol=1e-6)
    buf = np.empty(5000, dtype=np.float32)
    assert crmjit.predict_proba(X32, coef, -0.2, out=buf) is buf
    assert_array_equal(buf, p32)
    results = [None] * 4

    def work(k):
        results[k] = crmjit.predict_proba(X, coef, -0.2)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        assert_array_equal(r, p64)
    assert crmjit.predict_proba(np.empty((0, 16)), coef, 0.0).shape == (0,)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, exc, words", [
    (lambda X, y: crmjit.predict_proba(X, np.ones(3), 0.0), ValueError, "coef has 3 values"),
    (lambda X, y: crmjit.predict_proba(X, np.ones((1, 5)), 0.0), ValueError, "coef"),
    (lambda X, y: crmjit.predict_proba(X, np.ones(5), [0.0, 1.0]), ValueError, "intercept"),
    (lambda X, y: crmjit.predict_proba(X, np.full(5, np.nan), 0.0), ValueError, "finite"),
    (lambda X, y: crmjit.predict_proba(X, np.ones(5), 0.0, out=np.empty(3)), ValueError, "out"),
    (lambda X, y: crmjit.predict_proba(X, np.ones(5), 0.0, out=np.empty(len(X), np.float32)),
     ValueError, "dtype"),
    (lambda X, y: crmjit.predict_proba(X, np.ones(5), 0.0, out=[0.0] * len(X)), TypeError, "out"),
    (lambda X, y: crmjit.predict_proba(X[0], np.ones(5), 0.0), ValueError, "X must be 2-D"),
    (lambda X, y: crmjit.predict_proba(X.astype(str), np.ones(5), 0.0), TypeError, "X"),
])
def test_scoring_bad_input(rng, call, exc, words):
    X, y = make_data(rng, n=20, d=5)
    with pytest.raises(exc, match=words):
        call(X, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_scoring_rejects_nonfinite_rows(rng, bad):
    X = rng.standard_normal((600, 4))
    X[517, 2] = bad
    with pytest.raises(ValueError, match=r"X contains NaN or inf in rows \[517\]"):
        crmjit.predict_proba(X, np.ones(4), 0.0)
    with pytest.raises(ValueError, match=r"rows \[517\]"):
        crmjit.predict_proba(X, np.zeros(4), 0.0)  # inf * 0 is caught too
    with pytest.raises(ValueError, match=r"rows \[517\]"):
        crmjit.decision_function(X.astype(np.float32), np.ones(4), 0.0)


def test_fit_bad_input(rng):
    X, y = make_data(rng, n=50, d=3)
    m = crmjit.LogisticRegression()
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        m.fit(Xn, y)
    with pytest.raises(ValueError, match="infinity|inf"):
        m.fit(np.where(Xn != Xn, np.inf, Xn), y)
    with pytest.raises(ValueError, match="NaN|Input"):
        m.fit(X, np.where(np.arange(50) == 4, np.nan, y))
    with pytest.raises(ValueError, match="1 class"):
        m.fit(X, np.ones(50))
    with pytest.raises(ValueError, match="Only binary classification"):
        m.fit(X, np.arange(50) % 3)
    with pytest.raises(ValueError, match="(?i)negative"):
        m.fit(X, y, sample_weight=np.r_[-1.0, np.ones(49)])
    with pytest.raises(ValueError, match="at least one (positive|non-zero)"):
        m.fit(X, y, sample_weight=np.zeros(50))
    with pytest.raises(ValueError, match="NaN|infinity"):
        m.fit(X, y, sample_weight=np.r_[np.nan, np.ones(49)])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        m.fit(X, y[:-1])
    with pytest.raises(ValueError, match="sample_weight"):
        m.fit(X, y, sample_weight=np.ones(10))
    with pytest.raises(ValueError, match="0 sample"):
        m.fit(np.empty((0, 3)), np.empty(0))
    with pytest.raises(ValueError, match="C"):
        crmjit.LogisticRegression(C=0).fit(X, y)
    with pytest.raises(ValueError, match="max_iter"):
        crmjit.LogisticRegression(max_iter=0).fit(X, y)
    m.fit(X, y)
    with pytest.raises(ValueError, match="3 features"):
        m.predict_proba(X[:, :2])
    with pytest.raises(ValueError, match="NaN"):
        m.predict_proba(Xn)


@pytest.mark.parametrize("col", [0, 2])
def test_features_whose_squares_overflow_are_an_error_naming_the_column(rng, col):
    X = rng.standard_normal((400, 3))
    y = (X[:, 1] > 0).astype(int)
    groups = np.arange(400) % 2
    fine = X.copy()
    fine[:, col] *= 1e150  # squares still finite: fitted, not flat
    assert np.abs(crmjit.LogisticRegression().fit(fine, y).coef_[0, 1]) > 0.5
    X[:, col] *= 1e160
    for fit in (lambda: crmjit.LogisticRegression().fit(X, y),
                lambda: crmjit.BatchedLogisticRegression().fit(X, y, groups)):
        with pytest.raises(ValueError, match=rf"too large .* in columns \[{col}\]"):
            fit()


def test_scores_that_overflow_from_finite_inputs_are_named_as_such(rng):
    """Finite X and coefficients whose linear predictor overflows X's dtype: an error that
    says so and names the rows (not "X contains NaN or inf" with no rows)."""
    with pytest.raises(ValueError, match=r"overflows float64 in rows \[0\]"):
        crmjit.predict_proba([[1e200, 1e200], [1.0, 1.0]], [1e200, 0], 0)
    X32 = np.array([[1.0, 1.0], [3e38, 1.0]], dtype=np.float32)
    with pytest.raises(ValueError, match=r"overflows float32 in rows \[1\].*float64 X"):
        crmjit.decision_function(X32, [10.0, 0.0], 0.0)
    assert crmjit.predict_proba(X32.astype(np.float64), [10.0, 0.0], 0.0)[1] == 1.0
    X = rng.standard_normal((60, 2))
    m = crmjit.BatchedLogisticRegression().fit(X, (X[:, 0] > 0).astype(int), np.arange(60) % 2)
    big = np.array([[1.0, 1.0], [1e308, 1e308], [1.0, 1.0]])
    with pytest.raises(ValueError, match=r"overflows float64 in rows \[1\]"):
        m.predict_proba(big * np.sign(m.coef_[1]), np.array([0, 1, 0]))
