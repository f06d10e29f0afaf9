"""The rules of every damped Newton solve in crmjit, in one place: the direction (Jacobi-scaled
Cholesky with a growing ridge, or the scaled gradient as a last resort), the acceptance of a
trial step (Armijo, or no increase beyond rounding and a smaller gradient where float64
cannot resolve the change in f), the stopping rule and the lagged-Hessian rule.

Both solvers use them: the lock-step solver of :mod:`crmjit._newton` (one model, or many
likelihoods in lock-step) and the per-segment solver (``crmjit.kernels.segments``).
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import serial

ARMIJO = 1e-4  # sufficient decrease: f(theta + t step) <= f + ARMIJO * t * g . step
FLAT = 1e-12  # ... or, where float64 cannot resolve it, f no higher than f + FLAT |f|
MIN_STEP = 2.0 ** -40  # step lengths below this: no acceptable step, the solve gives up
FRESH_HESSIAN_ITERS = 2  # per-segment solver: exact Hessian in the first iterations ...
LAG_STEP = 1e-2  # ... and after steps larger than this (relative); else the last one


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
    for j in range(out.shape[0]):  # a loop: a slice fill compiles more code
        out[j] = x[j] * inv[j] if j < k else 0.0


@serial
def _newton_directions(grads, hess, idx, k, steps):
    """steps[s] = _newton_direction(grads[s], hess[s]) for s in idx (one thread: a 17 x 17
    solve takes under a microsecond)."""
    work = np.empty((k + 3, k))
    for t in range(idx.shape[0]):
        s = idx[t]
        _newton_direction(grads[s], hess[s], k, steps[s], work)
    return steps


@serial
def _accept(f, ft, g, gt, step, t):
    """Whether the trial point (objective ft, gradient gt) at t times the step from the
    point (f, g) is acceptable: Armijo (``ARMIJO``), or where float64 cannot resolve the
    change in f, no increase beyond rounding (``FLAT``) and a smaller gradient."""
    slope = 0.0
    gmax = 0.0
    gtmax = 0.0
    for j in range(g.shape[0]):
        slope += g[j] * step[j]
        gmax = max(gmax, abs(g[j]))
        gtmax = max(gtmax, abs(gt[j]))
    return np.isfinite(ft) and (ft <= f + ARMIJO * t * slope
                                or (ft <= f + FLAT * abs(f) and gtmax < gmax))


@serial
def _converged(step, theta, tol):
    """Whether the full Newton step is below ``tol * max(1, max|theta|)`` (the stopping rule
    of every Newton solve here; the step is then taken)."""
    size = 0.0
    scale = 1.0
    for j in range(step.shape[0]):
        size = max(size, abs(step[j]))
        scale = max(scale, abs(theta[j]))
    return size <= tol * scale


@serial
def _lagged(step, theta, t, lag_step):
    """Whether t times the step is larger than ``lag_step * max(1, max|theta|)``: a large
    step, after which the per-segment solver recomputes the exact Hessian."""
    size = 0.0
    scale = 1.0
    for j in range(step.shape[0]):
        size = max(size, abs(step[j]))
        scale = max(scale, abs(theta[j]))
    return size * t > lag_step * scale


@serial
def _accept_all(f, ft, g, gt, step, t, idx, ok):
    """ok[u] = _accept for problem idx[u] of the lock-step solver (rows of f, ft, g, gt,
    step, t); returns ok."""
    for u in range(idx.shape[0]):
        s = idx[u]
        ok[u] = _accept(f[s], ft[s], g[s], gt[s], step[s], t[s])
    return ok


@serial
def _converged_all(step, theta, tol, idx, out):
    """out[s] = _converged(step[s], theta[s], tol) for s in idx (others left as they are);
    returns out."""
    for u in range(idx.shape[0]):
        s = idx[u]
        out[s] = _converged(step[s], theta[s], tol)
    return out
