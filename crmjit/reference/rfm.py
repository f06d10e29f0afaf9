"""Pure-Python twins of :mod:`crmjit.kernels.rfm`."""

from __future__ import annotations


def floor_periods(ns, unit, shift):
    """Period number of each instant: floor((ns + shift) / unit)."""
    return [(v + shift) // unit for v in ns]


def sort_slice(a, lo, hi):
    """a with a[lo:hi] sorted."""
    return a[:lo] + sorted(a[lo:hi]) + a[hi:]


def rfm_scan(codes, periods, amounts, p_end, n_customers):
    """Per customer: (first period, last period, distinct periods, amount in the periods
    after the first) over purchases in periods <= p_end; None without any."""
    seen = [dict() for _ in range(n_customers)]
    for i, (c, p) in enumerate(zip(codes, periods)):
        if p <= p_end:
            seen[c][p] = seen[c].get(p, 0.0) + (amounts[i] if amounts else 0.0)
    out = []
    for by_period in seen:
        if not by_period:
            out.append(None)
            continue
        first = min(by_period)
        out.append((first, max(by_period), len(by_period),
                    sum(v for p, v in by_period.items() if p != first)))
    return out
