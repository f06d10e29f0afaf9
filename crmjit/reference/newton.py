"""Pure-Python twins of :mod:`crmjit.kernels.newton`."""

from __future__ import annotations

import math


def newton_direction(g, H, k):
    """-H[:k, :k]^-1 g[:k] padded with zeros to len(g)."""
    step = solve([row[:k] for row in H[:k]], [-v for v in g[:k]])
    return step + [0.0] * (len(g) - k)


def newton_directions(grads, hess, idx, k):
    """{s: newton_direction(grads[s], hess[s], k)} for s in idx."""
    return {s: newton_direction(grads[s], hess[s], k) for s in idx}


def solve(A, b):
    """Solve A x = b by Gaussian elimination with partial pivoting."""
    n = len(b)
    M = [list(A[i]) + [b[i]] for i in range(n)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(M[r][c]))
        M[c], M[p] = M[p], M[c]
        for r in range(c + 1, n):
            f = M[r][c] / M[c][c]
            for k in range(c, n + 1):
                M[r][k] -= f * M[c][k]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (M[r][n] - sum(M[r][k] * x[k] for k in range(r + 1, n))) / M[r][r]
    return x


def accept(f, ft, g, gt, step, t):
    """Armijo at t times the step, or where float64 cannot resolve the change in f, no
    increase beyond rounding and a smaller gradient (max norm)."""
    slope = sum(a * b for a, b in zip(g, step))
    return math.isfinite(ft) and (ft <= f + 1e-4 * t * slope or (
        ft <= f + 1e-12 * abs(f) and max(map(abs, gt)) < max(map(abs, g))))


def converged(step, theta, tol):
    """max|step| <= tol * max(1, max|theta|)."""
    return max(abs(v) for v in step) <= tol * max([1.0] + [abs(v) for v in theta])


def lagged(step, theta, t, lag_step):
    """t * max|step| > lag_step * max(1, max|theta|)."""
    return t * max(abs(v) for v in step) > lag_step * max([1.0] + [abs(v) for v in theta])


def converged_all(step, theta, tol, idx):
    """{s: converged(step[s], theta[s], tol)} for s in idx."""
    return {s: converged(step[s], theta[s], tol) for s in idx}


def accept_all(f, ft, g, gt, step, t, idx):
    """[accept(...) of problem s] for s in idx."""
    return [accept(f[s], ft[s], g[s], gt[s], step[s], t[s]) for s in idx]
