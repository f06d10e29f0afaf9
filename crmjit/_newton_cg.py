"""Truncated Newton (Newton-CG) for one logistic model on wide data: thousands of
features, or more features than rows, where the (d+1, d+1) Hessian of the dense solver
(``crmjit._newton``) would take d^2 memory and d^3 time a step.

The objective and the rules are the dense solver's: ``f(theta) = sum_i s_i logloss_i +
0.5 * lam * ||w||^2`` (the intercept not penalised), Armijo acceptance and the stopping rule
of :mod:`crmjit.kernels.newton` (the Newton step below ``tol * max(1, max|theta|)``, then
taken).  Only the direction differs: the Newton system ``H step = -g`` is solved by
conjugate gradients preconditioned with H's diagonal, each iteration one Hessian-vector
product (one read of X: ``crmjit.kernels.wide``), to a relative residual that shrinks
with the gradient (superlinear convergence), and tightly before a step is judged small
enough to stop.  Memory: a few vectors of d+1 and of n.

Every pass reads fixed spans of rows on the threads and merges them in span order: the
result does not depend on the thread count.
"""

from __future__ import annotations

import math

import numpy as np

from . import _threads
from ._newton import CHUNK_ROWS, HESS_MIN_ROWS
from .kernels._jit import fixed_chunks
from .kernels.newton import MIN_STEP, _accept, _converged
from .kernels.wide import _wide_hessvec, _wide_terms

WIDE_WORK = 48  # Newton-CG when d * (rows feeding the dense Hessian) > WIDE_WORK * n ...
WIDE_MEMORY = 256 << 20  # ... or the dense solver's per-chunk Hessians would exceed this
CONFIRM = 1e-3  # CG relative residual at most this for a step that decides convergence


def use_wide(n, d):
    """Whether a fit of n rows and d features goes to Newton-CG.  The dense solver's cost
    a step is a pass over X plus a Hessian over at most 4 * HESS_MIN_ROWS rows (d^2 each);
    Newton-CG's is a few passes over X.  Measured crossovers on ``make_customers`` data:
    d = 48 at 100k rows, about 200 at 1M rows (100k x 128: 0.20 s dense, 0.09 s
    Newton-CG; 1M x 400: 2.9 s against 2.1 s).  Memory: the dense solver keeps a
    (d+1, d+1) Hessian per chunk of rows."""
    hess_rows = min(n, 4 * HESS_MIN_ROWS)
    chunks = fixed_chunks(n, min_chunk=CHUNK_ROWS)
    return d * hess_rows > WIDE_WORK * n or chunks * (d + 1) ** 2 * 8 > WIDE_MEMORY


class WideProblem:
    """The penalised objective of one model on X (n, d) read in place."""

    def __init__(self, X, y01, sample_weight, lam, fit_intercept):
        self.X, self.y, self.sw = X, y01, sample_weight
        self.lam, self.fit_intercept = lam, fit_intercept
        n, self.d = X.shape
        self.spans = _threads.spans(n)
        self.work = n * max(1, self.d // 16)  # rows of 16 features, for the threads' cut-off
        self.q = np.zeros(n)

    def _slots(self):
        return np.zeros((len(self.spans), self.d + 1))

    def evaluate(self, theta):
        """(f, g, hdiag) at theta; keeps the Hessian's row weights for ``hessvec``."""
        g, hdiag = self._slots(), self._slots()
        parts = _threads.run(_wide_terms, [
            (self.X, self.y, self.sw, theta, self.q, g[s], hdiag[s], r0, r1)
            for s, (r0, r1) in enumerate(self.spans)], work=self.work)
        f = math.fsum(p[0] for p in parts)  # in span order: any thread count, same sum
        g, hdiag = g.sum(axis=0), hdiag.sum(axis=0)
        w = theta[:self.d]
        f += 0.5 * self.lam * float(w @ w)
        g[:self.d] += self.lam * w
        hdiag[:self.d] += self.lam
        if not np.isfinite(hdiag).all():  # x_j**2 beyond float64: no Newton step exists
            raise OverflowError("the Hessian overflows float64")
        if not self.fit_intercept:
            g[self.d] = 0.0
        return f, g, hdiag

    def hessvec(self, v):
        """H v at the point of the last ``evaluate``."""
        out = self._slots()
        _threads.run(_wide_hessvec, [(self.X, self.q, v, out[s], r0, r1)
                                     for s, (r0, r1) in enumerate(self.spans)],
                     work=self.work)
        hv = out.sum(axis=0)
        hv[:self.d] += self.lam * v[:self.d]
        if not self.fit_intercept:
            hv[self.d] = 0.0
        return hv


def conjugate_gradient(problem, g, hdiag, rtol, max_iter, small=None):
    """Approximate solution of ``H step = -g`` by preconditioned CG from 0, stopped at a
    residual of ``rtol * ||g||``, after ``max_iter`` products, or at a direction of
    non-positive curvature (then the last iterate, or the scaled gradient if none).  A
    step for which ``small(step)`` holds is refined on to ``CONFIRM * ||g||`` first (it may
    end the solve, so it must be accurate)."""
    scale = np.where(hdiag > 1e-300, hdiag, 1.0)
    step = np.zeros_like(g)
    r = -g
    z = r / scale
    p = z.copy()
    rz = float(r @ z)
    gnorm = float(np.linalg.norm(g))
    for _ in range(max_iter):
        if float(np.linalg.norm(r)) <= rtol * gnorm:
            if rtol <= CONFIRM or small is None or not small(step):
                break
            rtol = CONFIRM
            continue
        hp = problem.hessvec(p)
        curvature = float(p @ hp)
        if not curvature > 0.0:
            if not step.any():
                step = z
            break
        alpha = rz / curvature
        step += alpha * p
        r = r - alpha * hp
        z = r / scale
        rz, rz_old = float(r @ z), rz
        p = z + (rz / rz_old) * p
    return step


def fit_wide(X, y01, sw, lam, fit_intercept, tol, max_iter, theta0):
    """Newton-CG for one model from theta0 (d+1,); returns (theta (1, d+1), (n_iter,
    converged)), the contract of ``crmjit._newton.fit_problem``."""
    problem = WideProblem(X, y01, sw, lam, fit_intercept)
    theta = np.array(theta0, dtype=np.float64)
    f, g, hdiag = problem.evaluate(theta)
    g0 = max(float(np.linalg.norm(g)), 1e-300)
    max_cg = 2 * theta.shape[0]
    for it in range(1, max_iter + 1):
        rtol = min(0.5, math.sqrt(float(np.linalg.norm(g)) / g0))
        step = conjugate_gradient(problem, g, hdiag, rtol, max_cg,
                                  small=lambda s: _converged(s, theta, tol))
        if _converged(step, theta, tol):
            return (theta + step)[None, :], (it, True)
        t = 1.0
        while True:
            trial = theta + t * step
            ft, gt, ht = problem.evaluate(trial)
            if _accept(f, ft, g, gt, step, t):
                break
            t *= 0.5
            if t < MIN_STEP:
                return theta[None, :], (it, False)
        theta, f, g, hdiag = trial, ft, gt, ht
    return theta[None, :], (max_iter, False)
