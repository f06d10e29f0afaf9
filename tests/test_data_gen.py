import hashlib

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from crmjit import reference
from crmjit.data_gen import CHANNEL_NAMES, CHANNELS, make_customers

FIELDS = ("X", "y", "segment", "cash_flows", "rate", "lifespan", "coef", "intercept")


def digest(c):
    h = hashlib.sha256()
    for f in FIELDS:
        h.update(np.ascontiguousarray(getattr(c, f)).tobytes())
    h.update(np.asarray(c.channel.codes).tobytes())
    return h.hexdigest()


def test_same_seed_same_bytes_any_chunking(seed):
    a = make_customers(3001, n_features=5, n_segments=7, n_periods=6, seed=seed)
    b = make_customers(3001, n_features=5, n_segments=7, n_periods=6, seed=seed, chunk_rows=17)
    c = make_customers(3001, n_features=5, n_segments=7, n_periods=6, seed=seed + 1)
    assert digest(a) == digest(b)
    assert digest(a) != digest(c)
    # a prefix of a bigger base is the smaller base
    big = make_customers(5000, n_features=5, n_segments=7, n_periods=6, seed=seed)
    assert_array_equal(big.X[:3001], a.X)
    assert_array_equal(big.cash_flows[:3001], a.cash_flows)


def test_matches_reference_twin(seed):
    n, d, p, g = 40, 5, 7, 4
    c = make_customers(n, n_features=d, n_segments=g, n_periods=p, seed=seed)
    seg_cdf = np.cumsum(1 / np.arange(1, g + 1))
    seg_cdf = (seg_cdf / seg_cdf[-1]).tolist()
    seg_cdf[-1] = 1.0
    chan_cdf = np.cumsum([ch[1] for ch in CHANNELS])
    chan_cdf = (chan_cdf / chan_cdf[-1]).tolist()
    chan_cdf[-1] = 1.0
    coef = np.array(reference.generate.normals(seed, 8, g * d)).reshape(g, d) * 2 / np.sqrt(d)
    intercept = np.array(reference.generate.normals(seed, 9, g)) * 0.5 - 1.0
    assert_allclose(c.coef, coef, rtol=1e-13)
    assert_allclose(c.intercept, intercept, rtol=1e-13)
    ref = reference.customer_rows(seed, 0, seg_cdf, c.coef.tolist(), c.intercept.tolist(),
                                  chan_cdf, [float(np.log(ch[2])) for ch in CHANNELS], 0.1,
                                  n, d, p)
    assert_allclose(c.X, ref["X"], rtol=1e-13, atol=1e-15)
    assert_allclose(c.cash_flows, ref["cash_flows"], rtol=1e-13)
    assert_allclose(c.rate, ref["rate"], rtol=1e-15)
    assert c.segment.tolist() == ref["segment"]
    assert c.y.tolist() == ref["y"]
    assert c.channel.codes.tolist() == ref["channel"]
    assert c.lifespan.tolist() == ref["lifespan"]


def test_shapes_dtypes_and_ranges():
    c = make_customers(20_000, n_features=3, n_segments=50, n_periods=9, seed=3)
    assert c.X.shape == (20_000, 3) and c.X.dtype == np.float64 and c.X.flags.c_contiguous
    assert c.y.dtype == np.int8 and set(np.unique(c.y)) == {0, 1}
    assert c.segment.min() >= 0 and c.segment.max() < 50
    assert c.cash_flows.shape == (20_000, 9)
    assert ((c.rate >= 0.005) & (c.rate < 0.02)).all()
    assert c.lifespan.min() >= 1 and c.lifespan.max() == 9
    assert list(c.channel.categories) == list(CHANNEL_NAMES)
    assert c.coef.shape == (50, 3) and c.intercept.shape == (50,)
    assert c.new_customers.sum() == 20_000
    assert_allclose(c.spend / c.new_customers, [ch[3] for ch in CHANNELS])
    assert len(c) == 20_000


def test_float32_features():
    c64 = make_customers(500, n_features=4, seed=2)
    c32 = make_customers(500, n_features=4, seed=2, dtype=np.float32)
    assert c32.X.dtype == np.float32 and c32.cash_flows.dtype == np.float32
    assert_array_equal(c32.X, c64.X.astype(np.float32))


def test_distribution_follows_the_true_model():
    c = make_customers(200_000, n_features=6, n_segments=3, seed=11)
    assert abs(c.X.mean()) < 0.01 and abs(c.X.std() - 1) < 0.01
    logits = c.intercept[c.segment] + np.einsum("ij,ij->i", c.X, c.coef[c.segment])
    p = 1 / (1 + np.exp(-logits))
    sd = np.sqrt((p * (1 - p)).sum())
    assert abs(c.y.sum() - p.sum()) < 5 * sd
    # Zipf segment sizes: segment 0 about twice segment 1, three times segment 2
    sizes = np.bincount(c.segment)
    assert_allclose(sizes / sizes.sum(), np.array([1, 1 / 2, 1 / 3]) / (11 / 6), atol=0.01)
    eq = np.bincount(make_customers(60_000, n_segments=4, segment_skew=0.0, seed=1).segment)
    assert_allclose(eq / eq.sum(), 0.25, atol=0.01)
    shares = np.bincount(c.channel.codes) / len(c)
    assert_allclose(shares, [ch[1] for ch in CHANNELS], atol=0.01)
    # geometric lifespan with churn 0.1, capped at 12
    assert_allclose((c.lifespan == 1).mean(), 0.1, atol=0.01)


def test_to_frame():
    c = make_customers(10, n_features=2, n_periods=3, seed=0)
    df = c.to_frame()
    assert list(df.columns) == ["x0", "x1", "y", "segment", "channel", "rate", "lifespan",
                                "cf1", "cf2", "cf3"]
    assert isinstance(df["channel"].dtype, pd.CategoricalDtype)
    assert_array_equal(df[["cf1", "cf2", "cf3"]].to_numpy(), c.cash_flows)


def test_empty():
    c = make_customers(0)
    assert c.X.shape == (0, 16) and c.new_customers.sum() == 0


@pytest.mark.parametrize("kwargs, exc, words", [
    ({"n_customers": -1}, ValueError, "n_customers must be >= 0"),
    ({"n_customers": 1.5}, TypeError, "n_customers must be an integer"),
    ({"n_customers": "10"}, TypeError, "n_customers"),
    ({"n_customers": 10, "n_features": 0}, ValueError, "n_features"),
    ({"n_customers": 10, "n_segments": 0}, ValueError, "n_segments"),
    ({"n_customers": 10, "n_periods": 0}, ValueError, "n_periods"),
    ({"n_customers": 10, "seed": -3}, ValueError, "seed"),
    ({"n_customers": 10, "seed": 2**64}, ValueError, "seed"),
    ({"n_customers": 10, "dtype": np.int32}, TypeError, "dtype"),
    ({"n_customers": 10, "dtype": "banana"}, TypeError, "dtype"),
    ({"n_customers": 10, "segment_skew": -1.0}, ValueError, "segment_skew"),
    ({"n_customers": 10, "churn": 1.0}, ValueError, "churn"),
    ({"n_customers": 10, "chunk_rows": 0}, ValueError, "chunk_rows"),
])
def test_bad_input(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        make_customers(**kwargs)


def test_btyd_generator_kernels_match_twins():
    from crmjit.kernels.generate import (STREAM_BTYD, _btyd_customer, _btyd_fill,
                                         _btyd_summary, _gamma, _stream_key)
    from crmjit.reference import generate as g
    key = np.uint64(g.stream_key(7, 3))
    for shape in (0.05, 0.7, 1.0, 3.7, 40.0):  # both branches of the gamma sampler
        value, nxt = _gamma(key, np.uint64(5), shape)
        want, want_next = g.gamma(int(key), 5, shape)
        assert value == pytest.approx(want, rel=1e-12) and int(nxt) == want_next
    params = np.array([0.5, 10.0, 0.8, 2.0, 6.0, 3.7, 15.0])
    n, start = 300, 1000
    x, tx, T, m = (np.empty(n) for _ in range(4))
    _btyd_summary(np.uint64(11), start, params, 365.0, np.empty(0), x, tx, T, m)
    twin = g.btyd_summary(11, start, params.tolist(), 365.0, n)
    assert_allclose(np.column_stack([x, tx, T, m]), twin, rtol=1e-12)
    ptr = np.concatenate([[0], np.cumsum(x.astype(np.int64) + 1)])
    when, amount = np.empty(ptr[-1]), np.empty(ptr[-1])
    x2, tx2, T2, m2, birth = (np.empty(n) for _ in range(5))
    _btyd_fill(np.uint64(11), start, params, 365.0, ptr, x2, tx2, T2, m2, birth, when,
               amount)
    tw_when, tw_amount = g.btyd_fill(11, start, params.tolist(), 365.0, n)
    assert_allclose(when, tw_when, rtol=1e-12)
    assert_allclose(amount, tw_amount, rtol=1e-12)
    assert np.array_equal(x2, x) and np.array_equal(m2, m)  # the two passes agree
    base = np.uint64(_stream_key(np.uint64(11), STREAM_BTYD))  # keys are uint64, as in kernels
    key = np.uint64(_stream_key(base, np.uint64(start)))
    T1, k, last, spent = _btyd_customer(key, *params, 365.0, -1.0,
                                        np.empty(0), np.empty(0))
    want = g.btyd_customer(g.stream_key(int(base), start), *params.tolist(), 365.0)
    assert T1 == pytest.approx(want[0], rel=1e-15) and k == len(want[1])
    assert last == pytest.approx(want[1][-1], rel=1e-12)
    T2, k2, last2, _ = _btyd_customer(key, *params, 365.0, 50.0, np.empty(0), np.empty(0))
    want = g.btyd_customer(g.stream_key(int(base), start), *params.tolist(), 365.0, 50.0)
    assert T2 == 50.0 and k2 == len(want[1]) and last2 == pytest.approx(want[1][-1], rel=1e-12)


def test_make_rfm_with_given_ages(rng):
    """Customers simulated at given ages: those ages, the twin's purchases, and the same
    population as uniform ages (the rate of repeat purchases per day of age)."""
    from crmjit.data_gen import make_rfm
    from crmjit.reference import generate as g
    ages = rng.uniform(1, 400, 3000)
    rfm = make_rfm(3000, T=ages, seed=5, chunk_rows=700)
    assert np.array_equal(rfm["T"].to_numpy(), ages) and (rfm.recency <= rfm["T"]).all()
    from crmjit.data_gen import BTYD_TRUTH
    twin = g.btyd_summary(5, 10, list(BTYD_TRUTH.values()), 365.0, 5, list(ages[10:15]))
    assert_allclose(rfm.iloc[10:15].to_numpy(), twin, rtol=1e-12)
    with pytest.raises(ValueError, match=r"T must hold 3 ages > 0.*\[1\]"):
        make_rfm(3, T=[1.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="T has length 2"):
        make_rfm(3, T=[1.0, 2.0])


@pytest.mark.parametrize("kwargs, exc, words", [
    (dict(n_customers=-1), ValueError, "n_customers"),
    (dict(n_customers=10, t_max=0.0), ValueError, "t_max"),
    (dict(n_customers=10, t_max=float("nan")), ValueError, "t_max"),
    (dict(n_customers=10, seed=-3), ValueError, "seed"),
    (dict(n_customers=10, r=-0.5), ValueError, "r must be"),
    (dict(n_customers=10, alpha="x"), ValueError, "alpha must be"),
    (dict(n_customers=10, gamma=2.0), TypeError, "unknown model parameters"),
])
def test_btyd_generators_reject_bad_arguments(kwargs, exc, words):
    from crmjit.data_gen import make_rfm, make_transactions
    with pytest.raises(exc, match=words):
        make_rfm(**kwargs)
    with pytest.raises(exc, match=words):
        make_transactions(**kwargs)


def test_make_transactions_rejects_a_bad_start():
    from crmjit.data_gen import make_transactions
    with pytest.raises(ValueError, match="start must be a date"):
        make_transactions(10, start="not a date")
