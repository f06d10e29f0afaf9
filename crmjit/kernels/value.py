"""Value kernels: discounted-cash-flow CLV and grouped sums.

Broadcasting convention shared by these kernels: a per-customer argument of length 1 is
used for every customer; ``lifespan`` of length 0 means "all periods".  Each kernel works
on a span of customers (rows); the caller runs the spans on the threads
(``crmjit._threads``).
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import serial


@serial
def _clv_matrix(cash_flows, rate, lifespan, out, start, stop):
    """out[i] = sum_{t=1..L_i} cash_flows[i, t-1] / (1 + rate_i)**t  (Horner, float64), for
    customers start <= i < stop.

    cash_flows : (n, p) float32/float64, C or F order (read in place, never copied).
    rate : (1,) or (n,) float64, > -1.   lifespan : (0,), (1,) or (n,) int64 in [0, p].
    out : (n,) float64.
    """
    p = cash_flows.shape[1]
    scalar_rate = rate.shape[0] == 1
    all_periods = lifespan.shape[0] == 0
    scalar_life = lifespan.shape[0] == 1
    for i in range(start, stop):
        r = rate[0] if scalar_rate else rate[i]
        if all_periods:
            life = p
        elif scalar_life:
            life = lifespan[0]
        else:
            life = lifespan[i]
        d = 1.0 / (1.0 + r)
        acc = 0.0
        # Horner from the last period back: ((C_L d + C_{L-1}) d + ...) d, one FMA a cell.
        for t in range(life - 1, -1, -1):
            acc = (acc + np.float64(cash_flows[i, t])) * d
        out[i] = acc
    return out


@serial
def _annuity(rate, life):
    """sum_{t=1..L} (1 + r)**-t, exact at r = 0 and accurate for tiny |r| (expm1/log1p);
    where |r| L < 1e-8, L (1 - (L + 1) r / 2), which does not divide by a denormal r."""
    if abs(rate) * life < 1e-8:
        return life * (1.0 - 0.5 * (life + 1.0) * rate)
    return -math.expm1(-life * math.log1p(rate)) / rate


@serial
def _clv_constant(margin, rate, lifespan, out, start, stop):
    """out[i] = margin_i * sum_{t=1..L_i} (1 + rate_i)**-t, closed form, for customers
    start <= i < stop.

    margin : (1,) or (n,) float32/float64.  rate : (1,) or (n,) float64, > -1.
    lifespan : (1,) or (n,) int64 >= 0.  out : (n,) float64.
    """
    for i in range(start, stop):
        m = np.float64(margin[0] if margin.shape[0] == 1 else margin[i])
        r = rate[0] if rate.shape[0] == 1 else rate[i]
        life = lifespan[0] if lifespan.shape[0] == 1 else lifespan[i]
        out[i] = m * _annuity(r, life)
    return out


@serial
def _group_sums(values, codes, c, start, stop, part_cnt, part_sum):
    """Per-group row counts and float64 sums of values[start:stop] (codes in
    [0, n_groups)) added to row c of part_cnt and part_sum (n_chunks, n_groups): one chunk
    of a grouped sum.  The caller cuts the rows into chunks fixed by n and merges the rows
    of the parts in chunk order, so the result does not depend on the thread count."""
    for i in range(start, stop):
        g = codes[i]
        part_sum[c, g] += values[i]
        part_cnt[c, g] += 1
    return c
