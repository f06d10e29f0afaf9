import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogReg

import crmjit
from crmjit import reference
from crmjit.data_gen import make_customers
from crmjit._segment_fit import carve, lane_buffers, segment_blocks
from crmjit._grouping import group_order as _group_order
from crmjit._grouping import map_labels as _map_labels
from crmjit._segment_fit import fit_lanes
from crmjit.kernels.logloss import (_block_scratch, _block_temps, _block_terms, _dot,
                                    _hess_upper, _load_rows, _row_terms, _rows_gradient,
                                    _symmetrize, _theta_dot, _total)
from crmjit.kernels.newton import (_accept, _converged, _lagged, _newton_direction,
                                   _newton_directions)
from crmjit.kernels.segments import (PAD, SEGMENT_BLOCK, _load_padded, _padded, _penalised,
                                     _segment_newton)


def sk_fit(X, y, C=1.0, sw=None):
    return SkLogReg(C=C, tol=1e-10, max_iter=10_000).fit(X, y, sample_weight=sw)


def varied_segments(seed, n=30_000, d=4, g=200):
    c = make_customers(n, n_features=d, n_segments=g, seed=seed, segment_skew=0.8)
    return c


def test_hundreds_of_segments_match_sklearn(seed):
    c = varied_segments(seed)
    sizes = np.bincount(c.segment)
    assert sizes.min() < 100 < 1000 < sizes.max()  # varied sizes
    m = crmjit.BatchedLogisticRegression(invalid="flag").fit(c.X, c.y, c.segment)
    assert m.coef_.shape == (len(m.groups_), 4) and m.converged_[m.valid_].all()
    checked = 0
    for k, label in enumerate(m.groups_):
        rows = c.segment == label
        if not m.valid_[k]:
            assert np.unique(c.y[rows]).size == 1
            continue
        sk = sk_fit(c.X[rows], c.y[rows])
        assert_allclose(m.coef_[k], sk.coef_[0], atol=1e-6,
                        err_msg=f"segment {label} ({rows.sum()} rows): crmjit vs sklearn")
        assert_allclose(m.intercept_[k], sk.intercept_[0], atol=1e-6)
        checked += 1
    assert checked >= 150


def test_per_segment_C_and_sample_weight(rng):
    c = make_customers(6000, n_features=3, n_segments=12, seed=7, segment_skew=0.0)
    C = np.logspace(-3, 3, 12)
    sw = rng.uniform(0.1, 3.0, 6000)
    m = crmjit.BatchedLogisticRegression(C=C).fit(c.X, c.y, c.segment, sample_weight=sw)
    for k, label in enumerate(m.groups_):
        rows = c.segment == label
        sk = sk_fit(c.X[rows], c.y[rows], C=C[k], sw=sw[rows])
        assert_allclose(m.coef_[k], sk.coef_[0], atol=1e-6, err_msg=f"C={C[k]}")
        assert_allclose(m.intercept_[k], sk.intercept_[0], atol=1e-6)


def test_label_kinds_and_row_order_agree(rng):
    c = make_customers(4000, n_features=3, n_segments=5, seed=3, segment_skew=0.0)
    names = np.array(["north", "east", "south", "west", "centre"])[c.segment]
    base = crmjit.BatchedLogisticRegression().fit(c.X, c.y, names)
    assert base.groups_.tolist() == sorted(set(names))
    perm = rng.permutation(4000)
    for groups, X, y in [(pd.Categorical(names), c.X, c.y),
                         (pd.Series(names, dtype="category"), c.X, c.y),
                         (names[perm], c.X[perm], c.y[perm])]:
        m = crmjit.BatchedLogisticRegression().fit(X, y, groups)
        assert m.groups_.tolist() == base.groups_.tolist()
        assert_allclose(m.coef_, base.coef_, atol=1e-9)
    ints = crmjit.BatchedLogisticRegression().fit(c.X, c.y, c.segment)
    floats = crmjit.BatchedLogisticRegression().fit(c.X, c.y, c.segment.astype(float))
    assert_array_equal(ints.coef_, floats.coef_)
    # labels 0 .. 4 are their own codes (any integer dtype), here with per-segment C and
    # weights (codes counted by np.bincount); the names sort as segments [4, 1, 0, 2, 3]
    sw = rng.uniform(0.5, 2.0, 4000)
    want = crmjit.BatchedLogisticRegression(C=[5, 2, 1, 3, 4]).fit(c.X, c.y, names,
                                                                    sample_weight=sw)
    for dtype in (np.int8, np.uint16, np.int64, np.uint64):
        m = crmjit.BatchedLogisticRegression(C=[1, 2, 3, 4, 5]).fit(
            c.X, c.y, c.segment.astype(dtype), sample_weight=sw)
        assert m.groups_.dtype == dtype and m.groups_.tolist() == list(range(5))
        assert_array_equal(m.coef_[[4, 1, 0, 2, 3]], want.coef_)
    order = np.argsort(c.segment, kind="stable")  # already grouped: the no-copy path
    grouped = crmjit.BatchedLogisticRegression().fit(c.X[order], c.y[order], c.segment[order])
    assert_allclose(grouped.coef_, ints.coef_, atol=1e-9)


def test_large_segments_take_the_row_parallel_path(monkeypatch):
    from crmjit import _segment_fit as batched
    monkeypatch.setattr(batched, "BIG_SEGMENT", 10_000)  # the same path on less data
    n = 20_000
    c = make_customers(n, n_features=3, n_segments=1, seed=9)
    seg = np.where(np.arange(n) < 15_000, 0, 1 + np.arange(n) % 3)
    assert (np.bincount(seg) >= batched.big_segment_rows(3)).tolist() == [True] + [False] * 3
    m = crmjit.BatchedLogisticRegression().fit(c.X, c.y, seg)
    for k in range(4):
        rows = seg == k
        sk = SkLogReg(tol=1e-10, max_iter=10_000, solver="newton-cholesky").fit(c.X[rows],
                                                                               c.y[rows])
        assert_allclose(m.coef_[k], sk.coef_[0], atol=1e-6, err_msg=f"segment {k}")


def test_matches_reference_fit_grouped(rng):
    X = rng.standard_normal((90, 2))
    y = (rng.random(90) < 0.5).astype(int)
    groups = rng.integers(0, 3, 90)
    ref = reference.fit_grouped(X.tolist(), y.tolist(), groups.tolist(), [1.0], 0.5)
    m = crmjit.BatchedLogisticRegression(C=0.5, tol=1e-10).fit(X, y, groups)
    for k, label in enumerate(m.groups_):
        coef, b = ref[label]
        assert_allclose(m.coef_[k], coef, atol=1e-9)
        assert_allclose(m.intercept_[k], b, atol=1e-9)


def test_prediction_matches_reference_and_single_models(rng):
    c = make_customers(3000, n_features=4, n_segments=6, seed=2, segment_skew=0.0)
    m = crmjit.BatchedLogisticRegression().fit(c.X, c.y, c.segment)
    codes = np.searchsorted(m.groups_, c.segment)
    p = m.predict_proba(c.X, c.segment)
    expected = reference.predict_proba(c.X.tolist(), codes.tolist(), m.coef_.tolist(),
                                               m.intercept_.tolist())
    assert_allclose(p, expected, rtol=1e-12)
    z = m.decision_function(c.X, c.segment)
    assert_allclose(z, reference.decision_function(
        c.X.tolist(), codes.tolist(), m.coef_.tolist(), m.intercept_.tolist()), rtol=1e-12,
        atol=1e-14)  # a sum of O(1) terms in another order: error relative to the terms
    k = 2
    rows = c.segment == m.groups_[k]
    assert_allclose(p[rows], crmjit.predict_proba(c.X[rows], m.coef_[k], m.intercept_[k]),
                    rtol=1e-12)
    p32 = m.predict_proba(c.X.astype(np.float32), c.segment)
    assert p32.dtype == np.float32
    assert_allclose(p32, p, rtol=1e-5, atol=1e-6)


def test_one_class_segments_raise_or_flag():
    c = make_customers(2000, n_features=3, n_segments=4, seed=5, segment_skew=0.0)
    y = c.y.copy()
    y[c.segment == 1] = 0
    y[c.segment == 3] = 1
    with pytest.raises(ValueError, match=r"2 segment\(s\): \[1, 3\] hold only 1 class"):
        crmjit.BatchedLogisticRegression().fit(c.X, y, c.segment)
    m = crmjit.BatchedLogisticRegression(invalid="flag").fit(c.X, y, c.segment)
    assert m.valid_.tolist() == [True, False, True, False]
    assert np.all(np.isfinite(m.coef_)) and np.all(m.coef_[1] == 0)
    rows = c.segment == 0
    assert_allclose(m.coef_[0], sk_fit(c.X[rows], y[rows]).coef_[0], atol=1e-6)
    with pytest.raises(ValueError, match=r"no model for 2 segment\(s\): \[1, 3\]"):
        m.predict_proba(c.X, c.segment)
    ok = np.isin(c.segment, [0, 2])
    assert m.predict_proba(c.X[ok], c.segment[ok]).shape == (ok.sum(),)
    with pytest.raises(ValueError, match="hold only 1 class"):
        crmjit.BatchedLogisticRegression(invalid="flag").fit(c.X, np.zeros(2000), c.segment)


def test_convergence_warning_names_segments():
    c = make_customers(2000, n_features=3, n_segments=4, seed=5, segment_skew=0.0)
    with pytest.warns(ConvergenceWarning, match=r"4 of 4 segments did not converge"):
        m = crmjit.BatchedLogisticRegression(max_iter=1).fit(c.X, c.y, c.segment)
    assert not m.converged_.any() and np.all(np.isfinite(m.coef_))


def test_bad_input():
    c = make_customers(300, n_features=3, n_segments=3, seed=1, segment_skew=0.0)
    m = crmjit.BatchedLogisticRegression()
    with pytest.raises(ValueError, match="groups has length 299"):
        m.fit(c.X, c.y, c.segment[:-1])
    with pytest.raises(ValueError, match=r"groups has missing labels \(NaN\) at positions \[4\]"):
        m.fit(c.X, c.y, np.where(np.arange(300) == 4, np.nan, c.segment.astype(float)))
    with pytest.raises(ValueError, match="non-integer float labels at positions"):
        m.fit(c.X, c.y, c.segment + 0.5)
    with pytest.raises(ValueError, match="groups has missing labels"):
        m.fit(c.X, c.y, np.array(["a", None, "b"] * 100, dtype=object))
    with pytest.raises(ValueError, match=r"one value per segment \(3"):
        crmjit.BatchedLogisticRegression(C=[1.0, 2.0]).fit(c.X, c.y, c.segment)
    with pytest.raises(ValueError, match="C must be > 0"):
        crmjit.BatchedLogisticRegression(C=[1.0, 0.0, 2.0]).fit(c.X, c.y, c.segment)
    with pytest.raises(ValueError, match="C must be > 0"):
        crmjit.BatchedLogisticRegression(C=[1.0, np.nan, 2.0]).fit(c.X, c.y, c.segment)
    with pytest.raises(ValueError, match="invalid"):
        crmjit.BatchedLogisticRegression(invalid="drop").fit(c.X, c.y, c.segment)
    Xn = c.X.copy()
    Xn[7, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        m.fit(Xn, c.y, c.segment)
    with pytest.raises(ValueError, match="Only binary"):
        m.fit(c.X, np.arange(300) % 3, c.segment)
    with pytest.raises(ValueError, match="(?i)negative"):
        m.fit(c.X, c.y, c.segment, sample_weight=-np.ones(300))
    with pytest.raises(ValueError, match="0 sample"):
        m.fit(np.empty((0, 3)), np.empty(0), np.empty(0))
    m.fit(c.X, c.y, c.segment)
    with pytest.raises(ValueError, match=r"not seen in fit: 1 segment\(s\): \[7\]"):
        m.predict_proba(c.X[:5], [0, 1, 7, 0, 1])
    with pytest.raises(ValueError, match="one label per row"):
        m.predict_proba(c.X[:5], [0, 1])
    with pytest.raises(ValueError, match="3 features"):
        m.predict_proba(c.X[:, :2], c.segment)
    with pytest.raises(ValueError, match=r"rows \[7\]"):
        m.predict_proba(Xn, c.segment)
    with pytest.raises(Exception, match="not fitted"):
        crmjit.BatchedLogisticRegression().predict_proba(c.X, c.segment)


# ---------------------------------------------------------------- kernels vs twins
def test_map_labels_matches_reference(rng):
    table = np.array([2, -1, 0, 1], dtype=np.int32)
    labels = np.array([0, 3, 1, 7, -2, 2, 2])
    out = np.empty(7, dtype=np.int32)
    bad = _map_labels(labels, table, out)
    ref, ref_bad = reference.map_labels(labels.tolist(), table.tolist())
    assert out.tolist() == ref == [2, 1, -1, -1, -1, 0, 0] and bad == ref_bad == 3


def test_integer_and_string_labels_score_alike():
    c = make_customers(3000, n_features=3, n_segments=5, seed=4, segment_skew=0.0)
    labels = c.segment * 10 + 3  # sparse integer labels
    m = crmjit.BatchedLogisticRegression().fit(c.X, c.y, labels)
    p_int = m.predict_proba(c.X, labels)
    p_obj = m.predict_proba(c.X, labels.astype(object))  # the general (hashing) path
    assert_array_equal(p_int, p_obj)
    with pytest.raises(ValueError, match=r"not seen in fit: 2 segment\(s\): \[-4, 5\]"):
        m.predict_proba(c.X[:4], np.array([3, 5, -4, 13]))


def test_labels_zero_to_g_are_their_own_codes():
    """Labels 0 .. G-1 skip the lookup table (the labels are the model indices); the
    results equal the general path's, and any label outside 0 .. G-1 still raises."""
    c = make_customers(3000, n_features=3, n_segments=5, seed=4, segment_skew=0.0)
    for dtype in (np.int8, np.int32, np.uint16, np.int64):
        g = c.segment.astype(dtype)
        m = crmjit.BatchedLogisticRegression().fit(c.X, c.y, g)
        assert m.groups_.tolist() == [0, 1, 2, 3, 4]
        assert m._integer_codes(g) is g  # the fast path: no table, no copy
        assert_array_equal(m.predict_proba(c.X, g), m.predict_proba(c.X, g.astype(object)))
        assert_array_equal(m.decision_function(c.X, g),
                           m.decision_function(c.X, g.astype(str).astype(object)
                                               .astype(np.int64)))
        for bad in (5, 9):
            seen = rf"not seen in fit: 1 segment\(s\): \[{bad}\]"
            with pytest.raises(ValueError, match=seen):
                m.predict_proba(c.X[:3], np.array([0, bad, 4], dtype=dtype))
    with pytest.raises(ValueError, match=r"not seen in fit: 1 segment\(s\): \[-1\]"):
        m.predict_proba(c.X[:3], np.array([0, -1, 4]))
    y = c.y.copy()
    y[c.segment == 2] = 0  # segment 2 cannot be fitted: flagged, so the table path is taken
    m = crmjit.BatchedLogisticRegression(invalid="flag").fit(c.X, y, c.segment)
    ok = c.segment != 2
    sub = c.segment[ok]
    assert m._integer_codes(sub) is not sub
    with pytest.raises(ValueError, match=r"no model for 1 segment\(s\): \[2\]"):
        m.predict_proba(c.X, c.segment)
    assert_array_equal(m.predict_proba(c.X[ok], c.segment[ok]),
                       m.predict_proba(c.X[ok], c.segment[ok].astype(object)))


def group_order(codes, n_groups, flags=None, dtype=np.int64):
    order = np.full(codes.shape[0], -1, dtype)
    f = np.empty(0, np.uint8) if flags is None else flags
    return (order,) + _group_order(codes, n_groups, f, order)


def test_group_order_matches_reference(rng):
    for n, n_groups, top in [(500, 7, 7), (300_000, 60, 50)]:  # 4 chunks in parallel;
        codes = rng.integers(0, top, n)                         # 10 empty groups at the end
        flags = (rng.random(n) < 0.3).astype(np.uint8)
        order, offsets, sums, grouped = group_order(codes, n_groups, flags)
        r_order, r_offsets, r_sums, r_grouped = reference.group_order(
            codes.tolist(), n_groups, flags.tolist())
        assert order.tolist() == r_order and offsets.tolist() == r_offsets
        assert sums.tolist() == r_sums and grouped is r_grouped is False
        order2, offsets2, sums2, _ = group_order(codes, n_groups)  # no flags
        assert_array_equal(order2, order)
        assert_array_equal(offsets2, offsets)
        assert not sums2.any()
        order32 = group_order(codes, n_groups, flags, np.int32)[0]  # what fit passes
        assert order32.dtype == np.int32 and order32.tolist() == r_order
    for codes in [np.sort(rng.integers(0, 50, 300_000)), np.array([0, 0, 2]), np.array([3])]:
        flags = np.ones(codes.shape[0], np.uint8)
        order, offsets, sums, grouped = group_order(codes, 60, flags)
        assert grouped and reference.group_order(codes.tolist(), 60)[3]
        assert (order == -1).all()  # left unwritten: the rows as they stand
        assert_array_equal(offsets, reference.group_order(codes.tolist(), 60)[1])
        assert_array_equal(sums, np.bincount(codes, minlength=60))
    late = np.sort(rng.integers(0, 50, 300_000))
    late[-1] = 0  # one descent, in the last chunk
    assert not group_order(late, 50)[3]
    edge = np.sort(rng.integers(0, 50, 300_000))
    edge[edge.shape[0] // 4] = 0  # a descent right at a chunk boundary
    assert not group_order(edge, 50)[3]
    assert_array_equal(group_order(edge, 50)[0], np.argsort(edge, kind="stable"))


def unblock(a, m):
    """A blocked scratch array (blocks, [k,] B) as the plain (k, m) or (m,) layout."""
    return np.concatenate(list(a), axis=-1)[..., :m]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_load_rows_and_block_terms_match_reference(rng, dtype):
    n, d, m, B = 900, 6, 300, 128  # d + 1 = 7: a 4-row Hessian tile and a remainder of 3
    X = rng.standard_normal((n, d)).astype(dtype)
    y = (rng.random(n) < 0.4).astype(np.uint8)
    sw = rng.uniform(0.5, 2, n)
    order = rng.permutation(n).astype(np.int64)
    k = d + 1
    for rows, weights in [(order, sw), (np.empty(0, dtype=np.int64), np.array([1.5]))]:
        xt, yb, sb, z, e, rb, qb, xq = _block_scratch(k, m + 5, B)
        assert xt.shape == (3, k, B) and yb.shape == (3, B) and z.shape == (B,)
        assert _load_rows(X, y, weights, rows, 40, m, xt, yb, sb)
        r_xt, r_yb, r_sb, _ = reference.load_rows(X.tolist(), y.tolist(), weights.tolist(),
                                                  rows.tolist(), 40, m)
        assert_array_equal(unblock(xt, m), r_xt)
        assert_array_equal(unblock(yb, m), r_yb)
        assert_array_equal(unblock(sb, m), r_sb)
        # one block: B rows
        xb, yy, ss = xt[1], yb[1], sb[1]
        r_xb = [col[B:2 * B] for col in r_xt]
        r_yy, r_ss = r_yb[B:2 * B], r_sb[B:2 * B]
        theta = rng.standard_normal(k)
        g, h = np.zeros(k), np.zeros((k, k))
        bl, bw = _block_terms(xb, yy, ss, B, theta, True, z, e, rb, qb, xq, g, h)
        rl, rw, rg, rh = reference.block_terms(r_xb, r_yy, r_ss, B, theta.tolist(), True)
        assert bl == pytest.approx(rl, rel=1e-12) and bw == pytest.approx(rw, rel=1e-12)
        assert_allclose(g, rg, rtol=1e-11, atol=1e-12)
        assert_allclose(np.triu(h), np.triu(rh), rtol=1e-11, atol=1e-12)  # upper triangle
        _symmetrize(h)
        assert_array_equal(h, reference.logloss.symmetrize(np.triu(h).tolist()))
        assert_allclose(h, rh, rtol=1e-11, atol=1e-12)
        g2, h2 = g.copy(), h.copy()
        _block_terms(xb, yy, ss, B, theta, False, z, e, rb, qb, xq, g2, h2)
        assert_allclose(g2, 2 * g, rtol=1e-14)  # g accumulated a second time
        assert_array_equal(h2, h)  # h untouched when the Hessian is not wanted
        q = rng.random(B)
        hu = np.zeros((k, k))
        _hess_upper(xb, q, B, xq, hu)
        assert_allclose(np.triu(hu), np.triu(reference.logloss.hess_upper(r_xb, q.tolist(), B)),
                        rtol=1e-12)
        assert _dot(q, ss, B) == pytest.approx(reference.logloss.dot(q.tolist(), r_ss, B),
                                               rel=1e-13)
        assert _total(q, B) == pytest.approx(reference.logloss.total(q.tolist(), B), rel=1e-13)
        zq = rng.normal(0, 30, B)
        rb2, qb2 = np.empty(B), np.empty(B)
        loss = _row_terms(zq, yy, ss, B, np.empty(B), rb2, qb2)
        r_loss, r_rb, r_qb = reference.logloss.row_terms(zq.tolist(), r_yy, r_ss, B)
        assert loss == pytest.approx(r_loss, rel=1e-12)
        assert_allclose(rb2, r_rb, rtol=1e-13, atol=1e-300)
        assert_allclose(qb2, r_qb, rtol=1e-11, atol=1e-300)
        if not rows.size:  # the in-place gradient path of the single-model pass
            g3 = np.zeros(k)
            bl3, bw3 = _rows_gradient(X, y, weights, 40, m, theta, unblock(yb, m + 5),
                                      unblock(sb, m + 5), np.empty(m), np.empty(m),
                                      np.empty(m), np.empty(m), g3)
            r3 = reference.logloss.rows_gradient(X.tolist(), y.tolist(), weights.tolist(),
                                                  40, m, theta.tolist())
            assert bl3 == pytest.approx(r3[0], rel=1e-12) and bw3 == pytest.approx(r3[1])
            assert_allclose(g3, r3[2], rtol=1e-11, atol=1e-12)
            assert _theta_dot(X, 41, theta) == pytest.approx(
                reference.logloss.theta_dot(X.tolist(), 41, theta.tolist()), rel=1e-12)


def load_segment(X, y, sw, block):
    """All rows of X, y, sw loaded as ``_fit_lane`` loads a segment: (xt, yb, sb, w)."""
    m, k = X.shape[0], X.shape[1] + 1
    xt, yb, sb = _block_scratch(k, _padded(m), block)[:3]
    assert _load_padded(X, y, sw, np.empty(0, dtype=np.int64), 0, m, xt, yb, sb)
    return xt, yb, sb, _block_temps(xt.shape[2])


@pytest.mark.parametrize("lam, n_free, block", [(0.5, 5, 2048), (0.0, 5, 2048),
                                               (2.0, 4, 2048), (0.5, 5, 96)])  # 96: 5 blocks
def test_penalised_and_segment_newton_match_reference(rng, lam, n_free, block):
    m, d = 400, 4
    X = rng.standard_normal((m, d))
    y = (rng.random(m) < 1 / (1 + np.exp(-X @ [1, -1, 0.5, 0]))).astype(np.uint8)
    sw = rng.uniform(0.5, 2, m) * 1e3  # weights far from 1
    xt, yb, sb, w = load_segment(X, y, sw, block)
    plain = unblock(xt, m).tolist(), unblock(yb, m).tolist(), unblock(sb, m).tolist()
    theta = rng.standard_normal(d + 1)
    g, h = np.zeros(d + 1), np.full((d + 1, d + 1), 7.0)
    f = _penalised(xt, yb, sb, m, theta, lam, n_free, True, w, g, h)
    rf, rg, rh = reference.segments.penalised(*plain, m, theta.tolist(), lam, n_free, True)
    assert f == pytest.approx(rf, rel=1e-12)
    assert_allclose(g, rg, rtol=1e-11, atol=1e-12)
    assert_allclose(h, rh, rtol=1e-11)
    if n_free < d + 1:
        assert g[d] == 0.0
    kept = h.copy()
    _penalised(xt, yb, sb, m, theta * 0.5, lam, n_free, False, w, g, h)
    assert_array_equal(h, kept)  # lagged Hessian: left as it was
    ref, ref_ok = reference.segment_newton(*plain, m, lam, n_free)
    assert ref_ok
    start = np.zeros(d + 1)
    it, ok = _segment_newton(xt, yb, sb, m, lam, n_free, 1e-12, 100, 2, 1e-2, start, w)
    assert ok and 1 < it < 30
    assert_allclose(start, ref, atol=1e-9)
    few = np.zeros(d + 1)
    assert _segment_newton(xt, yb, sb, m, lam, n_free, 1e-12, 2, 2, 1e-2, few,
                           w) == (2, False)  # max_iter reached


def test_accept_converged_lagged_match_reference():
    g, step = np.array([2.0, -1.0]), np.array([-1.0, 0.5])  # slope -2.5
    cases = [(10.0, 9.0, [1.0, 1.0], 1.0),  # Armijo
             (10.0, 10.0 - 1e-5, [3.0, 1.0], 1.0),  # too little decrease, gradient larger
             (10.0, 10.0, [0.5, 0.1], 1.0),  # no change resolved, gradient smaller
             (10.0, 10.0 + 1e-9, [0.5, 0.1], 1.0),  # an increase beyond rounding
             (10.0, np.nan, [0.5, 0.1], 1.0), (10.0, 9.9999, [3.0, 0], 2.0 ** -10)]
    got = [_accept(f, ft, g, np.array(gt), step, t) for f, ft, gt, t in cases]
    want = [reference.newton.accept(f, ft, g.tolist(), gt, step.tolist(), t)
            for f, ft, gt, t in cases]
    assert got == want == [True, False, True, False, False, True]
    for st, th, tol in [([1e-7, 0.0], [0.5, 0.1], 1e-6), ([1e-5, 0.0], [30.0, 1.0], 1e-6),
                        ([1e-5, 0.0], [0.5, 1.0], 1e-6), ([0.0, 0.0], [0.0, 0.0], 0.0)]:
        assert _converged(np.array(st), np.array(th), tol) == \
            reference.newton.converged(st, th, tol)
        for t in (1.0, 0.25):
            assert _lagged(np.array(st), np.array(th), t, 1e-6) == \
                reference.newton.lagged(st, th, t, 1e-6)
    assert _converged(np.array([1e-7]), np.array([0.5]), 1e-6)
    assert not _converged(np.array([1e-5]), np.array([0.5]), 1e-6)


def test_load_padded_matches_reference(rng):
    n, d = 500, 3
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < 0.4).astype(np.uint8)
    sw = rng.uniform(0.5, 2, n)
    order = rng.permutation(n).astype(np.int64)
    for rows, block in [(150, 2048), (150, 64), (16, 2048), (1, 2048)]:
        m = _padded(rows)
        buf = np.full(lane_buffers(1, d + 1, m).shape[1], np.nan)  # stale values must go
        xt, yb, sb = carve(buf, d + 1, m)
        if block < xt.shape[2]:
            xt, yb, sb = _block_scratch(d + 1, m, block)[:3]
        assert _load_padded(X, y, sw, order, 7, rows, xt, yb, sb)
        r_xt, r_yb, r_sb, finite = reference.segments.load_padded(
            X.tolist(), y.tolist(), sw.tolist(), order.tolist(), 7, rows, PAD)
        assert finite
        assert_array_equal(unblock(xt, m), r_xt)
        assert_array_equal(unblock(yb, m), r_yb)
        assert_array_equal(unblock(sb, m), r_sb)
    X[order[9], 2] = np.inf
    xt, yb, sb = _block_scratch(d + 1, 160, 2048)[:3]
    assert not _load_padded(X, y, sw, order, 7, 150, xt, yb, sb)
    assert not reference.segments.load_padded(X.tolist(), y.tolist(), sw.tolist(),
                                              order.tolist(), 7, 150, PAD)[3]


def test_fit_segments_matches_reference(rng):
    n, d = 900, 3
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < 0.4).astype(np.uint8)
    sw = rng.uniform(0.5, 2, n)
    order = rng.permutation(n).astype(np.int64)
    offsets = np.array([0, 30, 300, 900])
    lam = np.array([1.0, 0.5, 2.0])
    ref = reference.fit_segments(X.tolist(), y.tolist(), sw.tolist(), order.tolist(),
                                 offsets.tolist(), [2, 0], lam.tolist(), d + 1)
    results = []
    for lanes in (1, 2, 5):  # lanes share the segments: same results however many
        theta = np.zeros((3, d + 1))
        n_iter, converged = np.zeros(3, dtype=np.int64), np.zeros(3, dtype=bool)
        fit_lanes(lane_buffers(lanes, d + 1, 600), X, y, sw, order, offsets, np.array([2, 0]),
                  lam, d + 1, 1e-12, 100, 2, 1e-2, theta, n_iter, converged)
        for s in (0, 2):
            assert converged[s] and n_iter[s] > 1
            assert_allclose(theta[s], ref[s], atol=1e-9)
        assert not theta[1].any() and n_iter[1] == 0 and not converged[1]  # not listed
        results.append(theta)
    assert_array_equal(results[0], results[1])
    assert_array_equal(results[0], results[2])


def test_padded_matches_reference():
    for m in (0, 1, 15, 16, 17, 150, 1000, 2048):
        assert _padded(m) == reference.segments.padded(m, PAD)
        assert _padded(m) % PAD == 0 and m <= _padded(m) < m + PAD


def test_fit_segments_checks_every_segment_it_loads(rng):
    n, d = 900, 3
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < 0.4).astype(np.uint8)
    order = rng.permutation(n).astype(np.int64)
    offsets = np.array([0, 30, 300, 600, 900])
    lam = np.array([1.0, 0.5, -1.0, -1.0])  # -1: load (check) only, do not fit
    X[order[100], 1] = np.nan  # segment 1
    X[order[700], 0] = np.inf  # segment 3 (check only)
    items = np.array([3, 2, 1, 0])
    ref = reference.fit_segments(X.tolist(), y.tolist(), [1.0], order.tolist(),
                                 offsets.tolist(), items.tolist(), lam.tolist(), d + 1)
    assert ref[1] is None and ref[3] is None and 2 not in ref
    for lanes in (1, 2):
        theta = np.zeros((4, d + 1))
        n_iter, converged = np.zeros(4, dtype=np.int64), np.zeros(4, dtype=bool)
        fit_lanes(lane_buffers(lanes, d + 1, 300), X, y, np.ones(1), order, offsets, items, lam,
                  d + 1, 1e-12, 100, 2, 1e-2, theta, n_iter, converged)
        assert n_iter.tolist()[1:] == [-1, 0, -1]  # non-finite rows; checked, finite; bad
        assert converged[0] and not converged[1:].any()
        assert_allclose(theta[0], ref[0], atol=1e-9)
        assert not theta[1:].any()  # neither solved nor touched


def test_largest_first():
    from crmjit._segment_fit import largest_first
    sizes = np.array([5, 100, 7, 50, 1, 9, 7])
    assert largest_first(np.array([0, 1, 2, 3, 5, 6]), sizes).tolist() == [1, 3, 5, 2, 6, 0]
    assert largest_first(np.array([], dtype=np.int64), sizes).tolist() == []


def test_newton_direction_matches_reference(rng):
    k = 5
    A = rng.standard_normal((k, k))
    H = A @ A.T + np.diag([1e6, 1e-3, 1, 10, 1])  # badly scaled but positive definite
    g = rng.standard_normal(k)
    out = np.empty(k)
    work = np.full((k + 3, k), np.nan)  # scratch is written before it is read
    _newton_direction(g, H, k, out, work)
    assert_allclose(out, reference.newton_direction(g.tolist(), H.tolist(), k), rtol=1e-9)
    out2 = np.empty(k)
    _newton_direction(g, H, k - 1, out2, np.full((k + 2, k - 1), np.nan))  # intercept fixed
    assert out2[-1] == 0.0
    assert_allclose(out2, reference.newton_direction(g.tolist(), H.tolist(), k - 1), rtol=1e-9)
    steps = np.zeros((3, k))
    _newton_directions(np.stack([g] * 3), np.stack([H] * 3), np.array([0, 2]), k, steps)
    assert_allclose(steps[0], out)
    assert not steps[1].any()
    singular = np.zeros((k, k))
    _newton_direction(g, singular, k, out, work)  # ridge / gradient fallback: descends
    assert np.all(np.isfinite(out)) and g @ out < 0


def test_segment_blocks_and_lane_size_match_reference():
    for m in (0, 1, 16, 2047, 2048, 2049, 40_000):
        assert segment_blocks(m) == reference.segments.segment_blocks(_padded(max(m, 1)),
                                                                      SEGMENT_BLOCK)
        assert lane_buffers(1, 5, m).shape[1] == reference.segments.lane_size(
            5, max(m, 1), SEGMENT_BLOCK, PAD)
        nb, B = segment_blocks(m)
        assert nb * B >= m and (nb - 1) * B < max(m, 1)
        buf = np.arange(lane_buffers(1, 5, m).shape[1], dtype=np.float64)
        parts = carve(buf, 5, m)
        assert [p.shape for p in parts] == list(reference.segments.carve(5, _padded(max(m, 1)),
                                                                         SEGMENT_BLOCK))
        flat = np.concatenate([p.ravel() for p in parts])  # consecutive, no overlap
        assert_array_equal(flat, np.arange(flat.size))
        assert flat.size <= buf.size
