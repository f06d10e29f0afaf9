"""rfm_summary: equal to lifetimes' summary_data_from_transaction_data, twin, bad input."""

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import crmjit
from crmjit import reference
from crmjit.data_gen import make_transactions
from crmjit.kernels.rfm import _floor_periods, _rfm_scan, _sort_slice


def lifetimes_summary(quiet, *args, **kwargs):
    from lifetimes.utils import summary_data_from_transaction_data
    with quiet():
        return summary_data_from_transaction_data(*args, **kwargs)


def assert_same(ours, theirs):
    assert list(ours.columns) == list(theirs.columns)
    assert ours.index.name == theirs.index.name
    assert (ours.index == theirs.index).all()
    for col in ours.columns:
        assert ours[col].dtype == np.float64
        # counts and period differences exactly; mean spend to rounding
        assert_allclose(ours[col], theirs[col], rtol=1e-12 if col == "monetary_value" else 0)


@pytest.mark.parametrize("freq", ["D", "W", "h", "s"])
def test_lifetimes_example_log(freq, lifetimes_quiet):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes.datasets import load_transaction_data
        log = load_transaction_data()
    assert_same(crmjit.rfm_summary(log, "id", "date", freq=freq),
                lifetimes_summary(lifetimes_quiet, log, "id", "date", freq=freq))
    end = "2014-09-01"
    assert_same(crmjit.rfm_summary(log, "id", "date", observation_period_end=end, freq=freq),
                lifetimes_summary(lifetimes_quiet, log, "id", "date",
                                  observation_period_end=end, freq=freq))


@pytest.mark.parametrize("freq", ["D", "W", "h"])
@pytest.mark.parametrize("end", [None, "2025-08-15", "2025-08-15 13:30"])
def test_random_logs_with_spend(seed, freq, end, lifetimes_quiet):
    log, _ = make_transactions(3000, seed=seed)
    log = log.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # any order
    # same-period repeats, with their spend summed
    dup = log.sample(300, random_state=seed + 1).assign(amount=lambda d: d.amount * 0.5)
    log = pd.concat([log, dup], ignore_index=True)
    ours = crmjit.rfm_summary(log, "customer_id", "date", "amount",
                              observation_period_end=end, freq=freq)
    theirs = lifetimes_summary(lifetimes_quiet, log, "customer_id", "date", "amount",
                               observation_period_end=end, freq=freq)
    assert_same(ours, theirs)


def test_string_ids_string_dates_and_tz_aware_dates(lifetimes_quiet):
    log, _ = make_transactions(500, seed=3)
    log["customer_id"] = "c" + log["customer_id"].astype(str)
    log["date"] = log["date"].dt.strftime("%Y-%m-%d %H:%M:%S")
    theirs = lifetimes_summary(lifetimes_quiet, log, "customer_id", "date", "amount")
    assert_same(crmjit.rfm_summary(log, "customer_id", "date", "amount"), theirs)
    tz = log.assign(date=pd.to_datetime(log["date"]).dt.tz_localize("Europe/Paris"))
    assert_same(crmjit.rfm_summary(tz, "customer_id", "date", "amount"), theirs)
    # the fast path: already grouped by customer, no counting sort
    log, _ = make_transactions(500, seed=4)
    assert_same(crmjit.rfm_summary(log, "customer_id", "date", "amount"),
                lifetimes_summary(lifetimes_quiet, log, "customer_id", "date", "amount"))


def test_kernels_match_twins(rng):
    n, customers = 5000, 300
    codes = rng.integers(0, customers, n)
    periods = rng.integers(-50, 200, n)  # negative: before 1970
    amounts = rng.uniform(1, 100, n)
    order = np.argsort(codes, kind="stable")
    offsets = np.zeros(customers + 1, dtype=np.int64)
    np.cumsum(np.bincount(codes, minlength=customers), out=offsets[1:])
    outs = [np.empty(customers, dtype=np.int64) for _ in range(3)] + [np.empty(customers)]
    half = customers // 2  # two spans of customers, as the threads take them
    for lo, hi in ((0, half), (half, customers)):
        _rfm_scan(order, offsets, periods, amounts, np.int64(150),
                  np.empty(n, dtype=np.int64), *outs, lo, hi)
    twin = reference.rfm.rfm_scan(codes.tolist(), periods.tolist(), amounts.tolist(), 150,
                                  customers)
    for c in range(customers):
        if twin[c] is None:
            assert outs[2][c] == 0
            continue
        first, last, count, repeat_total = twin[c]
        assert (outs[0][c], outs[1][c], outs[2][c]) == (first, last, count)
        assert outs[3][c] == pytest.approx(repeat_total, rel=1e-12, abs=1e-12)
    ns = rng.integers(-10**18, 10**18, 1000)
    got = _floor_periods(ns, np.int64(86400 * 10**9), np.int64(3 * 86400 * 10**9),
                         np.empty(1000, dtype=np.int64), 0, 1000)
    assert got.tolist() == reference.rfm.floor_periods(ns.tolist(), 86400 * 10**9,
                                                       3 * 86400 * 10**9)
    for length in (0, 1, 5, 32, 33, 200):
        a = rng.integers(0, 50, 300)
        want = reference.rfm.sort_slice(a.tolist(), 10, 10 + length)
        _sort_slice(a, 10, 10 + length)
        assert a.tolist() == want


def test_doc_example_counts_same_day_once():
    log = pd.DataFrame({"id": [1, 1, 1, 2], "amount": [10.0, 5.0, 7.0, 3.0],
                        "date": ["2024-01-01", "2024-01-01", "2024-01-05", "2024-01-03"]})
    s = crmjit.rfm_summary(log, "id", "date", "amount", observation_period_end="2024-01-10")
    assert s.loc[1].tolist() == [1.0, 4.0, 9.0, 7.0]  # the 10 + 5 first day is not spend
    assert s.loc[2].tolist() == [0.0, 0.0, 7.0, 0.0]


def test_bad_input_names_the_column():
    good = pd.DataFrame({"id": [1, 2], "when": ["2024-01-01", "2024-01-02"], "amt": [1.0, 2.0]})
    with pytest.raises(TypeError, match="DataFrame"):
        crmjit.rfm_summary(good.to_numpy(), "id", "when")
    with pytest.raises(ValueError, match="'nope' is not a column"):
        crmjit.rfm_summary(good, "nope", "when")
    with pytest.raises(ValueError, match=r"transactions\['when'\] holds values that are not"):
        crmjit.rfm_summary(good.assign(when=["2024-01-01", "yesterday-ish"]), "id", "when")
    with pytest.raises(ValueError, match=r"transactions\['when'\] has missing dates"):
        crmjit.rfm_summary(good.assign(when=[pd.NaT, pd.Timestamp("2024-01-01")]), "id", "when")
    with pytest.raises(ValueError, match=r"transactions\['id'\] has missing labels"):
        crmjit.rfm_summary(good.assign(id=[1, None]), "id", "when")
    with pytest.raises(TypeError, match=r"transactions\['amt'\] must be numeric"):
        crmjit.rfm_summary(good.assign(amt=["a", "b"]), "id", "when", "amt")
    with pytest.raises(ValueError, match=r"transactions\['amt'\] contains NaN"):
        crmjit.rfm_summary(good.assign(amt=[1.0, np.nan]), "id", "when", "amt")
    with pytest.raises(ValueError, match="freq must be one of"):
        crmjit.rfm_summary(good, "id", "when", freq="M")
    with pytest.raises(ValueError, match="observation_period_end is not a date"):
        crmjit.rfm_summary(good, "id", "when", observation_period_end="soon")
    with pytest.raises(ValueError, match="no purchase on or before"):
        crmjit.rfm_summary(good, "id", "when", observation_period_end="2020-01-01")
    with pytest.raises(ValueError, match="empty"):
        crmjit.rfm_summary(good.iloc[:0], "id", "when")


def test_minute_periods_and_same_minute_purchases():
    log = pd.DataFrame({"id": [7, 7, 7, 7],
                        "t": pd.to_datetime(["2024-03-01 10:00:05", "2024-03-01 10:00:50",
                                             "2024-03-01 10:02:10", "2024-03-01 10:07:59"])})
    s = crmjit.rfm_summary(log, "id", "t", freq="min",
                           observation_period_end="2024-03-01 10:09:30")
    # periods 10:00, 10:02, 10:07 (the two 10:00 purchases count once); end period 10:09
    assert s.loc[7].tolist() == [2.0, 7.0, 9.0]


def test_dates_far_from_1970_are_not_wrapped():
    """pandas parses to microseconds; a cast to nanoseconds wraps past 2262 silently."""
    log = pd.DataFrame({"id": [1, 1, 2],
                        "date": pd.to_datetime(pd.Series(["2024-01-01", "2300-01-01",
                                                          "2024-01-03"]))})
    got = crmjit.rfm_summary(log, "id", "date", observation_period_end="2024-02-01")
    assert got.loc[1].tolist() == [0.0, 0.0, 31.0]  # the 2300 purchase is after the end
    assert got.loc[2].tolist() == [0.0, 0.0, 29.0]
    later = crmjit.rfm_summary(log, "id", "date", observation_period_end="2301-01-01")
    span = (pd.Timestamp("2300-01-01") - pd.Timestamp("2024-01-01")).days
    assert later.loc[1, "frequency"] == 1.0 and later.loc[1, "recency"] == span
    old = log.assign(date=pd.to_datetime(pd.Series(["1700-03-01", "1700-03-05",
                                                    "1700-03-02"])))
    early = crmjit.rfm_summary(old, "id", "date", observation_period_end="1700-03-10")
    assert early.loc[1].tolist() == [1.0, 4.0, 9.0]


def test_spend_summing_beyond_float64_is_an_error_naming_the_customer():
    log = pd.DataFrame({"id": [1, 1, 1, 2, 2], "amount": [1.0, 1.5e308, 1.5e308, 2.0, 3.0],
                        "date": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03",
                                                "2024-01-01", "2024-01-05"])})
    with pytest.raises(ValueError, match=r"'amount'.*customers \[1\] sums beyond float64"):
        crmjit.rfm_summary(log, "id", "date", "amount")
    fine = crmjit.rfm_summary(log[log.id == 2], "id", "date", "amount")
    assert fine.loc[2, "monetary_value"] == 3.0


@pytest.mark.parametrize("freq, cal_end, obs_end", [("D", "1997-09-30", "1998-06-30"),
                                                    ("W", "1997-06-15", None)])
def test_calibration_holdout_equals_lifetimes_on_cdnow(cdnow_log, lifetimes_quiet, freq,
                                                       cal_end, obs_end):
    """lifetimes' calibration_and_holdout_data (with a monetary column, where it runs under
    pandas 3), column by column, on the CDNOW master log (69,659 purchases)."""
    with lifetimes_quiet():
        from lifetimes.utils import calibration_and_holdout_data
        theirs = calibration_and_holdout_data(cdnow_log, "customer_id", "date", cal_end,
                                              obs_end, freq=freq,
                                              monetary_value_col="dollar_value")
    ours = crmjit.rfm_calibration_holdout(cdnow_log, "customer_id", "date", cal_end, obs_end,
                                          freq=freq, monetary_value_col="dollar_value")
    assert list(ours.columns) == list(theirs.columns)
    assert ours.index.tolist() == theirs.index.astype(str).tolist()
    for col in theirs.columns:
        np.testing.assert_allclose(ours[col], theirs[col].to_numpy(float), rtol=1e-12,
                                   atol=1e-12, err_msg=col)
    assert ours.frequency_holdout.sum() > 1000 and (ours.duration_holdout > 0).all()


def test_calibration_holdout_edges_and_errors():
    log = pd.DataFrame({"id": [1, 1, 2, 3], "amount": [10.0, 4.0, 3.0, 8.0],
                        "date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-03",
                                                "2024-03-01"])})
    out = crmjit.rfm_calibration_holdout(log, "id", "date", "2024-01-10", "2024-03-31",
                                         monetary_value_col="amount")
    assert out.index.tolist() == [1, 2]  # customer 3 first bought in the holdout: not in it
    assert out.frequency_holdout.tolist() == [1.0, 0.0]
    assert out.monetary_value_holdout.tolist() == [4.0, 0.0]
    assert out.duration_holdout.tolist() == [81.0, 81.0]
    assert "monetary_value_holdout" not in crmjit.rfm_calibration_holdout(
        log, "id", "date", "2024-01-10").columns
    with pytest.raises(ValueError, match="must be after calibration_period_end"):
        crmjit.rfm_calibration_holdout(log, "id", "date", "2024-03-31", "2024-01-10")
    with pytest.raises(ValueError, match="calibration_period_end is not a date"):
        crmjit.rfm_calibration_holdout(log, "id", "date", "someday")
    with pytest.raises(ValueError, match="no purchase on or before calibration_period_end"):
        crmjit.rfm_calibration_holdout(log, "id", "date", "2023-12-01")


def test_calibration_holdout_splits_at_the_time_stamp_as_lifetimes(rng, lifetimes_quiet):
    """Purchases later on the calibration end's own day belong to the holdout (lifetimes
    splits at the time stamp, then counts by period): equal to lifetimes on a log with
    times of day."""
    with lifetimes_quiet():
        from lifetimes.utils import calibration_and_holdout_data
    n = 5000
    ns = (np.datetime64("2025-01-01", "ns").astype(np.int64)
          + rng.integers(0, 300 * 86_400 * 10**9, n))
    log = pd.DataFrame({"id": rng.integers(0, 800, n), "date": ns.view("datetime64[ns]"),
                        "amount": rng.gamma(3.0, 10.0, n)})
    args = (log, "id", "date", "2025-07-31", "2025-10-20")
    with lifetimes_quiet():
        theirs = calibration_and_holdout_data(*args, monetary_value_col="amount")
    ours = crmjit.rfm_calibration_holdout(*args, monetary_value_col="amount")
    assert ours.index.tolist() == theirs.index.tolist()
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-12)


def test_polars_and_pyarrow_logs_give_the_same_summaries():
    """A polars DataFrame or a pyarrow Table is read column by column (no pandas copy of
    the whole table) and summarised exactly as the pandas frame."""
    import polars as pl
    import pyarrow as pa
    from crmjit.data_gen import make_transactions
    log, _ = make_transactions(500, seed=4)
    log["customer_id"] = "c" + log.customer_id.astype(str)  # string ids
    log["note"] = "unread"
    want = crmjit.rfm_summary(log, "customer_id", "date", "amount", freq="W")
    cal_want = crmjit.rfm_calibration_holdout(log, "customer_id", "date", "2025-09-01",
                                              "2026-01-01", monetary_value_col="amount")
    for other in (pa.Table.from_pandas(log, preserve_index=False), pl.from_pandas(log)):
        got = crmjit.rfm_summary(other, "customer_id", "date", "amount", freq="W")
        pd.testing.assert_frame_equal(got, want)
        cal = crmjit.rfm_calibration_holdout(other, "customer_id", "date", "2025-09-01",
                                             "2026-01-01", monetary_value_col="amount")
        pd.testing.assert_frame_equal(cal, cal_want)
        with pytest.raises(ValueError, match="customer_id_col 'nope' is not a column"):
            crmjit.rfm_summary(other, "nope", "date")
    with pytest.raises(TypeError, match="pandas or polars DataFrame or a pyarrow Table"):
        crmjit.rfm_summary(log.to_numpy(), "customer_id", "date")
