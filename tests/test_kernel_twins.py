"""Kernels that the other tests reach only through a public function, checked directly
against their pure-Python twins on random and edge-case inputs."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from crmjit import reference
from crmjit.kernels.generate import _mix64, _normal_pair, _stream_key, _uniform
from crmjit.kernels import scoring
from crmjit.kernels.scoring import _row_dot
from crmjit.kernels.value import _annuity


def _predict_proba(X, codes, coefs, intercepts, out):
    """The kernel over all rows in two spans (the split the threads see)."""
    n = X.shape[0]
    return sum(scoring._predict_proba(X, codes, coefs, intercepts, out, a, b)
               for a, b in ((0, n // 2), (n // 2, n)))


def _predict_proba_columns(cols, coef, intercept, out):
    n = out.shape[0]
    return sum(scoring._predict_proba_columns(cols, coef, intercept, out, a, b)
               for a, b in ((0, n // 3), (n // 3, n)))

U64 = np.uint64


@pytest.mark.parametrize("rate, life", [(0.0, 0), (0.0, 7), (1e-14, 1000), (-1e-12, 50),
                                        (0.1, 3), (-0.5, 20), (5.0, 1), (0.01, 600)])
def test_annuity_matches_twin(rate, life):
    assert _annuity(rate, life) == pytest.approx(reference.annuity(rate, life), rel=1e-12,
                                                 abs=0)


@pytest.mark.parametrize("z", [0, 1, 2**63, 2**64 - 1, 0x9E3779B97F4A7C15, 12345])
def test_rng_helpers_match_twin_bit_for_bit(z):
    g = reference.generate
    assert int(_mix64(U64(z))) == g.mix64(z)
    assert int(_stream_key(U64(z), 3)) == g.stream_key(z, 3)
    for counter in (0, 1, 2**40, 2**64 - 2):
        u = _uniform(U64(z), U64(counter))
        assert u == g.uniform(z, counter) and 0.0 < u <= 1.0
    assert _normal_pair(U64(z), U64(17)) == pytest.approx(g.normal_pair(z, 17), rel=1e-14)


def test_row_dot_and_one_model_scoring_match_twins(rng):
    X = rng.standard_normal((2100, 13)) * 30  # 2100 rows: several blocks, a partial one
    w, b = rng.standard_normal(13), -0.7
    W = rng.standard_normal((3, 13))
    for i in (0, 1, 2099):
        for c in range(3):
            assert _row_dot(X, i, W, c, b) == pytest.approx(
                reference.row_dot(X.tolist(), i, W.tolist(), c, b), rel=1e-12, abs=1e-12)
    out = np.empty(2100)
    one = np.zeros(1, dtype=np.int64)  # one model for every row: the public scoring path
    assert _predict_proba(X, one, w[None, :], np.array([b]), out) == 0
    assert_allclose(out, reference.predict_proba(X.tolist(), [0], [w.tolist()], [b]), rtol=1e-11,
                    atol=1e-300)
    X[5, 2] = np.nan
    X[2099, 0] = np.inf
    assert _predict_proba(X, one, w[None, :], np.array([b]), out) == 2  # counted, not hidden


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_column_scoring_matches_twin(rng, dtype):
    cols = tuple(np.ascontiguousarray(rng.standard_normal(1300) * 4, dtype=dtype)
                 for _ in range(5))  # 1300 rows: several blocks and a partial one
    coef = rng.standard_normal(5).astype(dtype)
    b = dtype(-0.3)
    out = np.empty(1300, dtype=dtype)
    assert _predict_proba_columns(cols, coef, b, out) == 0
    want = reference.predict_proba_columns([c.tolist() for c in cols], coef.tolist(), float(b))
    assert_allclose(out, want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-30)
    broken = list(cols)
    broken[2] = broken[2].copy()
    broken[2][[0, 1299]] = [np.nan, np.inf]
    assert _predict_proba_columns(tuple(broken), coef, b, out) == 2
