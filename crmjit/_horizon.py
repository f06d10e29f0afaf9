"""Discounted expected purchases over horizons shared by every customer, for the BG/NBD
and MBG/NBD models: the probabilistic CLV (the months of a horizon, Gamma-Gamma spend as
the scale) and expected purchases over one horizon both run here, reading a customer's
sum from a Chebyshev table of its (segment, frequency) pair where one is worth building,
else summing the hypergeometric series (:func:`crmjit.kernels.btyd_predict._bg_horizon`)."""

from __future__ import annotations

import numpy as np

from . import _threads
from ._btyd_core import check_summed
from .kernels._jit import fixed_chunks
from .kernels.btyd_predict import (CHEB_DEGREE, MAX_PIECES, _bg_horizon, _clv_tables,
                                   _pair_counts)

TABLE_MAX_X = 64  # tables for frequencies below this ...
TABLE_MIN_CUSTOMERS = 512  # ... shared by this many customers of a segment: a table
#                            costs about as much as summing a few hundred customers' series
#                            (500 customers, one horizon: 0.18 ms at 64, 0.13 at 512;
#                            12-month CLV: 1.35 and 0.58 ms; 1M customers: the same)

_COS = np.cos(np.pi * np.outer(np.arange(CHEB_DEGREE + 1),
                               np.arange(CHEB_DEGREE + 1) + 0.5) / (CHEB_DEGREE + 1))


def tables(x, codes, params, shift, times, disc):
    """Chebyshev tables of the horizon sum over w (:func:`_clv_tables`, read as w times the
    table) for every (segment, frequency < TABLE_MAX_X) pair shared by at least
    TABLE_MIN_CUSTOMERS customers (where building one costs less than summing the series
    per customer): (tab_index (G, TABLE_MAX_X), coef, pieces) as
    :func:`crmjit.kernels.btyd_predict._bg_horizon` reads them."""
    G = params.shape[0]
    counts = _pair_counts(x, codes, TABLE_MAX_X, np.zeros(G * TABLE_MAX_X, dtype=np.int64))
    pairs = np.flatnonzero(counts >= TABLE_MIN_CUSTOMERS)
    tab_index = np.full((G, TABLE_MAX_X), -1, dtype=np.int64)
    if pairs.size == 0:
        return tab_index, np.zeros((0, MAX_PIECES, CHEB_DEGREE + 1)), np.zeros(0, np.int64)
    pg, px = pairs // TABLE_MAX_X, (pairs % TABLE_MAX_X).astype(np.float64)
    r, al, a, b = (params[pg, j] for j in range(4))
    b = b + shift
    coef = np.zeros((pairs.size, MAX_PIECES, CHEB_DEGREE + 1))
    pieces = np.zeros(pairs.size, dtype=np.int64)
    _threads.over(_clv_tables, pairs.size, times, disc, a + b - 1.0 - r, a - 1.0,
                  a + b + px - 1.0, r + px, times[0] / al, _COS, coef, pieces, span=16,
                  work=pairs.size << 12)
    tab_index[pg, pairs % TABLE_MAX_X] = np.arange(pairs.size)
    return tab_index, coef, pieces


def horizon_sum(params, shift, x, tx, age, codes, scale, times, disc, out=None):
    """out (n,): scale_i * sum_j disc_j (E(t_j) - E(t_{j-1})) for validated (x, t_x, T),
    parameter rows ``codes`` of ``params`` (G, 4) and scale (1,) or (n,); out may be scale
    itself (each customer's scale is read before its result is written: no second array
    of n).  Raises where a series cannot be summed (``check_summed``)."""
    tab_index, tab_coef, tab_pieces = tables(x, codes, params, shift, times, disc)
    n = x.shape[0]
    out = np.empty(n) if out is None else out
    chunks = fixed_chunks(n, 1 << 12)
    _threads.over(_bg_horizon, chunks, x, tx, age, scale, codes, params, shift, times, disc,
                  tab_index, tab_coef, tab_pieces, chunks, out, span=1, work=n)
    check_summed(out)
    return out
