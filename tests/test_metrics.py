"""crmjit.metrics against scikit-learn and the pure-Python twins: exact ranking with ties,
weights, segments, float32, hostile score distributions, and bad input."""

import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.calibration import calibration_curve as sk_calibration

from crmjit import metrics, reference
from crmjit import _ranking
from crmjit.kernels import calibration as kc
from crmjit.kernels import ranking as kr

TOL = dict(rtol=1e-12, atol=1e-12)
APPROX = dict(rel=1e-12, abs=1e-12)


def _scores(rng, kind, n):
    return {
        "uniform": lambda: rng.random(n),
        "ties": lambda: np.round(rng.random(n), 1),  # 11 distinct values
        "logits": lambda: rng.normal(0, 8, n),  # both signs
        "float32": lambda: rng.random(n).astype(np.float32),
        "extreme": lambda: rng.choice([-1e307, -5e-324, -0.0, 0.0, 5e-324, 1e-300, 1e307],
                                      n) * rng.integers(1, 3, n),
        "equal": lambda: np.full(n, 0.25),
        "narrow": lambda: 0.5 + rng.random(n) * 1e-15,  # a few ulps apart
        "sorted": lambda: np.sort(rng.random(n)),
    }[kind]()


KINDS = ["uniform", "ties", "logits", "float32", "extreme", "equal", "narrow", "sorted"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [7, 1000, 70_000])
def test_roc_auc_equals_sklearn(rng, kind, n):
    s = _scores(rng, kind, n)
    y = (rng.random(n) < 0.3).astype(np.int64)
    y[:2] = [0, 1]
    w = rng.integers(0, 4, n) * 0.5
    w[:2] = 1.0
    with warnings.catch_warnings():  # scikit-learn's finiteness check sums 1e307s: inf
        warnings.simplefilter("ignore", RuntimeWarning)
        want = skm.roc_auc_score(y, s), skm.roc_auc_score(y, s, sample_weight=w)
    assert metrics.roc_auc_score(y, s) == pytest.approx(want[0], **APPROX)
    assert metrics.roc_auc_score(y, s, sample_weight=w) == pytest.approx(want[1], **APPROX)


def test_roc_auc_per_segment_equals_a_loop(rng):
    n, G = 50_000, 37
    s, y = rng.random(n), (rng.random(n) < 0.2).astype(bool)
    groups = rng.choice([f"seg{g}" for g in range(G)], n)
    w = rng.uniform(0, 3, n)
    got = metrics.roc_auc_score(y, s, sample_weight=w, groups=groups)
    assert list(got.index) == sorted(set(groups)) and got.index.name == "group"
    for label in got.index[::5]:
        m = groups == label
        assert got[label] == pytest.approx(skm.roc_auc_score(y[m], s[m], sample_weight=w[m]),
                                           **APPROX)


def test_roc_auc_undefined_segments_are_named_or_nan(rng):
    y = np.array([0, 1, 0, 0, 1, 1])
    s = rng.random(6)
    groups = np.array(["a", "a", "b", "b", "c", "c"])
    with pytest.raises(ValueError, match=r"2 segment\(s\): \['b', 'c'\].*zero_division"):
        metrics.roc_auc_score(y, s, groups=groups)
    got = metrics.roc_auc_score(y, s, groups=groups, zero_division="nan")
    assert np.isnan(got["b"]) and np.isnan(got["c"]) and got["a"] in (0.0, 1.0)
    with pytest.raises(ValueError, match="only one class"):
        metrics.roc_auc_score(np.ones(4), s[:4])
    with pytest.raises(ValueError, match="only one class"):  # positives of zero weight
        metrics.roc_auc_score([0, 1, 0], [0.1, 0.2, 0.3], sample_weight=[1, 0, 2])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_loss_and_brier_equal_sklearn(rng, dtype):
    n = 20_000
    p = rng.random(n).astype(dtype)
    p[:4] = [0.0, 1.0, 0.0, 1.0]  # clipped, as scikit-learn clips
    y = (rng.random(n) < p).astype(np.int64)
    y[:4] = [1, 0, 0, 1]
    w = rng.uniform(0, 2, n)
    rtol = 1e-12 if dtype == np.float64 else 1e-6  # scikit-learn sums float32 in float32
    for kw in ({}, {"sample_weight": w}):
        assert metrics.log_loss(y, p, **kw) == pytest.approx(skm.log_loss(y, p, **kw),
                                                             rel=rtol)
        assert metrics.brier_score(y, p, **kw) == pytest.approx(
            skm.brier_score_loss(y, p, **kw), rel=rtol)
    groups = rng.integers(0, 4, n)
    per = metrics.log_loss(y, p, groups=groups)
    for g in range(4):
        m = groups == g
        assert per[g] == pytest.approx(skm.log_loss(y[m], p[m], labels=[0, 1]), rel=rtol)


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
@pytest.mark.parametrize("n_bins", [1, 5, 13])
def test_calibration_curve_bins_identical_to_sklearn(rng, strategy, n_bins):
    n = 10_000
    p = np.concatenate([rng.random(n), np.linspace(0, 1, 11), np.full(50, 0.6)])
    y = (rng.random(p.shape[0]) < p).astype(np.int64)
    got = metrics.calibration_curve(y, p, n_bins, strategy=strategy)
    want = sk_calibration(y, p, n_bins=n_bins, strategy=strategy)
    assert len(got[0]) == len(want[0])
    assert_allclose(got[0], want[0], **TOL)
    assert_allclose(got[1], want[1], **TOL)
    groups = np.arange(p.shape[0]) % 3
    table = metrics.calibration_curve(y, p, n_bins, strategy=strategy, groups=groups)
    for g in range(3):
        m = groups == g
        want = sk_calibration(y[m], p[m], n_bins=n_bins, strategy=strategy)
        rows = table[table.group == g]
        assert_allclose(rows.prob_true, want[0], **TOL)
        assert_allclose(rows.prob_pred, want[1], **TOL)
        assert rows.rows.sum() == m.sum()


def test_calibration_curve_weights_are_weighted_means(rng):
    p, y, w = rng.random(3000), rng.integers(0, 2, 3000), rng.uniform(0, 2, 3000)
    prob_true, prob_pred = metrics.calibration_curve(y, p, 4, sample_weight=w)
    bins = np.minimum((p * 4).astype(int), 3)
    for b in range(4):
        m = bins == b
        assert prob_true[b] == pytest.approx(np.sum(w[m] * y[m]) / np.sum(w[m]), rel=1e-12)
        assert prob_pred[b] == pytest.approx(np.sum(w[m] * p[m]) / np.sum(w[m]), rel=1e-12)


def _gains_twin(y, s, w, n_bins):
    keys = [reference.ranking.key(int(b)) for b in np.asarray(s, np.float64).view(np.uint64)]
    return reference.ranking.gains_bins(keys, list(y), list(w), [], 1, n_bins)


@pytest.mark.parametrize("kind", ["uniform", "ties", "equal", "logits"])
def test_gains_table_matches_twin_and_definition(rng, kind):
    n = 3000
    s = _scores(rng, kind, n)
    y = (rng.random(n) < 0.3).astype(np.int64)
    y[0] = 1
    w = rng.integers(0, 3, n).astype(float)  # whole weights: sums exact in any order
    w[0] = 1.0
    for weights in (np.ones(n), w):
        table = metrics.gains_table(y, s, 10, sample_weight=weights)
        sums, edges = _gains_twin(y, s, weights, 10)
        keep = [b for b in range(10) if sums[0][b][2] > 0]
        assert list(table.bin) == [b + 1 for b in keep]
        assert_array_equal(table.customers, [sums[0][b][0] for b in keep])
        assert_array_equal(table.positives, [sums[0][b][1] for b in keep])
        assert table.customers.sum() == weights.sum()
        assert table.cumulative_gain.iloc[-1] == pytest.approx(1.0, rel=1e-15)
        assert (np.diff(table.max_score) <= 0).all() and (table.min_score <= table.max_score).all()
        rate = np.sum(weights * y) / weights.sum()
        assert_allclose(table.lift, table.response_rate / rate, rtol=1e-15)
    if kind == "uniform":  # no ties: ten bins of 300 customers, highest scores first
        table = metrics.gains_table(y, s)
        assert (table.customers == 300).all()
        top = np.argsort(-s)[:300]
        assert table.positives[0] == y[top].sum() and table.min_score[0] == s[top].min()


def test_gains_table_keeps_ties_whole_and_per_segment(rng):
    s = np.array([0.9] * 5 + [0.5] * 5 + [0.1] * 10)
    y = np.array([1, 1, 1, 0, 0] + [1, 0, 0, 0, 0] + [0] * 9 + [1])
    table = metrics.gains_table(y, s, 4)  # bins of 5: the 0.1 group starts in bin 3
    assert list(table.bin) == [1, 2, 3] and list(table.customers) == [5, 5, 10]
    assert list(table.positives) == [3, 1, 1]
    groups = np.repeat(["x", "y"], 10)
    per = metrics.gains_table(y, s, 2, groups=groups)
    assert list(per.group) == ["x", "x", "y"]  # segment y: one tie group, one bin
    assert list(per.customers) == [5, 5, 10]
    with pytest.raises(ValueError, match=r"no positives.*\['z'\]"):
        metrics.gains_table([1, 0, 0, 0], [0.5] * 4, groups=["w", "w", "z", "z"])


def test_results_do_not_depend_on_the_row_order(rng):
    n = 40_000
    s, y = np.round(rng.random(n), 3), (rng.random(n) < 0.4).astype(np.int8)
    w, groups = rng.integers(1, 4, n).astype(float), rng.integers(0, 9, n)
    perm = rng.permutation(n)
    for f in (metrics.roc_auc_score, metrics.log_loss, metrics.brier_score):
        a = f(y, s, sample_weight=w, groups=groups)
        b = f(y[perm], s[perm], sample_weight=w[perm], groups=groups[perm])
        assert_allclose(a, b, rtol=1e-12)
    assert_allclose(metrics.gains_table(y, s, groups=groups, sample_weight=w).to_numpy(float),
                    metrics.gains_table(y[perm], s[perm], groups=groups[perm],
                                        sample_weight=w[perm]).to_numpy(float), rtol=1e-12)


@pytest.mark.parametrize("n", [0, 1, 5, 24, 25, 300, 5000])
def test_sort_run_matches_twin(rng, n):
    for keys in (rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2),
                 rng.integers(0, 4, n).astype(np.uint64) << np.uint64(40),
                 np.full(n, 7, np.uint64)):
        vals = rng.random(n)
        k, v = keys.copy(), vals.copy()
        kr._sort_run(k, v, np.empty(n, np.uint64), np.empty(n), np.empty(257, np.int64),
                     np.empty(257, np.int64), True)
        tk, tv = reference.ranking.sort_run(keys.tolist(), vals.tolist())
        assert k.tolist() == tk and v.tolist() == tv
        k = keys.copy()  # unweighted: the values stay put
        kr._sort_run(k, v[:0], np.empty(n, np.uint64), v[:0], np.empty(257, np.int64),
                     np.empty(257, np.int64), False)
        assert k.tolist() == tk


def test_bucket_passes_match_twins(rng, monkeypatch):
    monkeypatch.setattr(_ranking, "BUCKET_ROWS", 8)  # ~40 buckets a segment
    n = 3000
    s = np.concatenate([rng.normal(0, 3, n - 3), [-0.0, 0.0, 1e-310]])
    bits, y, w = s.view(np.uint64), (rng.random(n) < 0.5).astype(np.uint8), rng.random(n)
    codes = rng.integers(0, 3, n).astype(np.int64)
    t = reference.ranking
    keys = [t.key(b) for b in bits.tolist()]
    kmin, kmax = _ranking.key(s.min()), _ranking.key(s.max())
    assert (kmin, kmax) == (min(keys), max(keys))
    assert [kr._key(b) for b in bits[:50]] == keys[:50]
    r = _ranking.rank(s, y, w, codes, 3)
    shift, per = r.shift, r.per
    assert per == ((int(kmax) - int(kmin)) >> shift) + 1 and 16 < per <= 128
    packed, wv = t.scatter_buckets(bits.tolist(), y.tolist(), w.tolist(), codes.tolist(),
                                   int(kmin), shift, per)
    counts = np.zeros((1, 3 * per), np.int64)
    kr._count_buckets(bits, codes, np.uint64(kmin), np.uint64(shift), per, 0, n, counts)
    assert counts[0].tolist() == t.count_buckets(bits.tolist(), codes.tolist(), int(kmin),
                                                 shift, per, 0, n, 3 * per)
    offsets = np.concatenate([[0], np.cumsum(counts[0])]).tolist()
    stats = t.tally_buckets(packed, wv, w.tolist(), offsets)
    for b in range(3 * per):  # each bucket holds the twin's rows (a small one unsorted)
        lo, hi = offsets[b], offsets[b + 1]
        mine = sorted(zip(r.packed[lo:hi].tolist(), r.wv[lo:hi].tolist()))
        assert mine == sorted(zip(packed[lo:hi], wv[lo:hi]))
    assert_allclose(r.stats, stats, rtol=1e-13)
    assert_allclose(_ranking.auc_sums(r), t.auc_merge(stats, per, 3), rtol=1e-13)


def test_loss_and_calibration_sums_match_twins(rng):
    n = 500
    p, y, w = rng.random(n), (rng.random(n) < 0.5).astype(np.uint8), rng.random(n)
    codes = rng.integers(0, 2, n).astype(np.int64)
    out = np.zeros((2, 3))
    kc._loss_sums(p, y, w, codes, 1e-15, out, 0, n)
    assert_allclose(out, reference.calibration.loss_sums(p.tolist(), y.tolist(), w.tolist(),
                                                     codes.tolist(), 1e-15, 2), rtol=1e-12)
    inner = np.array([[0.2, 0.5, 0.5], [0.1, 0.3, 0.9]])
    out = np.zeros((2, 4, 4))
    kc._calibration_sums(p, y, np.ones(1), codes, inner, out, 0, n)
    assert_allclose(out, reference.calibration.calibration_sums(p.tolist(), y.tolist(), [1.0],
                                                            codes.tolist(), inner.tolist()),
                    rtol=1e-12)
    assert kr._bin_of(2.9999999999, 10.0, 3) == reference.ranking.bin_of(2.9999999999, 10.0, 3)


@pytest.mark.parametrize("call, match", [
    (lambda: metrics.roc_auc_score([0, 2, 1], [0.1, 0.2, 0.3]), r"only 0 and 1.*\[1\]"),
    (lambda: metrics.roc_auc_score([0, np.nan, 1], [0.1, 0.2, 0.3]), r"\[1\]"),
    (lambda: metrics.roc_auc_score([0, 1], [0.1, np.nan]), r"y_score.*NaN.*\[1\]"),
    (lambda: metrics.roc_auc_score([0, 1], [0.1, 0.2, 0.3]), "3 rows but y_true has 2"),
    (lambda: metrics.roc_auc_score([], []), "empty"),
    (lambda: metrics.roc_auc_score([0, 1], [[0.1], [0.2]]), "y_score must be 1-D"),
    (lambda: metrics.roc_auc_score([0, 1], [0.1, 0.2], sample_weight=[1, -1]),
     r"sample_weight must be >= 0.*\[1\]"),
    (lambda: metrics.roc_auc_score([0, 1], [0.1, 0.2], sample_weight=[1]), "1 rows"),
    (lambda: metrics.roc_auc_score([0, 1], [0.1, 0.2], groups=[1, None]), "missing"),
    (lambda: metrics.roc_auc_score([0, 1], [0.1, 0.2], zero_division="zero"),
     "zero_division"),
    (lambda: metrics.log_loss([0, 1], [0.1, 1.2]), r"\[0, 1\].*\[1\]"),
    (lambda: metrics.brier_score([0, 1], [-0.1, 0.2]), r"probabilities.*\[0\]"),
    (lambda: metrics.log_loss([0, 1], [0.1, 0.2], sample_weight=[0, 0]), "sum to zero"),
    (lambda: metrics.gains_table([0, 1], [0.1, 0.2], n_bins=0), "n_bins must be >= 1"),
    (lambda: metrics.calibration_curve([0, 1], [0.1, 0.2], strategy="kmeans"), "strategy"),
])
def test_bad_input_is_a_clear_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_wrong_kinds_are_type_errors():
    with pytest.raises(TypeError, match="y_true must hold 0/1"):
        metrics.roc_auc_score(["a", "b"], [0.1, 0.2])
    with pytest.raises(TypeError, match="y_score"):
        metrics.roc_auc_score([0, 1], ["x", "y"])
    with pytest.raises(TypeError, match="n_bins must be an integer"):
        metrics.gains_table([0, 1], [0.1, 0.2], n_bins=2.5)


def test_pandas_inputs_and_booleans(rng):
    df = pd.DataFrame({"y": rng.random(500) < 0.5, "s": rng.random(500),
                       "g": rng.choice(["n", "s"], 500)})
    got = metrics.roc_auc_score(df.y, df.s, groups=df.g)
    assert got["n"] == pytest.approx(skm.roc_auc_score(df.y[df.g == "n"], df.s[df.g == "n"]),
                                     **APPROX)


def test_extreme_weights_are_exact_or_a_clear_error():
    y, s = np.array([0, 1, 0, 1]), np.array([0.1, 0.2, 0.3, 0.05])
    for scale in (1e-150, 1.0, 1e154, 1e300):  # products of weights would overflow
        w = np.array([1.0, 2.0, 0.5, 1.5]) * scale
        assert metrics.roc_auc_score(y, s, sample_weight=w) == pytest.approx(
            skm.roc_auc_score(y, s, sample_weight=[1.0, 2.0, 0.5, 1.5]), rel=1e-15)
    with pytest.raises(ValueError, match=r"2\*\*500 times smaller.*\[0\]"):
        metrics.gains_table(y, s, sample_weight=[5e-324, 1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="sums beyond float64"):
        metrics.log_loss(y, s, sample_weight=[1e308] * 4)


def test_bucket_helpers_match_twins(rng):
    """The helpers behind _sort_run and _tally_buckets, one by one, on random keys with
    ties and on all-equal keys."""
    t = reference.ranking
    for keys in (rng.integers(0, 50, 200).astype(np.uint64) * np.uint64(2)
                 + rng.integers(0, 2, 200).astype(np.uint64),
                 np.full(40, 9, np.uint64)):
        n = keys.shape[0]
        vals = rng.random(n)
        tmp_k, tmp_v, counts = np.empty(n, np.uint64), np.empty(n), np.empty(257, np.int64)
        kr._radix_pass(keys, vals, np.uint64(1), 3, tmp_k, tmp_v, counts, True)
        want_k, want_v = t.radix_pass(keys.tolist(), vals.tolist(), 1, 3)
        assert tmp_k.tolist() == want_k and tmp_v.tolist() == want_v
        k, v = keys.copy(), vals.copy()
        kr._insertion(keys, vals, k, v, 0, n, True)
        assert (k.tolist(), v.tolist()) == t.insertion(keys.tolist(), vals.tolist())
        k2, v2 = np.empty(n, np.uint64), np.empty(n)
        kr._copy(k, v, k2, v2, 0, n, True)
        assert (k2.tolist(), v2.tolist()) == t.copy(k.tolist(), v.tolist())
        out = np.zeros(3)
        kr._tally_sorted(k, v, v, out)  # weighted: the values are the weights
        assert_allclose(out, t.tally_sorted(k.tolist(), v.tolist()), rtol=1e-12)
        below, tied = kr._below(k >> np.uint64(1), v, np.uint64(20))
        assert_allclose((below, tied), t.below((k >> np.uint64(1)).tolist(), v.tolist(), 20),
                        rtol=1e-12)
        assert kr._weight(v) == pytest.approx(t.weight(v.tolist()), rel=1e-15)
    acc, edge = np.zeros(3), np.array([2**64 - 1, 0], dtype=np.uint64)
    kr._add_bin(acc, edge, 2.5, 1.0, 3, np.uint64(7), np.uint64(9))
    want = t.add_bin([0.0, 0.0, 0], [2**64 - 1, 0], 2.5, 1.0, 3, 7, 9)
    assert acc.tolist() == want[0] and edge.tolist() == want[1]
