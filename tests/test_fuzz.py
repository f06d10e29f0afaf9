"""Property-based fuzzing of public functions (Hypothesis, which also shrinks failures):
any input either raises a ValueError/TypeError that names an argument, or returns a
finite result equal to the pure-Python reference.  CI runs a fixed seed and a small
budget; ``CRMJIT_FUZZ_EXAMPLES=2000`` runs a larger one."""

import math
import os

import numpy as np
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
    text = str(exc)
    return any(n in text for n in names)


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
    want = np.array(reference.predict_proba(X.tolist(), [0], [coef.tolist()], [0.25]))
    # a dot product's rounding error is eps * d * sum |x_j w_j| whatever the summation
    # order, and the sigmoid's slope is at most 1/4
    with np.errstate(over="ignore"):
        cond = np.abs(X) @ np.abs(coef)
    tol = 1e-12 + 0.25 * 4 * X.shape[1] * np.finfo(float).eps * cond
    assert np.all(np.abs(got - want) <= tol)
