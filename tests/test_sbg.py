"""The shifted-beta-geometric model: Fader & Hardie's published fits, the kernel against its
twin, predictions against mpmath, segments, weights, saving, and bad input."""

import math

import mpmath
import numpy as np
import pytest
from numpy.testing import assert_allclose

import crmjit
from crmjit import reference
from crmjit.kernels.sbg import _sbg_table_pass

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]  # Fader & Hardie (2007), table 1
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


def _fit(survivors, **kw):
    d = crmjit.cohort_data(survivors)
    return crmjit.ShiftedBetaGeoModel(**kw).fit(d.lifetime, d.churned, weights=d.customers)


def _plain_log_likelihood(params, survivors):
    a, b = params
    d = crmjit.cohort_data(survivors)
    ll = 0.0
    for t, c, w in zip(d.lifetime, d.churned, d.customers):
        x, y = (a + 1, b + t - 1) if c else (a, b + t)
        ll += w * (math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)
                   - math.lgamma(a) - math.lgamma(b) + math.lgamma(a + b))
    return ll


@pytest.mark.parametrize("survivors, want", [(REGULAR, (0.704, 1.182)),
                                             (HIGH_END, (0.668, 3.806))])
def test_fader_hardie_cohorts(survivors, want):
    from scipy.optimize import minimize
    model = _fit(survivors)
    assert model.converged_
    assert tuple(np.round(model.params_.to_numpy(), 3)) == want  # the paper's estimates
    best = minimize(lambda p: -_plain_log_likelihood(np.exp(p), survivors), [0.0, 0.0],
                    method="Nelder-Mead", options=dict(xatol=1e-12, fatol=1e-13,
                                                       maxiter=10_000))
    assert_allclose(model.params_.to_numpy(), np.exp(best.x), rtol=1e-6)
    d = crmjit.cohort_data(survivors)
    assert model.log_likelihood(d.lifetime, d.churned, weights=d.customers) == \
        pytest.approx(_plain_log_likelihood(model.params_.to_numpy(), survivors), rel=1e-12)
    assert (model.standard_errors_ > 0).all()


def test_table_pass_matches_twin(rng):
    t = rng.integers(0, 60, 300).astype(float)
    c = (rng.random(300) < 0.5).astype(float)
    t[c == 1] = np.maximum(t[c == 1], 1)
    w = rng.uniform(0.5, 3, 300)
    for a, b in [(0.7, 1.2), (0.05, 40.0), (30.0, 0.3)]:
        keys, inverse = np.unique(2 * t + c, return_inverse=True)
        uw = np.bincount(inverse, weights=w)
        out = np.zeros((1, 6))
        _sbg_table_pass(keys, uw, np.array([0, keys.size]), np.array([[a, b]]),
                        np.ones(1, bool), out, 0, 1)
        want = reference.sbg.sbg_table_pass(t.tolist(), c.tolist(), w.tolist(), a, b)
        assert_allclose(out[0], want, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("a, b", [(0.704, 1.182), (0.05, 300.0), (25.0, 0.4), (2.0, 1e4)])
def test_predictions_equal_mpmath(a, b):
    mpmath.mp.dps = 40
    model = crmjit.ShiftedBetaGeoModel.from_params([a, b])
    A, B = mpmath.mpf(a), mpmath.mpf(b)
    for t in (0, 1, 7, 365, 10_000):
        want = mpmath.beta(A, B + t) / mpmath.beta(A, B)
        assert model.survival(t) == pytest.approx(float(want), rel=1e-11)
        if t:
            assert model.retention_rate(t) == pytest.approx(float((B + t - 1) / (A + B + t - 1)),
                                                            rel=1e-14)
    for d in (0.01, 0.1, 1.0):
        for n in (0, 3, 50):
            want = (B + n) / (A + B + n) * mpmath.hyp2f1(1, B + n + 1, A + B + n + 1,
                                                         1 / (1 + mpmath.mpf(d)))
            assert model.derl(d, n) == pytest.approx(float(want), rel=1e-11)
    assert_allclose(model.survival([1, 2]), [model.survival(1), model.survival(2)])


def test_segments_weights_and_saving(tmp_path):
    a, b = crmjit.cohort_data(REGULAR), crmjit.cohort_data(HIGH_END)
    both = crmjit.ShiftedBetaGeoModel().fit(
        np.concatenate([a.lifetime, b.lifetime]), np.concatenate([a.churned, b.churned]),
        weights=np.concatenate([a.customers, b.customers]),
        groups=["regular"] * len(a) + ["high end"] * len(b))
    assert_allclose(both.params_.loc["regular"], _fit(REGULAR).params_, rtol=1e-12)
    assert_allclose(both.params_.loc["high end"], _fit(HIGH_END).params_, rtol=1e-12)
    rows = a.loc[a.index.repeat(a.customers.astype(int))]  # weights = repeated customers
    plain = crmjit.ShiftedBetaGeoModel().fit(rows.lifetime, rows.churned.astype(bool))
    assert_allclose(plain.params_, _fit(REGULAR).params_, rtol=1e-10)
    both.save(tmp_path / "sbg.json")
    again = crmjit.load(tmp_path / "sbg.json")
    assert again.params_.equals(both.params_)
    assert_allclose(again.derl(0.1, [0, 2], groups=["regular", "high end"]),
                    both.derl(0.1, [0, 2], groups=["regular", "high end"]))


@pytest.mark.parametrize("call, match", [
    (lambda m: m.fit([1, -2], [1, 0]), "lifetime must be >= 0"),
    (lambda m: m.fit([1, 2.5], [1, 0]), "whole numbers"),
    (lambda m: m.fit([1, 2], [1, 2]), r"churned must hold only 0 and 1.*\[1\]"),
    (lambda m: m.fit([0, 2], [1, 0]), r"lifetime must be >= 1 for churned.*\[0\]"),
    (lambda m: m.fit([1, 2, 3], [1, 0]), "churned has 2 values but lifetime has 3"),
    (lambda m: m.fit([1, 2], [1, 0], weights=[0, 0]), "weights sum to 0"),
    (lambda m: m.fit([], []), "empty"),
])
def test_bad_fits_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call(crmjit.ShiftedBetaGeoModel())


def test_bad_predictions_and_cohorts_are_named():
    model = _fit(REGULAR)
    with pytest.raises(ValueError, match="discount_rate must be a finite number > 0"):
        model.derl(0.0)
    with pytest.raises(ValueError, match=r"t must be whole numbers >= 1.*\[0\]"):
        model.retention_rate([0, 1])
    with pytest.raises(ValueError, match="renewals must be whole numbers >= 0"):
        model.derl(0.1, [-1])
    with pytest.raises(ValueError, match="never grow"):
        crmjit.cohort_data([100, 120, 90])
    with pytest.raises(ValueError, match="at least two counts"):
        crmjit.cohort_data([100])
    with pytest.raises(ValueError, match="whole numbers"):
        crmjit.cohort_data([100, 80.5])


def test_log_gamma_shift_equals_mpmath():
    from crmjit.sbg import _log_gamma_shift
    mpmath.mp.dps = 50
    for x in (1e-3, 0.3, 1.0, 5.0, 14.9, 15.0, 100.0, 1e4, 1e8):
        for a in (1e-3, 0.05, 0.7, 3.0, 25.0, 400.0):
            X, A = mpmath.mpf(x), mpmath.mpf(a)  # exact sums, not rounded floats
            want = float(mpmath.loggamma(X + A) - mpmath.loggamma(X))
            got = float(_log_gamma_shift(x, a))
            assert abs(got - want) <= 1e-13 * max(1.0, abs(want)), (x, a)
