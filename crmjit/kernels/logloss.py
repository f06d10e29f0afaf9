"""The L2-free logistic loss of a block of rows, with its gradient and Hessian, in one pass.

A block is a transposed float64 copy of up to B rows (``_load_rows``: one contiguous row per
feature, a row of ones last for the intercept), so every loop below runs along rows and
vectorises, and a block's temporaries stay in cache.  For rows r of the block, with
z_r = theta . (x_r, 1), p_r = sigmoid(z_r), weights s_r and labels y_r in {0, 1}:

* loss     = sum_r s_r (log(1 + e^z_r) - y_r z_r)
* gradient = sum_r s_r (p_r - y_r) (x_r, 1)
* Hessian  = sum_r s_r p_r (1 - p_r) (x_r, 1) (x_r, 1)^T   (upper triangle summed)

Sums within a block are reassociated (``serial_reduce``: vectorised); their order depends
on the block length and the CPU's vector width, never on the thread count.
"""

from __future__ import annotations

import numpy as np

from ._jit import (prefetch_row, serial, serial_inline, serial_reduce,
                   serial_reduce_inline)
from .checks import _all_finite
from .elementwise import _exp_neg_abs, _log1p_unit

AHEAD = 32  # gathers prefetch the row this many rows ahead (8: a bare gather 1.9x slower)
STAGE = 64  # rows gathered at a time before they are transposed (``_load_rows``)
SCRATCH = ("_block_scratch", "_block_temps")  # kernels that only allocate: no twin


@serial
def _load_rows(X, y, sample_weight, order, s0, m, xt, yb, sb):
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

    Returns True when every value copied is finite.  The batched fit takes this as its
    finiteness check of X (the caller raises before any result is used): one read of X
    instead of a separate pass over all of it first, 0.94x the fit time (measured)."""
    d = X.shape[1]
    B = xt.shape[2]
    scalar_w = sample_weight.shape[0] == 1
    direct = order.shape[0] == 0
    stage = np.empty(STAGE * d, dtype=X.dtype)  # rows one after another (no reshape)
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
                stage[t * d + j] = X[i, j]
        finite = finite and _all_finite(stage[:nr * d])
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
        if rr0 + nr <= B:  # the stage lies in one block (always when B % STAGE == 0)
            for j in range(d):
                dst = xt[c, j, rr0:rr0 + nr]  # views indexed from 0 (no wraparound code)
                for t in range(nr):
                    dst[t] = stage[t * d + j]
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
                    xt[cr, j, rr] = stage[t * d + j]
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
    four at a time.  xq (4, >= m) scratch. """
    k = xt.shape[0]
    zero = 0.0
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


@serial_reduce_inline
def _hess_tile(xq, xt, l0, m, j0, h):
    """h[j0:j0+4, l0:l0+4] += xq[:4, :m] @ xt[l0:l0+4, :m].T with sixteen accumulators
    (a vectorised loop that keeps them all in registers)."""
    zero = 0.0
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
    for r in range(m):
        e[r] = _exp_neg_abs(z[r])
    for r in range(m):
        inv = 1.0 / (1.0 + e[r])
        p = inv if z[r] >= 0.0 else e[r] * inv
        rb[r] = sb[r] * (p - yb[r])
        qb[r] = sb[r] * p * (1.0 - p)
    for r in range(m):
        zr = z[r]
        e[r] = sb[r] * (max(zr, 0.0) + _log1p_unit(e[r]) - yb[r] * zr)
    return _total(e, m)


@serial_inline
def _block_terms(xt, yb, sb, m, theta, want_h, z, e, rb, qb, xq, g, h):
    """Add the first m rows of a loaded block (``_load_rows``) to the gradient g (d+1,) and,
    when ``want_h``, to the upper triangle of the Hessian h (d+1, d+1); return (loss,
    weight) of those rows: sum s*logloss and sum s.  z = xt^T theta and the gradient run
    along the feature rows of xt, one feature a pass (vectorised).  Four features a pass
    (z read and written a quarter as often, and four dot products in one read of the
    gradient weights) took 1.7 instead of 2.3 us for 1000 rows of 17, but no fit measured
    faster with it (100k to 10M rows, the batched fits), and it cost 7 % of a cold
    ``LogisticRegression.fit``'s instructions: removed.  z, e, rb, qb (>= m,) and xq
    (4, >= m) are scratch."""
    d = xt.shape[0] - 1
    b = theta[d]  # the last row of xt is ones: the intercept
    for r in range(m):
        z[r] = b
    for j in range(d):
        tj = theta[j]
        x0 = xt[j, :m]
        for r in range(m):
            z[r] += x0[r] * tj
    loss = _row_terms(z, yb, sb, m, e, rb, qb)
    for j in range(d):
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


@serial_inline
def _block_scratch(k, m, block):
    """Scratch for ``_load_rows`` and ``_block_terms`` with room for m rows in blocks of
    B = min(m, block) rows: xt (blocks, k, B), yb, sb (blocks, B), and the per-block
    temporaries z, e, rb, qb (B,) and xq (4, B), reused block after block so that they stay
    in cache however long the segment.  Left uninitialised: each is written before it is
    read."""
    B = max(1, min(m, block))
    nb = max(1, (m + B - 1) // B)
    return (np.empty((nb, k, B)), np.empty((nb, B)), np.empty((nb, B))) + _block_temps(B)


@serial_inline
def _block_temps(B):
    """Scratch: the per-block float64 temporaries of ``_block_terms`` for blocks of up to B
    rows:
    (z, e, rb, qb (B,), xq (4, B))."""
    return np.empty(B), np.empty(B), np.empty(B), np.empty(B), np.empty((4, B))
