import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import crmjit
from crmjit import reference


# ---------------------------------------------------------------- checked examples
def test_seed_article_examples():
    assert round(crmjit.clv(200, 0.10, 3), 2) == 497.37
    assert round(crmjit.clv([[200, 200, 200]], 0.10)[0], 2) == 497.37
    assert crmjit.cac(10000, 100) == 100.0
    assert crmjit.conversion_rate(20, 1000) == 2.0
    assert isinstance(crmjit.clv(200, 0.10, 3), float)


# ---------------------------------------------------------------- CLV vs reference
def _random_case(rng, n=257, p=13):
    cf = rng.normal(50, 30, size=(n, p))
    rate = rng.uniform(-0.5, 0.5, size=n)
    life = rng.integers(0, p + 1, size=n)
    return cf, rate, life


@pytest.mark.parametrize("rate_kind", ["scalar", "array"])
@pytest.mark.parametrize("life_kind", ["none", "int", "array"])
def test_clv_matrix_matches_reference(rng, rate_kind, life_kind):
    cf, rate, life = _random_case(rng)
    r = 0.07 if rate_kind == "scalar" else rate
    L = {"none": None, "int": 5, "array": life}[life_kind]
    got = crmjit.clv(cf, r, L)
    expected = reference.clv_matrix(
        cf.tolist(), [r] if np.ndim(r) == 0 else r.tolist(),
        [] if L is None else ([L] if np.ndim(L) == 0 else L.tolist()))
    assert got.dtype == np.float64 and got.shape == (cf.shape[0],)
    assert_allclose(got, expected, rtol=1e-12, atol=1e-12, err_msg="kernel vs reference")


def test_clv_layouts_and_dtypes_agree(rng):
    cf, rate, life = _random_case(rng)
    base = crmjit.clv(cf, rate, life)
    assert_allclose(crmjit.clv(np.asfortranarray(cf), rate, life), base, rtol=1e-14)
    assert_allclose(crmjit.clv(pd.DataFrame(cf), pd.Series(rate), pd.Series(life)), base,
                    rtol=1e-14)
    cf32 = cf.astype(np.float32)
    expected32 = reference.clv_matrix(cf32.astype(np.float64).tolist(), rate.tolist(),
                                      life.tolist())
    assert_allclose(crmjit.clv(cf32, rate, life), expected32, rtol=1e-12, atol=1e-12,
                    err_msg="float32 is read exactly and accumulated in float64")
    cfi = np.rint(cf).astype(np.int64)
    assert_allclose(crmjit.clv(cfi, rate, life),
                    reference.clv_matrix(cfi.tolist(), rate.tolist(), life.tolist()),
                    rtol=1e-12, atol=1e-12)
    assert_allclose(crmjit.clv(cf, rate, life.astype(np.float64)), base, rtol=0)
    # a strided view is read in place too
    wide = np.zeros((cf.shape[0], 2 * cf.shape[1]))
    wide[:, ::2] = cf
    assert_allclose(crmjit.clv(wide[:, ::2], rate, life), base, rtol=1e-14)


def test_clv_constant_matches_reference_and_matrix(rng):
    n = 101
    margin = rng.normal(100, 40, n)
    rate = np.concatenate([[0.0, 1e-12, -1e-12, 0.9, -0.5], rng.uniform(-0.3, 0.3, n - 5)])
    life = rng.integers(0, 40, n)
    got = crmjit.clv(margin, rate, life)
    assert_allclose(got, reference.clv_constant(margin.tolist(), rate.tolist(), life.tolist()),
                    rtol=1e-12, atol=1e-12)
    mat = np.repeat(margin[:, None], 40, axis=1)
    assert_allclose(got, crmjit.clv(mat, rate, life), rtol=1e-12, atol=1e-12)


def test_clv_rate_zero_is_exact_sum():
    assert crmjit.clv(7.5, 0.0, 9) == 67.5
    assert crmjit.clv([[1.0, 2.0, 3.0]], 0.0)[0] == 6.0
    # tiny rates do not lose digits to cancellation
    assert_allclose(crmjit.clv(1.0, 1e-14, 1000), 1000 * (1 - 1e-14 * 1001 / 2), rtol=1e-12)


def test_clv_broadcasts_scalars_in_constant_form():
    got = crmjit.clv(100.0, [0.0, 0.1], 2)
    assert_allclose(got, [200.0, 100 / 1.1 + 100 / 1.21], rtol=1e-14)
    got = crmjit.clv([100.0, 50.0], 0.0, [1, 3])
    assert_array_equal(got, [100.0, 150.0])


def test_clv_empty_and_zero_lifespan():
    assert crmjit.clv(np.empty((0, 12)), 0.1).shape == (0,)
    assert crmjit.clv(np.empty((0, 12)), np.empty(0), np.empty(0, dtype=int)).shape == (0,)
    assert crmjit.clv(np.empty(0), 0.1, 3).shape == (0,)
    assert crmjit.clv(np.ones((3, 4)), 0.1, 0).tolist() == [0.0, 0.0, 0.0]
    assert crmjit.clv(np.ones((2, 0)), 0.1).tolist() == [0.0, 0.0]


def test_clv_ignores_cells_past_lifespan():
    cf = np.array([[10.0, 10.0, np.nan], [10.0, np.inf, np.nan]])
    assert_allclose(crmjit.clv(cf, 0.0, [2, 1]), [20.0, 10.0])


def test_clv_extreme_but_finite_values():
    assert_allclose(crmjit.clv([[1e300, 1e300]], 1.0), [1e300 / 2 + 1e300 / 4], rtol=1e-14)
    assert_allclose(crmjit.clv([[1e-300, 1e-300]], 0.0), [2e-300], rtol=1e-14)
    assert crmjit.clv(1.0, 1e6, 10_000) == pytest.approx(1e-6, rel=1e-5)


# ---------------------------------------------------------------- CLV bad input
@pytest.mark.parametrize("cf, rate, life, exc, words", [
    ([[1.0, np.nan]], 0.1, None, ValueError, "cash_flows contains NaN"),
    ([[1.0, np.inf]], 0.1, None, ValueError, "cash_flows contains NaN"),
    ([np.nan], 0.1, 2, ValueError, "cash_flows contains NaN"),
    ([[1.0, 2.0]], np.nan, None, ValueError, "rate contains NaN"),
    ([[1.0, 2.0]], [np.inf], None, ValueError, "rate contains NaN"),
    ([[1.0, 2.0]], -1.0, None, ValueError, "rate must be > -1"),
    ([[1.0, 2.0]], [0.1, -1.5], None, ValueError, "rate"),
    ([[1.0, 2.0]], 0.1, -1, ValueError, "lifespan must be >= 0"),
    ([[1.0, 2.0]], 0.1, 1.5, ValueError, "lifespan must hold whole numbers"),
    ([[1.0, 2.0]], 0.1, [np.nan], ValueError, "lifespan contains NaN"),
    ([[1.0, 2.0]], 0.1, 3, ValueError, "lifespan must be <= n_periods (2)"),
    ([[1.0, 2.0]], 0.1, "3", TypeError, "lifespan"),
    ([[1.0, 2.0]], 0.1, True, TypeError, "lifespan"),
    ([[1.0], [2.0]], [0.1, 0.2, 0.3], None, ValueError, "rate has length 3"),
    ([[1.0], [2.0]], 0.1, [1, 1, 1], ValueError, "lifespan has length 3"),
    ([1.0, 2.0], [0.1, 0.2, 0.3], 2, ValueError, "one common length"),
    (np.ones((2, 2, 2)), 0.1, None, ValueError, "cash_flows must be"),
    (np.ones((2, 2)), np.ones((2, 1)), None, ValueError, "rate must be a scalar or 1-D"),
    ("100", 0.1, 2, TypeError, "cash_flows"),
    (np.array([["a", "b"]]), 0.1, None, TypeError, "cash_flows must hold"),
    (np.array([[1, None]], dtype=object), 0.1, None, TypeError, "object"),
    (np.array([[True, False]]), 0.1, None, TypeError, "boolean"),
    ([[1.0, 2.0]], "0.1", None, TypeError, "rate"),
    ([[1.0, 2.0], [1.0]], 0.1, None, ValueError, "cash_flows could not be read"),
    (100.0, 0.1, None, ValueError, "lifespan is required"),
    ([[1e308, 1e308]], -0.9, None, ValueError, "overflows"),
    (1.0, -0.999, 10**6, ValueError, "overflows"),
])
def test_clv_rejects_bad_input(cf, rate, life, exc, words):
    with pytest.raises(exc, match=words.replace("(", r"\(").replace(")", r"\)")):
        crmjit.clv(cf, rate, life)


def test_clv_error_names_position():
    cf = np.ones((5, 3))
    cf[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"\(3, 1\)"):
        crmjit.clv(cf, 0.1)


# ---------------------------------------------------------------- CAC / conversion
def test_ratios_match_reference(rng):
    spend = rng.uniform(0, 1e4, 17)
    new = rng.integers(1, 500, 17)
    assert_allclose(crmjit.cac(spend, new), reference.cac(spend.tolist(), new.tolist()),
                    rtol=1e-15)
    visits = rng.integers(1, 10_000, 17)
    conv = rng.integers(0, 1, 17) * visits
    assert_allclose(crmjit.conversion_rate(conv, visits),
                    reference.conversion_rate(conv.tolist(), visits.tolist()), rtol=1e-15)


def test_ratio_zero_division():
    with pytest.raises(ValueError, match=r"new_customers is zero at positions \[1\]"):
        crmjit.cac([100.0, 50.0], [2, 0])
    out = crmjit.cac([100.0, 50.0], [2, 0], zero_division="nan")
    assert out[0] == 50.0 and np.isnan(out[1])
    with pytest.raises(ValueError, match="visits is zero"):
        crmjit.conversion_rate(0, 0)
    assert np.isnan(crmjit.conversion_rate(0, 0, zero_division="nan"))
    with pytest.raises(ValueError, match="zero_division"):
        crmjit.cac(1, 1, zero_division="warn")


def test_ratio_series_align_and_keep_index():
    spend = pd.Series({"a": 100.0, "b": 30.0})
    new = pd.Series({"b": 3, "a": 4})
    out = crmjit.cac(spend, new)
    assert isinstance(out, pd.Series)
    assert out.to_dict() == {"a": 25.0, "b": 10.0}
    with pytest.raises(ValueError, match="same index labels"):
        crmjit.cac(spend, pd.Series({"a": 1, "c": 2}))
    # a one-value Series broadcast against an array keeps the array's shape
    assert_allclose(crmjit.cac(pd.Series({"all": 90.0}), [1, 2, 3]), [90.0, 45.0, 30.0])


@pytest.mark.parametrize("call, words", [
    (lambda: crmjit.cac(-1.0, 5), "spend must be >= 0"),
    (lambda: crmjit.cac(1.0, [5, -1]), "new_customers must be >= 0"),
    (lambda: crmjit.cac(np.nan, 5), "spend contains NaN"),
    (lambda: crmjit.cac([1.0, 2.0], [1, 2, 3]), "one common length"),
    (lambda: crmjit.cac("10", 5), "spend"),
    (lambda: crmjit.conversion_rate(30, 20), "conversions exceed visits"),
    (lambda: crmjit.conversion_rate([1, 2], np.inf), "visits contains NaN"),
])
def test_ratio_bad_input(call, words):
    with pytest.raises((ValueError, TypeError), match=words):
        call()


# ---------------------------------------------------------------- channel summary
def test_channel_summary_matches_reference_and_pandas(rng):
    n = 5000
    labels = np.array(["web", "shop", "app", "tv"])[rng.integers(0, 4, n)]
    values = rng.normal(100, 50, n)
    spend = {"web": 1000.0, "shop": 500.0, "app": 300.0, "tv": 9000.0, "radio": 1.0}
    new = pd.Series({"web": 40, "shop": 20, "app": 10, "tv": 30, "radio": 0})
    df = crmjit.channel_summary(labels, values, spend, new)
    assert list(df.index) == ["app", "shop", "tv", "web"]
    codes = [["app", "shop", "tv", "web"].index(x) for x in labels]
    counts, sums = reference.group_sums(values.tolist(), codes, 4)
    assert df["customers"].tolist() == counts
    assert_allclose(df["clv_total"], sums, rtol=1e-12)
    grouped = pd.Series(values).groupby(labels).mean()
    assert_allclose(df["clv_mean"], grouped.loc[df.index], rtol=1e-12)
    assert_allclose(df["cac"], [30.0, 25.0, 300.0, 25.0])
    assert_allclose(df["clv_to_cac"], df["clv_mean"] / df["cac"], rtol=1e-15)


def test_channel_summary_label_kinds_agree(rng):
    n = 300
    codes = rng.integers(0, 3, n)
    values = rng.uniform(0, 10, n)
    names = np.array(["b", "a", "c"])[codes]
    spend = {"a": 1.0, "b": 2.0, "c": 3.0}
    new = {"a": 1, "b": 1, "c": 1}
    base = crmjit.channel_summary(names, values, spend, new)
    for variant in (pd.Categorical(names), pd.Series(names, dtype="category"),
                    pd.Categorical(names, categories=["c", "z", "b", "a"]), list(names)):
        got = crmjit.channel_summary(variant, values, spend, new)
        assert list(got.index) == ["a", "b", "c"]
        assert_allclose(got.to_numpy(dtype=float), base.to_numpy(dtype=float), rtol=1e-14)
    ints = crmjit.channel_summary(codes, values, {0: 2.0, 1: 1.0, 2: 3.0}, {0: 1, 1: 1, 2: 1})
    assert list(ints.index) == [0, 1, 2]
    assert ints.loc[1, "customers"] == base.loc["a", "customers"]


def test_channel_summary_bad_input():
    ch, v = ["a", "b"], [1.0, 2.0]
    with pytest.raises(ValueError, match=r"spend has no entry for channel\(s\) \['b'\]"):
        crmjit.channel_summary(ch, v, {"a": 1.0}, {"a": 1, "b": 1})
    with pytest.raises(ValueError, match="new_customers has no entry"):
        crmjit.channel_summary(ch, v, {"a": 1.0, "b": 1.0}, {"a": 1})
    with pytest.raises(TypeError, match="spend must be a mapping"):
        crmjit.channel_summary(ch, v, [1.0, 2.0], {"a": 1, "b": 1})
    with pytest.raises(ValueError, match="clv has length 3"):
        crmjit.channel_summary(ch, [1.0, 2.0, 3.0], {"a": 1.0, "b": 1.0}, {"a": 1, "b": 1})
    with pytest.raises(ValueError, match="channel has missing labels"):
        crmjit.channel_summary(["a", None], v, {"a": 1.0}, {"a": 1})
    with pytest.raises(ValueError, match="clv contains NaN"):
        crmjit.channel_summary(ch, [1.0, np.nan], {"a": 1.0, "b": 1.0}, {"a": 1, "b": 1})
    with pytest.raises(ValueError, match="new_customers is zero"):
        crmjit.channel_summary(ch, v, {"a": 1.0, "b": 1.0}, {"a": 1, "b": 0})
    with pytest.raises(ValueError, match="channel must be 1-D"):
        crmjit.channel_summary("ab", v, {"a": 1.0}, {"a": 1})
    with pytest.raises(TypeError, match="spend must map channels to numbers"):
        crmjit.channel_summary(ch, v, {"a": "x", "b": 1.0}, {"a": 1, "b": 1})
    out = crmjit.channel_summary(ch, v, {"a": 1.0, "b": 1.0}, {"a": 1, "b": 0},
                                 zero_division="nan")
    assert np.isnan(out.loc["b", "cac"]) and out.loc["a", "cac"] == 1.0


def test_channel_summary_empty():
    df = crmjit.channel_summary([], np.empty(0), {}, {})
    assert len(df) == 0


@pytest.mark.parametrize("life", [2**64 - 1, np.array([2**64 - 1], dtype=np.uint64), 1e19,
                                  2**53 + 1])
def test_huge_lifespans_converge_not_wrap(life):
    """Once (1 + r)**-t underflows the sum has converged: 200 / 0.1."""
    got = crmjit.clv(200.0, 0.1, life)
    assert np.ravel(got)[0] == pytest.approx(2000.0, rel=1e-12)
    assert np.ravel(got)[0] == pytest.approx(reference.annuity(0.1, 5000) * 200, rel=1e-12)


@pytest.mark.parametrize("life", [1e19, 2**64 - 1, 2**53 + 1])
def test_an_unbounded_horizon_at_rate_zero_is_an_error(life):
    with pytest.raises(ValueError, match=r"unbounded horizon.*positions \[0\]"):
        crmjit.clv(200.0, 0.0, life)
    with pytest.raises(ValueError, match=r"lifespan must be <= n_periods"):
        crmjit.clv([[1.0, 2.0]], 0.1, [life])


def test_denormal_rates_are_rate_zero_in_the_limit():
    assert crmjit.clv(100.0, 5e-324, 10) == pytest.approx(1000.0, rel=1e-15)
    assert crmjit.clv(100.0, -5e-324, 10) == pytest.approx(1000.0, rel=1e-15)
    assert crmjit.clv(100.0, 1e-300, 2**52) == pytest.approx(100.0 * 2**52, rel=1e-12)


def test_rates_of_huge_counts_do_not_overflow():
    assert crmjit.conversion_rate(1e308, 1e308) == 100.0
    with pytest.raises(ValueError, match="conversions exceed visits"):
        crmjit.conversion_rate(1e308, 1e307)
    assert crmjit.cac(1e308, 1e308) == 1.0


def test_nullable_masked_and_big_endian_inputs():
    import pandas as pd
    s = pd.Series([100.0, 200.0], dtype="Float64")
    np.testing.assert_allclose(crmjit.clv(s, 0.1, 3), crmjit.clv(np.array([100.0, 200.0]),
                                                                 0.1, 3))
    with pytest.raises(ValueError, match=r"cash_flows contains NaN or inf at positions \[1\]"):
        crmjit.clv(pd.Series([100.0, None], dtype="Float64"), 0.1, 3)
    with pytest.raises(TypeError, match="masked array"):
        crmjit.clv(np.ma.masked_array([1.0, 2.0], mask=[0, 1]), 0.1, 3)
    X = np.random.default_rng(0).standard_normal((50, 2))
    want = crmjit.predict_proba(X, [1.0, 2.0], 0.0)
    np.testing.assert_array_equal(crmjit.predict_proba(X.astype(">f8"), [1.0, 2.0], 0.0), want)
    np.testing.assert_array_equal(
        crmjit.predict_proba(pd.DataFrame(X).astype("Float64"), [1.0, 2.0], 0.0), want)
    y = (X[:, 0] > 0).astype(">i8")
    g = (np.arange(50) % 2).astype(">i4")
    b = crmjit.BatchedLogisticRegression().fit(X.astype(">f8"), y, g)
    np.testing.assert_array_equal(b.predict_proba(X.astype(">f8"), g),
                                  b.predict_proba(X, g.astype("<i4")))


def test_channel_summary_overflow_is_an_error_and_organic_channels_stay_infinite():
    """A CLV:CAC or CLV sum beyond float64 from finite inputs is a ValueError naming the
    channel (not inf); a channel with no spend (CAC 0) keeps
    its infinite CLV:CAC."""
    df = crmjit.channel_summary(["web", "organic", "web"], [100.0, 40.0, 200.0],
                                {"web": 100.0, "organic": 0.0}, {"web": 2, "organic": 5})
    assert df.loc["organic", "clv_to_cac"] == np.inf and df.loc["web", "clv_to_cac"] == 3.0
    with pytest.raises(ValueError, match=r"clv_to_cac .* overflows float64 in channels \['web'\]"):
        crmjit.channel_summary(["web"], [4.0], {"web": 2.2250738585072014e-308}, {"web": 1})
    with pytest.raises(ValueError, match=r"clv sums overflow float64 in channels \['a'\]"):
        crmjit.channel_summary(["a", "a", "b"], [1.5e308, 1.5e308, 1.0], {"a": 1.0, "b": 1.0},
                               {"a": 1, "b": 1})
