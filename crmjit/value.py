"""Value metrics: discounted-cash-flow CLV, CAC, conversion rate and the per-channel view."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ._validation import (check_finite, float_array, label_codes, non_negative_ints,
                          per_customer, positions)
from . import _threads
from .kernels._jit import fixed_chunks
from .kernels.value import _clv_constant, _clv_matrix, _group_sums

__all__ = ["cac", "channel_summary", "clv", "conversion_rate"]


def group_sums(values, codes, n_groups):
    """(counts, sums) per group of values (n,) with codes (n,) in [0, n_groups), in
    ``fixed_chunks(n)`` chunks run on the threads and merged in chunk order."""
    n = values.shape[0]
    n_chunks = fixed_chunks(n)
    chunk = -(-n // n_chunks)
    part_cnt = np.zeros((n_chunks, n_groups), dtype=np.int64)
    part_sum = np.zeros((n_chunks, n_groups))
    _threads.run(_group_sums, [(values, codes, c, c * chunk, min(n, c * chunk + chunk),
                                part_cnt, part_sum) for c in range(n_chunks)], work=n)
    sums = np.zeros(n_groups)
    for c in range(n_chunks):  # in chunk order: the same sums for any thread count
        sums += part_sum[c]
    return part_cnt.sum(axis=0), sums


def _checked_rate(rate, n):
    r = per_customer(rate, "rate", n)
    check_finite(r, "rate")
    low = r <= -1.0
    if low.any():
        raise ValueError(f"rate must be > -1 (a per-period discount rate); values <= -1 "
                         f"at positions {positions(low)}")
    return r


def _common_length(names_arrays):
    lengths = {name: a.shape[0] for name, a in names_arrays}
    long = {v for v in lengths.values() if v != 1}
    if len(long) > 1:
        shown = ", ".join(f"{k}: {v}" for k, v in lengths.items())
        raise ValueError(f"per-customer arguments must have one common length (or length 1);"
                         f" got {shown}")
    return long.pop() if long else 1


def clv(cash_flows, rate, lifespan=None):
    """Discounted-cash-flow customer lifetime value, one per customer.

    ``CLV_i = sum_{t=1..L_i} C_{i,t} / (1 + r_i)**t``: each period's net margin is received
    at the end of the period and discounted at the customer's per-period rate.

    Parameters
    ----------
    cash_flows : array-like of shape (n_customers, n_periods), or (n_customers,), or scalar
        Net margin per period, in currency per period.  A 2-D array gives each customer's
        margin period by period; a 1-D array or scalar is a constant margin per period,
        which needs ``lifespan`` and is computed in closed form
        (``C * (1 - (1 + r)**-L) / r``, exactly ``C * L`` at ``r = 0``).
        float32 and float64 are read in place (C or F order, never copied) and accumulated
        in float64; integers are converted to float64 (one copy).  Cells past a customer's
        lifespan are never read, so they may hold anything (NaN padding of ragged
        histories included).
    rate : float or array-like of shape (n_customers,)
        Per-period discount rate, > -1 (0.01 is 1 % per period).
    lifespan : None, int or array-like of shape (n_customers,) of non-negative ints
        Number of periods to count.  None means all ``n_periods`` columns (2-D only); with
        a 2-D ``cash_flows`` it must be <= n_periods.

    Returns
    -------
    float or ndarray of shape (n_customers,), float64
        A float when every argument is a scalar.

    Raises
    ------
    TypeError
        Non-numeric input (strings, objects, booleans, datetimes).
    ValueError
        NaN/inf in a used cash flow or in ``rate``; ``rate <= -1``; negative, non-integer
        or too long ``lifespan``; lengths that do not match; arrays of 3 or more
        dimensions; a result that overflows float64.

    Examples
    --------
    >>> import crmjit
    >>> round(crmjit.clv(200, 0.10, 3), 2)
    497.37
    >>> crmjit.clv([[200, 200, 200], [100, 0, 50]], 0.10).round(2)
    array([497.37, 128.47])
    >>> crmjit.clv([[200, 200, 200]], [0.0], lifespan=[2])
    array([400.])
    """
    cf = float_array(cash_flows, "cash_flows", ndims=(0, 1, 2))
    if cf.ndim == 2:
        n, p = cf.shape
        r = _checked_rate(rate, n)
        life = (np.empty(0, dtype=np.int64) if lifespan is None else
                non_negative_ints(lifespan, "lifespan", n, upper=p,
                                  upper_name=f"n_periods ({p})"))
        out = np.empty(n, dtype=np.float64)
        if n:
            _threads.over(_clv_matrix, out.shape[0], cf, r, life, out)
        _check_result(out, cf, r, life)
        return out

    if lifespan is None:
        raise ValueError("lifespan is required when cash_flows is a constant margin per "
                         "period (a scalar or 1-D array); pass it, or pass a 2-D "
                         "(n_customers, n_periods) array of cash flows")
    margin = cf.reshape(-1)
    check_finite(margin, "cash_flows")
    r = _checked_rate(rate, None)
    life, capped = non_negative_ints(lifespan, "lifespan", cap=HORIZON)
    n = _common_length([("cash_flows", margin), ("rate", r), ("lifespan", life)])
    if capped.any():
        _check_unbounded(capped, r, n)
    if 0 in (margin.shape[0], r.shape[0], life.shape[0]):
        n = 0
    out = np.empty(n, dtype=np.float64)
    if n:
        _threads.over(_clv_constant, out.shape[0], margin, r, life, out)
    _check_result(out, None, r, life)
    if cf.ndim == 0 and np.ndim(rate) == 0 and np.ndim(lifespan) == 0:
        return float(out[0])
    return out


#: lifespans beyond this many periods count as this many: (1 + r)**-HORIZON is below
#: e**-40 (nothing left to add, in float64) unless |log1p(r)| < 40 / HORIZON (4.4e-15)
HORIZON = 2**53


def _check_unbounded(capped, r, n):
    """A lifespan beyond HORIZON only converges where the rate discounts it away."""
    rates = np.broadcast_to(r, (n,))
    lives = np.broadcast_to(capped, (n,))
    with np.errstate(divide="ignore"):
        slow = lives & (np.abs(np.log1p(rates)) * HORIZON < 40.0)
    if slow.any():
        raise ValueError(f"lifespan beyond 2**53 periods with a rate of (nearly) 0 is an "
                         f"unbounded horizon: the CLV grows without limit; customers at "
                         f"positions {positions(slow)}")


def _check_result(out, cf, rate, life):
    """The kernel reads each used cash flow exactly once, and a NaN/inf there makes that
    customer's CLV non-finite; so checking the (n,) result replaces a full extra pass over
    the (n, p) matrix (which would double the cost of ``clv``).  Only on failure do we
    look for the cause."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(out)):
            return
    bad_rows = np.flatnonzero(~np.isfinite(out))
    if bad_rows.size == 0:
        return
    if cf is not None:
        p = cf.shape[1]
        cols = np.arange(p)
        used = (np.full(bad_rows.size, p) if life.shape[0] == 0 else
                np.broadcast_to(life, out.shape)[bad_rows])
        sub = ~np.isfinite(cf[bad_rows]) & (cols[None, :] < used[:, None])
        if sub.any():
            where = np.argwhere(sub)[:5]
            shown = [(int(bad_rows[i]), int(t)) for i, t in where]
            raise ValueError(f"cash_flows contains NaN or inf at (customer, period) "
                             f"positions {shown}"
                             f"{' and more' if sub.sum() > len(shown) else ''}")
    raise ValueError(f"CLV overflows float64 for customers {positions(~np.isfinite(out))}:"
                     " a rate close to -1 with a long lifespan, or huge cash flows")


def _ratio(num, den, num_name, den_name, scale, zero_division):
    """scale * num / den for scalars, arrays or Series, with one set of checks."""
    if zero_division not in ("raise", "nan"):
        raise ValueError(f"zero_division must be 'raise' or 'nan', got {zero_division!r}")
    index = None
    if isinstance(num, pd.Series) and isinstance(den, pd.Series):
        missing = den.index.difference(num.index).union(num.index.difference(den.index))
        if len(missing):
            raise ValueError(f"{num_name} and {den_name} must have the same index labels; "
                             f"labels in only one of them: {list(missing[:5])}")
        den = den.reindex(num.index)
    for s in (num, den):
        if isinstance(s, pd.Series):
            index = s.index
            break
    scalar = np.ndim(num) == 0 and np.ndim(den) == 0
    a = per_customer(num, num_name)
    b = per_customer(den, den_name)
    for arr, name in ((a, num_name), (b, den_name)):
        check_finite(arr, name)
        if (arr < 0).any():
            raise ValueError(f"{name} must be >= 0; negative values at positions "
                             f"{positions(arr < 0)}")
    _common_length([(num_name, a), (den_name, b)])
    zero = b == 0
    if zero.any() and zero_division == "raise":
        raise ValueError(f"{den_name} is zero at positions {positions(zero)}; pass "
                         f"zero_division='nan' to get NaN there instead")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = a / b * scale  # the ratio first: scale * a can overflow where a / b cannot
    zeros = np.broadcast_to(zero, out.shape)
    huge = ~np.isfinite(out) & ~zeros
    if huge.any():
        raise ValueError(f"{num_name} / {den_name} overflows float64 at positions "
                         f"{positions(huge)}")
    out = np.where(zeros, np.nan, out)
    if scalar:
        return float(out[0])
    if index is not None and len(index) == out.shape[0]:
        return pd.Series(out, index=index)
    return out


def cac(spend, new_customers, *, zero_division="raise"):
    """Customer acquisition cost: ``spend / new_customers``, per channel.

    Parameters
    ----------
    spend : float, array-like of shape (n_channels,) or Series
        Acquisition spend, in currency, >= 0.
    new_customers : float, array-like of shape (n_channels,) or Series
        Customers acquired with that spend, >= 0.  Two Series are aligned on their index.
    zero_division : {"raise", "nan"}
        What a channel with zero new customers gets: a ValueError naming its position
        (default) or NaN.

    Returns
    -------
    float, ndarray of shape (n_channels,) or Series
        Currency per customer; a Series when an input is one.

    Examples
    --------
    >>> import crmjit
    >>> crmjit.cac(10000, 100)
    100.0
    >>> crmjit.cac([500.0, 0.0], [5, 0], zero_division="nan")
    array([100.,  nan])
    """
    return _ratio(spend, new_customers, "spend", "new_customers", 1.0, zero_division)


def conversion_rate(conversions, visits, *, zero_division="raise"):
    """Conversion rate in percent: ``100 * conversions / visits``, per channel.

    Parameters
    ----------
    conversions : float, array-like of shape (n_channels,) or Series
        Converting visits, >= 0 and <= visits.
    visits : float, array-like of shape (n_channels,) or Series
        Visits, >= 0.
    zero_division : {"raise", "nan"}
        What a channel with zero visits gets: a ValueError (default) or NaN.

    Returns
    -------
    float, ndarray of shape (n_channels,) or Series
        Percent (2.0 means 2 %).

    Examples
    --------
    >>> import crmjit
    >>> crmjit.conversion_rate(20, 1000)
    2.0
    """
    out = _ratio(conversions, visits, "conversions", "visits", 100.0, zero_division)
    above = per_customer(conversions, "conversions") > per_customer(visits, "visits")
    if above.any():
        raise ValueError(f"conversions exceed visits at positions {positions(above)}")
    return out


def _by_channel(values, name, labels):
    if isinstance(values, pd.Series):
        s = values
    elif isinstance(values, Mapping):
        s = pd.Series(dict(values), dtype=object)
    else:
        raise TypeError(f"{name} must be a mapping or a pandas Series keyed by channel, "
                        f"got {type(values).__name__}")
    missing = [lab for lab in labels if lab not in s.index]
    if missing:
        raise ValueError(f"{name} has no entry for channel(s) {missing[:10]}"
                         f"{f' and {len(missing) - 10} more' if len(missing) > 10 else ''}")
    out = s.reindex(labels)
    try:
        return out.astype(np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must map channels to numbers") from None


def channel_summary(channel, clv, spend, new_customers, *, zero_division="raise"):
    """Per-channel customers, CLV, CAC and CLV:CAC.

    Parameters
    ----------
    channel : array-like of shape (n_customers,)
        Acquisition channel of each customer: any hashable labels (strings, ints,
        a pandas Categorical); no missing values.
    clv : array-like of shape (n_customers,)
        Each customer's lifetime value, in currency (e.g. from :func:`crmjit.clv`).
    spend : mapping or Series, channel -> currency
        Acquisition spend per channel.  Every channel in ``channel`` needs an entry;
        extra entries are ignored.
    new_customers : mapping or Series, channel -> count
        Customers acquired per channel (the CAC denominator).
    zero_division : {"raise", "nan"}
        Passed to :func:`cac` for channels with zero new customers.

    Returns
    -------
    DataFrame indexed by channel (sorted), with columns ``customers`` (rows in ``channel``),
    ``clv_mean``, ``clv_total``, ``spend``, ``new_customers``, ``cac`` and ``clv_to_cac``
    (mean CLV / CAC).

    Examples
    --------
    >>> import crmjit
    >>> df = crmjit.channel_summary(["web", "shop", "web"], [100.0, 40.0, 200.0],
    ...                             {"web": 100.0, "shop": 60.0}, {"web": 2, "shop": 1})
    >>> df[["customers", "clv_mean", "cac", "clv_to_cac"]]
             customers  clv_mean   cac  clv_to_cac
    channel
    shop             1      40.0  60.0    0.666667
    web              2     150.0  50.0    3.000000
    """
    codes, labels = label_codes(channel, "channel")
    values = float_array(clv, "clv", ndims=(1,))
    if values.shape[0] != codes.shape[0]:
        raise ValueError(f"clv has length {values.shape[0]} but channel has "
                         f"{codes.shape[0]}")
    check_finite(values, "clv")
    labels = list(labels)
    s = _by_channel(spend, "spend", labels)
    k = _by_channel(new_customers, "new_customers", labels)
    counts, sums = group_sums(values, codes.astype(np.intp, copy=False), len(labels))
    c = cac(s, k, zero_division=zero_division)
    if not np.isfinite(sums).all():
        raise ValueError(f"clv sums overflow float64 in channels "
                         f"{[labels[i] for i in np.flatnonzero(~np.isfinite(sums))][:10]}")
    mean = sums / np.maximum(counts, 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = mean / c.to_numpy()
    cac_ = c.to_numpy()  # NaN CAC (zero_division) and CAC 0 (no spend: organic) keep
    bad = ~np.isfinite(ratio) & np.isfinite(cac_) & (cac_ != 0)  # their NaN / inf ratio
    if bad.any():
        raise ValueError(f"clv_to_cac (mean clv / CAC) overflows float64 in channels "
                         f"{[labels[i] for i in np.flatnonzero(bad)][:10]}: the spend is "
                         f"too small beside the clv")
    df = pd.DataFrame({"customers": counts, "clv_mean": mean, "clv_total": sums,
                       "spend": s.to_numpy(), "new_customers": k.to_numpy(),
                       "cac": c.to_numpy(), "clv_to_cac": ratio},
                      index=pd.Index(labels, name="channel"))
    return df
