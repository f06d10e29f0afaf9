"""Value kernels: discounted-cash-flow CLV and grouped sums.

Broadcasting convention shared by these kernels: a per-customer argument of length 1 is
used for every customer; ``lifespan`` of length 0 means "all periods".
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from ._jit import parallel, serial


@parallel
def _clv_matrix(cash_flows, rate, lifespan, out):
    """out[i] = sum_{t=1..L_i} cash_flows[i, t-1] / (1 + rate_i)**t  (Horner, float64).

    cash_flows : (n, p) float32/float64, C or F order (read in place, never copied).
    rate : (1,) or (n,) float64, > -1.   lifespan : (0,), (1,) or (n,) int64 in [0, p].
    out : (n,) float64.
    """
    n, p = cash_flows.shape
    scalar_rate = rate.shape[0] == 1
    all_periods = lifespan.shape[0] == 0
    scalar_life = lifespan.shape[0] == 1
    for i in prange(n):
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
    """sum_{t=1..L} (1 + r)**-t, exact at r = 0 and accurate for tiny |r| (expm1/log1p)."""
    if rate == 0.0:
        return np.float64(life)
    return -math.expm1(-life * math.log1p(rate)) / rate


@parallel
def _clv_constant(margin, rate, lifespan, out):
    """out[i] = margin_i * sum_{t=1..L_i} (1 + rate_i)**-t, closed form.

    margin : (1,) or (n,) float32/float64.  rate : (1,) or (n,) float64, > -1.
    lifespan : (1,) or (n,) int64 >= 0.  out : (n,) float64.
    """
    n = out.shape[0]
    for i in prange(n):
        m = np.float64(margin[0] if margin.shape[0] == 1 else margin[i])
        r = rate[0] if rate.shape[0] == 1 else rate[i]
        life = lifespan[0] if lifespan.shape[0] == 1 else lifespan[i]
        out[i] = m * _annuity(r, life)
    return out


@parallel
def _group_sums(values, codes, n_groups, n_chunks):
    """Per-group row counts and float64 sums of ``values``.

    values : (n,) float, codes : (n,) int in [0, n_groups).  Rows are split into
    ``n_chunks`` fixed chunks (a function of n only); each chunk sums into its own row of a
    scratch table and the rows are merged in chunk order, so the result does not depend on
    the number of threads.  Scratch: 2 * n_chunks * n_groups words.
    """
    n = values.shape[0]
    chunk = (n + n_chunks - 1) // n_chunks
    part_sum = np.zeros((n_chunks, n_groups), dtype=np.float64)
    part_cnt = np.zeros((n_chunks, n_groups), dtype=np.int64)
    for c in prange(n_chunks):
        start = c * chunk
        stop = min(n, start + chunk)
        for i in range(start, stop):
            g = codes[i]
            part_sum[c, g] += values[i]
            part_cnt[c, g] += 1
    sums = np.zeros(n_groups, dtype=np.float64)
    counts = np.zeros(n_groups, dtype=np.int64)
    for c in range(n_chunks):
        for g in range(n_groups):
            sums[g] += part_sum[c, g]
            counts[g] += part_cnt[c, g]
    return counts, sums
