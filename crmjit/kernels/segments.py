"""Per-segment logistic regression: thousands of small L2-penalised problems in one call.

Each batch of segments runs on one thread, which copies each segment's rows once into its
buffer in
the blocked layout of :mod:`crmjit.kernels.logloss` (padded with rows of weight 0 to a
multiple of PAD, so vectorised loops end without a scalar remainder), and solves it there
to the end by damped Newton with the rules of :mod:`crmjit.kernels.newton`.  A segment's
result depends on its own rows only: not on the thread count, the lane, or the other
segments.
"""

from __future__ import annotations

import numpy as np
from ._jit import serial, serial_inline
from .logloss import _block_temps, _block_terms, _load_rows, _symmetrize
from .newton import MIN_STEP, _accept, _converged, _lagged, _newton_direction

SEGMENT_BLOCK = 2048  # rows per block of a segment held in memory (a block stays in L2)
PAD = 16  # segments padded to a multiple of this many rows (weight 0)


@serial_inline
def _penalised(xt, yb, sb, m, theta, lam, n_free, want_h, w, g, h):
    """Objective of one segment loaded in blocks (``_load_rows``) at theta: returns
    f = sum s*logloss + 0.5 lam ||w||^2 and sets g to its gradient and, when ``want_h``, h
    to its Hessian (left as it was otherwise).  n_free = d: the intercept is held fixed
    (its gradient is zeroed).  w = (z, e, rb, qb, xq) from ``_block_temps``."""
    k = xt.shape[1]
    d = k - 1
    B = xt.shape[2]
    z, e, rb, qb, xq = w
    for j in range(k):  # loops: a slice fill compiles more code
        g[j] = 0.0
        if want_h:
            for l in range(k):
                h[j, l] = 0.0
    loss = 0.0
    for c in range((m + B - 1) // B):
        bl, _ = _block_terms(xt[c], yb[c], sb[c], min(B, m - c * B), theta, want_h, z, e,
                             rb, qb, xq, g, h)
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


@serial_inline
def _segment_newton(xt, yb, sb, m, lam, n_free, tol, max_iter, fresh_iters, lag_step, theta,
                    w):
    """Damped Newton for one segment loaded in blocks (``_load_rows``), from theta (d+1,),
    updated in place.  Returns (n_iter, converged); n_iter -2 where the Hessian overflows
    float64 (features beyond about 1e154: no Newton step exists).

    The rules of :mod:`crmjit.kernels.newton`: Jacobi-scaled Cholesky directions,
    backtracking (``_accept``), converged when the full step is below tol (the step is
    taken, ``_converged``) and either comes from the exact Hessian at theta or is under
    half the last step (so what is left is under the step); the exact Hessian in the
    first ``fresh_iters`` iterations, after a step larger than ``lag_step`` (``_lagged``)
    and after a direction not under half the last step (slow contraction), else the last
    one is reused (the fixed point, g = 0, is unchanged).  One evaluation site: each pass
    of the loop evaluates the trial point once (the start, then theta + t step), so the
    objective is compiled once.  Every evaluation reads the thread's copy of the segment, not X."""
    k = xt.shape[1]
    g = np.empty(k)
    h = np.empty((k, k))
    gt = np.empty(k)
    ht = np.empty((k, k))
    step = np.zeros(k)
    trial = theta.copy()
    work = np.empty((k + 3, k))
    f = 0.0
    t = 1.0
    it = 0
    started = False
    want_h = True
    recheck = False  # re-evaluating theta itself for a fresh Hessian
    last = np.inf  # size of the last step taken
    size = 0.0  # size of the current direction
    slow = False  # ... not under half the last step: a lagged Hessian contracts slowly
    while True:
        ft = _penalised(xt, yb, sb, m, trial, lam, n_free, want_h, w, gt, ht)
        if want_h:
            diag = 0.0
            for j in range(k):
                diag += ht[j, j]
            if not np.isfinite(diag):  # some x_j**2 beyond float64
                return -2, False
        if started and not recheck and not _accept(f, ft, g, gt, step, t):
            t *= 0.5
            if t < MIN_STEP:  # no acceptable step: give up, not converged
                return it, False
        else:
            if started and not recheck:
                it += 1
            started = True
            recheck = False
            f = ft
            for j in range(k):  # element loops: an array-to-array slice assignment
                theta[j] = trial[j]  # compiles numba's shape-mismatch message (seconds)
                g[j] = gt[j]
                if want_h:
                    for l in range(k):
                        h[j, l] = ht[j, l]
            fresh = want_h
            t = 1.0
            _newton_direction(g, h, n_free, step, work)
            size = 0.0
            for j in range(k):
                size = max(size, abs(step[j]))
            slow = size > 0.5 * last
            if _converged(step, theta, tol):
                if fresh or not slow:
                    for j in range(k):
                        theta[j] += step[j]
                    return it + 1, True
                # a lagged Hessian's steps shrinking by less than half: the error left
                # (up to size / (1 - rate)) may exceed tol; judge with the Hessian at theta
                recheck = True
                want_h = True
                for j in range(k):
                    trial[j] = theta[j]
                continue
            if it >= max_iter:
                return it, False
        for j in range(k):
            trial[j] = theta[j] + t * step[j]
        last = t * size
        want_h = it < fresh_iters or slow or _lagged(step, theta, t, lag_step)


@serial_inline
def _load_padded(X, y, sample_weight, order, s0, rows, xt, yb, sb):
    """A segment's copy as ``_fit_segments`` solves it: rows s0 .. s0+rows-1 (see
    ``_load_rows``) into the blocks of xt (nb, k, B), yb, sb (nb, B), followed by rows of
    zeros with weight 0 up to ``_padded(rows)``.  Returns whether every value copied is
    finite (the padding is not written after a non-finite row)."""
    if not _load_rows(X, y, sample_weight, order, s0, rows, xt, yb, sb):
        return False
    B = xt.shape[2]
    for r in range(rows, _padded(rows)):  # padding rows of weight 0: no term of any sum
        c = r // B
        rr = r - c * B
        for j in range(xt.shape[1]):
            xt[c, j, rr] = 0.0
        yb[c, rr] = 0.0
        sb[c, rr] = 0.0
    return True


@serial
def _fit_batch(batch, X, y, sample_weight, order, offsets, lam, n_free, tol, max_iter,
               fresh_iters, lag_step, theta, n_iter, converged, xt, yb, sb):
    """Fit the segments ``batch`` one after the other by ``_segment_newton``, each from its
    row of theta (G, d+1), updated in place; writes n_iter (G,) and converged (G,) of those
    segments.  Batches run on the threads at once, each with buffers of its own.

    Segment s is rows ``order[offsets[s]:offsets[s+1]]`` of X (rows
    ``offsets[s]:offsets[s+1]`` when order is empty: already grouped) and positions
    ``offsets[s]:offsets[s+1]`` of y and sample_weight, which the caller passes grouped
    (``take(y, order)``; sample_weight (1,) is one weight for all).  Each segment is
    copied once into the first blocks of xt (nb, d+1, B), yb, sb (nb, B), which hold the
    batch's largest segment padded (``_load_padded``), and solved there to the end, so
    every Newton iteration reads that copy (in cache up to a few thousand rows; evaluated
    in blocks of B <= SEGMENT_BLOCK rows whose temporaries stay in L2 however long the
    segment) instead of X, which is read once in all and never copied whole.  lam (G,) =
    1/C per segment, or -1 for a segment whose rows are only loaded (checked), not
    fitted; n_free = d+1, or d to hold the intercept fixed.

    The load checks X too: a segment with a NaN or inf in its rows is not solved and gets
    n_iter -1, for the caller to raise on (one read of X instead of a separate
    finiteness pass first).  Each segment is solved serially in its own rows, so results
    depend neither on the batches nor on the thread that runs them."""
    w = _block_temps(xt.shape[2])
    for t in range(batch.shape[0]):
        s = batch[t]
        rows = offsets[s + 1] - offsets[s]
        if not _load_padded(X, y, sample_weight, order, offsets[s], rows, xt, yb, sb):
            n_iter[s] = -1  # a NaN or inf in the segment's rows: not solved
            continue
        if lam[s] < 0.0:  # a segment the caller only checks
            continue
        it, ok = _segment_newton(xt, yb, sb, _padded(rows), lam[s], n_free, tol, max_iter,
                                 fresh_iters, lag_step, theta[s], w)
        n_iter[s] = it
        converged[s] = ok
    return batch.shape[0]


@serial
def _padded(m):
    """m rounded up to a multiple of PAD rows (segments are solved on that many rows, the
    extra ones of weight 0)."""
    return (m + PAD - 1) // PAD * PAD
