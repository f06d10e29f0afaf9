"""Wide data: thousands of features, or more features than rows, go to Newton-CG
(``crmjit._newton_cg``) and reach scikit-learn's tight optimum."""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogReg

import crmjit
from crmjit import _newton_cg, _segment_fit, reference
from crmjit.kernels.wide import _wide_hessvec, _wide_terms


def sk_tight(C=1.0, **kw):
    """scikit-learn at its tightest: newton-cg to a gradient of 1e-12."""
    return SkLogReg(C=C, solver="newton-cg", tol=1e-12, max_iter=1000, **kw)


def wide_data(rng, n, d, scale=1.0):
    X = rng.standard_normal((n, d)) * scale
    y = (X[:, 0] + X[:, 1] + rng.standard_normal(n) > 0).astype(int)
    return X, y


def assert_optimum(ours, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's line search warns near the optimum
        sk = sk_tight(**kw).fit(X, y)
    assert_allclose(ours.coef_, sk.coef_, atol=1e-6, rtol=0)
    assert_allclose(ours.intercept_, sk.intercept_, atol=1e-6, rtol=0)


@pytest.mark.parametrize("n, d", [(20, 10_000), (60, 700), (3000, 300)])
def test_wide_fits_reach_sklearns_optimum(rng, n, d):
    assert _newton_cg.use_wide(n, d)
    X, y = wide_data(rng, n, d)
    ours = crmjit.LogisticRegression().fit(X, y)
    assert_optimum(ours, X, y)
    assert ours.n_iter_[0] < 30


def test_wide_weights_no_intercept_float32_and_badly_scaled_columns(rng):
    X, y = wide_data(rng, 300, 400)
    sw = rng.uniform(0, 2, size=300)
    sw[:20] = 0.0
    ours = crmjit.LogisticRegression(C=0.5).fit(X, y, sample_weight=sw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = sk_tight(C=0.5).fit(X, y, sample_weight=sw)
    assert_allclose(ours.coef_, sk.coef_, atol=1e-6, rtol=0)
    assert_optimum(crmjit.LogisticRegression(fit_intercept=False).fit(X, y), X, y,
                   fit_intercept=False)
    X32 = X.astype(np.float32)
    assert_optimum(crmjit.LogisticRegression().fit(X32, y), X32.astype(np.float64), y)
    Xs = X * np.where(np.arange(400) % 2, 1e-3, 1e3)  # columns 1e6 apart in scale
    assert_optimum(crmjit.LogisticRegression(C=10.0).fit(Xs, y), Xs, y, C=10.0)


def test_wide_unpenalised_separable_data_warns_and_stays_finite(rng):
    X, y = wide_data(rng, 20, 500)  # more features than rows: separable
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        m = crmjit.LogisticRegression(C=np.inf, max_iter=15).fit(X, y)
    assert np.isfinite(m.coef_).all() and (m.predict(X) == y).all()


def test_wide_features_whose_squares_overflow_are_an_error(rng):
    X, y = wide_data(rng, 30, 600)
    X[:, 7] *= 1e160
    with pytest.raises(ValueError, match=r"too large .* in columns \[7\]"):
        crmjit.LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match=r"too large .* in columns \[7\]"):
        crmjit.BatchedLogisticRegression().fit(X, y, np.zeros(30, dtype=int))


def test_batched_wide_segments_equal_one_model_per_segment(rng):
    d = _segment_fit.WIDE_SEGMENT_FEATURES + 40
    X, y = wide_data(rng, 600, d)
    groups = np.repeat([3, 1, 2], 200)
    rng.shuffle(groups)
    assert _segment_fit.wide_segment(200, d)
    batched = crmjit.BatchedLogisticRegression().fit(X, y, groups)
    for s, label in enumerate(batched.groups_):
        rows = groups == label
        one = crmjit.LogisticRegression().fit(X[rows], y[rows])
        assert_allclose(batched.coef_[s], one.coef_[0], rtol=0, atol=1e-12)
        assert_allclose(batched.intercept_[s], one.intercept_[0], rtol=0, atol=1e-12)
    Xn = X.copy()
    Xn[5, 9] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf .*\b5\b"):
        crmjit.BatchedLogisticRegression().fit(Xn, y, groups)


def test_wide_kernels_match_twins(rng):
    n, d = 23, 9  # five groups of four rows and a tail of three
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < 0.4).astype(np.uint8)
    theta = rng.standard_normal(d + 1)
    for sw in (np.array([1.5]), rng.uniform(0, 2, n)):
        q, g, h = np.zeros(n), np.zeros(d + 1), np.zeros(d + 1)
        loss, weight = _wide_terms(X, y, sw, theta, q, g, h, 2, n)
        t = reference.wide.wide_terms(X.tolist(), y.tolist(), sw.tolist(), theta.tolist(), 2, n)
        assert loss == pytest.approx(t[0], rel=1e-12) and weight == pytest.approx(t[1])
        assert_allclose(q[2:], t[2], rtol=1e-12)
        assert_allclose(g, t[3], rtol=1e-11, atol=1e-12)
        assert_allclose(h, t[4], rtol=1e-11, atol=1e-12)
        v, out = rng.standard_normal(d + 1), np.zeros(d + 1)
        assert _wide_hessvec(X, q, v, out, 2, n) == n - 2
        assert_allclose(out, reference.wide.wide_hessvec(X.tolist(), q.tolist(), v.tolist(), 2, n),
                        rtol=1e-11, atol=1e-12)


WIDE_SCRIPT = r"""
import hashlib, json, resource
import numpy as np, crmjit
rng = np.random.default_rng(0)
X = rng.normal(size=(20, 10_000)); y = np.arange(20) % 2
m = crmjit.LogisticRegression().fit(X, y)
big = rng.normal(size=(40_000, 300)); yb = (big[:, 0] > 0).astype(int)
mb = crmjit.LogisticRegression().fit(big, yb)
try:  # this process image's peak: ru_maxrss also counts the forked parent's pages
    with open("/proc/self/status") as f:
        rss = [int(l.split()[1]) for l in f if l.startswith("VmHWM:")][0] / 1024
except OSError:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rss_mb": rss,
                  "fit": hashlib.sha256(m.coef_.tobytes() + mb.coef_.tobytes()).hexdigest()}))
"""


def test_wide_fit_memory_bounded_and_thread_count_free():
    runs = []
    for threads in (1, 2):
        env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
        out = subprocess.run([sys.executable, "-c", WIDE_SCRIPT], env=env, capture_output=True,
                             text=True, timeout=600)
        assert out.returncode == 0, out.stderr
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert runs[0]["fit"] == runs[1]["fit"]
    assert max(r["rss_mb"] for r in runs) < 1024
