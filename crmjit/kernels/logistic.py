"""Logistic-regression kernels: stable, vectorisable exp/log1p/sigmoid, the fused training
pass (loss, gradient and Hessian in one read of X), the per-segment solver (each segment
copied once and solved by damped Newton in cache) and the fused scoring pass.

Parameter layout: ``theta = (w_0 .. w_{d-1}, b)``; the intercept is the last slot.

Why our own exp and log1p: numba calls libm for ``math.exp``, which LLVM cannot vectorise
without Intel SVML (absent from PyPI's llvmlite).  ``_exp_neg_abs`` and ``_log1p_unit`` are
plain arithmetic (Cody-Waite reduction, a degree-13 Taylor polynomial, a power of two
built from its bits; an atanh series), so loops over a block of rows vectorise.  Both are
within 2 ulp of libm (tested against ``math`` in ``tests/test_logistic.py``) and stable for
any z: only e^(-|z|) in (0, 1] is ever formed, so nothing overflows.  Their Horner chains are
written out on purpose: a loop over a coefficient array (tried) stops LLVM vectorising the
sigmoid loop and made 10M-row scoring 1.5x slower.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from ._jit import (fetch_add, float_from_bits, parallel, prefetch_row, serial, serial_reduce,
                   store_stream)
from .checks import _all_finite

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_ROUND = 6755399441055744.0  # 1.5 * 2**52: (x + _ROUND) - _ROUND rounds x to an integer
_LOG2E32 = np.float32(_LOG2E)
_LN2_HI32 = np.float32(0.693359375)  # 9 significant bits: k * _LN2_HI32 is exact
_LN2_LO32 = np.float32(-2.12194440e-4)  # ln 2 - _LN2_HI32
_ROUND32 = np.float32(12582912.0)  # 1.5 * 2**23: (x + _ROUND32) - _ROUND32 rounds x
_EXP32_MIN = np.float32(-104.0)  # e^-104 < 2**-150: below it, float32 rounds e^t to 0

BLOCK = 256  # rows per block: the block's buffers (a few KiB) stay in L1
AHEAD = 32  # gathers prefetch the row this many rows ahead (8: a bare gather 1.9x slower)
SEGMENT_BLOCK = 2048  # rows per block of a segment held in memory (a block stays in L2)
STAGE = 64  # rows gathered at a time before they are transposed (``_load_rows``)
LOAD_RUN = 32  # blocks per parallel task of ``_load_segment``
NARROW_ITERS = 12  # float32 Hessian sums for at most this many iterations of a segment
WARM_MIN_BLOCKS = 16  # segments of this many SEGMENT_BLOCKs or more start from a warm start
WARM_STRIDE = 8  # ... solved on every WARM_STRIDE-th block of the segment
WARM_TOL = 1e-3  # ... to this tolerance, in at most NARROW_ITERS iterations
STREAM_ROWS = 1 << 16  # segments of this many rows or more are copied with streaming stores
# (the blocks past the warm-start subsample: Zipf fit 0.97-0.98x, measured; from 1 << 15 no
# faster)
PAD = 16  # segments padded to a multiple of this many rows (weight 0): vectorised loops
# over them end without a scalar remainder (a 150-row float32 evaluation with the
# Hessian: 1.66 us against 1.27 us for 144 rows, measured)


@serial
def _exp_neg_abs(z):
    """e^(-|z|) in (0, 1]; 0 below e^-708 (where the true value is < 3.3e-308).  2^k is
    built from its bits (k in [-1022, 0]: always a normal float64), not looked up in a
    table: no gather, 1.9x faster a vectorised row (measured), the same values."""
    t = -abs(z)
    tc = max(t, -708.0)
    kf = (tc * _LOG2E + _ROUND) - _ROUND  # t = k ln2 + f, |f| <= ln2 / 2
    f = (tc - kf * _LN2_HI) - kf * _LN2_LO
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
    e = p * float_from_bits((np.int64(kf) + 1023) << 52)
    return e if t >= -708.0 else 0.0


@serial
def _exp_neg_abs32(z):
    """e^(-|z|) for float32 z, in float32 arithmetic: ``_exp_neg_abs`` with the degree-7
    polynomial float32 needs and 2^k built from its bits (two factors, so k down to -149
    stays exact); within 4 float32 ulp of e^(-|z|) while that is a normal float32, within
    2^-149 (one subnormal step) below, 0 below e^-104 (tested).  Float32 scoring uses it:
    twice the lanes and about half the polynomial of the float64 path."""
    t = -abs(z)
    tc = max(t, _EXP32_MIN)
    kf = (tc * _LOG2E32 + _ROUND32) - _ROUND32
    f = (tc - kf * _LN2_HI32) - kf * _LN2_LO32
    p = np.float32(1.0 / 5040.0)
    p = p * f + np.float32(1.0 / 720.0)
    p = p * f + np.float32(1.0 / 120.0)
    p = p * f + np.float32(1.0 / 24.0)
    p = p * f + np.float32(1.0 / 6.0)
    p = p * f + np.float32(0.5)
    p = p * f + np.float32(1.0)
    p = p * f + np.float32(1.0)
    k = np.int32(kf)
    k1 = np.int32(k >> 1)
    e = (p * float_from_bits(np.int32((k1 + 127) << 23))
         * float_from_bits(np.int32((k - k1 + 127) << 23)))
    return e if t >= _EXP32_MIN else np.float32(0.0)


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
def _log1p_unit32(e):
    """``_log1p_unit`` for float32 e in [0, 1], in float32 arithmetic: the series to s^13
    is enough (the next term is below 1.5e-8 of the sum); within 3 float32 ulp of
    log1p(e) (2.5 at most on 12,000 points, tested)."""
    s = e / (np.float32(2.0) + e)
    s2 = s * s
    p = np.float32(1.0 / 13.0)
    p = p * s2 + np.float32(1.0 / 11.0)
    p = p * s2 + np.float32(1.0 / 9.0)
    p = p * s2 + np.float32(1.0 / 7.0)
    p = p * s2 + np.float32(1.0 / 5.0)
    p = p * s2 + np.float32(1.0 / 3.0)
    p = p * s2 + np.float32(1.0)
    return np.float32(2.0) * s * p


@serial
def _sigmoid(z):
    """1 / (1 + e^-z), from e^(-|z|) so it never overflows."""
    e = _exp_neg_abs(z)
    inv = 1.0 / (1.0 + e)
    return inv if z >= 0 else e * inv


@serial
def _sigmoid32(z):
    """``_sigmoid`` in float32 arithmetic for float32 z (``_exp_neg_abs32``)."""
    e = _exp_neg_abs32(z)
    inv = np.float32(1.0) / (np.float32(1.0) + e)
    return inv if z >= 0 else e * inv


@serial
def _log1pexp(z):
    """log(1 + e^z) = max(z, 0) + log1p(e^(-|z|)), exact to a few ulp for any z."""
    return max(z, 0.0) + _log1p_unit(_exp_neg_abs(z))


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
def _load_rows(X, y, sample_weight, order, s0, m, xt, yb, sb, stream=False):
    """Copy rows s0 .. s0+m-1 of X (rows ``order[s0 .. s0+m-1]`` when order is not empty)
    into float64 blocks of B rows, transposed: row r goes to block c = r // B, column
    r % B, with feature j in ``xt[c, j]`` and a row of ones last (the intercept); y[s0 + r]
    into yb and sample_weight[s0 + r] into sb (sample_weight (1,): one weight for all).
    y and sample_weight are indexed by position, not through order: with an order, the
    caller passes them already grouped (``_take``), so only X is gathered (a byte of y
    gathered per row cost 0.04 s of 0.23 over 10M rows, measured).  Any layout and
    float32 X end up the same: float64, one contiguous row per feature and block, so every
    later loop vectorises and a block stays in cache.  xt (blocks, d+1, B), yb, sb
    (blocks, B) from ``_block_scratch``.

    Rows are gathered STAGE at a time as whole rows into a small row-major buffer (the
    next rows prefetched), then transposed from there: a gather that stores each value
    straight into its feature row took 1.35x as long (10M scattered rows, measured).

    ``stream``: write xt, yb, sb with non-temporal stores (``store_stream``), for a copy
    larger than the caches (10M rows into 200k-row segments: 32 -> 25 ns a row, one thread,
    measured).

    Returns True when every value copied is finite.  The batched fit takes this as its
    finiteness check of X (the caller raises before any result is used): one read of X
    instead of a separate pass over all of it first, 0.94x the fit time (measured)."""
    d = X.shape[1]
    B = xt.shape[2]
    scalar_w = sample_weight.shape[0] == 1
    direct = order.shape[0] == 0
    stage = np.empty((STAGE, d), dtype=X.dtype)
    ys = np.empty(STAGE)
    ss = np.empty(STAGE)
    finite = True
    if not direct:
        for r in range(min(AHEAD, m)):  # the first rows: their misses in flight together
            prefetch_row(X, order[s0 + r])
    for r0 in range(0, m, STAGE):
        nr = min(STAGE, m - r0)
        for t in range(nr):
            r = r0 + t
            if not direct and r + AHEAD < m:
                prefetch_row(X, order[s0 + r + AHEAD])
            i = s0 + r if direct else order[s0 + r]
            for j in range(d):
                stage[t, j] = X[i, j]
        finite = finite and _all_finite(stage.reshape(-1)[:nr * d])
        ysrc = y[s0 + r0:s0 + r0 + nr]
        for t in range(nr):
            ys[t] = ysrc[t]
        if scalar_w:
            for t in range(nr):
                ss[t] = sample_weight[0]
        else:
            ssrc = sample_weight[s0 + r0:s0 + r0 + nr]
            for t in range(nr):
                ss[t] = ssrc[t]
        c = r0 // B
        rr0 = r0 - c * B
        if rr0 + nr <= B and stream:  # the same, written past the caches
            for j in range(d):
                dst = xt[c, j, rr0:rr0 + nr]
                for t in range(nr):
                    store_stream(dst, t, stage[t, j])
            ones, yd, sd = xt[c, d, rr0:rr0 + nr], yb[c, rr0:rr0 + nr], sb[c, rr0:rr0 + nr]
            for t in range(nr):
                store_stream(ones, t, 1.0)
                store_stream(yd, t, ys[t])
                store_stream(sd, t, ss[t])
        elif rr0 + nr <= B:  # the stage lies in one block (always when B % STAGE == 0)
            for j in range(d):
                dst = xt[c, j, rr0:rr0 + nr]  # views indexed from 0 (no wraparound code)
                for t in range(nr):
                    dst[t] = stage[t, j]
            ones, yd, sd = xt[c, d, rr0:rr0 + nr], yb[c, rr0:rr0 + nr], sb[c, rr0:rr0 + nr]
            for t in range(nr):
                ones[t] = 1.0
                yd[t] = ys[t]
                sd[t] = ss[t]
        else:
            for t in range(nr):
                cr = (r0 + t) // B
                rr = r0 + t - cr * B
                for j in range(d):
                    xt[cr, j, rr] = stage[t, j]
                xt[cr, d, rr] = 1.0
                yb[cr, rr] = ys[t]
                sb[cr, rr] = ss[t]
    return finite


@serial_reduce
def _dot(a, b, m):
    """sum_r a[r] * b[r] over r < m, reassociated so it vectorises (the order depends on m
    and the CPU's vector width, never on the thread count)."""
    acc = 0.0
    for r in range(m):
        acc += a[r] * b[r]
    return acc


@serial_reduce
def _dot4(a, xt, j0, m):
    """(sum_r a[r] xt[j0 + t, r] for t < 4) over r < m: four dot products in one pass over a
    (1.3x the speed of four ``_dot``, measured), reassociated like ``_dot``."""
    a0 = a.dtype.type(0)  # float32 data: float32 sums (the float32 evaluations)
    a1 = a0
    a2 = a0
    a3 = a0
    for r in range(m):
        w = a[r]
        a0 += w * xt[j0, r]
        a1 += w * xt[j0 + 1, r]
        a2 += w * xt[j0 + 2, r]
        a3 += w * xt[j0 + 3, r]
    return a0, a1, a2, a3


@serial_reduce
def _total(a, m):
    """sum_r a[r] over r < m, reassociated (see ``_dot``)."""
    acc = 0.0
    for r in range(m):
        acc += a[r]
    return acc


@serial_reduce
def _hess_upper(xt, q, m, xq, h):
    """Add sum_r q[r] xt[:, r] xt[:, r]^T to the upper triangle of h (and to a few entries
    below the diagonal, which ``_symmetrize`` overwrites).  Four Hessian rows at a time
    (xq holds q times those rows of xt), against four columns at a time: each step loads
    eight vectors for sixteen multiply-adds (1.3x the throughput of the four-accumulator
    loop it replaced, which loaded five for four; measured), then the columns left over
    four at a time.  xq (4, >= m) scratch.  Sums run in xq's dtype (float32 arrays:
    float32 sums, twice the lanes; ``_hess32``)."""
    k = xt.shape[0]
    zero = xq.dtype.type(0)
    for j0 in range(0, k, 4):
        nj = min(4, k - j0)
        for t in range(nj):
            for r in range(m):
                xq[t, r] = q[r] * xt[j0 + t, r]
        if nj == 4:
            l_end = j0 + (k - j0) // 4 * 4
            for l0 in range(j0, l_end, 4):
                _hess_tile(xq, xt, l0, m, j0, h)
            for l in range(l_end, k):
                a0 = zero
                a1 = zero
                a2 = zero
                a3 = zero
                for r in range(m):
                    x = xt[l, r]
                    a0 += xq[0, r] * x
                    a1 += xq[1, r] * x
                    a2 += xq[2, r] * x
                    a3 += xq[3, r] * x
                h[j0, l] += a0
                h[j0 + 1, l] += a1
                h[j0 + 2, l] += a2
                h[j0 + 3, l] += a3
        else:
            for t in range(nj):
                for l in range(j0 + t, k):
                    a = zero
                    for r in range(m):
                        a += xq[t, r] * xt[l, r]
                    h[j0 + t, l] += a


@serial_reduce
def _hess_tile(xq, xt, l0, m, j0, h):
    """h[j0:j0+4, l0:l0+4] += xq[:4, :m] @ xt[l0:l0+4, :m].T with sixteen accumulators
    (a vectorised loop that keeps them all in registers)."""
    zero = xq.dtype.type(0)  # float32 scratch: float32 sums (``_hess32``)
    a00 = zero
    a01 = zero
    a02 = zero
    a03 = zero
    a10 = zero
    a11 = zero
    a12 = zero
    a13 = zero
    a20 = zero
    a21 = zero
    a22 = zero
    a23 = zero
    a30 = zero
    a31 = zero
    a32 = zero
    a33 = zero
    for r in range(m):
        p0 = xq[0, r]
        p1 = xq[1, r]
        p2 = xq[2, r]
        p3 = xq[3, r]
        x0 = xt[l0, r]
        x1 = xt[l0 + 1, r]
        x2 = xt[l0 + 2, r]
        x3 = xt[l0 + 3, r]
        a00 += p0 * x0
        a01 += p0 * x1
        a02 += p0 * x2
        a03 += p0 * x3
        a10 += p1 * x0
        a11 += p1 * x1
        a12 += p1 * x2
        a13 += p1 * x3
        a20 += p2 * x0
        a21 += p2 * x1
        a22 += p2 * x2
        a23 += p2 * x3
        a30 += p3 * x0
        a31 += p3 * x1
        a32 += p3 * x2
        a33 += p3 * x3
    h[j0, l0] += a00
    h[j0, l0 + 1] += a01
    h[j0, l0 + 2] += a02
    h[j0, l0 + 3] += a03
    h[j0 + 1, l0] += a10
    h[j0 + 1, l0 + 1] += a11
    h[j0 + 1, l0 + 2] += a12
    h[j0 + 1, l0 + 3] += a13
    h[j0 + 2, l0] += a20
    h[j0 + 2, l0 + 1] += a21
    h[j0 + 2, l0 + 2] += a22
    h[j0 + 2, l0 + 3] += a23
    h[j0 + 3, l0] += a30
    h[j0 + 3, l0 + 1] += a31
    h[j0 + 3, l0 + 2] += a32
    h[j0 + 3, l0 + 3] += a33


@serial
def _symmetrize(h):
    """Copy the upper triangle of h onto the lower one."""
    for j in range(h.shape[0]):
        for l in range(j):
            h[j, l] = h[l, j]


@serial
def _row_terms(z, yb, sb, m, e, rb, qb):
    """The per-row terms of the loss at linear predictors z[:m] (labels yb, weights sb):
    sets rb[r] = s (p - y) (gradient weights) and qb[r] = s p (1 - p) (Hessian weights) and
    returns sum_r s logloss_r.  This is the one loss implementation shared by every training
    kernel.  Each step is its own loop over the rows, so each vectorises: e^(-|z|), then the
    sigmoid and the weights, then the loss (one loop computing the exp and the log together
    did not vectorise and was 5x slower, measured).  e (>= m,) scratch."""
    one = z.dtype.type(1)
    zero = z.dtype.type(0)
    narrow = z.itemsize == 4  # a compile-time constant: float32 arrays, float32 arithmetic
    if narrow:
        for r in range(m):
            e[r] = _exp_neg_abs32(z[r])
    else:
        for r in range(m):
            e[r] = _exp_neg_abs(z[r])
    for r in range(m):
        inv = one / (one + e[r])
        p = inv if z[r] >= zero else e[r] * inv
        rb[r] = sb[r] * (p - yb[r])
        qb[r] = sb[r] * p * (one - p)
    if narrow:
        for r in range(m):
            zr = z[r]
            e[r] = sb[r] * (max(zr, zero) + _log1p_unit32(e[r]) - yb[r] * zr)
    else:
        for r in range(m):
            zr = z[r]
            e[r] = sb[r] * (max(zr, zero) + _log1p_unit(e[r]) - yb[r] * zr)
    return _total(e, m)


@serial
def _block_terms(xt, yb, sb, m, theta, want_h, z, e, rb, qb, xq, g, h):
    """Add the first m rows of a loaded block (``_load_rows``) to the gradient g (d+1,) and,
    when ``want_h``, to the upper triangle of the Hessian h (d+1, d+1); return (loss,
    weight) of those rows: sum s*logloss and sum s.  z = xt^T theta and the gradient run
    along the feature rows of xt (vectorised), four rows a pass (z + gradient 2.3 -> 1.7
    us for 1000 rows of 17, measured); z, e, rb, qb (>= m,) and xq (4, >= m) are
    scratch."""
    d = xt.shape[0] - 1
    b = theta[d]  # the last row of xt is ones: the intercept
    for r in range(m):
        z[r] = b
    j0 = 0
    while j0 + 4 <= d:  # four features a pass: z read and written a quarter as often
        t0, t1, t2, t3 = theta[j0], theta[j0 + 1], theta[j0 + 2], theta[j0 + 3]
        x0, x1, x2, x3 = xt[j0, :m], xt[j0 + 1, :m], xt[j0 + 2, :m], xt[j0 + 3, :m]
        for r in range(m):
            z[r] += (x0[r] * t0 + x1[r] * t1) + (x2[r] * t2 + x3[r] * t3)
        j0 += 4
    for j in range(j0, d):
        tj = theta[j]
        x0 = xt[j, :m]
        for r in range(m):
            z[r] += x0[r] * tj
    loss = _row_terms(z, yb, sb, m, e, rb, qb)
    j0 = 0
    while j0 + 4 <= d:
        a0, a1, a2, a3 = _dot4(rb, xt, j0, m)
        g[j0] += a0
        g[j0 + 1] += a1
        g[j0 + 2] += a2
        g[j0 + 3] += a3
        j0 += 4
    for j in range(j0, d):
        g[j] += _dot(rb, xt[j], m)
    g[d] += _total(rb, m)
    if want_h:
        _hess_upper(xt, qb, m, xq, h)
    return loss, _total(sb, m)


@serial_reduce
def _theta_dot(X, i, theta):
    """theta[d] + X[i] . theta[:d] in float64 (float32 rows widened), reassociated within
    the row like ``_row_dot``."""
    acc = 0.0
    for j in range(X.shape[1]):
        acc += np.float64(X[i, j]) * theta[j]
    return theta[X.shape[1]] + acc


@serial
def _rows_gradient(X, y, sample_weight, s0, m, theta, yb, sb, z, e, rb, qb, g):
    """``_block_terms`` without the Hessian, on rows s0 .. s0+m-1 of X read in place (no
    transposed copy: per-row dot products, then the gradient accumulated row by row, each
    vectorised along the row).  Returns (loss, weight)."""
    d = X.shape[1]
    scalar_w = sample_weight.shape[0] == 1
    for r in range(m):
        yb[r] = y[s0 + r]
        sb[r] = sample_weight[0] if scalar_w else sample_weight[s0 + r]
        z[r] = _theta_dot(X, s0 + r, theta)
    loss = _row_terms(z, yb, sb, m, e, rb, qb)
    for r in range(m):
        a = rb[r]
        for j in range(d):
            g[j] += a * X[s0 + r, j]
        g[d] += a
    return loss, _total(sb, m)


@serial
def _block_scratch(k, m, block):
    """Scratch for _load_rows and _block_terms with room for m rows in blocks of
    B = min(m, block) rows: xt (blocks, k, B), yb, sb (blocks, B), and the per-block
    temporaries z, e, rb, qb (B,) and xq (4, B), reused block after block so that they stay
    in cache however long the segment.  Left uninitialised: each is written before it is
    read."""
    B = max(1, min(m, block))
    nb = max(1, (m + B - 1) // B)
    return (np.empty((nb, k, B)), np.empty((nb, B)), np.empty((nb, B))) + _block_temps(B)


@serial
def _block_temps(B):
    """The per-block float64 temporaries of ``_block_terms`` for blocks of up to B rows:
    (z, e, rb, qb (B,), xq (4, B))."""
    return np.empty(B), np.empty(B), np.empty(B), np.empty(B), np.empty((4, B))


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
    Scratch: n_chunks * (d+1) * (d+3) + threads * BLOCK * (d + 11) float64.
    """
    n, d = X.shape
    k = d + 1
    chunk = ((n + n_chunks - 1) // n_chunks + BLOCK - 1) // BLOCK * BLOCK
    parts, part_g, part_h = np.zeros((n_chunks, 3)), np.zeros((n_chunks, k)), \
        np.zeros((n_chunks, k, k))
    no_order = np.empty(0, dtype=np.int64)
    for c in prange(n_chunks):
        start = c * chunk
        stop = min(n, start + chunk)
        xt, yb, sb, z, e, rb, qb, xq = _block_scratch(k, BLOCK, BLOCK)
        g = part_g[c]
        h = part_h[c]
        for s0 in range(start, stop, BLOCK):
            if (s0 // BLOCK) % row_stride != 0:
                continue
            want_h = hess_stride > 0 and (s0 // BLOCK) % (row_stride * hess_stride) == 0
            m = min(BLOCK, stop - s0)
            if want_h:
                _load_rows(X, y, sample_weight, no_order, s0, m, xt, yb, sb)
                bl, bw = _block_terms(xt[0], yb[0], sb[0], m, theta, True, z, e, rb, qb, xq,
                                      g, h)
            else:
                bl, bw = _rows_gradient(X, y, sample_weight, s0, m, theta, yb[0], sb[0], z, e,
                                        rb, qb, g)
            _tally(parts[c], bl, bw, want_h)
    return _merge_parts(parts, part_g, part_h, grad, hess)


@serial
def _tally(part, loss, weight, want_h):
    """Add one block's (loss, weight) to a chunk's running sums part = (loss, weight,
    hess_weight); the weight counts towards hess_weight when the block fed the Hessian."""
    part[0] += loss
    part[1] += weight
    if want_h:
        part[2] += weight


@serial
def _merge_parts(parts, part_g, part_h, grad, hess):
    """Sum the per-chunk results of a training pass (parts (chunks, 3) of ``_tally`` sums,
    gradients, Hessians' upper triangles) in chunk order, the same answer for any thread
    count, into grad and hess (symmetrised); returns (loss, weight, hess_weight)."""
    total = 0.0
    weight = 0.0
    hess_weight = 0.0
    grad[:] = 0.0
    hess[:, :] = 0.0
    for c in range(parts.shape[0]):
        total += parts[c, 0]
        weight += parts[c, 1]
        hess_weight += parts[c, 2]
        grad += part_g[c]
        hess += part_h[c]
    _symmetrize(hess)
    return total, weight, hess_weight


@parallel
def _load_segment(X, y, sample_weight, order, s0, m, xt, yb, sb):
    """``_load_rows`` of rows s0 .. s0+m-1 into the blocks of xt, yb, sb, in parallel
    over runs of LOAD_RUN blocks: a large segment's one copy, in the layout
    ``_blocks_pass`` reads.  Returns how many runs held a NaN or inf (0: all finite)."""
    B = xt.shape[2]
    nb = (m + B - 1) // B
    bad = 0
    for t in prange((nb + LOAD_RUN - 1) // LOAD_RUN):
        c0 = t * LOAD_RUN
        c1 = min(nb, c0 + LOAD_RUN)
        r0 = c0 * B
        ok = _load_rows(X, y, sample_weight, order, s0 + r0, min(m, c1 * B) - r0,
                        xt[c0:c1], yb[c0:c1], sb[c0:c1])
        bad += 0 if ok else 1
    return bad


@parallel
def _blocks_pass(xt, yb, sb, m, theta, n_chunks, row_stride, hess_stride, grad, hess):
    """``_logistic_pass`` on a segment already loaded in blocks (``_load_segment``): the
    same sums and strides, counted in blocks of xt, without transposing X again at every
    evaluation.  Blocks are reduced in n_chunks fixed chunks merged in order."""
    k = xt.shape[1]
    B = xt.shape[2]
    nb = (m + B - 1) // B
    per = (nb + n_chunks - 1) // n_chunks
    parts, part_g, part_h = np.zeros((n_chunks, 3)), np.zeros((n_chunks, k)), \
        np.zeros((n_chunks, k, k))
    for c in prange(n_chunks):
        z, e, rb, qb, xq = np.empty(B), np.empty(B), np.empty(B), np.empty(B), np.empty((4, B))
        g = part_g[c]
        h = part_h[c]
        for b in range(c * per, min(nb, (c + 1) * per)):
            if b % row_stride != 0:
                continue
            want_h = hess_stride > 0 and b % (row_stride * hess_stride) == 0
            bl, bw = _block_terms(xt[b], yb[b], sb[b], min(B, m - b * B), theta, want_h, z,
                                  e, rb, qb, xq, g, h)
            _tally(parts[c], bl, bw, want_h)
    return _merge_parts(parts, part_g, part_h, grad, hess)


@serial
def _weight_scale(wsum, m):
    """The mean weight wsum / m by which the float32 copy's weights are divided, so that
    weights of any scale stay in float32's range (1.0 when it is not positive and
    finite); the float32 sums are multiplied back by it."""
    scale = wsum / max(m, 1)
    return scale if scale > 0.0 and np.isfinite(scale) else 1.0


@serial
def _narrow_block(xt, yb, sb, m, inv, xs, ys, ss, stream=False):
    """One block of the float32 copy (``_load_copies``): the first m rows of xt (k, B), yb,
    sb (B,) rounded to float32 into xs, ys, ss, the weights multiplied by inv (``stream``:
    non-temporal stores, see ``_load_rows``)."""
    if stream:
        for j in range(xt.shape[0]):
            src = xt[j, :m]
            dst = xs[j, :m]
            for r in range(m):
                store_stream(dst, r, np.float32(src[r]))
        for r in range(m):
            store_stream(ys, r, np.float32(yb[r]))
            store_stream(ss, r, np.float32(sb[r] * inv))
        return
    for j in range(xt.shape[0]):
        src = xt[j, :m]
        dst = xs[j, :m]
        for r in range(m):
            dst[r] = np.float32(src[r])
    for r in range(m):
        ys[r] = np.float32(yb[r])
        ss[r] = np.float32(sb[r] * inv)


@serial
def _narrow_temps(k, B):
    """The float32 temporaries of ``_penalised`` for blocks of up to B rows and k
    coefficients: (z, e, rb, qb, qs (B,), xq (4, B), hs (k, k), theta (k,))."""
    f = np.float32
    return (np.empty(B, f), np.empty(B, f), np.empty(B, f), np.empty(B, f), np.empty(B, f),
            np.empty((4, B), f), np.empty((k, k), f), np.empty(k, f))


@serial
def _hess32(xs, qb, m, qs, xqs, hs, h):
    """Add sum_r qb[r] xs[:, r] xs[:, r]^T (float32 data, float32 sums) to the upper triangle
    of the float64 h.  The weights are divided by their sum before narrowing to float32 and
    the sums multiplied back in float64, so neither large sample weights nor tiny
    p (1 - p) leave float32's range.  2.3x the rows a second of the float64 sums (17 x
    17, measured); the sums are good to about 1e-6 relative, which only affects the
    Newton direction, never the fixed point (the gradient stays float64).  Returns False,
    adding nothing, if a float32 sum overflowed (mean squares beyond float32's 3.4e38:
    |x| of about 1e19 and more): the caller then sums that block in float64."""
    qsum = _total(qb, m)
    if not qsum > 0.0:
        return True
    inv = 1.0 / qsum
    for r in range(m):
        qs[r] = np.float32(qb[r] * inv)
    k = hs.shape[0]
    hs[:, :] = 0.0
    _hess_upper(xs, qs, m, xqs, hs)
    if not np.isfinite(_total(hs.ravel(), k * k)):  # squares beyond float32's range
        return False
    for j in range(k):
        for l in range(j, k):
            h[j, l] += qsum * np.float64(hs[j, l])
    return True


@serial
def _penalised(xt, yb, sb, nar, m, theta, lam, n_free, want_h, mode, w64, w32, g, h):
    """Objective of one segment loaded in blocks (``_load_rows``) at theta: returns
    f = sum s*logloss + 0.5 lam ||w||^2 and sets g to its gradient and, when ``want_h``, h
    to its Hessian (left as it was otherwise).  n_free = d: the intercept is held fixed
    (its gradient is zeroed).

    mode 0: float64 throughout.  Mode 1: float64, the Hessian summed in float32 from the
    float32 copy (``_hess32``).  Mode 2: the data terms (z, the row terms, the gradient
    and the Hessian) in float32 from the float32 copy ``nar`` = (xs, ys, ss, scale) of
    ``_load_copies``, the loss summed and everything multiplied back by the weight scale in
    float64, the penalty in float64; returns NaN if a float32 value overflowed (the caller
    then evaluates in float64).  w64 = (z, e, rb, qb, xq) from ``_block_scratch``, w32 the
    float32 temporaries from ``_narrow_temps``."""
    k = xt.shape[1]
    d = k - 1
    B = xt.shape[2]
    xs, ys, ss, scale = nar
    z, e, rb, qb, xq = w64
    z32, e32, rb32, qb32, qs, xqs, hs, th32 = w32
    g[:] = 0.0
    if want_h:
        h[:, :] = 0.0
    loss = 0.0
    if mode == 2:
        for j in range(k):
            th32[j] = np.float32(theta[j])
        for c in range((m + B - 1) // B):
            mc = min(B, m - c * B)
            bl, _ = _block_terms(xs[c], ys[c], ss[c], mc, th32, False, z32, e32, rb32, qb32,
                                 xqs, g, h)
            loss += bl
            if want_h:  # float32 sums (xqs sets the accumulators' type) added to h
                _hess_upper(xs[c], qb32, mc, xqs, h)
        loss *= scale
        gsum = 0.0
        for j in range(k):
            g[j] *= scale
            gsum += g[j]
        if want_h:
            for j in range(k):
                for l in range(j, k):
                    h[j, l] *= scale
                    gsum += h[j, l]
        if not np.isfinite(loss + gsum):
            return np.nan
    else:
        for c in range((m + B - 1) // B):
            mc = min(B, m - c * B)
            bl, _ = _block_terms(xt[c], yb[c], sb[c], mc, theta, want_h and mode == 0, z, e,
                                 rb, qb, xq, g, h)
            if want_h and mode == 1 and not _hess32(xs[c], qb, mc, qs, xqs, hs, h):
                _hess_upper(xt[c], qb, mc, xq, h)
            loss += bl
    pen = 0.0
    for j in range(d):
        pen += theta[j] * theta[j]
        g[j] += lam * theta[j]
    if n_free < k:
        g[d] = 0.0
    if want_h:
        _symmetrize(h)
        for j in range(d):
            h[j, j] += lam
    return loss + 0.5 * lam * pen


@serial
def _segment_newton(xt, yb, sb, nar, m, lam, n_free, tol, max_iter, fresh_iters, lag_step,
                    theta, w64, w32):
    """Damped Newton for one segment loaded in blocks (``_load_rows``), from theta (d+1,),
    updated in place.  Returns (n_iter, converged).

    The rules of :func:`crmjit._newton.minimize`, for one problem: Jacobi-scaled Cholesky
    directions (``_newton_direction``); converged when the full Newton step is below
    ``tol * max(1, max|theta|)`` (the step is taken); backtracking: Armijo, or where float64
    cannot resolve a change in f, no increase beyond rounding and a smaller gradient; the
    exact Hessian in the first ``fresh_iters`` iterations and while the step is larger than
    ``lag_step`` (relative), else the last one is reused (the fixed point, g = 0, is
    unchanged).  Every evaluation reads the thread's copy of the segment, not X (in cache
    for segments of up to a few thousand rows, streamed from L3 beyond).

    Precision (``_penalised``'s modes), when ``nar`` holds the float32 copy (``_load_copies``;
    xs with no blocks: float64 throughout): the start and every trial point reached by a
    step larger than ``lag_step`` (relative) are evaluated in float32 (z, loss terms,
    gradient, Hessian: half the bytes and twice the lanes); the others in float64 with
    float32 Hessian sums.  Far from the optimum a float32 gradient or Hessian only changes
    the path; convergence is only ever declared on a float64 gradient (a small step from a
    float32 evaluation is recomputed in float64 first), so the fixed point is float64's.
    Where f and the trial's f differ in precision and Armijo fails, the float32 one is
    recomputed in float64 before the step is shortened.  A float32 overflow sends the
    segment to float64 throughout, and so does a segment still unconverged after
    ``NARROW_ITERS`` iterations (data float32 cannot resolve: nearly collinear columns,
    values that differ only beyond float32's 7 digits).
    """
    k = xt.shape[1]
    g = np.empty(k)
    h = np.empty((k, k))
    gt = np.empty(k)
    ht = np.empty((k, k))
    step = np.empty(k)
    trial = np.empty(k)
    work = np.empty((k + 3, k))
    narrow = nar[0].shape[0] > 0
    cur = 2 if narrow else 0  # the precision f and g at theta were evaluated in
    f = _penalised(xt, yb, sb, nar, m, theta, lam, n_free, True, cur, w64, w32, g, h)
    if not np.isfinite(f) and cur == 2:  # beyond float32's range: float64 from here on
        narrow = False
        cur = 0
        f = _penalised(xt, yb, sb, nar, m, theta, lam, n_free, True, cur, w64, w32, g, h)
    _newton_direction(g, h, n_free, step, work)
    t = 1.0
    it = 0
    while True:
        size = 0.0
        scale = 1.0
        for j in range(k):
            size = max(size, abs(step[j]))
            scale = max(scale, abs(theta[j]))
        if t == 1.0 and size <= tol * scale:
            if cur == 2:  # a step from float32 sums: recompute g in float64 before deciding
                cur = 1
                f = _penalised(xt, yb, sb, nar, m, theta, lam, n_free, False, cur, w64, w32,
                               g, h)
                _newton_direction(g, h, n_free, step, work)
                continue
            for j in range(k):
                theta[j] += step[j]
            return it + 1, True
        if it >= max_iter:
            return it, False
        if narrow and it >= NARROW_ITERS:  # float32 too coarse: float64 sums from here on
            narrow = False
            cur = 0
            f = _penalised(xt, yb, sb, nar, m, theta, lam, n_free, True, cur, w64, w32, g, h)
            _newton_direction(g, h, n_free, step, work)
            t = 1.0
            continue
        for j in range(k):
            trial[j] = theta[j] + t * step[j]
        big = size * t > lag_step * scale
        want_h = it < fresh_iters or big
        mode = (2 if big else 1) if narrow else 0
        ft = _penalised(xt, yb, sb, nar, m, trial, lam, n_free, want_h, mode, w64, w32, gt,
                        ht)
        if not np.isfinite(ft) and mode == 2:  # beyond float32's range
            narrow = False
            mode = 0
            ft = _penalised(xt, yb, sb, nar, m, trial, lam, n_free, want_h, mode, w64, w32,
                            gt, ht)
        ok = _accept(f, ft, g, gt, step, t)
        if not ok and np.isfinite(ft) and (mode == 2) != (cur == 2):
            # f and ft of different precisions: compare them both in float64
            if mode == 2:
                mode = 1
                ft = _penalised(xt, yb, sb, nar, m, trial, lam, n_free, want_h, mode, w64,
                                w32, gt, ht)
            else:
                cur = mode
                f = _penalised(xt, yb, sb, nar, m, theta, lam, n_free, False, cur, w64, w32,
                               g, h)
            ok = _accept(f, ft, g, gt, step, t)
        if ok:
            theta[:] = trial
            f = ft
            g[:] = gt
            cur = mode
            if want_h:
                h[:, :] = ht
            it += 1
            t = 1.0
            _newton_direction(g, h, n_free, step, work)
        else:
            t *= 0.5
            if t < 2.0 ** -40:  # no acceptable step: give up, not converged
                return it, False


@serial
def _accept(f, ft, g, gt, step, t):
    """Whether the trial point (objective ft, gradient gt) at t times the step from the
    point (f, g) is acceptable: Armijo, or where float64 cannot resolve the change in f,
    no increase beyond rounding and a smaller gradient."""
    slope = 0.0
    gmax = 0.0
    gtmax = 0.0
    for j in range(g.shape[0]):
        slope += g[j] * step[j]
        gmax = max(gmax, abs(g[j]))
        gtmax = max(gtmax, abs(gt[j]))
    return np.isfinite(ft) and (ft <= f + 1e-4 * t * slope
                                or (ft <= f + 1e-12 * abs(f) and gtmax < gmax))


@serial
def _padded(m):
    """m rounded up to a multiple of PAD rows (segments are solved on that many rows, the
    extra ones of weight 0)."""
    return (m + PAD - 1) // PAD * PAD


@serial
def _segment_blocks(m):
    """(nb, B): the blocks a segment of m (padded) rows is solved in, B = min(m,
    SEGMENT_BLOCK) rows each (at least one block of one row)."""
    B = max(1, min(m, SEGMENT_BLOCK))
    return max(1, (m + B - 1) // B), B


@serial
def _lane_size(k, m):
    """Values of each lane buffer (``_fit_segments``' wide and narrow rows) for segments of
    up to m rows of k = d+1 columns: the blocked copy (nb, k, B) and the two (nb, B)
    arrays of labels and weights."""
    nb, B = _segment_blocks(_padded(m))
    return nb * B * (k + 2)


@serial
def _carve(buf, k, m):
    """The blocked layout of a segment of m (padded) rows carved from the front of a lane
    buffer: (x (nb, k, B), y (nb, B), s (nb, B)), feature rows a segment's block apart
    (not the largest segment's)."""
    nb, B = _segment_blocks(m)
    a = nb * k * B
    return (buf[:a].reshape((nb, k, B)), buf[a:a + nb * B].reshape((nb, B)),
            buf[a + nb * B:a + 2 * nb * B].reshape((nb, B)))


@serial
def _warm_blocks(nb):
    """Blocks of a segment's warm-start subsample (``_fit_segments``): every WARM_STRIDE-th
    of its nb - 1 full blocks, 0 (no warm start) below WARM_MIN_BLOCKS blocks."""
    return (nb + WARM_STRIDE - 2) // WARM_STRIDE if nb >= WARM_MIN_BLOCKS else 0


@serial
def _block_source(p, nb, nw):
    """The block of the segment (rows c*B .. c*B+B-1) held in block p of its loaded copy:
    the nw subsample blocks 0, WARM_STRIDE, 2*WARM_STRIDE, ... first, then the other full
    blocks in order, the last (partial) block last; the identity when nw is 0."""
    if nw == 0 or p == nb - 1:
        return p
    if p < nw:
        return p * WARM_STRIDE
    q = p - nw
    return q // (WARM_STRIDE - 1) * WARM_STRIDE + q % (WARM_STRIDE - 1) + 1


@serial
def _warm_start(xt, yb, sb, nar, wsum, lam, n_free, max_iter, lag_step, theta, w64, w32):
    """Move theta to the optimum, to WARM_TOL, of the segment's subsample held in the
    blocks xt, yb, sb (full blocks, evenly spread over the segment: ``_block_source``),
    its penalty scaled by the subsample's share of the weight wsum, so that the subsample's
    objective stands in for the whole segment's.  Returns whether it did: not when the
    subsample lacks a class or the solve does not converge in min(max_iter, NARROW_ITERS)
    iterations (theta is then left as it was).

    The subsample fits in cache where the segment does not, so the first Newton
    iterations, far from the optimum, cost a fraction of a pass over the segment each; the
    solve on the whole segment then starts a sampling error away from its optimum
    (255k rows, every 8th block: 0.53x the time, measured)."""
    nb = xt.shape[0]
    B = xt.shape[2]
    wpos = 0.0
    wall = 0.0
    for c in range(nb):
        wpos += _dot(sb[c], yb[c], B)
        wall += _total(sb[c], B)
    if not (wpos > 0.0 and wall - wpos > 0.0):
        return False
    warm = theta.copy()
    _, ok = _segment_newton(xt, yb, sb, nar, nb * B, lam * wall / wsum, n_free, WARM_TOL,
                            min(max_iter, NARROW_ITERS), 2, lag_step, warm, w64, w32)
    if not ok:
        return False
    theta[:] = warm
    return True


@serial
def _load_copies(X, y, sample_weight, order, s0, rows, wsum, fit, xt, yb, sb, xs, ys, ss):
    """A segment's two copies, as ``_fit_segments`` solves it: rows s0 .. s0+rows-1 (see
    ``_load_rows``) padded with rows of weight 0 to m = ``_padded(rows)`` into the blocks of
    xt (nb, k, B), yb, sb, block p holding the segment's block ``_block_source(p, nb,
    _warm_blocks(nb))`` (the warm-start subsample first); when ``fit``, each block is also
    rounded to float32 into xs, ys, ss with the weights divided by their mean wsum / m
    (``_narrow_block``) while it is in cache (a segment beyond the caches is not read back
    from memory to round it).  Segments of STREAM_ROWS rows or more are written with
    streaming stores, the subsample excepted (read at once).  Returns (whether every value
    copied is finite, the weight scale ``_weight_scale(wsum, m)``); after a non-finite
    block the rest are not loaded."""
    m = _padded(rows)
    nb = xt.shape[0]
    B = xt.shape[2]
    nw = _warm_blocks(nb)
    scale = _weight_scale(wsum, m)
    inv = 1.0 / scale
    stream = m >= STREAM_ROWS
    for p in range(nb):
        r0 = _block_source(p, nb, nw) * B
        mc = min(B, m - r0)
        real = min(mc, rows - r0)  # every block holds a row of the segment
        if not _load_rows(X, y, sample_weight, order, s0 + r0, real, xt[p:p + 1],
                          yb[p:p + 1], sb[p:p + 1], stream and p >= nw):
            return False, scale
        for r in range(real, mc):  # padding rows of weight 0: no term of any sum
            xt[p, :, r] = 0.0
            yb[p, r] = 0.0
            sb[p, r] = 0.0
        if fit:
            _narrow_block(xt[p], yb[p], sb[p], mc, inv, xs[p], ys[p], ss[p],
                          stream and p >= nw)
    return True, scale


@parallel
def _fit_segments(X, y, sample_weight, order, offsets, items, lam, n_free, tol, max_iter,
                  fresh_iters, lag_step, theta, n_iter, converged, wide, narrow):
    """Fit the segments ``items`` (largest first) by ``_segment_newton``, each from its row of
    theta (G, d+1), updated in place; writes n_iter (G,) and converged (G,) of those
    segments.

    Segment s is rows ``order[offsets[s]:offsets[s+1]]`` of X (rows
    ``offsets[s]:offsets[s+1]`` when order is empty: already grouped) and positions
    ``offsets[s]:offsets[s+1]`` of y and sample_weight, which the caller passes grouped
    (``_take(y, order)``; sample_weight (1,) is one weight for all).  Each segment is
    copied once into a buffer and solved there to the end, so every Newton iteration reads
    that copy (in cache up to a few thousand rows; evaluated in blocks of SEGMENT_BLOCK
    rows whose temporaries stay in L2 however long the segment) instead of X, which is
    read once in all and never copied whole.  Each segment also gets a float32 copy
    (``_load_copies``) in which its evaluations far from the optimum run
    (``_segment_newton``).
    lam (G,) = 1/C per segment, or -1 for a segment
    whose rows are only loaded (checked), not fitted; n_free = d+1, or d to hold the
    intercept fixed.

    A segment of WARM_MIN_BLOCKS blocks or more is loaded with its subsample (every
    WARM_STRIDE-th block, ``_block_source``) first and starts from the subsample's optimum
    (``_warm_start``): the Newton iterations far from the optimum then read a copy that
    fits in cache (255k rows: 0.53x the solve time; the Zipf fit 0.90x, measured).  Segments
    of STREAM_ROWS rows or more are copied past the caches (``store_stream``: no
    read-for-ownership of lines that are only written), except the subsample, read at
    once.

    The load checks X too (``_load_rows``): a segment with a NaN or inf in its rows is not
    solved and gets n_iter -1, for the caller to raise on.  This replaces a finiteness
    pass over all of X before the fit (the fit 0.94x the time, measured); the kernel's
    results are discarded when it reports such a segment.

    wide (lanes, >= ``_lane_size(d+1, largest)``) float64 and narrow (the same shape)
    float32: one buffer of each per parallel lane (the caller makes lanes = the thread
    count), allocated by NumPy, whose large arrays get transparent huge pages: buffers
    allocated here faulted in 4 KiB pages on first touch at every call (60 MB: 22 ms
    against 3 ms, measured).  The lanes take the next segment through shared counters
    (``fetch_add``) as they free up, even lanes from the front of ``items`` and odd lanes
    from the back, so a few large segments among many small ones stay balanced under any
    threading layer's schedule; the 64 groups of segments this replaced
    were split into two fixed halves by the OpenMP layer and made a buffer per group
    (page faults): the skewed-size fit is 1.1x faster (measured).  Each segment is solved
    serially in its own blocks of min(m, SEGMENT_BLOCK) rows carved from the buffers, so
    results depend neither on the thread count nor on which lane takes which segment.
    Scratch beyond the buffers: lanes * (8 * SEGMENT_BLOCK float64 + 9 * SEGMENT_BLOCK
    float32).
    """
    k = X.shape[1] + 1
    lanes = wide.shape[0]
    taken = np.zeros(3, dtype=np.int64)  # segments claimed; taken from the front; back
    n_items = items.shape[0]
    for lane in prange(lanes):
        tb = min(wide.shape[1] // (k + 2), SEGMENT_BLOCK)  # rows of the largest block
        w64 = _block_temps(tb)
        w32 = _narrow_temps(k, tb)
        while True:
            if fetch_add(taken, 0) >= n_items:
                break
            # even lanes take from the front (largest first), odd ones from the back, so
            # one thread streams large segments from memory while the other solves small
            # ones from cache; the claim above keeps the two ends from meeting
            t = fetch_add(taken, 1) if lane % 2 == 0 else n_items - 1 - fetch_add(taken, 2)
            s = items[t]
            rows = offsets[s + 1] - offsets[s]
            m = _padded(rows)
            xt, yb, sb = _carve(wide[lane], k, m)
            xs, ys, ss = _carve(narrow[lane], k, m)
            s0 = offsets[s]
            if sample_weight.shape[0] == 1:
                wsum = sample_weight[0] * rows
            else:
                wsum = _total(sample_weight[s0:s0 + rows], rows)
            fit = lam[s] >= 0.0  # else only checked (a segment the caller does not fit)
            finite, scale = _load_copies(X, y, sample_weight, order, s0, rows, wsum, fit, xt,
                                         yb, sb, xs, ys, ss)
            nw = _warm_blocks(xt.shape[0])
            if not finite:
                n_iter[s] = -1  # a NaN or inf in the segment's rows: not solved
                continue
            if not fit:
                continue
            nar = (xs, ys, ss, scale)
            fresh = fresh_iters
            if nw > 0 and _warm_start(xt[:nw], yb[:nw], sb[:nw], (xs[:nw], ys[:nw], ss[:nw],
                                                                   scale), wsum, lam[s],
                                      n_free, max_iter, lag_step, theta[s], w64, w32):
                fresh = 1  # a sampling error from the optimum: the Hessian is then
                # recomputed at the start and while steps are large (a 255k-row segment:
                # 0.53x the time with 1, 0.65x with 2, measured)
            it, ok = _segment_newton(xt, yb, sb, nar, m, lam[s], n_free, tol, max_iter,
                                     fresh, lag_step, theta[s], w64, w32)
            n_iter[s] = it
            converged[s] = ok
    return n_iter


@serial
def _newton_direction(g, H, k, out, work):
    """out[:k] = -H[:k, :k]^-1 g[:k], out[k:] = 0.

    Jacobi scaling (for columns of very different scale), then Cholesky; if H is not
    numerically positive definite a ridge is added (1e-12, growing 100x), and as a last
    resort the scaled gradient step, which always descends.  work (k + 3, >= k) scratch,
    so a solve allocates nothing; divisions by the scales and by the pivots are
    multiplications by their reciprocals, and the triangular solves go column by column
    (the updates within a column are independent, not one chain of dependent
    multiply-adds); 17 x 17: 0.91 -> 0.63 us (measured).  Not reassociated: with
    ``serial_reduce`` it took 0.47 us, but freshly compiled and cache-loaded callers then
    gave different last bits (measured), and results must not depend on the cache."""
    L = work[:k]
    dsc = work[k]
    inv = work[k + 1]
    x = work[k + 2]
    for j in range(k):  # a zero (or non-positive) diagonal is left unscaled
        dsc[j] = math.sqrt(H[j, j]) if H[j, j] > 1e-300 else 1.0
        inv[j] = 1.0 / dsc[j]
    ridge = 0.0
    ok = False
    for _ in range(12):
        ok = True
        for j in range(k):  # every L[j, m] read below was written earlier in this attempt
            acc = H[j, j] * inv[j] * inv[j] + ridge
            for m in range(j):
                acc -= L[j, m] * L[j, m]
            if not (acc > 0.0) or not np.isfinite(acc):
                ok = False
                break
            rl = 1.0 / math.sqrt(acc)
            L[j, j] = rl  # the diagonal is only ever divided by: its reciprocal is kept
            for i in range(j + 1, k):
                acc2 = H[i, j] * inv[i] * inv[j]
                for m in range(j):
                    acc2 -= L[i, m] * L[j, m]
                L[i, j] = acc2 * rl
        if ok:
            break
        ridge = 1e-12 if ridge == 0.0 else ridge * 100.0
    for j in range(k):
        x[j] = -g[j] * inv[j]
    if ok:  # column by column: the updates of one column are independent of each other
        for m in range(k):  # L v = rhs
            xm = x[m] * L[m, m]
            x[m] = xm
            for i in range(m + 1, k):
                x[i] -= L[i, m] * xm
        for i in range(k - 1, -1, -1):  # L^T x = v
            xi = x[i] * L[i, i]
            x[i] = xi
            for m in range(i):
                x[m] -= L[i, m] * xi
    out[:] = 0.0
    for j in range(k):
        out[j] = x[j] * inv[j]


@parallel
def _newton_directions(grads, hess, idx, k, steps):
    """steps[s] = _newton_direction(grads[s], hess[s]) for s in idx, in parallel."""
    for t in prange(idx.shape[0]):
        s = idx[t]
        _newton_direction(grads[s], hess[s], k, steps[s], np.empty((k + 3, k)))
    return steps


@parallel
def _group_order(codes, n_groups, flags, order):
    """Counting sort: returns (offsets, flag_sums, grouped) and writes order with
    codes[order] non-decreasing, stable, segment s at order[offsets[s]:offsets[s+1]].
    codes : (n,) ints in [0, n_groups); flags : (n,) uint8 (the 0/1 labels) or empty
    (flag_sums stays zero); order : (n,) int32 (when n < 2^31: half the bytes to write and
    to read back) or int64.  flag_sums (n_groups,) int64: the flags summed per group (the
    positives of each segment, exact).  grouped: codes were already non-decreasing, and
    then order is left unwritten (the rows are grouped as they stand).

    The caller allocates order with NumPy, whose large arrays get transparent huge pages:
    one numba allocates faults in 4 KiB pages as the scatter first touches them (10M rows:
    44 ms against 28 ms, measured).  The flags are summed and the order checked in the
    counting pass, where they replace two more passes (10M rows, with ``_take`` of y:
    47 -> 36 ms, measured; moving y in the scatter instead cost 17 ms).

    Parallel over a fixed number of row chunks (a function of n and n_groups only): each
    chunk counts its labels, a serial prefix sum gives every (group, chunk) pair its first
    slot, and each chunk scatters its rows in order, so the result is the serial stable
    sort's for any thread count.  Scratch: 2 * chunks * n_groups int64, chunks <= 16 and
    <= n / (4 n_groups)."""
    n = codes.shape[0]
    with_flags = flags.shape[0] > 0
    n_chunks = max(1, min(16, n // (4 * max(n_groups, 1)), n // 65536))
    chunk = (n + n_chunks - 1) // n_chunks
    counts = np.zeros((n_chunks, n_groups), dtype=np.int64)
    sums = np.zeros((n_chunks if with_flags else 0, n_groups), dtype=np.int64)
    descents = np.zeros(n_chunks, dtype=np.int64)
    for c in prange(n_chunks):
        lo = c * chunk
        prev = codes[lo - 1] if lo > 0 else 0  # the chunk boundary is checked too
        down = 0
        for i in range(lo, min(n, lo + chunk)):
            g = codes[i]
            counts[c, g] += 1
            if with_flags:
                sums[c, g] += flags[i]
            down += 1 if g < prev else 0
            prev = g
        descents[c] = down
    offsets = np.zeros(n_groups + 1, dtype=np.int64)
    flag_sums = np.zeros(n_groups, dtype=np.int64)
    run = 0
    for g in range(n_groups):
        offsets[g] = run
        for c in range(n_chunks):
            cnt = counts[c, g]
            counts[c, g] = run  # now the chunk's next slot for group g
            run += cnt
            if with_flags:
                flag_sums[g] += sums[c, g]
    offsets[n_groups] = run
    if descents.sum() == 0:
        return offsets, flag_sums, True
    for c in prange(n_chunks):
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            g = codes[i]
            slot = counts[c, g]
            order[slot] = i
            counts[c, g] = slot + 1
    return offsets, flag_sums, False


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
def _take(values, rows, out):
    """out[i] = values[rows[i]] for 1-D values, parallel (a segment-grouped copy of y or of
    the sample weights: 10M rows in 8 ms on 2 threads)."""
    for i in prange(rows.shape[0]):
        out[i] = values[rows[i]]
    return out


@parallel
def _predict_proba(X, codes, coefs, intercepts, out):
    """out[i] = sigmoid(intercepts[c] + X[i] . coefs[c]), c = codes[i] (codes of length 1:
    every row uses model codes[0]).  One read of X, any layout.

    coefs (G, d) and intercepts (G,) in X's dtype: the dot product and the sigmoid run in
    X's dtype (float32 X: float32 arithmetic throughout), the sigmoid over blocks of BLOCK
    rows (vectorised).  Returns the number of rows whose linear predictor
    is non-finite: a NaN or inf anywhere in a row makes its dot product non-finite (inf * 0
    and inf - inf are NaN), so the caller can reject bad rows without a second read of X.
    Scratch: BLOCK values per block.
    """
    n = X.shape[0]
    one = codes.shape[0] == 1
    n_blocks = (n + BLOCK - 1) // BLOCK
    bad = 0
    for blk in prange(n_blocks):
        z = np.empty(BLOCK, X.dtype)
        s0 = blk * BLOCK
        m = min(BLOCK, n - s0)
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
            col = cols[j][s0:s0 + m]  # a view indexed from 0: 3x faster than col[s0 + r]
            w = coef[j]
            for r in range(m):
                z[r] += col[r] * w
        for r in range(m):
            z[r] += intercept
        bad += _sigmoid_into(z, m, out, s0)
    return bad
