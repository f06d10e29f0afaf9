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


@pytest.mark.parametrize("n, n_groups, n_chunks", [(0, 3, 1), (1, 1, 1), (500, 7, 4),
                                                   (333, 50, 3)])
def test_counting_sort_kernels_match_twins(rng, n, n_groups, n_chunks):
    from crmjit.kernels.grouping import _count_chunk, _first_slots, _scatter_chunk
    codes = rng.integers(0, n_groups, n)
    flags = (rng.random(n) < 0.4).astype(np.uint8)
    chunk = max(1, -(-n // n_chunks))
    counts = np.zeros((n_chunks, n_groups), np.int64)
    sums = np.zeros((n_chunks, n_groups), np.int64)
    descents = np.zeros(n_chunks, np.int64)
    for c in range(n_chunks):
        _count_chunk(codes, flags, c, chunk, counts, sums, descents)
        r_counts, r_sums, r_down = reference.grouping.count_chunk(
            codes.tolist(), flags.tolist(), c, chunk, n_groups)
        assert counts[c].tolist() == r_counts and sums[c].tolist() == r_sums
        assert descents[c] == r_down
    r_offsets, r_flag_sums, r_slots = reference.grouping.first_slots(counts.tolist(),
                                                                     sums.tolist())
    offsets, flag_sums = np.zeros(n_groups + 1, np.int64), np.zeros(n_groups, np.int64)
    _first_slots(counts, sums, offsets, flag_sums)
    assert offsets.tolist() == r_offsets and flag_sums.tolist() == r_flag_sums
    assert counts.tolist() == r_slots  # counts now hold each chunk's first slots
    order = np.full(n, -1, np.int64)
    want = {}
    for c in range(n_chunks):
        want.update(reference.grouping.scatter_chunk(codes.tolist(), c, chunk,
                                                     counts.tolist()))
        _scatter_chunk(codes, c, chunk, counts, order)
    assert order.tolist() == [want[i] for i in range(n)]
    assert order.tolist() == np.argsort(codes, kind="stable").tolist()


def test_lock_step_rule_kernels_match_twins(rng):
    from crmjit.kernels.newton import _accept_all, _converged_all
    G, k = 9, 3
    f = rng.standard_normal(G)
    ft = f + rng.standard_normal(G) * 1e-3
    ft[2], ft[5] = np.nan, f[5]  # a non-finite trial; an unresolved change
    g, gt, step = (rng.standard_normal((G, k)) for _ in range(3))
    t = 2.0 ** -rng.integers(0, 5, G).astype(float)
    idx = np.array([0, 2, 5, 7, 8])
    ok = _accept_all(f, ft, g, gt, step, t, idx, np.zeros(idx.size, dtype=np.bool_))
    assert ok.tolist() == reference.newton.accept_all(f.tolist(), ft.tolist(), g.tolist(),
                                                      gt.tolist(), step.tolist(), t.tolist(),
                                                      idx.tolist())
    theta = rng.standard_normal((G, k)) * 100
    small = step * 10.0 ** -rng.integers(3, 12, (G, 1))
    out = np.zeros(G, dtype=bool)
    _converged_all(small, theta, 1e-6, idx, out)
    want = reference.newton.converged_all(small.tolist(), theta.tolist(), 1e-6, idx.tolist())
    assert [out[s] for s in idx] == [want[s] for s in idx]
    assert not np.delete(out, idx).any()  # problems not listed are left as they were


@pytest.mark.parametrize("row_stride, hess_stride", [(1, 1), (2, 1), (1, 3), (1, 0)])
def test_chunk_kernels_match_twins(rng, row_stride, hess_stride):
    from crmjit.kernels.passes import BLOCK, _chunk_terms
    n, d, chunk = 5 * BLOCK + 37, 3, 2 * BLOCK
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < 0.3).astype(np.uint8)
    sw = rng.uniform(0.5, 2, n)
    theta = rng.standard_normal(d + 1) * 0.3
    n_chunks = -(-n // chunk)
    parts, pg = np.zeros((n_chunks, 3)), np.zeros((n_chunks, d + 1))
    ph = np.zeros((n_chunks, d + 1, d + 1))
    _chunk_terms(X, y, sw, theta, chunk, 1, n_chunks, row_stride, hess_stride, parts, pg, ph)
    want = reference.passes.chunk_terms(X.tolist(), y.tolist(), sw.tolist(), theta.tolist(),
                                        chunk, 1, n_chunks, row_stride, hess_stride)
    assert not parts[0].any()  # chunk 0 was not in the range
    for c, (loss, weight, hw, grad, hess) in want.items():
        assert parts[c].tolist() == pytest.approx([loss, weight, hw], rel=1e-12)
        assert_allclose(pg[c], grad, rtol=1e-10, atol=1e-11)
        assert_allclose(np.triu(ph[c]), np.triu(hess), rtol=1e-10, atol=1e-11)
