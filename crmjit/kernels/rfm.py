"""RFM summary kernels: from a transaction log to (frequency, recency, T, spend) per customer.

Inputs are already integer: customer codes in [0, C) and period numbers (whole periods of
the chosen frequency since the epoch).  Purchases in the same period count once; only
periods <= ``p_end`` are read.  Each kernel works on a span (of rows, of customers); the
caller runs the spans on the threads (``crmjit._threads.over``).
"""

from __future__ import annotations

import numpy as np

from ._jit import serial

INSERTION_MAX = 32  # slices up to this length are sorted by insertion


@serial
def _floor_periods(ns, unit, shift, out, start, stop):
    """out[i] = floor((ns[i] + shift) / unit) for start <= i < stop: int64 time stamps to
    period numbers (floor, so instants before 1970 land in the right period too)."""
    for i in range(start, stop):
        v = ns[i] + shift
        q = v // unit
        out[i] = q
    return out


@serial
def _sort_slice(a, lo, hi):
    """Sort a[lo:hi] in place (insertion sort when short)."""
    if hi - lo <= INSERTION_MAX:
        for i in range(lo + 1, hi):
            v = a[i]
            j = i - 1
            while j >= lo and a[j] > v:
                a[j + 1] = a[j]
                j -= 1
            a[j + 1] = v
    else:
        a[lo:hi].sort()  # in place (a slice assignment compiles numba's error text)


@serial
def _rfm_scan(order, offsets, periods, amounts, p_end, buf, first, last, n_periods,
              repeat_total, start, stop):
    """Per customer c in [start, stop) (rows order[offsets[c]:offsets[c+1]]; order of length 0: rows
    offsets[c]:offsets[c+1], the log already sorted by customer), over purchases in periods
    <= p_end: first and last period, number of distinct periods, and the amount spent in
    the periods after the first (summed directly: the total less the first period's
    would cancel, e.g. 1e-5 after a first period of 1.7e7).  amounts of length 0: no spend
    columns.  buf (n,) int64 scratch.  A customer with no purchase up to p_end gets
    n_periods 0."""
    has_amount = amounts.shape[0] > 0
    has_order = order.shape[0] > 0
    for c in range(start, stop):
        lo, hi = offsets[c], offsets[c + 1]
        k = lo
        lo_p = np.int64(0)
        hi_p = np.int64(0)
        for j in range(lo, hi):
            row = order[j] if has_order else j
            p = periods[row]
            if p > p_end:
                continue
            if k == lo or p < lo_p:
                lo_p = p
            if k == lo or p > hi_p:
                hi_p = p
            buf[k] = p
            k += 1
        if k == lo:
            n_periods[c] = 0
            continue
        _sort_slice(buf, lo, k)
        distinct = 1
        for j in range(lo + 1, k):
            if buf[j] != buf[j - 1]:
                distinct += 1
        first[c] = lo_p
        last[c] = hi_p
        n_periods[c] = distinct
        if has_amount:
            rep = 0.0
            for j in range(lo, hi):
                row = order[j] if has_order else j
                p = periods[row]
                if lo_p < p <= p_end:
                    rep += amounts[row]
            repeat_total[c] = rep
    return n_periods
