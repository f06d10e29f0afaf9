"""Logistic-regression kernels: stable, vectorisable exp/log1p/sigmoid, the fused training
pass (loss, gradient and Hessian in one read of X) and the fused scoring pass.

Parameter layout: ``theta = (w_0 .. w_{d-1}, b)``; the intercept is the last slot.

Why our own exp and log1p: numba calls libm for ``math.exp``, which LLVM cannot vectorise
without Intel SVML (absent from PyPI's llvmlite).  ``_exp_neg_abs`` and ``_log1p_unit`` are
plain arithmetic (Cody-Waite reduction, a degree-13 Taylor polynomial, a table of powers of
two; an atanh series), so loops over a block of rows vectorise.  Both are within 2 ulp of
libm (tested against ``math`` in ``tests/test_logistic.py``) and stable for any z:
only e^(-|z|) in (0, 1] is ever formed, so nothing overflows.  Their Horner chains are
written out on purpose: a loop over a coefficient array (tried) stops LLVM vectorising the
sigmoid loop and made 10M-row scoring 1.5x slower.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from ._jit import parallel, serial, serial_reduce

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_POW2_NEG = np.ldexp(1.0, -np.arange(1024))  # 2**-j for j in [0, 1023]

BLOCK = 256  # rows per block: the block's buffers (a few KiB) stay in L1


@serial
def _exp_neg_abs(z):
    """e^(-|z|) in (0, 1]; 0 below e^-708 (where the true value is < 3.3e-308)."""
    t = -abs(z)
    kf = math.floor(max(t, -708.0) * _LOG2E + 0.5)  # t = k ln2 + f, |f| <= ln2 / 2
    f = (max(t, -708.0) - kf * _LN2_HI) - kf * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * f + 1.0 / 479001600.0
    p = p * f + 1.0 / 39916800.0
    p = p * f + 1.0 / 3628800.0
    p = p * f + 1.0 / 362880.0
    p = p * f + 1.0 / 40320.0
    p = p * f + 1.0 / 5040.0
    p = p * f + 1.0 / 720.0
    p = p * f + 1.0 / 120.0
    p = p * f + 1.0 / 24.0
    p = p * f + 1.0 / 6.0
    p = p * f + 0.5
    p = p * f + 1.0
    p = p * f + 1.0
    e = p * _POW2_NEG[np.int32(-kf)]
    return e if t >= -708.0 else 0.0


@serial
def _log1p_unit(e):
    """log(1 + e) for e in [0, 1]: 2 atanh(s), s = e / (2 + e) <= 1/3, odd series to s^33."""
    s = e / (2.0 + e)
    s2 = s * s
    p = 1.0 / 33.0
    p = p * s2 + 1.0 / 31.0
    p = p * s2 + 1.0 / 29.0
    p = p * s2 + 1.0 / 27.0
    p = p * s2 + 1.0 / 25.0
    p = p * s2 + 1.0 / 23.0
    p = p * s2 + 1.0 / 21.0
    p = p * s2 + 1.0 / 19.0
    p = p * s2 + 1.0 / 17.0
    p = p * s2 + 1.0 / 15.0
    p = p * s2 + 1.0 / 13.0
    p = p * s2 + 1.0 / 11.0
    p = p * s2 + 1.0 / 9.0
    p = p * s2 + 1.0 / 7.0
    p = p * s2 + 1.0 / 5.0
    p = p * s2 + 1.0 / 3.0
    p = p * s2 + 1.0
    return 2.0 * s * p


@serial
def _sigmoid(z):
    """1 / (1 + e^-z), from e^(-|z|) so it never overflows."""
    e = _exp_neg_abs(z)
    inv = 1.0 / (1.0 + e)
    return inv if z >= 0 else e * inv


@serial
def _log1pexp(z):
    """log(1 + e^z) = max(z, 0) + log1p(e^(-|z|)), exact to a few ulp for any z."""
    return max(z, 0.0) + _log1p_unit(_exp_neg_abs(z))


@serial_reduce
def _row_dot(X, i, W, c, b):
    """b + X[i] . W[c] in X's dtype (float32 rows stay float32); reassociated so LLVM
    vectorises it (per-row order: thread-count independent).  W (G, d): the model is a row
    index, not a row view (a view per row costs as much as the dot product)."""
    acc = X.dtype.type(0)
    for j in range(X.shape[1]):
        acc += X[i, j] * W[c, j]
    return b + acc


@serial
def _block_terms(X, y, sample_weight, s0, m, theta, want_h, xb, xq, yb, sb, rb, qb, lb, g,
                 h):
    """Add rows s0 .. s0+m-1 (m <= BLOCK) to the gradient g (d+1,) and, when ``want_h``,
    to the Hessian h (d+1, d+1); return (loss, weight) of those rows.

    The rows are copied into the float64 block buffer xb (intercept column last), so any
    layout and float32 X are handled the same way and accumulated in float64.  z, the
    gradient and the Hessian are BLAS gemv/gemm calls; the per-row terms are one
    vectorised loop (no libm calls, no branches).  xq, yb, sb, rb, qb, lb are (BLOCK, .)
    scratch.  This is the one loss implementation shared by every training kernel.
    """
    d = X.shape[1]
    scalar_w = sample_weight.shape[0] == 1
    for r in range(m):
        for j in range(d):
            xb[r, j] = X[s0 + r, j]
        xb[r, d] = 1.0
        yb[r] = np.float64(y[s0 + r])
        sb[r] = sample_weight[0] if scalar_w else sample_weight[s0 + r]
    x = xb[:m]
    z = np.dot(x, theta)
    for r in range(m):
        zr = z[r]
        e = _exp_neg_abs(zr)
        inv = 1.0 / (1.0 + e)
        p = inv if zr >= 0 else e * inv
        lb[r] = sb[r] * (max(zr, 0.0) + _log1p_unit(e) - yb[r] * zr)
        rb[r] = sb[r] * (p - yb[r])
        qb[r] = sb[r] * p * (1.0 - p)
    loss = 0.0
    weight = 0.0
    for r in range(m):
        loss += lb[r]
        weight += sb[r]
    g += np.dot(x.T, rb[:m])
    if want_h:
        for r in range(m):
            for j in range(d + 1):
                xq[r, j] = xb[r, j] * qb[r]
        h += np.dot(xq[:m].T, x)
    return loss, weight


@serial
def _block_scratch(k):
    """Scratch for _block_terms: xb, xq (BLOCK, k) and five (BLOCK,) vectors.  Left
    uninitialised: _block_terms writes rows [0, m) of each before reading them."""
    return (np.empty((BLOCK, k)), np.empty((BLOCK, k)), np.empty(BLOCK), np.empty(BLOCK),
            np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK))


@parallel
def _logistic_pass(X, y, sample_weight, theta, n_chunks, row_stride, hess_stride, grad,
                   hess):
    """One fused read of X (of every ``row_stride``-th block of BLOCK rows; 1 = all rows).

    Returns ``(loss, weight, hess_weight)``: loss = sum_i s_i logloss_i over the rows read,
    weight = sum_i s_i over them.  Fills grad (d+1,) with sum_i s_i (p_i - y_i) (x_i, 1)
    over the rows read, and hess (d+1, d+1) with sum_i s_i p_i (1 - p_i) (x_i, 1)(x_i, 1)^T
    over every ``hess_stride``-th block of those (``hess_weight`` = sum of s_i over them, so
    the solver can rescale; stride 1 is the exact Hessian, 0 skips it).  No penalty, no C.

    X : (n, d) float32/float64, any order.  y : (n,) uint8 or float64 in {0, 1}.
    sample_weight : (1,) or (n,) float64.  theta : (d+1,) float64, intercept last.
    Rows are reduced in ``n_chunks`` fixed chunks (whole blocks) merged in chunk order:
    identical results for any thread count.
    Scratch: n_chunks * (d+1) * (d+3) + threads * BLOCK * (2d + 7) float64.
    """
    n, d = X.shape
    k = d + 1
    chunk = ((n + n_chunks - 1) // n_chunks + BLOCK - 1) // BLOCK * BLOCK
    part_loss = np.zeros(n_chunks)
    part_w = np.zeros(n_chunks)
    part_hw = np.zeros(n_chunks)
    part_g = np.zeros((n_chunks, k))
    part_h = np.zeros((n_chunks, k, k))
    for c in prange(n_chunks):
        start = c * chunk
        stop = min(n, start + chunk)
        xb, xq, yb, sb, rb, qb, lb = _block_scratch(k)
        loss = 0.0
        wsum = 0.0
        hw = 0.0
        g = np.zeros(k)
        h = np.zeros((k, k))
        for s0 in range(start, stop, BLOCK):
            if (s0 // BLOCK) % row_stride != 0:
                continue
            want_h = hess_stride > 0 and (s0 // BLOCK) % (row_stride * hess_stride) == 0
            bl, bw = _block_terms(X, y, sample_weight, s0, min(BLOCK, stop - s0), theta,
                                  want_h, xb, xq, yb, sb, rb, qb, lb, g, h)
            loss += bl
            wsum += bw
            if want_h:
                hw += bw
        part_loss[c] = loss
        part_w[c] = wsum
        part_hw[c] = hw
        part_g[c] = g
        part_h[c] = h
    total = 0.0
    weight = 0.0
    hess_weight = 0.0
    grad[:] = 0.0
    hess[:, :] = 0.0
    for c in range(n_chunks):
        total += part_loss[c]
        weight += part_w[c]
        hess_weight += part_hw[c]
        grad += part_g[c]
        hess += part_h[c]
    return total, weight, hess_weight


@parallel
def _segment_pass(X, y, sample_weight, offsets, slot_ptr, slot_items, thetas, want_h, loss,
                  weight, grads, hess):
    """Loss, weight, gradient and (where want_h[s]) exact Hessian of segments (no penalty,
    no C); hess[s] is left as it was where want_h[s] is False.

    X, y, sample_weight are grouped: segment s is rows offsets[s] .. offsets[s+1]-1
    (sample_weight may be (1,)).  The segments to evaluate are dealt into slots:
    slot j holds slot_items[slot_ptr[j]:slot_ptr[j+1]].  Run with a parallel chunk size of
    1 so threads take the next slot as they free up; the caller deals segments largest
    first, round robin, so skewed sizes stay balanced.  Scratch is allocated once per slot.
    thetas (G, d+1); outputs loss, weight (G,), grads (G, d+1), hess (G, d+1, d+1).  Each
    segment is one serial pass, so results depend neither on the slots nor on the threads.
    Scratch: BLOCK * (2d + 7) float64 per slot in flight.
    """
    k = X.shape[1] + 1
    for j in prange(slot_ptr.shape[0] - 1):
        xb, xq, yb, sb, rb, qb, lb = _block_scratch(k)
        g = np.empty(k)
        h = np.empty((k, k))
        for t in range(slot_ptr[j], slot_ptr[j + 1]):
            s = slot_items[t]
            g[:] = 0.0
            h[:, :] = 0.0
            total = 0.0
            wsum = 0.0
            for s0 in range(offsets[s], offsets[s + 1], BLOCK):
                bl, bw = _block_terms(X, y, sample_weight, s0,
                                      min(BLOCK, offsets[s + 1] - s0), thetas[s], want_h[s],
                                      xb, xq, yb, sb, rb, qb, lb, g, h)
                total += bl
                wsum += bw
            loss[s] = total
            weight[s] = wsum
            grads[s] = g
            if want_h[s]:
                hess[s] = h
    return loss


@serial
def _newton_direction(g, H, k, out):
    """out[:k] = -H[:k, :k]^-1 g[:k], out[k:] = 0.

    Jacobi scaling (for columns of very different scale), then Cholesky; if H is not
    numerically positive definite a ridge is added (1e-12, growing 100x), and as a last
    resort the scaled gradient step, which always descends.  Scratch: (k, k) + 2k.
    """
    dsc = np.empty(k)
    for j in range(k):  # a zero (or non-positive) diagonal is left unscaled
        dsc[j] = math.sqrt(H[j, j]) if H[j, j] > 1e-300 else 1.0
    L = np.zeros((k, k))
    rhs = np.empty(k)
    for j in range(k):
        rhs[j] = -g[j] / dsc[j]
    ridge = 0.0
    ok = False
    for _ in range(12):
        ok = True
        for j in range(k):
            acc = H[j, j] / (dsc[j] * dsc[j]) + ridge
            for m in range(j):
                acc -= L[j, m] * L[j, m]
            if not (acc > 0.0) or not np.isfinite(acc):
                ok = False
                break
            L[j, j] = math.sqrt(acc)
            for i in range(j + 1, k):
                acc2 = H[i, j] / (dsc[i] * dsc[j])
                for m in range(j):
                    acc2 -= L[i, m] * L[j, m]
                L[i, j] = acc2 / L[j, j]
        if ok:
            break
        ridge = 1e-12 if ridge == 0.0 else ridge * 100.0
    x = rhs.copy()
    if ok:
        for i in range(k):  # L v = rhs
            acc = x[i]
            for m in range(i):
                acc -= L[i, m] * x[m]
            x[i] = acc / L[i, i]
        for i in range(k - 1, -1, -1):  # L^T x = v
            acc = x[i]
            for m in range(i + 1, k):
                acc -= L[m, i] * x[m]
            x[i] = acc / L[i, i]
    out[:] = 0.0
    for j in range(k):
        out[j] = x[j] / dsc[j]


@parallel
def _newton_directions(grads, hess, idx, k, steps):
    """steps[s] = _newton_direction(grads[s], hess[s]) for s in idx, in parallel."""
    for t in prange(idx.shape[0]):
        s = idx[t]
        _newton_direction(grads[s], hess[s], k, steps[s])
    return steps


@serial
def _group_order(codes, n_groups):
    """Counting sort: (order, offsets) with codes[order] non-decreasing, stable, and
    segment s at order[offsets[s]:offsets[s+1]].  codes : (n,) ints in [0, n_groups)."""
    n = codes.shape[0]
    offsets = np.zeros(n_groups + 1, dtype=np.int64)
    for i in range(n):
        offsets[codes[i] + 1] += 1
    for s in range(n_groups):
        offsets[s + 1] += offsets[s]
    pos = offsets[:-1].copy()
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        c = codes[i]
        order[pos[c]] = i
        pos[c] += 1
    return order, offsets


@parallel
def _map_labels(labels, table, out):
    """out[i] = table[labels[i]] for integer labels, -1 for a label outside the table.
    Returns how many out[i] are negative (labels with no usable model).  This is the check
    that keeps unvalidated indices away from the scoring kernels: bounds are tested here."""
    m = table.shape[0]
    bad = 0
    for i in prange(labels.shape[0]):
        v = labels[i]
        c = table[v] if 0 <= v < m else -1
        out[i] = c
        bad += 1 if c < 0 else 0
    return bad


@parallel
def _gather_rows(X, order, out):
    """out[i] = X[order[i]] for 2-D X (row gather, parallel: many cache misses in flight
    instead of NumPy's one-row-at-a-time take, 30x faster on 10M x 16)."""
    d = X.shape[1]
    for i in prange(order.shape[0]):
        src = order[i]
        for j in range(d):
            out[i, j] = X[src, j]
    return out


@parallel
def _predict_proba(X, codes, coefs, intercepts, out):
    """out[i] = sigmoid(intercepts[c] + X[i] . coefs[c]), c = codes[i] (codes of length 1:
    every row uses model codes[0]).  One read of X, any layout.

    coefs (G, d) and intercepts (G,) in X's dtype: the dot product runs in X's dtype
    (float32 X: float32 arithmetic), the sigmoid in float64 over blocks of BLOCK rows
    (vectorised), stored in out's dtype.  Returns the number of rows whose linear predictor
    is non-finite: a NaN or inf anywhere in a row makes its dot product non-finite (inf * 0
    and inf - inf are NaN), so the caller can reject bad rows without a second read of X.
    Scratch: BLOCK float64 per block.
    """
    n = X.shape[0]
    one = codes.shape[0] == 1
    n_blocks = (n + BLOCK - 1) // BLOCK
    bad = 0
    for blk in prange(n_blocks):
        z = np.empty(BLOCK)
        s0 = blk * BLOCK
        m = min(BLOCK, n - s0)
        for r in range(m):
            c = codes[0] if one else codes[s0 + r]
            z[r] = _row_dot(X, s0 + r, coefs, c, intercepts[c])
        bad += _sigmoid_into(z, m, out, s0)
    return bad


@parallel
def _decision_function(X, codes, coefs, intercepts, out):
    """out[i] = intercepts[c] + X[i] . coefs[c], c = codes[i] (or codes[0]), in X's dtype.
    Returns the number of non-finite results (see ``_predict_proba``)."""
    one = codes.shape[0] == 1
    bad = 0
    for i in prange(X.shape[0]):
        c = codes[0] if one else codes[i]
        z = _row_dot(X, i, coefs, c, intercepts[c])
        out[i] = z
        bad += 0 if np.isfinite(z) else 1
    return bad


@serial
def _sigmoid_into(z, m, out, s0):
    """out[s0:s0+m] = sigmoid(z[:m]) in one vectorised loop; returns how many of z[:m] are
    non-finite, i.e. how many rows held a NaN or inf."""
    nonfinite = 0
    for r in range(m):
        zr = z[r]
        nonfinite += 0 if np.isfinite(zr) else 1
        out[s0 + r] = _sigmoid(zr)
    return nonfinite


@parallel
def _predict_proba_columns(cols, coef, intercept, out):
    """``_predict_proba`` for one model on features held as separate columns (a tuple of d (n,)
    arrays of one dtype, e.g. zero-copy views of Arrow columns): z accumulates column by
    column over blocks of BLOCK rows (vectorised, no row-major copy of the features), in
    the columns' dtype.  Returns the number of non-finite linear predictors."""
    n = out.shape[0]
    d = len(cols)
    n_blocks = (n + BLOCK - 1) // BLOCK
    bad = 0
    for blk in prange(n_blocks):
        z = np.empty(BLOCK, dtype=cols[0].dtype)
        s0 = blk * BLOCK
        m = min(BLOCK, n - s0)
        for r in range(m):
            z[r] = 0
        for j in range(d):
            col = cols[j]
            w = coef[j]
            for r in range(m):
                z[r] += col[s0 + r] * w
        zz = np.empty(BLOCK)
        for r in range(m):
            zz[r] = z[r] + intercept
        bad += _sigmoid_into(zz, m, out, s0)
    return bad
