"""The validation kernels (crmjit.kernels.checks), the 4 x 4 Hessian tile, the staged row
gather, and the fast paths of input validation that use them."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import crmjit
from crmjit import reference
from crmjit._validation import check_finite, label_codes
from crmjit import kernels
from crmjit._grouping import take as _take
from crmjit._newton import blocks_pass as _blocks_pass
from crmjit._segment_fit import LOAD_RUN
from crmjit._segment_fit import load_segment as _load_segment
from crmjit.kernels.checks import _all_finite
from crmjit.kernels.logloss import STAGE, _block_scratch, _hess_tile, _hess_upper, _load_rows
from crmjit.kernels.passes import _merge_parts, _tally


def _nonfinite_blocks(a):
    """The kernel over all of a (one span)."""
    return kernels.checks._nonfinite_blocks(a, 0, a.shape[0])


def _mark_present(values, lo, present):
    return kernels.checks._mark_present(values, lo, present, 0, values.shape[0])
from crmjit.value import group_sums
from crmjit.logistic import training_data

BLOCK = 1 << 16


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nonfinite_blocks_match_reference(rng, dtype):
    a = rng.standard_normal(3 * BLOCK + 123).astype(dtype)
    assert _nonfinite_blocks(a) == reference.checks.nonfinite_blocks(a.tolist()) == 0
    for pos, bad in [(0, np.nan), (BLOCK - 1, np.inf), (BLOCK, -np.inf), (a.size - 1, np.nan),
                     (2 * BLOCK + 5, np.inf)]:
        b = a.copy()
        b[pos] = bad
        assert _nonfinite_blocks(b) == reference.checks.nonfinite_blocks(b.tolist()) == 1
    b = a.copy()
    b[[3, 10, BLOCK + 1, 3 * BLOCK + 100]] = [np.nan, np.inf, np.nan, -np.inf]
    assert _nonfinite_blocks(b) == reference.checks.nonfinite_blocks(b.tolist()) == 3
    assert _nonfinite_blocks(a[:0]) == 0
    for v in (a[:1000], b[:1000], a[:0], np.array([np.inf], dtype=dtype)):
        assert _all_finite(v) == reference.checks.all_finite(v.tolist())
    big = np.full(BLOCK, np.finfo(dtype).max, dtype=dtype)  # a plain sum would overflow
    assert _nonfinite_blocks(big) == 0


def test_rfm_bad_counts_what_the_twin_counts(rng):
    """The fused RFM check: every rule broken alone (NaN, inf, negative, fractional,
    beyond 2^53, recency after T, recency without a repeat purchase) counts once, across
    block edges; good rows count 0."""
    n = 2 * BLOCK + 77
    x = rng.integers(0, 50, n).astype(float)
    T = rng.uniform(0, 400, n)
    tx = np.where(x > 0, rng.uniform(0, 1, n) * T, 0.0)
    T[5], tx[5], x[5] = 2.0 ** 53, 2.0 ** 53, 2.0 ** 53  # the largest allowed, exactly
    x[6], tx[6] = -0.0, 0.0  # -0 is 0
    breaks = [("x", np.nan), ("x", np.inf), ("x", -1.0), ("x", 2.5), ("x", 2.0 ** 53 + 2),
              ("tx", np.nan), ("tx", -1e-300), ("tx", 1e9), ("T", np.inf), ("T", np.nan),
              ("T", -1.0)]
    cols = {"x": x, "tx": tx, "T": T}
    kernel = kernels.checks._rfm_bad_blocks
    assert kernel(x, tx, T, 0, n) == reference.checks.rfm_bad_blocks(
        x.tolist(), tx.tolist(), T.tolist()) == 0
    for k, (col, bad) in enumerate(breaks):
        pos = [0, BLOCK - 1, BLOCK, n - 1][k % 4]
        broken = {c: a.copy() for c, a in cols.items()}
        broken[col][pos] = bad
        if col == "x" and x[pos] == 0:  # keep the zero-frequency rule out of it
            broken["tx"][pos] = 0.0
        args = (broken["x"], broken["tx"], broken["T"])
        assert kernel(*args, 0, n) == reference.checks.rfm_bad(*(a.tolist() for a in args)) == 1
    zero = x == 0
    moved = tx.copy()
    moved[np.flatnonzero(zero)[:3]] = 0.5  # recency without a repeat purchase, 3 times
    assert kernel(x, moved, T + 1, 0, n) == reference.checks.rfm_bad(
        x.tolist(), moved.tolist(), (T + 1).tolist()) == 3
    assert kernel(x, tx, T, 0, 0) == 0


@pytest.mark.parametrize("order", ["C", "F", "strided"])
def test_check_finite_names_positions_in_any_layout(rng, order):
    X = rng.standard_normal((50_000, 6))
    X = {"C": X, "F": np.asfortranarray(X), "strided": X[:, ::2]}[order]
    check_finite(X, "X")  # finite: no error
    X[12_345, 2] = np.inf
    X[40_000, 1] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN or inf at positions "
                                         r"\[\(12345, 2\), \(40000, 1\)\]"):
        check_finite(X, "X")
    huge = np.full((1000, 4), 1e308)  # finite values whose sum overflows: still accepted
    check_finite(huge, "X")


def test_mark_present_and_positive_counts_match_reference(rng):
    values = rng.integers(-5, 40, 100_000).astype(np.int32)
    present = _mark_present(values, -5, np.zeros(50, dtype=np.uint8))
    assert present.tolist() == reference.checks.mark_present(values.tolist(), -5, 50)
    assert present[:45].all() and not present[45:].any()
    sparse = np.array([7, 7, 3, 7], dtype=np.int64)
    assert _mark_present(sparse, 0, np.zeros(9, np.uint8)).tolist() == \
        reference.checks.mark_present(sparse.tolist(), 0, 9)
    # positives per segment, as the batched fit counts them: 0/1 uint8 labels summed by
    # group_sums in fixed chunks (exact in float64)
    codes = rng.integers(0, 300, 200_000)
    flags = (rng.random(200_000) < 0.3).astype(np.uint8)
    rows, counts = group_sums(flags, codes, 301)
    r_rows, r_counts = reference.value.group_sums(flags.tolist(), codes.tolist(), 301)
    assert counts.tolist() == r_counts and rows.tolist() == r_rows
    assert counts[300] == 0 and counts.sum() == np.count_nonzero(flags)


def test_label_codes_table_path_equals_factorize(rng):
    labels = rng.integers(0, 5000, 300_000) * 3 + 11  # sparse non-negative ids: table path
    codes, cats = label_codes(labels, "groups")
    want_codes, want_cats = label_codes(labels.astype(str).astype(object), "groups")
    assert_array_equal(cats, np.unique(labels))
    assert_array_equal(cats[codes], labels)
    assert codes.dtype == np.int64 and cats.dtype == labels.dtype
    assert len(want_cats) == len(cats)
    big = np.array([0, 10**12, 5])  # too sparse for a table: hashed, same answer
    c2, l2 = label_codes(big, "groups")
    assert_array_equal(l2[c2], big)
    assert l2.tolist() == [0, 5, 10**12]


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int32, np.int64, np.uint64])
def test_label_codes_as_is_returns_dense_labels_themselves(rng, dtype):
    labels = rng.permutation(np.arange(300) % 100).astype(dtype)  # 0 .. 99, all present
    codes, cats = label_codes(labels, "groups", as_is=True)
    plain, plain_cats = label_codes(labels, "groups")
    assert_array_equal(codes, plain)
    assert_array_equal(cats, plain_cats)
    assert cats.dtype == labels.dtype
    if dtype == np.uint64:  # np.bincount cannot take uint64 codes: mapped as usual
        assert codes.dtype == np.int64
    else:
        assert codes is labels
    gap = np.where(labels == 7, 100, labels)  # 7 missing: mapped as usual
    codes, cats = label_codes(gap, "groups", as_is=True)
    assert codes.dtype == np.int64 and 7 not in cats.tolist()
    assert_array_equal(cats[codes], gap)


@pytest.mark.parametrize("y, classes", [
    (np.array([0, 1, 1, 0], dtype=np.int8), [0, 1]),
    (np.array([True, False, True, True]), [False, True]),
    (np.array([-3, 7, 7, -3]), [-3, 7]),
    (np.array([2**40, 5, 5, 2**40]), [5, 2**40]),  # a wide range: np.unique
    (np.array(["no", "yes", "no", "yes"], dtype=object), ["no", "yes"]),
    (np.array([0.0, 1.0, 1.0, 0.0]), [0.0, 1.0]),
])
def test_training_data_classes(y, classes):
    X = np.arange(8.0).reshape(4, 2)
    est = crmjit.LogisticRegression()
    X2, y2, got = training_data(est, X, y)
    assert X2 is X and got.tolist() == classes and got.dtype == np.unique(y).dtype


def test_training_data_rejects_bad_x_and_y():
    X = np.arange(8.0).reshape(4, 2)
    est = crmjit.LogisticRegression()
    with pytest.raises(ValueError, match="Unknown label type"):
        training_data(est, X, np.array([0.5, 1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="NaN"):
        training_data(est, X, np.array([0.0, np.nan, 0.0, 1.0]))
    Xb = X.copy()
    Xb[2, 1] = np.inf
    with pytest.raises(ValueError, match=r"X contains NaN or inf at positions \[\(2, 1\)\]"):
        training_data(est, Xb, np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="Only binary"):
        crmjit.LogisticRegression().fit(X, np.array([0, 1, 2, 1]))
    with pytest.raises(ValueError, match="Only binary"):
        crmjit.BatchedLogisticRegression().fit(X, np.array([0, 1, 2, 1]), np.zeros(4, int))


@pytest.mark.parametrize("k", [4, 9, 17])
def test_hess_tile_and_upper_match_reference(rng, k):
    m = 77
    xt = rng.standard_normal((k, m))
    q = rng.random(m)
    xq = q * xt[:4]
    h = np.zeros((k, k))
    _hess_tile(xq, xt, k - 4, m, 0, h)
    want = reference.logloss.hess_tile(xq.tolist(), xt.tolist(), k - 4, m, 0)
    assert_allclose(h[:4, k - 4:], want, rtol=1e-12)
    assert not h[:, :k - 4].any() and not h[4:].any()  # nothing outside the block
    hu = np.zeros((k, k))
    _hess_upper(xt, q, m, np.empty((4, m)), hu)
    full = np.array(reference.logloss.hess_upper(xt.tolist(), q.tolist(), m))
    assert_allclose(np.triu(hu), np.triu(full), rtol=1e-12)


@pytest.mark.parametrize("B", [100, 128, 37])  # blocks that are not multiples of STAGE
def test_load_rows_stages_across_blocks(rng, B):
    assert B % STAGE or B == 128
    n, d, m = 700, 5, 333
    X = np.asfortranarray(rng.standard_normal((n, d)))  # any layout is gathered
    y = (rng.random(n) < 0.5).astype(np.uint8)
    sw = rng.uniform(0.5, 2, n)
    order = rng.permutation(n).astype(np.int64)
    xt, yb, sb = _block_scratch(d + 1, m, B)[:3]
    assert _load_rows(X, y, sw, order, 11, m, xt, yb, sb)  # all finite
    r_xt, r_yb, r_sb, r_ok = reference.load_rows(X.tolist(), y.tolist(), sw.tolist(),
                                                 order.tolist(), 11, m)  # y, sw by position
    assert r_ok
    flat = np.concatenate(list(xt), axis=-1)[:, :m]
    assert_array_equal(flat, r_xt)
    assert_array_equal(np.concatenate(list(yb))[:m], r_yb)
    assert_array_equal(np.concatenate(list(sb))[:m], r_sb)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_load_rows_reports_nonfinite_rows_it_copies(rng, bad):
    n, d, m = 700, 5, 333
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < 0.5).astype(np.uint8)
    order = rng.permutation(n).astype(np.int64)
    xt, yb, sb = _block_scratch(d + 1, m, 128)[:3]
    inside, outside = order[11 + 300], order[11 + m]  # copied, and the first row not copied
    for row, copied in ((inside, True), (outside, False)):
        Xb = X.copy()
        Xb[row, d - 1] = bad
        got = _load_rows(Xb, y, np.ones(1), order, 11, m, xt, yb, sb)
        want = reference.load_rows(Xb.tolist(), y.tolist(), [1.0], order.tolist(), 11, m)[3]
        assert got == want == (not copied)
        Xb = np.ascontiguousarray(Xb[order])  # grouped: read in place (no order)
        assert _load_rows(Xb, y, np.ones(1), order[:0], 11, m, xt, yb, sb) == (not copied)
    xt, yb, sb = _block_scratch(d + 1, n, 16)[:3]  # 44 blocks: two runs of LOAD_RUN
    Xb = X.copy()
    assert LOAD_RUN * 16 <= 600 < n <= 2 * LOAD_RUN * 16
    Xb[order[600], 0] = bad  # in the second run only
    assert not _load_segment(Xb, y, np.ones(1), order, 0, n, xt, yb, sb)
    assert _load_segment(X, y, np.ones(1), order, 0, n, xt, yb, sb)


def test_batched_fit_rejects_nonfinite_x_in_any_segment(rng):
    c = crmjit.data_gen.make_customers(3000, n_features=3, n_segments=5, seed=1)
    X = c.X.copy()
    X[2999, 0] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"X contains NaN or inf at positions "
                                             r"\[\(2999, 0\)\]"):
            crmjit.BatchedLogisticRegression().fit(X, c.y, c.segment)


@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("where", ["small", "mid", "flagged", "big", "flagged-big"])
def test_batched_fit_finds_nonfinite_x_on_every_path(rng, where, grouped, monkeypatch):
    """The batched fit checks X as it copies each segment (no separate pass): a NaN or inf
    is found in a fitted segment, one of several blocks, a flagged (one-class) one, a big
    one (copied or read in place) and a flagged big one, scattered or grouped, and named
    by its position in X."""
    from crmjit import _segment_fit as batched
    from crmjit.kernels.segments import SEGMENT_BLOCK
    monkeypatch.setattr(batched, "BIG_SEGMENT", 40_000)  # the same paths on less data
    d = 2
    n = 140_000
    seg = np.where(np.arange(n) < 50_000, 0, np.where(np.arange(n) < 84_000, 1,
                                                      2 + np.arange(n) % 2))
    sizes = np.bincount(seg)
    assert sizes[0] >= batched.big_segment_rows(d) > sizes[1] >= 16 * SEGMENT_BLOCK > sizes[2]
    X = rng.standard_normal((n, d))
    if grouped:  # sorted labels: rows read in place, no order
        seg = np.sort(seg)
    y = (rng.random(n) < 0.5).astype(int)
    if where.startswith("flagged"):
        target = 0 if where == "flagged-big" else 2
        y[seg == target] = 1
    else:
        target = {"big": 0, "mid": 1}.get(where, 2)
    if not grouped:
        perm = rng.permutation(n)
        X, y, seg = X[perm], y[perm], seg[perm]
    row = int(np.flatnonzero(seg == target)[-7 if where != "mid" else 2048 * 3 + 5])
    model = crmjit.BatchedLogisticRegression(invalid="flag")
    model.fit(X, y, seg)  # all finite: fits
    assert model.valid_.tolist() == [k != target or not where.startswith("flagged")
                                     for k in range(4)]
    for bad in (np.nan, -np.inf):
        Xb = X.copy()
        Xb[row, 1] = bad
        with pytest.raises(ValueError, match=rf"X contains NaN or inf at positions "
                                             rf"\[\({row}, 1\)\]"):
            model.fit(Xb, y, seg)


def test_take_matches_reference(rng):
    values = rng.standard_normal(5000)
    rows = rng.permutation(5000)[:3000].astype(np.int64)
    out = _take(values, rows, np.empty(3000))
    assert out.tolist() == reference.grouping.take(values.tolist(), rows.tolist())
    flags = (rng.random(5000) < 0.5).astype(np.uint8)
    assert _take(flags, rows, np.empty(3000, np.uint8)).tolist() == \
        reference.grouping.take(flags.tolist(), rows.tolist())


@pytest.mark.parametrize("row_stride, hess_stride", [(1, 1), (1, 3), (2, 2), (1, 0)])
def test_blocks_pass_and_load_segment_match_reference(rng, row_stride, hess_stride):
    n, d, m, B = 3000, 4, 2100, 256  # 9 blocks, the last one partial
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < 0.3).astype(np.uint8)
    sw = rng.uniform(0.5, 2, n)
    order = rng.permutation(n).astype(np.int64)
    xt, yb, sb = _block_scratch(d + 1, m, B)[:3]
    assert _load_segment(X, y, sw, order, 50, m, xt, yb, sb)  # no NaN or inf
    r_xt, r_yb, r_sb, _ = reference.passes.load_segment(X.tolist(), y.tolist(), sw.tolist(),
                                                       order.tolist(), 50, m)
    assert_array_equal(np.concatenate(list(xt), axis=-1)[:, :m], r_xt)
    theta = rng.standard_normal(d + 1) * 0.3
    g, h = np.empty(d + 1), np.empty((d + 1, d + 1))
    got = [_blocks_pass(xt, yb, sb, m, theta, chunks, row_stride, hess_stride, g, h) +
           (g.copy(), h.copy()) for chunks in (1, 4, 9)]
    want = reference.passes.blocks_pass(r_xt, r_yb, r_sb, m, theta.tolist(), row_stride,
                                          hess_stride, B)
    for loss, weight, hw, gg, hh in got:
        assert loss == pytest.approx(want[0], rel=1e-12)
        assert weight == pytest.approx(want[1], rel=1e-13)
        assert hw == pytest.approx(want[2], rel=1e-13, abs=0)
        assert_allclose(gg, want[3], rtol=1e-10, atol=1e-11)
        assert_allclose(hh, want[4], rtol=1e-10, atol=1e-11)
    parts, pg, ph = rng.standard_normal((3, 3)), rng.standard_normal((3, 3)), \
        rng.standard_normal((3, 3, 3))
    g3, h3 = np.empty(3), np.empty((3, 3))
    res = _merge_parts(parts, pg, ph, g3, h3)
    r = reference.passes.merge_parts(parts.tolist(), pg.tolist(), ph.tolist())
    assert res == pytest.approx(r[:3], rel=1e-14)
    assert_allclose(g3, r[3], rtol=1e-14)
    assert_allclose(h3, r[4], rtol=1e-14)
    for want_h in (True, False):
        part = np.array([1.0, 2.0, 3.0])
        _tally(part, 0.5, 0.25, want_h)
        assert part.tolist() == reference.passes.tally([1.0, 2.0, 3.0], 0.5, 0.25, want_h)


def test_big_segments_use_the_blocked_copy_and_match_sklearn(rng, monkeypatch):
    """Segments of big_segment_rows or more go through load_segment + blocks_pass (with
    a warm start on a subset above 4 * HESS_MIN_ROWS rows), the others through the
    per-thread solver (one of many blocks here); the same optimum as scikit-learn's tight
    fit on every path, shuffled or grouped rows alike."""
    from sklearn.linear_model import LogisticRegression as SkLogReg
    from crmjit import _newton
    from crmjit import _segment_fit as batched
    from crmjit.kernels.segments import SEGMENT_BLOCK
    monkeypatch.setattr(batched, "BIG_SEGMENT", 1 << 18)  # the same paths on less data
    d = 3
    sizes = [4 * _newton.HESS_MIN_ROWS + 10, 700, 16 * SEGMENT_BLOCK + 3001]
    assert sizes[0] >= batched.big_segment_rows(d) > sizes[2]
    groups = np.repeat(np.arange(3), sizes)
    X = rng.standard_normal((groups.size, d))
    w = np.array([[1.0, -0.5, 0.2], [0.3, 0.3, -1.0], [-0.7, 0.1, 0.4]])
    y = (rng.random(groups.size) < 1 / (1 + np.exp(-(X * w[groups]).sum(1)))).astype(int)
    perm = rng.permutation(groups.size)
    fits = [crmjit.BatchedLogisticRegression(C=2.0).fit(X[p], y[p], groups[p])
            for p in (perm, np.arange(groups.size))]
    for g in range(3):
        sk = SkLogReg(C=2.0, tol=1e-10, max_iter=10_000).fit(X[groups == g], y[groups == g])
        for m in fits:
            assert_allclose(m.coef_[g], sk.coef_[0], atol=1e-6)
            assert m.intercept_[g] == pytest.approx(sk.intercept_[0], abs=1e-6)
    assert_allclose(fits[0].coef_, fits[1].coef_, atol=1e-9)
