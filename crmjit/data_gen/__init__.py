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
from .._validation import check_int_scalar
from ..kernels.generate import STREAM_COEF, STREAM_INTERCEPT, _customer_rows, _normals

__all__ = ["CHANNELS", "Customers", "make_customers"]

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


def _cdf(weights):
    cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return cdf


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
    intercept = _normals(s64, STREAM_INTERCEPT, np.empty(g)) * 0.5 - 1.0
    seg_cdf = _cdf(1.0 / np.arange(1, g + 1, dtype=np.float64) ** segment_skew)
    chan_cdf = _cdf([c[1] for c in CHANNELS])
    chan_mu = np.log([c[2] for c in CHANNELS])

    X = np.empty((n, d), dtype=dt)
    y = np.empty(n, dtype=np.int8)
    segment = np.empty(n, dtype=np.int32)
    codes = np.empty(n, dtype=np.int8)
    cash_flows = np.empty((n, p), dtype=dt)
    rate = np.empty(n, dtype=np.float64)
    lifespan = np.empty(n, dtype=np.int64)
    with progress_bar(total=n, enabled=progress, desc="generate", unit="cust") as bar:
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            _customer_rows(s64, start, seg_cdf, coef, intercept, chan_cdf, chan_mu,
                           float(churn), X[start:stop], segment[start:stop], y[start:stop],
                           codes[start:stop], cash_flows[start:stop], rate[start:stop],
                           lifespan[start:stop])
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
