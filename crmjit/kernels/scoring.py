"""Fused scoring: the linear predictor and the sigmoid of each row in one read of X, for one
model or one model per row's segment, in X's dtype (float32 X: float32 arithmetic).  Each
kernel scores the rows start .. stop-1; the caller runs spans of rows on the threads
(``crmjit._threads.over``).
"""

from __future__ import annotations

import numpy as np
from ._jit import prefetch_row, serial, serial_reduce
from .elementwise import _sigmoid, _sigmoid32

BLOCK = 256  # rows per block: the block's linear predictors stay in L1
AHEAD = 32  # rows ahead whose model a gather prefetches


@serial_reduce
def _row_dot(X, i, W, c, b):
    """b + X[i] . W[c] in X's dtype (float32 rows stay float32); reassociated so LLVM
    vectorises it (per-row order: thread-count independent).  W (G, d): the model is a row
    index, not a row view (a view per row costs as much as the dot product); i as an
    unsigned index made float32 scoring 1.1-1.3x faster (measured)."""
    acc = X.dtype.type(0)
    row = np.uintp(i)  # an unsigned index: no negative-index wraparound code in the loop
    for j in range(X.shape[1]):
        acc += X[row, j] * W[c, j]
    return b + acc


@serial
def _predict_proba(X, codes, coefs, intercepts, out, start, stop):
    """out[i] = sigmoid(intercepts[c] + X[i] . coefs[c]) for rows start <= i < stop,
    c = codes[i] (codes of length 1: every row uses model codes[0]).  One read of X, any
    layout.

    coefs (G, d) and intercepts (G,) in X's dtype: the dot product and the sigmoid run in
    X's dtype (float32 X: float32 arithmetic throughout), the sigmoid over blocks of BLOCK
    rows (vectorised).  Returns the number of rows whose linear predictor
    is non-finite: a NaN or inf anywhere in a row makes its dot product non-finite (inf * 0
    and inf - inf are NaN), so the caller can reject bad rows without a second read of X.
    Scratch: BLOCK values per block.
    """
    one = codes.shape[0] == 1
    bad = 0
    z = np.empty(BLOCK, X.dtype)
    for s0 in range(start, stop, BLOCK):
        m = min(BLOCK, stop - s0)
        if one:
            c = codes[0]
            for r in range(m):
                z[r] = _row_dot(X, s0 + r, coefs, c, intercepts[c])
        else:
            cb = codes[s0:s0 + m]
            for r in range(m):
                if r + AHEAD < m:  # the model of a row a few rows on: 10-15 % faster
                    prefetch_row(coefs, cb[r + AHEAD])
                c = cb[r]
                z[r] = _row_dot(X, s0 + r, coefs, c, intercepts[c])
        bad += _sigmoid_into(z, m, out, s0)
    return bad


@serial
def _decision_function(X, codes, coefs, intercepts, out, start, stop):
    """out[i] = intercepts[c] + X[i] . coefs[c] for rows start <= i < stop, c = codes[i]
    (or codes[0]), in X's dtype.  Returns the number of non-finite results (see
    ``_predict_proba``)."""
    one = codes.shape[0] == 1
    bad = 0
    for i in range(start, stop):
        c = codes[0] if one else codes[i]
        z = _row_dot(X, i, coefs, c, intercepts[c])
        out[i] = z
        bad += 0 if np.isfinite(z) else 1
    return bad


@serial
def _sigmoid_into(z, m, out, s0):
    """out[s0:s0+m] = sigmoid(z[:m]) in one vectorised loop, in z's precision (float32 z:
    ``_sigmoid32``, 1.8x cheaper a row than the float64 sigmoid, measured); returns how many
    of z[:m] are non-finite, i.e. how many rows held a NaN or inf."""
    nonfinite = 0
    if z.itemsize == 4:  # a compile-time constant: each dtype compiles only its own loop
        for r in range(m):
            zr = z[r]
            nonfinite += 0 if np.isfinite(zr) else 1
            out[s0 + r] = _sigmoid32(zr)
    else:
        for r in range(m):
            zr = z[r]
            nonfinite += 0 if np.isfinite(zr) else 1
            out[s0 + r] = _sigmoid(zr)
    return nonfinite


@serial
def _predict_proba_columns(cols, coef, intercept, out, start, stop):
    """``_predict_proba`` for one model on features held as separate columns (a tuple of d (n,)
    arrays of one dtype, e.g. zero-copy views of Arrow columns): z accumulates column by
    column over blocks of BLOCK rows (vectorised, no row-major copy of the features), in
    the columns' dtype, for rows start <= i < stop.  Returns the number of non-finite
    linear predictors."""
    d = len(cols)
    bad = 0
    z = np.empty(BLOCK, dtype=cols[0].dtype)
    for s0 in range(start, stop, BLOCK):
        m = min(BLOCK, stop - s0)
        for r in range(m):
            z[r] = 0
        for j in range(d):
            col = cols[j][s0:s0 + m]  # a view indexed from 0: 3x faster than col[s0 + r]
            w = coef[j]
            for r in range(m):
                z[r] += col[r] * w
        for r in range(m):
            z[r] += intercept
        bad += _sigmoid_into(z, m, out, s0)
    return bad
