"""Damped Newton for L2-penalised logistic regression: the single model's solver, which
solves several problems in lock-step, each with its own step length.  The step rules and
constants are those of :mod:`crmjit.kernels.newton`, which the per-segment solver
(``crmjit.kernels.segments._segment_newton``) uses too.  :func:`minimize` also solves the
probabilistic-CLV likelihoods (``crmjit.btyd``), per segment in lock-step.

Each problem minimises ``f(theta) = sum_i s_i logloss_i + 0.5 * lam * ||w||^2`` with
``lam = 1 / C``: the same minimiser as scikit-learn's ``C * sum_i s_i logloss_i +
0.5 ||w||^2`` (``C = inf`` is ``lam = 0``).  theta is ``(w, b)``; b is not penalised.

One model (``Problem``): each evaluation is one fused, row-parallel read of X (loss, exact
gradient, Hessian).  On large data the Hessian is taken from a fixed, evenly spread subset of
row blocks (>= ``HESS_MIN_ROWS`` rows) and rescaled, and above ``4 * HESS_MIN_ROWS`` rows
the solve starts from the optimum of an evenly spread subset of blocks.  The fixed point is
still where the *exact* full gradient vanishes, so the optimum is unchanged; a Hessian
error of a fraction of a percent only makes quadratic convergence linear at that rate.

The per-segment solver lags the Hessian (``FRESH_HESSIAN_ITERS``, ``LAG_STEP``);
:func:`minimize` recomputes it at every evaluation (the single model's is already
subsampled, cheap).
"""

from __future__ import annotations

import numpy as np

from .kernels._jit import fixed_chunks
from . import _compile, _threads
from .kernels.newton import MIN_STEP, _accept_all, _converged_all, _newton_directions
from .kernels.passes import BLOCK, _chunk_blocks, _chunk_terms, _merge_parts

STALL = 2.0 ** -20  # an accepted step this much shorter than Newton's: the solve crawls
HESS_MIN_ROWS = 1 << 16  # 64k rows: measured 15 % faster than 128k at 1M rows, same optimum
CHUNK_ROWS = 1 << 12  # the one-model passes' chunks have at least this many rows


def hess_stride(n):
    """Use every stride-th block of rows for the Hessian, keeping >= HESS_MIN_ROWS rows."""
    return max(1, n // HESS_MIN_ROWS)


def row_stride(n):
    """Every stride-th block for the warm-start stage (>= HESS_MIN_ROWS rows); 1 (no warm
    start) below 4 * HESS_MIN_ROWS rows, where it would not pay."""
    return n // HESS_MIN_ROWS if n >= 4 * HESS_MIN_ROWS else 1


def _slots(n_chunks, k):
    return np.zeros((n_chunks, 3)), np.zeros((n_chunks, k)), np.zeros((n_chunks, k, k))


def logistic_pass(X, y, sample_weight, theta, n_chunks, row_stride, hess_stride, grad, hess):
    """One fused read of X (of every ``row_stride``-th block of BLOCK rows; 1 = all rows)
    in ``n_chunks`` fixed chunks of whole blocks run on the kernel threads and merged in
    chunk order (``crmjit.kernels.passes``): returns (loss, weight, hess_weight) and fills
    grad (d+1,) and hess (d+1, d+1)."""
    n, d = X.shape
    chunk = -(-(-(-n // n_chunks)) // BLOCK) * BLOCK
    parts, part_g, part_h = _slots(n_chunks, d + 1)
    _threads.run(_chunk_terms, [(X, y, sample_weight, theta, chunk, c0, c1, row_stride,
                                 hess_stride, parts, part_g, part_h)
                                for c0, c1 in _threads.spans(n_chunks, _per_task(n_chunks))],
                 work=n // row_stride)
    return _merge_parts(parts, part_g, part_h, grad, hess)


def _per_task(n_chunks):
    """Chunks per task: about two tasks a thread (a hand-off costs tens of microseconds;
    the chunks, and so the sums, stay the same)."""
    return max(1, -(-n_chunks // (2 * _threads.threads())))


def blocks_pass(xt, yb, sb, m, theta, n_chunks, row_stride, hess_stride, grad, hess):
    """``logistic_pass`` on a segment loaded in blocks (xt (nb, d+1, B), yb, sb of m rows):
    the same sums and strides, counted in blocks, in n_chunks fixed chunks of blocks."""
    nb = -(-m // xt.shape[2])
    per = -(-nb // n_chunks)
    parts, part_g, part_h = _slots(n_chunks, xt.shape[1])
    _threads.run(_chunk_blocks, [(xt, yb, sb, m, theta, per, c0, c1, row_stride, hess_stride,
                                  parts, part_g, part_h)
                                 for c0, c1 in _threads.spans(n_chunks, _per_task(n_chunks))],
                 work=m // row_stride)
    return _merge_parts(parts, part_g, part_h, grad, hess)


def _add_penalty(theta, lam, d, fit_intercept, f, g, H, idx, h_idx):
    """Add the L2 term to f and g of problems idx, and to the Hessians of h_idx."""
    w = theta[idx, :d]
    f[idx] += 0.5 * lam[idx] * np.einsum("ij,ij->i", w, w)
    g[idx, :d] += lam[idx, None] * w
    diag = np.arange(d)
    H[h_idx[:, None], diag, diag] += lam[h_idx, None]
    if not fit_intercept:
        g[idx, d] = 0.0


class Problem:
    """One model on X (n, d).  ``rows > 1``: the objective on every rows-th block of rows,
    loss and gradient scaled up by total weight / weight read (a warm-start stand-in)."""

    def __init__(self, X, y, sample_weight, lam, fit_intercept, rows=1):
        self.X, self.y, self.sw = X, y, sample_weight
        self.lam = np.array([lam], dtype=np.float64)
        self.fit_intercept = fit_intercept
        n, self.d = X.shape
        self.n_chunks = fixed_chunks(n, min_chunk=CHUNK_ROWS)  # small n still uses both threads
        self.rows = rows
        self.stride = hess_stride(n // rows)
        self.total_weight = (sample_weight[0] * n if sample_weight.shape[0] == 1
                             else float(np.sum(sample_weight)))

    def _pass(self, theta, g, H):
        return logistic_pass(self.X, self.y, self.sw, theta, self.n_chunks, self.rows,
                             self.stride, g, H)

    def evaluate(self, theta, idx, f, g, H):
        """f, g, H at theta for problem 0 (idx is [0])."""
        loss, weight, hw = self._pass(theta[0], g[0], H[0])
        exact = self.rows == 1 and self.stride == 1
        scale = 1.0 if self.rows == 1 else self.total_weight / max(weight, 1e-300)
        f[0] = scale * loss
        g[0] *= scale
        if not exact and hw > 0:
            H[0] *= self.total_weight / hw
        if not np.isfinite(H[0]).all():  # x_j**2 beyond float64: no Newton step exists
            raise OverflowError("the Hessian overflows float64")
        _add_penalty(theta, self.lam, self.d, self.fit_intercept, f, g, H, idx, idx)


class SegmentProblem(Problem):
    """One model on a segment already loaded in blocks of BLOCK rows (``load_segment``:
    xt (blocks, d+1, BLOCK), yb, sb), m rows of total weight ``total_weight``; strides
    count blocks, as in ``Problem``.  Each evaluation reads the blocks in parallel
    (``blocks_pass``) instead of gathering and transposing X again."""

    def __init__(self, xt, yb, sb, m, lam, fit_intercept, total_weight, rows=1):
        self.xt, self.yb, self.sb, self.m = xt, yb, sb, m
        self.lam = np.array([lam], dtype=np.float64)
        self.fit_intercept = fit_intercept
        self.d = xt.shape[1] - 1
        self.n_chunks = min(xt.shape[0], 64)  # a function of the size only
        self.rows = rows
        self.stride = hess_stride(m // rows)
        self.total_weight = total_weight

    def _pass(self, theta, g, H):
        return blocks_pass(self.xt, self.yb, self.sb, self.m, theta, self.n_chunks,
                           self.rows, self.stride, g, H)


def fit_problem(make, n, theta0, tol, max_iter):
    """Damped Newton for one model of n rows from theta0 (d+1,): ``make(rows)`` builds the
    problem on every rows-th block (1: all).  Above 4 * HESS_MIN_ROWS rows a warm start
    on an evenly spread subset of blocks (cheap passes) comes first.  Returns
    (theta (1, d+1), (n_iter, converged))."""
    theta = np.array(theta0, dtype=np.float64).reshape(1, -1)
    rows = row_stride(n)
    if rows > 1:
        start = theta.copy()
        minimize(make(rows), start, 1e-3, max_iter)
        if np.all(np.isfinite(start)):
            theta = start
    n_iter, converged = minimize(make(1), theta, tol, max_iter)
    return theta, (int(n_iter[0]), bool(converged[0]))


def _directions(problem, g, H, idx, n_free, step):
    """Newton directions of problems idx; with ``problem.max_step`` set, a direction whose
    largest coordinate exceeds it is shortened to it (a trust region for likelihoods whose
    Hessian is indefinite far from the optimum)."""
    _newton_directions(g, H, idx, n_free, step)
    cap = getattr(problem, "max_step", None)
    if cap is not None and idx.size:
        size = np.max(np.abs(step[idx]), axis=1)
        shrink = np.minimum(1.0, cap / np.maximum(size, 1e-300))
        step[idx] *= shrink[:, None]


class _Quadratic:
    """f(theta) = ||theta - 1||^2 / 2 for every problem: what
    ``crmjit._compile.warm_solver`` solves to compile this solver's own kernels, whose
    signatures are the same for every problem."""

    fit_intercept = True

    def evaluate(self, theta, idx, f, g, H):
        f[idx] = 0.5 * np.sum((theta[idx] - 1.0) ** 2, axis=1)
        g[idx] = theta[idx] - 1.0
        H[idx] = np.eye(theta.shape[1])


def minimize(problem, theta, tol, max_iter, active=None):
    """Damped Newton on every problem at once (those where ``active`` is True, default
    all) from theta (G, k), which is updated in place.  Returns (n_iter (G,),
    converged (G,) bool).

    ``problem`` is anything with ``evaluate(theta, idx, f, g, H)`` (writes the objective,
    gradient and Hessian of problems idx) and ``fit_intercept`` (False: the last coordinate
    is held fixed).  The logistic problems here and the likelihoods of the BG/NBD,
    Gamma-Gamma, Pareto/NBD, BG/BB and sBG models (``crmjit.btyd`` and the modules beside it)
    share it."""
    G, k = theta.shape
    n_free = k if problem.fit_intercept else k - 1
    f, g, H = np.zeros(G), np.zeros((G, k)), np.zeros((G, k, k))
    step = np.zeros((G, k))
    t = np.ones(G)
    n_iter = np.zeros(G, dtype=np.int64)
    converged = np.zeros(G, dtype=bool)
    done = np.zeros(G, dtype=bool) if active is None else ~np.asarray(active, dtype=bool)
    all_idx = np.flatnonzero(~done)
    _compile.first_call_helper("warm_solver", _newton_directions)
    problem.evaluate(theta, all_idx, f, g, H)
    _compile.await_helper()  # the solver's kernels are in the cache: load them
    _directions(problem, g, H, all_idx, n_free, step)
    ft, gt, Ht = f.copy(), g.copy(), H.copy()
    while True:
        # Converged: the Newton step from the current point is below tol; take it.
        conv = np.zeros(G, dtype=bool)
        _converged_all(step, theta, float(tol), np.flatnonzero(~done & (t == 1.0)), conv)
        theta[conv] += step[conv]
        n_iter[conv] += 1
        converged |= conv
        done |= conv | (n_iter >= max_iter)
        idx = np.flatnonzero(~done)
        if idx.size == 0:
            break
        trial = theta.copy()
        trial[idx] += t[idx, None] * step[idx]
        problem.evaluate(trial, idx, ft, gt, Ht)
        ok = _accept_all(f, ft, g, gt, step, t, idx, np.empty(idx.size, dtype=np.bool_))
        acc, rej = idx[ok], idx[~ok]
        theta[acc], f[acc], g[acc], H[acc] = trial[acc], ft[acc], gt[acc], Ht[acc]
        n_iter[acc] += 1
        done[acc[t[acc] < STALL]] = True  # crawling (a runaway): give up, not converged
        t[acc] = 1.0
        if acc.size:
            _directions(problem, g, H, acc, n_free, step)
        t[rej] *= 0.5
        done[rej[t[rej] < MIN_STEP]] = True  # no acceptable step: give up, not converged
    return n_iter, converged
