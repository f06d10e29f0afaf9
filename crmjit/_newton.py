"""Damped Newton solver for L2-penalised logistic regression on top of the fused pass.

Minimises ``f(theta) = sum_i s_i logloss_i + 0.5 * lam * ||w||^2`` with ``lam = 1 / C``,
which has the same minimiser as scikit-learn's ``C * sum_i s_i logloss_i + 0.5 ||w||^2``
(``C = inf`` is ``lam = 0``).  The intercept is the last slot of theta and is not penalised.

Each iteration costs one fused read of X (loss, exact gradient, Hessian).  On large data the
Hessian is taken from a fixed, evenly spread subset of row blocks (at least
``HESS_MIN_ROWS`` rows) and rescaled: the fixed point is still where the *exact* gradient is
zero, so the optimum is unchanged, and a Hessian error of a fraction of a percent only turns
quadratic convergence into a linear rate of that size.  Steps are solved by Cholesky after
Jacobi scaling (unscaled columns), with a growing ridge if the system is singular (C = inf on
separable or rank-deficient data), and damped by a backtracking Armijo line search.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from .kernels._jit import fixed_chunks
from .kernels.logistic import BLOCK, _logistic_pass

HESS_MIN_ROWS = 1 << 17


def hess_stride(n):
    """Use every stride-th block of BLOCK rows for the Hessian, keeping >= HESS_MIN_ROWS
    rows: 1 (the exact Hessian) below 2 * HESS_MIN_ROWS rows."""
    return max(1, n // HESS_MIN_ROWS)


def row_stride(n):
    """Every stride-th block for the warm-start stage (>= HESS_MIN_ROWS rows); 1 (no
    warm start) below 4 * HESS_MIN_ROWS rows, where it would not pay."""
    return n // HESS_MIN_ROWS if n >= 4 * HESS_MIN_ROWS else 1


class Problem:
    """The objective on fixed data; ``evaluate`` runs one fused pass.

    With ``rows > 1`` it is the objective on every rows-th block, its loss and gradient
    scaled up by total weight / weight read: a cheap stand-in for the full objective, used
    only to find a starting point.
    """

    def __init__(self, X, y, sample_weight, lam, fit_intercept, rows=1):
        self.X, self.y, self.sw = X, y, sample_weight
        self.lam = lam
        self.fit_intercept = fit_intercept
        n, d = X.shape
        self.d = d
        self.n_chunks = fixed_chunks(n)
        self.rows = rows
        self.stride = hess_stride(n // rows)
        self.total_weight = (sample_weight[0] * n if sample_weight.shape[0] == 1
                             else float(np.sum(sample_weight)))
        self.grad = np.empty(d + 1)
        self.hess = np.empty((d + 1, d + 1))
        self.passes = 0

    def evaluate(self, theta):
        loss, weight, hw = _logistic_pass(self.X, self.y, self.sw, theta, self.n_chunks,
                                          self.rows, self.stride, self.grad, self.hess)
        self.passes += 1
        scale = 1.0 if self.rows == 1 else self.total_weight / max(weight, 1e-300)
        w = theta[:self.d]
        f = scale * loss + 0.5 * self.lam * float(w @ w)
        g = scale * self.grad
        g[:self.d] += self.lam * w
        exact = self.rows == 1 and self.stride == 1
        H = self.hess * (1.0 if exact or hw <= 0 else self.total_weight / hw)
        H[np.arange(self.d), np.arange(self.d)] += self.lam
        if not self.fit_intercept:
            g[self.d] = 0.0
        return f, g, H


def newton_direction(g, H, fit_intercept):
    """-H^-1 g via Jacobi-scaled Cholesky; a growing ridge when H is (near) singular."""
    k = g.shape[0] if fit_intercept else g.shape[0] - 1
    Hk, gk = H[:k, :k], g[:k]
    dscale = np.sqrt(np.maximum(np.diag(Hk), np.finfo(float).tiny))
    A = Hk / np.outer(dscale, dscale)
    rhs = -gk / dscale
    ridge = 0.0
    for _ in range(12):
        try:
            c = scipy.linalg.cho_factor(A + ridge * np.eye(k), check_finite=False)
            step = scipy.linalg.cho_solve(c, rhs, check_finite=False)
            if np.all(np.isfinite(step)):
                break
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            pass
        ridge = 1e-12 if ridge == 0.0 else ridge * 100.0
    else:
        step = rhs  # scaled gradient step: always a descent direction
    out = np.zeros_like(g)
    out[:k] = step / dscale
    return out


def minimize(problem, theta, tol, max_iter):
    """Run damped Newton from theta.  Returns (theta, n_iter, converged)."""
    f, g, H = problem.evaluate(theta)
    for it in range(1, max_iter + 1):
        step = newton_direction(g, H, problem.fit_intercept)
        size = float(np.max(np.abs(step))) if step.size else 0.0
        scale = max(1.0, float(np.max(np.abs(theta))) if theta.size else 0.0)
        if size <= tol * scale:
            return theta + step, it, True
        slope = float(g @ step)
        gmax = float(np.max(np.abs(g)))
        t = 1.0
        accepted = False
        for _ in range(40):
            trial = theta + t * step
            ft, gt, Ht = problem.evaluate(trial)
            if not np.isfinite(ft):
                t *= 0.5
                continue
            # Armijo decrease; or, where float64 cannot resolve a change of f (near the
            # optimum of a badly scaled problem, or a loss underflowing to 0 on separable
            # data), no increase beyond rounding and a smaller gradient.
            if ft <= f + 1e-4 * t * slope or (
                    ft <= f + 1e-12 * abs(f) and float(np.max(np.abs(gt))) < gmax):
                accepted = True
                break
            t *= 0.5
        if not accepted:
            return theta, it, False
        theta, f, g, H = trial, ft, gt, Ht
    return theta, max_iter, False
