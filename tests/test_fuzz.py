"""Property-based fuzzing of public functions (Hypothesis, which also shrinks failures):
any input either raises a ValueError/TypeError that names an argument, or returns a
finite result equal to the pure-Python reference.  CI runs a fixed seed and a small
budget; ``CRMJIT_FUZZ_EXAMPLES=2000`` runs a larger one."""

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import crmjit
from crmjit import reference

EXAMPLES = int(os.environ.get("CRMJIT_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
sizes = st.integers(0, 6)


def names_an_argument(exc, *names):
    """Whether the message names one of ``names`` as a word (``y`` in "any" does not)."""
    import re
    text = str(exc)
    return any(re.search(rf"(?<![A-Za-z_]){re.escape(n)}(?![A-Za-z_])", text) for n in names)


def close_where_the_reference_is_finite(got, reference_call, rtol):
    """The pure-Python twins raise or give inf where float64 overflows in their plain
    formula (e.g. (1 + r)**t for a huge r, or 100 * c before / v) while the kernels take
    the stable path: compare where the twin has a finite answer."""
    try:
        want = np.asarray(reference_call(), dtype=np.float64)
    except OverflowError:
        return
    ok = np.isfinite(want)
    got, want, ok = np.ravel(got), np.ravel(want), np.ravel(ok)
    np.testing.assert_allclose(got[ok], want[ok], rtol=rtol,
                               atol=rtol * (1 + np.abs(want[ok]).max(initial=0)))


@FUZZ
@given(cf=hnp.arrays(np.float64, st.tuples(sizes, st.integers(1, 5)), elements=floats),
       rate=floats, life=st.one_of(st.none(), st.integers(-3, 8)))
def test_clv_matrix_is_a_clear_error_or_the_reference(cf, rate, life):
    try:
        got = crmjit.clv(cf, rate, None if life is None else [life] * cf.shape[0])
    except (ValueError, TypeError) as exc:
        assert names_an_argument(exc, "cash_flows", "rate", "lifespan", "CLV")
        return
    assert np.all(np.isfinite(got))
    lives = [cf.shape[1] if life is None else life] * cf.shape[0]
    close_where_the_reference_is_finite(
        got, lambda: reference.clv_matrix(cf.tolist(), [rate] * cf.shape[0], lives), 1e-9)


@FUZZ
@given(margin=floats, rate=floats, life=st.one_of(st.integers(-2, 10**6),
                                                  st.floats(0, 1e25)))
def test_clv_constant_is_a_clear_error_or_the_reference(margin, rate, life):
    try:
        got = crmjit.clv(margin, rate, life)
    except (ValueError, TypeError) as exc:
        assert names_an_argument(exc, "cash_flows", "rate", "lifespan", "CLV")
        return
    assert math.isfinite(got)
    if isinstance(life, int) and life <= 2000:
        close_where_the_reference_is_finite(
            got, lambda: reference.clv_constant([margin], [rate], [life]), 1e-9)


@FUZZ
@given(num=hnp.arrays(np.float64, sizes, elements=floats),
       den=hnp.arrays(np.float64, sizes, elements=floats))
def test_ratios_are_a_clear_error_or_the_reference(num, den):
    for func, names, ref in ((crmjit.cac, ("spend", "new_customers"), reference.cac),
                             (crmjit.conversion_rate, ("conversions", "visits"),
                              reference.conversion_rate)):
        try:
            got = func(num, den)
        except (ValueError, TypeError) as exc:
            assert names_an_argument(exc, *names)
            continue
        assert np.all(np.isfinite(got))
        n = max(num.size, den.size) if num.size and den.size else 0  # length 1: for all
        a, b = np.broadcast_to(num, (n,)).tolist(), np.broadcast_to(den, (n,)).tolist()
        close_where_the_reference_is_finite(got, lambda: ref(a, b), 1e-12)


@FUZZ
@given(X=hnp.arrays(np.float64, st.tuples(st.integers(0, 40), st.integers(1, 4)),
                    elements=st.floats(-1e6, 1e6) | floats),
       scale=st.floats(-10, 10))
def test_scoring_is_a_clear_error_or_the_reference(X, scale):
    coef = np.linspace(-1, 1, X.shape[1]) * scale
    try:
        got = crmjit.predict_proba(X, coef, 0.25)
    except (ValueError, TypeError) as exc:
        assert names_an_argument(exc, "X", "coef")
        return
    assert np.all(np.isfinite(got)) and np.all((got >= 0) & (got <= 1))
    # a dot product's rounding error is eps * d * sum |x_j w_j| whatever the summation
    # order, and the sigmoid's slope is at most 1/4
    with np.errstate(over="ignore"):
        cond = np.abs(X) @ np.abs(coef)
    err = 4 * X.shape[1] * np.finfo(float).eps * cond
    z = crmjit.decision_function(X, coef, 0.25)
    assert np.all(np.isfinite(z))
    z_want = np.array(reference.decision_function(X.tolist(), [0], [coef.tolist()], [0.25]))
    assert np.all(np.abs(z - z_want) <= 1e-12 * (1 + np.abs(z_want)) + err)
    want = np.array(reference.predict_proba(X.tolist(), [0], [coef.tolist()], [0.25]))
    assert np.all(np.abs(got - want) <= 1e-12 + 0.25 * err)


# ---------------------------------------------------------------- estimators
def _quiet_fit(fit):
    """fit(), with a ConvergenceWarning (a legitimate answer on hostile data) returned
    instead of raised."""
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            return fit(), False
        except ConvergenceWarning:
            pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit(), True


def _newton_step(X, y, sw, C, coef, intercept):
    """The Newton step of C * sum s logloss + 0.5 ||w||^2 at (coef, intercept): how far,
    to first order, the fit is from the optimum (in the coefficients' own units)."""
    X1 = np.column_stack([X, np.ones(len(y))])
    with np.errstate(all="ignore"):  # beyond float64 here: no check (NaN step)
        z = X1 @ np.append(coef, intercept)
        p = 0.5 * (1 + np.tanh(0.5 * z))
        ridge = np.append(np.ones(X.shape[1]), 0.0)
        g = X1.T @ (C * sw * (p - y)) + ridge * np.append(coef, 0.0)
        H = (X1.T * (C * sw * p * (1 - p))) @ X1 + np.diag(ridge)
    if not (np.isfinite(H).all() and np.isfinite(g).all()):
        return np.zeros_like(g)
    return np.linalg.lstsq(H, g, rcond=None)[0]


training = dict(
    X=hnp.arrays(np.float64, st.tuples(st.integers(0, 30), st.integers(1, 3)),
                 elements=st.floats(-1e3, 1e3) | floats | st.sampled_from([1e160, -1e200])),
    y=st.lists(st.integers(0, 1), min_size=0, max_size=30),
    weights=st.one_of(st.none(), st.lists(st.floats(-1, 5) | floats, min_size=0, max_size=30)),
    C=st.floats(1e-3, 1e3) | st.sampled_from([0.0, -1.0, np.inf, np.nan]))


@FUZZ
@given(**training)
def test_logistic_fit_is_a_clear_error_or_the_optimum(X, y, weights, C):
    y = np.array(y[:X.shape[0]] + [0] * max(0, X.shape[0] - len(y)))
    try:
        model, warned = _quiet_fit(lambda: crmjit.LogisticRegression(C=C).fit(
            X, y, sample_weight=weights))
    except (ValueError, TypeError) as exc:
        assert names_an_argument(exc, "X", "y", "sample_weight", "C")
        return
    coef, b = model.coef_[0], model.intercept_[0]
    assert np.isfinite(coef).all() and np.isfinite(b)
    if not warned and np.isfinite(C):
        sw = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
        step = _newton_step(X, y, sw, C, coef, b)
        assert np.abs(step).max() <= 1e-5 * max(1.0, np.abs(coef).max(), abs(b))


@FUZZ
@given(**training, groups=st.lists(st.integers(0, 2), min_size=0, max_size=30))
def test_batched_fit_is_a_clear_error_or_each_segments_model(X, y, weights, C, groups):
    n = X.shape[0]
    y = np.array(y[:n] + [0] * max(0, n - len(y)))
    g = np.array(groups[:n] + [0] * max(0, n - len(groups)))
    try:
        model, _ = _quiet_fit(lambda: crmjit.BatchedLogisticRegression(C=C).fit(
            X, y, g, sample_weight=weights))
    except (ValueError, TypeError) as exc:
        assert names_an_argument(exc, "X", "y", "groups", "sample_weight", "C")
        return
    assert np.isfinite(model.coef_).all() and np.isfinite(model.intercept_).all()
    for s, label in enumerate(model.groups_):  # each segment: its own one-model fit
        rows = g == label
        sw = None if weights is None else np.asarray(weights, dtype=float)[rows]
        one, _ = _quiet_fit(lambda: crmjit.LogisticRegression(C=C).fit(X[rows], y[rows],
                                                                         sample_weight=sw))
        # the same scores (with C = inf and collinear columns the coefficients are not
        # unique, the optimum's scores are), to what the tolerance on coefficients allows
        z = model.decision_function(X[rows], g[rows])
        theta = max(1.0, np.abs(model.coef_[s]).max(), abs(model.intercept_[s]))
        allow = 1e-5 * theta * (1 + np.abs(X[rows]).sum(axis=1).max())
        np.testing.assert_allclose(z, one.decision_function(X[rows]), rtol=0, atol=allow)


# ---------------------------------------------------------------- RFM and BTYD
def _rfm_twin(ids, days, amounts, end):
    """lifetimes' definitions, plainly: per customer the distinct days up to ``end``."""
    out = {}
    for c in sorted(set(ids)):
        per = {}
        for i, d, a in zip(ids, days, amounts):
            if i == c and d <= end:
                per[d] = per.get(d, 0.0) + a
        if not per:
            continue
        first, last = min(per), max(per)
        repeat = [v for d, v in per.items() if d != first]
        out[c] = (len(per) - 1.0, float(last - first), float(end - first),
                  sum(repeat) / len(repeat) if repeat else 0.0)
    return out


@FUZZ
@given(rows=st.lists(st.tuples(st.integers(0, 5), st.integers(-150_000, 150_000),
                               st.floats(-100, 100) | floats), min_size=0, max_size=25),
       end=st.integers(-150_000, 150_000))
def test_rfm_summary_is_a_clear_error_or_the_definition(rows, end):
    import pandas as pd
    ids = [r[0] for r in rows]
    days = [r[1] for r in rows]
    amounts = [r[2] for r in rows]
    base = np.datetime64("2000-01-01", "s")
    log = pd.DataFrame({"id": pd.Series(ids, dtype=np.int64),
                        "date": base + np.array(days, dtype="timedelta64[D]"),
                        "amount": pd.Series(amounts, dtype=np.float64)})
    try:
        got = crmjit.rfm_summary(log, "id", "date", "amount",
                                 observation_period_end=base + np.timedelta64(end, "D"))
    except (ValueError, TypeError) as exc:
        assert names_an_argument(exc, "amount", "date", "id", "observation_period_end",
                                 "transactions")
        return
    want = _rfm_twin(ids, days, amounts, end)
    assert sorted(want) == got.index.tolist()
    for c, (f, r, T, m) in want.items():
        row = got.loc[c]
        assert (row.frequency, row.recency, row["T"]) == (f, r, T)
        assert row.monetary_value == pytest.approx(m, rel=1e-12, abs=1e-9)


rfm_columns = st.lists(st.tuples(st.integers(-1, 30) | st.floats(-1, 30) | floats,
                                 st.floats(-5, 60) | floats, st.floats(-5, 60) | floats,
                                 st.floats(-10, 500) | floats), min_size=1, max_size=30)


@FUZZ
@given(rows=rfm_columns)
def test_btyd_fits_are_a_clear_error_or_finite_and_the_twins_predictions(rows):
    f, rec, T, m = (np.array([r[j] for r in rows], dtype=float) for j in range(4))
    try:
        bg, _ = _quiet_fit(lambda: crmjit.BetaGeoModel().fit(f, rec, T))
    except (ValueError, TypeError) as exc:
        assert names_an_argument(exc, "frequency", "recency", "T", "weights", "penalizer_coef")
        return
    params = bg.params_.tolist()
    assert np.isfinite(params).all() and (np.array(params) > 0).all()
    for t in (1.0, 30.0):
        try:
            got = bg.expected_purchases(t, f, rec, T)
        except ValueError as exc:  # parameters run off beyond what can be summed
            assert names_an_argument(exc, "penalizer_coef")
            continue
        assert np.isfinite(got).all() and (got >= 0).all()
        if all(1e-3 < v < 1e3 for v in params):  # the twin's plain series is exact there
            close_where_the_reference_is_finite(got, lambda: [
                reference.btyd.expected(t, x, tx, age, *params)
                for x, tx, age in zip(f.tolist(), rec.tolist(), T.tolist())], 1e-8)
    alive = bg.p_alive(f, rec, T)
    assert ((alive >= 0) & (alive <= 1)).all()
    try:
        gg, _ = _quiet_fit(lambda: crmjit.GammaGammaModel().fit(f, m))
    except (ValueError, TypeError) as exc:
        assert names_an_argument(exc, "frequency", "monetary_value", "weights",
                                 "penalizer_coef")
        return
    assert np.isfinite(gg.params_.tolist()).all()
    try:
        value = crmjit.customer_lifetime_value(bg, gg, f, rec, T, m, time=6)
    except ValueError as exc:
        assert names_an_argument(exc, "monetary_value", "penalizer_coef", "q")
        return
    assert np.isfinite(value).all()


@FUZZ
@given(rows=st.lists(st.tuples(st.sampled_from(["web", "shop", 3]), st.floats(-1e6, 1e6) | floats),
                     min_size=0, max_size=20),
       spend=st.floats(-10, 1e6) | floats, new=st.integers(-2, 50) | floats)
def test_channel_summary_is_a_clear_error_or_the_group_sums(rows, spend, new):
    import pandas as pd
    channels = [str(r[0]) for r in rows]
    values = [r[1] for r in rows]
    labels = sorted(set(channels))
    try:
        got = crmjit.channel_summary(channels, values, {c: spend for c in labels},
                                     {c: new for c in labels}, zero_division="nan")
    except (ValueError, TypeError) as exc:
        assert names_an_argument(exc, "channel", "clv", "spend", "new_customers")
        return
    want = pd.Series(values, dtype=float).groupby(pd.Series(channels)).agg(["size", "sum"])
    assert got.index.tolist() == labels
    np.testing.assert_array_equal(got.customers, want["size"])
    np.testing.assert_allclose(got.clv_total, want["sum"], rtol=1e-12, atol=1e-6)


@FUZZ
@given(rows=st.lists(st.tuples(st.integers(0, 5), st.integers(-150_000, 150_000),
                               st.floats(-100, 100) | floats), min_size=0, max_size=25),
       cal=st.integers(-150_000, 150_000), length=st.integers(-5, 1000))
def test_calibration_holdout_is_a_clear_error_or_the_definition(rows, cal, length):
    import pandas as pd
    ids, days, amounts = ([r[j] for r in rows] for j in range(3))
    base = np.datetime64("2000-01-01", "s")
    log = pd.DataFrame({"id": pd.Series(ids, dtype=np.int64),
                        "date": base + np.array(days, dtype="timedelta64[D]"),
                        "amount": pd.Series(amounts, dtype=np.float64)})
    try:
        got = crmjit.rfm_calibration_holdout(
            log, "id", "date", base + np.timedelta64(cal, "D"),
            base + np.timedelta64(cal + length, "D"), monetary_value_col="amount")
    except (ValueError, TypeError) as exc:
        assert names_an_argument(exc, "amount", "date", "id", "calibration_period_end",
                                 "observation_period_end", "transactions")
        return
    assert np.isfinite(got.to_numpy()).all()
    want = _rfm_twin(ids, days, amounts, cal)
    assert sorted(want) == got.index.tolist()
    for c, (f, r, T, m) in want.items():
        row = got.loc[c]
        held = [(d, a) for i, d, a in zip(ids, days, amounts)
                if i == c and cal < d <= cal + length]
        assert (row.frequency_cal, row.recency_cal, row.T_cal) == (f, r, T)
        assert row.frequency_holdout == len({d for d, _ in held})
        mean = sum(a for _, a in held) / len(held) if held else 0.0
        assert row.monetary_value_holdout == pytest.approx(mean, rel=1e-12, abs=1e-9)
        assert row.duration_holdout == length


@FUZZ
@given(rows=st.lists(st.tuples(st.sampled_from([0, 1, 0.0, 1.0, 2, -1]),
                               st.sampled_from([0.0, -0.0, 0.5, 1.0, 1e-300, 5e-324, -3.0])
                               | floats,
                               st.floats(0, 1e6) | floats, st.integers(0, 2)),
                     min_size=0, max_size=30))
def test_metrics_are_a_clear_error_or_scikit_learns(rows):
    import sklearn.metrics as skm

    from crmjit import metrics
    y, s, w, g = (np.array(c) for c in zip(*rows)) if rows else (np.array([]),) * 4
    args = ("y_true", "y_score", "y_prob", "sample_weight", "groups")
    try:
        auc = metrics.roc_auc_score(y, s, sample_weight=w)
    except (ValueError, TypeError) as exc:
        assert names_an_argument(exc, *args) or "one class" in str(exc) or "empty" in str(exc)
    else:
        assert auc == pytest.approx(skm.roc_auc_score(y, s, sample_weight=w), rel=1e-9,
                                    abs=1e-12)
    try:
        table = metrics.gains_table(y, s, 3, sample_weight=w, groups=g)
    except (ValueError, TypeError) as exc:
        assert names_an_argument(exc, *args) or "no positives" in str(exc) or "empty" in str(exc)
    else:
        sums = table.groupby("group")[["customers", "positives"]].sum()
        for label, row in sums.iterrows():
            m = g == label
            assert row.customers == pytest.approx(w[m].sum(), rel=1e-12)
            assert row.positives == pytest.approx((w[m] * y[m]).sum(), rel=1e-12)
        assert np.isfinite(table.drop(columns="group").to_numpy(float)).all()
    try:
        loss = metrics.log_loss(y, s, sample_weight=w)
    except (ValueError, TypeError) as exc:
        assert names_an_argument(exc, *args) or "sum to zero" in str(exc) or "empty" in str(exc)
    else:
        assert np.isfinite(loss) and loss >= 0
