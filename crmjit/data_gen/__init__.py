"""Synthetic customer bases with known ground truth, reproducible byte for byte.

Every value is a pure function of ``(seed, row, column)`` (a counter-based generator, see
:mod:`crmjit.kernels.generate`), so the same seed gives the same bytes whatever the thread
count and whatever chunk size the base is produced in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._progress import progress_bar
from .._validation import check_finite, check_int_scalar, per_customer, positions
from .. import _threads
from ..kernels.generate import (STREAM_COEF, STREAM_INTERCEPT, _btyd_fill, _btyd_summary,
                                _customer_rows, _normals)

__all__ = ["BTYD_TRUTH", "CHANNELS", "Customers", "customer_chunks", "make_customers",
           "make_rfm", "make_transactions"]

#: Acquisition channels: (name, share of customers, median margin per period, true CAC).
CHANNELS = (
    ("organic", 0.30, 30.0, 20.0),
    ("paid_search", 0.25, 25.0, 90.0),
    ("social", 0.20, 20.0, 60.0),
    ("email", 0.10, 35.0, 15.0),
    ("referral", 0.10, 40.0, 45.0),
    ("display", 0.05, 15.0, 120.0),
)
CHANNEL_NAMES = tuple(c[0] for c in CHANNELS)


@dataclass(frozen=True, eq=False)
class Customers:
    """A synthetic customer base and the ground truth it was drawn from.

    Attributes
    ----------
    X : ndarray (n, d) of ``dtype``, C order
        Standard-normal customer features.
    y : ndarray (n,) int8
        Purchase label, 1 with probability ``sigmoid(intercept[s] + coef[s] @ x)``.
    segment : ndarray (n,) int32
        Segment of each customer, in ``[0, n_segments)``; sizes follow a Zipf law.
    channel : pandas.Categorical (n,)
        Acquisition channel (categories ``CHANNEL_NAMES``).
    cash_flows : ndarray (n, n_periods) of ``dtype``
        Net margin per period, currency per period.
    rate : ndarray (n,) float64
        Per-period discount rate, in [0.005, 0.02).
    lifespan : ndarray (n,) int64
        Periods the customer stays, geometric (``churn`` per period), capped at n_periods.
    coef : ndarray (n_segments, d) float64, intercept : ndarray (n_segments,) float64
        The true logistic model of each segment.
    spend, new_customers : Series indexed by channel
        Acquisition spend (true CAC times customers) and customers per channel.
    """

    X: np.ndarray
    y: np.ndarray
    segment: np.ndarray
    channel: pd.Categorical
    cash_flows: np.ndarray
    rate: np.ndarray
    lifespan: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    spend: pd.Series
    new_customers: pd.Series
    seed: int

    def __len__(self):
        return self.y.shape[0]

    @property
    def nbytes(self):
        """Bytes held by the per-customer arrays."""
        return sum(a.nbytes for a in (self.X, self.y, self.segment, self.channel.codes,
                                      self.cash_flows, self.rate, self.lifespan))

    def to_frame(self):
        """One row per customer: ``x0..x{d-1}``, ``y``, ``segment``, ``channel``, ``rate``,
        ``lifespan``, ``cf1..cf{n_periods}``.  Copies the arrays into a new DataFrame."""
        cols = {f"x{j}": self.X[:, j] for j in range(self.X.shape[1])}
        cols.update(y=self.y, segment=self.segment, channel=self.channel, rate=self.rate,
                    lifespan=self.lifespan)
        cols.update({f"cf{t + 1}": self.cash_flows[:, t]
                     for t in range(self.cash_flows.shape[1])})
        return pd.DataFrame(cols)


def _rows(kernel, start, stop, head, model, outputs, offset=0):
    """Customers start .. stop-1 by ``kernel(*head, first, *model, *outputs)`` over spans of
    them on the threads, each span given its slices of the outputs (indexed from
    ``offset``): a customer's values depend on its number alone, so any split gives the
    same bytes."""
    tasks = [head + (a,) + tuple(model) + tuple(o[a - offset:b - offset] for o in outputs)
             for a, b in ((start + u, start + v) for u, v in _threads.spans(stop - start,
                                                                           1 << 16))]
    _threads.run(kernel, tasks, work=stop - start)


def _cdf(weights):
    cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return cdf


def _setup(n_customers, n_features, n_segments, n_periods, seed, dtype, segment_skew, churn,
           chunk_rows):
    """Validated arguments and the kernel's model arguments (seg_cdf, coef, intercept,
    chan_cdf, chan_mu, churn) shared by make_customers and customer_chunks."""
    n = check_int_scalar(n_customers, "n_customers", minimum=0)
    d = check_int_scalar(n_features, "n_features", minimum=1)
    g = check_int_scalar(n_segments, "n_segments", minimum=1)
    p = check_int_scalar(n_periods, "n_periods", minimum=1)
    chunk = check_int_scalar(chunk_rows, "chunk_rows", minimum=1)
    seed = check_int_scalar(seed, "seed", minimum=0)
    if seed >= 2**64:
        raise ValueError(f"seed must be < 2**64, got {seed}")
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dtype!r}") \
            from None
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dt}")
    if not (isinstance(segment_skew, (int, float)) and math.isfinite(segment_skew)
            and segment_skew >= 0):
        raise ValueError(f"segment_skew must be a finite number >= 0, got {segment_skew!r}")
    if not (isinstance(churn, (int, float)) and 0 < churn < 1):
        raise ValueError(f"churn must be a number in (0, 1), got {churn!r}")

    s64 = np.uint64(seed)
    coef = _normals(s64, STREAM_COEF, np.empty((g, d))) * (2.0 / math.sqrt(d))
    # (g, 1), not (g,): the kernel then has one signature, compiled once
    intercept = _normals(s64, STREAM_INTERCEPT, np.empty((g, 1)))[:, 0] * 0.5 - 1.0
    seg_cdf = _cdf(1.0 / np.arange(1, g + 1, dtype=np.float64) ** segment_skew)
    chan_cdf = _cdf([c[1] for c in CHANNELS])
    chan_mu = np.log([c[2] for c in CHANNELS])

    return n, d, g, p, chunk, s64, dt, (seg_cdf, coef, intercept, chan_cdf, chan_mu,
                                        float(churn))


def _outputs(n, d, p, dt):
    """The row kernel's outputs for n customers: X, y, segment, channel codes, cash flows,
    rate, lifespan."""
    return (np.empty((n, d), dtype=dt), np.empty(n, dtype=np.int8),
            np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int8),
            np.empty((n, p), dtype=dt), np.empty(n, dtype=np.float64),
            np.empty(n, dtype=np.int64))


def make_customers(n_customers, n_features=16, n_segments=1, n_periods=12, seed=0,
                   dtype=np.float64, *, segment_skew=1.0, churn=0.1, chunk_rows=1 << 20,
                   progress=False):
    """Generate a synthetic customer base with a known true model per segment.

    Parameters
    ----------
    n_customers : int >= 0
    n_features : int >= 1
        Columns of ``X``.
    n_segments : int >= 1
        Segments, each with its own true logistic model.
    n_periods : int >= 1
        Columns of ``cash_flows`` (periods, e.g. months).
    seed : int in [0, 2**64)
        Same seed, same bytes (any thread count, any ``chunk_rows``).
    dtype : numpy.float64 or numpy.float32
        dtype of ``X`` and ``cash_flows``.  With float32 the labels are drawn from the
        float32 features as stored.
    segment_skew : float >= 0
        Segment g gets a share proportional to ``1 / (g + 1)**segment_skew``: 0 gives equal
        sizes, 1 (default) a Zipf law (a few large segments, many small).
    churn : float in (0, 1)
        Per-period churn probability that draws ``lifespan``.
    chunk_rows : int >= 1
        Rows generated per kernel call (changes speed and the progress bar, not the data).
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    Customers
        Peak memory is the returned arrays plus a few KiB per thread.

    Examples
    --------
    >>> from crmjit.data_gen import make_customers
    >>> c = make_customers(1000, n_features=4, n_segments=3, seed=1)
    >>> c.X.shape, c.cash_flows.shape, c.coef.shape
    ((1000, 4), (1000, 12), (3, 4))
    >>> bool((make_customers(1000, n_features=4, n_segments=3, seed=1).X == c.X).all())
    True
    """
    n, d, g, p, chunk, s64, dt, model = _setup(n_customers, n_features, n_segments,
                                               n_periods, seed, dtype, segment_skew, churn,
                                               chunk_rows)
    coef, intercept = model[1], model[2]
    X, y, segment, codes, cash_flows, rate, lifespan = _outputs(n, d, p, dt)
    with progress_bar(total=n, enabled=progress, desc="generate", unit="cust") as bar:
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            _rows(_customer_rows, start, stop, (s64,), model,
                  (X, segment, y, codes, cash_flows, rate, lifespan))
            bar.update(stop - start)

    channel = pd.Categorical.from_codes(codes, categories=list(CHANNEL_NAMES))
    counts = np.bincount(codes, minlength=len(CHANNELS)) if n else np.zeros(len(CHANNELS),
                                                                            dtype=np.int64)
    new_customers = pd.Series(counts, index=pd.Index(CHANNEL_NAMES, name="channel"),
                              name="new_customers")
    spend = pd.Series(counts * np.array([c[3] for c in CHANNELS]), index=new_customers.index,
                      name="spend")
    return Customers(X, y, segment, channel, cash_flows, rate, lifespan, coef, intercept,
                     spend, new_customers, seed)


#: BG/NBD (r, alpha, a, b) and Gamma-Gamma (p, q, v) parameters of the synthetic
#: transaction logs: lifetimes' fit to the CDNOW sample, alpha converted from weeks to days.
BTYD_TRUTH = {"r": 0.243, "alpha": 30.9, "a": 0.793, "b": 2.426,
              "p": 6.25, "q": 3.74, "v": 15.4}


def _btyd_params(params):
    unknown = set(params) - set(BTYD_TRUTH)
    if unknown:
        raise TypeError(f"unknown model parameters {sorted(unknown)}; expected some of "
                        f"{list(BTYD_TRUTH)}")
    full = {**BTYD_TRUTH, **params}
    for k, val in full.items():
        if not (isinstance(val, (int, float)) and not isinstance(val, bool)
                and math.isfinite(val) and val > 0):
            raise ValueError(f"{k} must be a finite number > 0, got {val!r}")
    return np.array([full[k] for k in BTYD_TRUTH], dtype=np.float64)


def _btyd_common(n_customers, t_max, seed, chunk_rows):
    n = check_int_scalar(n_customers, "n_customers", minimum=0)
    chunk = check_int_scalar(chunk_rows, "chunk_rows", minimum=1)
    seed = check_int_scalar(seed, "seed", minimum=0)
    if seed >= 2**64:
        raise ValueError(f"seed must be < 2**64, got {seed}")
    if not (isinstance(t_max, (int, float)) and not isinstance(t_max, bool)
            and math.isfinite(t_max) and t_max > 0):
        raise ValueError(f"t_max must be a finite number of days > 0, got {t_max!r}")
    return n, chunk, np.uint64(seed), float(t_max)


def make_rfm(n_customers, *, t_max=365.0, T=None, seed=0, chunk_rows=1 << 20,
             progress=False, **params):
    """Exact RFM summaries of customers simulated from BG/NBD + Gamma-Gamma.

    Each customer's age T is uniform on (0, t_max] days, or given: ``T`` (n_customers,)
    ages > 0 (say, real customers' ages, to set simulated customers beside them); purchase
    rate, death probability
    and spend scale are drawn from the population distributions with parameters
    ``BTYD_TRUTH`` (override any with keyword arguments, e.g. ``r=0.5``), time in days.

    Returns a DataFrame indexed by ``customer_id`` (0..n-1) with float64 ``frequency``
    (repeat purchases), ``recency`` (age at the last purchase, days), ``T`` (age, days),
    ``monetary_value`` (mean repeat spend, 0 without repeats): the fitting input of
    :class:`crmjit.BetaGeoModel` and :class:`crmjit.GammaGammaModel`, in continuous time.
    Same seed, same numbers, for any thread count and chunk size; about 1 s per 10M.

    >>> from crmjit.data_gen import make_rfm
    >>> rfm = make_rfm(1000, seed=3)
    >>> list(rfm.columns), bool((rfm.recency <= rfm["T"]).all())
    (['frequency', 'recency', 'T', 'monetary_value'], True)
    """
    n, chunk, s64, t_max = _btyd_common(n_customers, t_max, seed, chunk_rows)
    truth = _btyd_params(params)
    ages = np.empty(0)
    if T is not None:
        ages = per_customer(T, "T", n)
        check_finite(ages, "T")
        if ages.shape[0] != n or (ages <= 0).any():
            raise ValueError(f"T must hold {n} ages > 0 (one per customer); got "
                             f"{ages.shape[0]} values" + (f", not > 0 at positions "
                                                          f"{positions(ages <= 0)}"
                                                          if (ages <= 0).any() else ""))
    cols = {k: np.empty(n) for k in ("frequency", "recency", "T", "monetary_value")}
    x, tx, age, m = cols.values()
    with progress_bar(total=n, enabled=progress, desc="simulate", unit="cust") as bar:
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            _rows(_btyd_summary, start, stop, (s64,), (truth, t_max), (ages, x, tx, age, m))
            bar.update(stop - start)
    return pd.DataFrame(cols, index=pd.RangeIndex(n, name="customer_id"))


def make_transactions(n_customers, *, t_max=365.0, start="2025-01-01", seed=0,
                      progress=False, **params):
    """A transaction log simulated from BG/NBD + Gamma-Gamma (see :func:`make_rfm`).

    The observation window is ``[start, start + t_max days]``; a customer of age T made
    the first purchase at ``start + t_max - T``.  Returns ``(transactions, truth)``:
    ``transactions`` a DataFrame with ``customer_id`` (int64), ``date`` (datetime64[ns],
    to the second) and ``amount`` (float64), sorted by customer then date;
    ``truth`` the exact continuous-time summary per customer (as :func:`make_rfm` returns
    for the same seed, the same customers).

    >>> from crmjit.data_gen import make_transactions
    >>> log, truth = make_transactions(100, seed=3)
    >>> len(log) == int(truth.frequency.sum()) + 100
    True
    """
    n, _, s64, t_max = _btyd_common(n_customers, t_max, seed, 1)
    truth = _btyd_params(params)
    try:
        origin = pd.Timestamp(start)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"start must be a date, got {start!r}: {exc}") from None
    summary = make_rfm(n, t_max=t_max, seed=seed, progress=progress, **params)
    counts = summary["frequency"].to_numpy().astype(np.int64) + 1
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    when = np.empty(ptr[-1])
    amount = np.empty(ptr[-1])
    x, tx, T, m, birth = (np.empty(n) for _ in range(5))
    _threads.run(_btyd_fill, [(s64, a, truth, t_max, ptr[a:b + 1], x[a:b], tx[a:b], T[a:b],
                               m[a:b], birth[a:b], when, amount)
                              for a, b in _threads.spans(n, 1 << 16)], work=n)
    seconds = np.round(when * 86400.0).astype("timedelta64[s]")
    log = pd.DataFrame({
        "customer_id": np.repeat(np.arange(n, dtype=np.int64), counts),
        "date": (np.datetime64(origin.to_datetime64(), "s") + seconds).astype("datetime64[ns]"),
        "amount": amount,
    })
    return log, summary


def customer_chunks(n_customers, n_features=16, n_segments=1, n_periods=12, seed=0,
                    dtype=np.float64, *, segment_skew=1.0, churn=0.1, chunk_rows=1 << 20):
    """The base ``make_customers`` would return, as DataFrames of at most ``chunk_rows``
    customers each (``customer_id`` first, then the columns of ``Customers.to_frame()``),
    generated one chunk at a time: memory stays at one chunk whatever ``n_customers``, and
    the rows are the same numbers as ``make_customers`` with the same arguments.

    >>> from crmjit.data_gen import customer_chunks, make_customers
    >>> parts = list(customer_chunks(2500, n_features=3, seed=4, chunk_rows=1000))
    >>> [len(p) for p in parts]
    [1000, 1000, 500]
    >>> import pandas as pd
    >>> whole = make_customers(2500, n_features=3, seed=4).to_frame()
    >>> pd.concat(parts, ignore_index=True).drop(columns="customer_id").equals(whole)
    True
    """
    n, d, g, p, chunk, s64, dt, model = _setup(n_customers, n_features, n_segments,
                                               n_periods, seed, dtype, segment_skew, churn,
                                               chunk_rows)
    for start in range(0, n, chunk):
        m = min(n, start + chunk) - start
        X, y, segment, codes, cash_flows, rate, lifespan = _outputs(m, d, p, dt)
        _rows(_customer_rows, start, start + m, (s64,), model,
              (X, segment, y, codes, cash_flows, rate, lifespan), offset=start)
        cols = {"customer_id": np.arange(start, start + m, dtype=np.int64)}
        cols.update({f"x{j}": X[:, j] for j in range(d)})
        cols.update(y=y, segment=segment,
                    channel=pd.Categorical.from_codes(codes, categories=list(CHANNEL_NAMES)),
                    rate=rate, lifespan=lifespan)
        cols.update({f"cf{t + 1}": cash_flows[:, t] for t in range(p)})
        yield pd.DataFrame(cols)
