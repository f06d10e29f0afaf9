"""RFM summaries from transaction logs, with lifetimes' exact definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._validation import check_finite, label_codes, positions, readonly
from ._grouping import group_order
from . import _threads
from .kernels.rfm import _floor_periods, _rfm_scan

_DAY = 86_400 * 10**9
#: period length in ns (divided by the ticks of the dates' unit) and the shift that aligns
#: periods as pandas does (weeks start on Monday; 1970-01-01 was a Thursday, 3 days after
#: a Monday)
PERIODS = {"D": (_DAY, 0), "W": (7 * _DAY, 3 * _DAY), "h": (3600 * 10**9, 0),
           "H": (3600 * 10**9, 0), "min": (60 * 10**9, 0), "s": (10**9, 0)}


def _column(transactions, col, what):
    if not isinstance(col, str) and not np.isscalar(col):
        raise TypeError(f"{what} must be a column name, got {type(col).__name__}")
    if col not in transactions.columns:
        raise ValueError(f"{what} {col!r} is not a column of transactions (columns: "
                         f"{list(transactions.columns)[:10]})")
    return transactions[col]


#: nanoseconds per tick of the date units kept as they are (coarser ones become seconds)
_TICK = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9}


def _ticks(col, name, datetime_format):
    """A date column as (int64 ticks, nanoseconds per tick) in its own unit (s, ms, us or
    ns; coarser units become seconds), wall time for tz-aware columns.  Kept in its unit,
    never cast to nanoseconds: pandas parses to microseconds, whose range (+-290,000
    years) a cast to nanoseconds (+-292 years around 1970) would silently wrap."""
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        col = col.dt.tz_localize(None)
    if not pd.api.types.is_datetime64_dtype(col.dtype):
        try:
            col = pd.to_datetime(col, format=datetime_format)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(f"transactions[{name!r}] holds values that are not dates: "
                             f"{exc}") from None
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            col = col.dt.tz_localize(None)
    values = col.to_numpy()
    unit = np.datetime_data(values.dtype)[0]
    if unit not in _TICK:
        values, unit = values.astype("datetime64[s]"), "s"  # days, weeks: exact in seconds
    nat = np.isnat(values)
    if nat.any():
        raise ValueError(f"transactions[{name!r}] has missing dates (NaT) at rows "
                         f"{positions(nat)}")
    return values.view(np.int64), _TICK[unit]


def _amounts(transactions, monetary_value_col):
    """The amounts column as finite float64 ((0,): no spend column)."""
    if monetary_value_col is None:
        return np.empty(0)
    amt = _column(transactions, monetary_value_col, "monetary_value_col")
    if not (pd.api.types.is_numeric_dtype(amt.dtype)
            and not pd.api.types.is_bool_dtype(amt.dtype)):
        raise TypeError(f"transactions[{monetary_value_col!r}] must be numeric, got "
                        f"{amt.dtype}")
    amounts = np.ascontiguousarray(amt.to_numpy(dtype=np.float64, na_value=np.nan))
    check_finite(amounts, f"transactions[{monetary_value_col!r}]")
    return amounts


def _end_ticks(when, tick_ns, name="observation_period_end"):
    """A date argument (``name``) as a time stamp in the dates' own unit."""
    try:
        end = pd.Timestamp(when)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} is not a date: {exc}") from None
    if end is pd.NaT:
        raise ValueError(f"{name} is not a date (NaT)")
    if end.tzinfo is not None:
        end = end.tz_localize(None)
    tick = {v: k for k, v in _TICK.items()}[tick_ns]
    try:
        return int(end.as_unit(tick).asm8.view(np.int64))
    except (OverflowError, ValueError):
        raise ValueError(f"{name} {when!r} is outside the range of the dates' unit "
                         f"({tick})") from None


def _scan(codes, n_cust, periods, amounts, p_end):
    """Per customer (first period, last period, distinct periods, repeat spend): one
    counting sort by customer (none when already grouped), then the parallel scan."""
    none = np.empty(0, dtype=np.uint8)
    order = np.empty(codes.shape[0], dtype=np.int64)
    offsets, _, grouped = group_order(codes, n_cust, none, order)
    if grouped:  # already in customer order: read in place
        order = order[:0]
    first, last = np.empty(n_cust, dtype=np.int64), np.empty(n_cust, dtype=np.int64)
    n_periods = np.empty(n_cust, dtype=np.int64)
    repeat_total = np.empty(n_cust)
    # amounts read-only whatever made them (a pandas float column is, a selection or a
    # converted column is not): one kernel signature
    _threads.over(_rfm_scan, n_cust, order, offsets, periods, readonly(amounts),
                  np.int64(p_end), np.empty(codes.shape[0], dtype=np.int64), first, last,
                  n_periods, repeat_total)
    return first, last, n_periods, repeat_total


def rfm_summary(transactions, customer_id_col, datetime_col, monetary_value_col=None,
                observation_period_end=None, freq="D", datetime_format=None):
    """Frequency, recency, age (and mean spend) per customer from a transaction log,
    exactly as lifetimes' ``summary_data_from_transaction_data``.

    Parameters
    ----------
    transactions : one row per purchase: a pandas or polars DataFrame or a pyarrow Table
        (only the columns named are read).
    customer_id_col, datetime_col : column names (ids of any hashable kind; dates as
        datetime64 or anything ``pandas.to_datetime`` parses, with ``datetime_format``).
    monetary_value_col : optional column of purchase amounts.
    observation_period_end : the end of observation (default: the last purchase); later
        purchases are ignored.
    freq : "D" (days), "W" (weeks starting Monday), "h" ("H"), "min" or "s": the period;
        purchases in the same period count once, and recency and T are whole periods.

    Returns
    -------
    DataFrame indexed by customer id (sorted) with float64 ``frequency`` (repeat periods:
    periods with a purchase, minus the first), ``recency`` (first to last purchase period),
    ``T`` (first purchase period to the end) and ``monetary_value`` (mean spend per repeat
    period, a period's purchases summed; 0 without repeats).

    Integer ids, datetime64 dates and float amounts take the fast path: no sort of the
    log (a counting sort by customer, none at all when already grouped), a parallel scan.

    >>> import pandas as pd
    >>> from crmjit import rfm_summary
    >>> log = pd.DataFrame({"id": [1, 1, 1, 2], "amount": [10.0, 5.0, 7.0, 3.0],
    ...                     "date": ["2024-01-01", "2024-01-01", "2024-01-05", "2024-01-03"]})
    >>> rfm_summary(log, "id", "date", "amount", observation_period_end="2024-01-10")
        frequency  recency     T  monetary_value
    id
    1         1.0      4.0   9.0             7.0
    2         0.0      0.0   7.0             0.0
    """
    log = _Log(transactions, customer_id_col, datetime_col, monetary_value_col, freq,
               datetime_format)
    p_end = log.end_period(observation_period_end, "observation_period_end")
    return log.summary(p_end, f"observation_period_end {observation_period_end!r}")


class _Columns:
    """A pyarrow Table or a polars DataFrame seen as a frame of pandas Series, one column
    at a time: only the columns read are converted (numeric and date columns without
    nulls, zero-copy), never the whole table."""

    def __init__(self, names, column, rows):
        self.columns, self._column, self._rows = list(names), column, rows

    def __getitem__(self, name):
        return self._column(name)

    def __len__(self):
        return self._rows


def _frame(transactions):
    """transactions as a pandas DataFrame or a ``_Columns`` view of a pyarrow Table or a
    polars DataFrame."""
    if isinstance(transactions, pd.DataFrame):
        return transactions
    kind = type(transactions).__module__.split(".")[0]
    if kind == "pyarrow" and hasattr(transactions, "column_names"):
        return _Columns(transactions.column_names,
                        lambda c: transactions.column(c).to_pandas(), transactions.num_rows)
    if kind == "polars" and hasattr(transactions, "get_column"):
        return _Columns(transactions.columns,
                        lambda c: transactions.get_column(c).to_pandas(), transactions.height)
    raise TypeError("transactions must be a pandas or polars DataFrame or a pyarrow Table, "
                    f"got {type(transactions).__name__}")


class _Log:
    """A transaction log as integer customer codes, period numbers and amounts: what
    both summaries read."""

    def __init__(self, transactions, customer_id_col, datetime_col, monetary_value_col, freq,
                 datetime_format):
        transactions = _frame(transactions)
        if freq not in PERIODS:
            raise ValueError(f"freq must be one of {list(PERIODS)}, got {freq!r}")
        unit, shift = PERIODS[freq]
        ids = _column(transactions, customer_id_col, "customer_id_col")
        dates = _column(transactions, datetime_col, "datetime_col")
        if len(transactions) == 0:
            raise ValueError("transactions is empty: no customers to summarise")
        self.codes, self.labels = label_codes(ids, f"transactions[{customer_id_col!r}]")
        ticks, self.tick_ns = _ticks(dates, datetime_col, datetime_format)
        self.unit, self.shift = unit // self.tick_ns, shift // self.tick_ns  # whole seconds
        self.ticks = ticks
        self.periods = self.floor(ticks)
        self.amounts = _amounts(transactions, monetary_value_col)
        self.id_col, self.amount_col = customer_id_col, monetary_value_col

    def floor(self, ticks):
        """Period numbers of int64 time stamps in the dates' unit."""
        out = np.empty(ticks.shape[0], dtype=np.int64)
        _threads.over(_floor_periods, ticks.shape[0], ticks, np.int64(self.unit),
                      np.int64(self.shift), out)
        return out

    def end_ticks(self, when, name):
        """The time stamp of a date argument (None: the last purchase's)."""
        return int(self.ticks.max()) if when is None else _end_ticks(when, self.tick_ns, name)

    def end_period(self, when, name):
        """The period of a date argument (None: the last purchase's)."""
        return int(self.floor(np.array([self.end_ticks(when, name)], dtype=np.int64))[0])

    def summary(self, p_end, when, rows=None):
        """rfm_summary's frame over the purchases in periods <= p_end (of the rows where
        ``rows`` is True; all by default); ``when`` names the end in the error when there
        are none."""
        codes, periods, amounts = self.codes, self.periods, self.amounts
        if rows is not None:
            codes, periods = codes[rows], periods[rows]
            amounts = amounts[rows] if amounts.shape[0] else amounts
        first, last, n_periods, repeat_total = _scan(codes, len(self.labels), periods,
                                                     amounts, p_end)
        keep = n_periods > 0
        if not keep.any():
            raise ValueError(f"no purchase on or before {when}")
        labels = self.labels
        if not keep.all():
            first, last, n_periods = first[keep], last[keep], n_periods[keep]
            repeat_total, labels = repeat_total[keep], labels[keep]
        frequency = (n_periods - 1).astype(np.float64)
        out = {"frequency": frequency, "recency": (last - first).astype(np.float64),
               "T": (p_end - first).astype(np.float64)}
        if self.amount_col is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                out["monetary_value"] = np.where(frequency > 0, repeat_total / frequency, 0.0)
            bad = ~np.isfinite(out["monetary_value"])
            if bad.any():
                raise ValueError(f"transactions[{self.amount_col!r}]: the spend of customers "
                                 f"{np.asarray(labels)[bad][:10].tolist()} sums beyond "
                                 f"float64")
        return pd.DataFrame(out, index=pd.Index(labels, name=self.id_col))


def rfm_calibration_holdout(transactions, customer_id_col, datetime_col,
                            calibration_period_end, observation_period_end=None, freq="D",
                            monetary_value_col=None, datetime_format=None):
    """A calibration summary and the same customers' holdout purchases, exactly as
    lifetimes' ``calibration_and_holdout_data``.

    The customers are those with a purchase on or before ``calibration_period_end``;
    ``frequency_cal``, ``recency_cal``, ``T_cal`` (and ``monetary_value_cal``) are
    :func:`rfm_summary` of the log up to it.  ``frequency_holdout`` counts the periods with
    a purchase after it and up to ``observation_period_end`` (default: the last
    purchase), ``monetary_value_holdout`` is the mean amount of those purchases (0
    without), and ``duration_holdout`` is the holdout's length in periods.

    >>> import pandas as pd
    >>> from crmjit import rfm_calibration_holdout
    >>> log = pd.DataFrame({"id": [1, 1, 1, 2], "date": ["2024-01-01", "2024-01-05",
    ...                     "2024-01-20", "2024-01-03"], "amount": [10.0, 5.0, 7.0, 3.0]})
    >>> rfm_calibration_holdout(log, "id", "date", "2024-01-10", "2024-01-31",
    ...                         monetary_value_col="amount")[["frequency_cal", "T_cal",
    ...                                                       "frequency_holdout"]]
        frequency_cal  T_cal  frequency_holdout
    id
    1             1.0    9.0                1.0
    2             0.0    7.0                0.0
    """
    log = _Log(transactions, customer_id_col, datetime_col, monetary_value_col, freq,
               datetime_format)
    t_cal = log.end_ticks(calibration_period_end, "calibration_period_end")
    t_obs = log.end_ticks(observation_period_end, "observation_period_end")
    p_cal, p_obs = log.floor(np.array([t_cal, t_obs], dtype=np.int64)).tolist()
    if t_obs <= t_cal:
        raise ValueError(f"observation_period_end {observation_period_end!r} must be after "
                         f"calibration_period_end {calibration_period_end!r}")
    # as lifetimes: the purchases are split at the time stamps, then counted by period
    cal = log.summary(p_cal, f"calibration_period_end {calibration_period_end!r}",
                      rows=log.ticks <= t_cal)
    cal.columns = [f"{c}_cal" for c in cal.columns]
    kept = np.isin(log.labels, cal.index) if len(cal) < len(log.labels) else \
        np.ones(len(log.labels), dtype=bool)
    window = (log.ticks > t_cal) & (log.ticks <= t_obs)
    G = len(log.labels)
    held = _scan(log.codes[window], G, log.periods[window], np.empty(0), p_obs)[2]
    cal["frequency_holdout"] = held[kept].astype(np.float64)
    if monetary_value_col is not None:
        sums = np.bincount(log.codes[window], weights=log.amounts[window], minlength=G)
        counts = np.bincount(log.codes[window], minlength=G)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
        over = ~np.isfinite(mean) & kept  # customers of the output only
        if over.any():
            raise ValueError(f"transactions[{monetary_value_col!r}]: the holdout spend of "
                             f"customers {np.asarray(log.labels)[over][:10].tolist()} sums "
                             f"beyond float64")
        cal["monetary_value_holdout"] = mean[kept]
    cal["duration_holdout"] = float(p_obs - p_cal)
    return cal
