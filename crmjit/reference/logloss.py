"""Pure-Python twins of :mod:`crmjit.kernels.logloss`."""

from __future__ import annotations

import math

from .elementwise import log1pexp, sigmoid

BLOCK = 256  # rows per block of the kernels' passes


def logistic_pass(X, y, sample_weight, theta, n_chunks, row_stride, hess_stride):
    """(loss, weight, hess_weight, grad, hess): sums of s*logloss, s, s*(p-y)*(x,1) over
    the rows of every row_stride-th block of BLOCK rows, and s*p*(1-p)*(x,1)(x,1)^T over
    every hess_stride-th of those blocks."""
    d = len(theta) - 1
    loss, weight, hw = 0.0, 0.0, 0.0
    grad = [0.0] * (d + 1)
    hess = [[0.0] * (d + 1) for _ in range(d + 1)]
    for i, row in enumerate(X):
        if (i // BLOCK) % row_stride != 0:
            continue
        s = sample_weight[0] if len(sample_weight) == 1 else sample_weight[i]
        weight += s
        x = list(row) + [1.0]
        z = sum(a * b for a, b in zip(x, theta))
        p = sigmoid(z)
        loss += s * (log1pexp(z) - y[i] * z)
        for j in range(d + 1):
            grad[j] += s * (p - y[i]) * x[j]
        if hess_stride > 0 and (i // BLOCK) % (row_stride * hess_stride) == 0:
            hw += s
            for j in range(d + 1):
                for m in range(d + 1):
                    hess[j][m] += s * p * (1 - p) * x[j] * x[m]
    return loss, weight, hw, grad, hess


def load_rows(X, y, sample_weight, order, s0, m):
    """(xt, yb, sb, finite): rows s0 .. s0+m-1 of X (rows order[s0 ..] when order is not
    empty) as feature columns xt (d+1 lists of m, ones last), and y, sample_weight at
    positions s0 .. s0+m-1 (already grouped by the caller; the kernel writes the same, cut
    into blocks of B rows); finite: every value of those rows of X is finite."""
    rows = [s0 + r if not order else order[s0 + r] for r in range(m)]
    d = len(X[0])
    xt = [[float(X[i][j]) for i in rows] for j in range(d)] + [[1.0] * m]
    at = range(s0, s0 + m)
    sb = [sample_weight[0] if len(sample_weight) == 1 else sample_weight[p] for p in at]
    finite = all(math.isfinite(v) for col in xt for v in col)
    return xt, [float(y[p]) for p in at], sb, finite


def dot(a, b, m):
    """sum a[r] * b[r] over r < m."""
    return sum(a[r] * b[r] for r in range(m))


def total(a, m):
    """sum a[r] over r < m."""
    return sum(a[:m])


def hess_upper(xt, q, m):
    """sum_r q[r] xt[:, r] xt[:, r]^T (the kernel adds its upper triangle)."""
    k = len(xt)
    return [[sum(q[r] * xt[j][r] * xt[l][r] for r in range(m)) for l in range(k)]
            for j in range(k)]


def hess_tile(xq, xt, l0, m, j0):
    """The 4 x 4 block added to h[j0:j0+4, l0:l0+4]: sum_r xq[t][r] * xt[l0+u][r] (the
    kernel's xq rows are the Hessian rows j0 .. j0+3 already multiplied by q; j0 only
    places the block)."""
    return [[sum(xq[t][r] * xt[l0 + u][r] for r in range(m)) for u in range(4)]
            for t in range(4)]


def symmetrize(h):
    """h with its upper triangle copied onto the lower one."""
    return [[h[min(j, l)][max(j, l)] for l in range(len(h))] for j in range(len(h))]


def row_terms(z, yb, sb, m):
    """(loss, rb, qb): sum s*logloss, s (p - y) and s p (1 - p) at linear predictors z."""
    p = [sigmoid(v) for v in z[:m]]
    loss = sum(sb[r] * (log1pexp(z[r]) - yb[r] * z[r]) for r in range(m))
    return (loss, [sb[r] * (p[r] - yb[r]) for r in range(m)],
            [sb[r] * p[r] * (1 - p[r]) for r in range(m)])


def theta_dot(X, i, theta):
    """theta[d] + X[i] . theta[:d]."""
    return theta[-1] + sum(float(x) * t for x, t in zip(X[i], theta))


def rows_gradient(X, y, sample_weight, s0, m, theta):
    """(loss, weight, grad) of rows s0 .. s0+m-1."""
    xt, yb, sb, _ = load_rows(X, y, sample_weight, [], s0, m)
    loss, weight, grad, _ = block_terms(xt, yb, sb, m, theta, False)
    return loss, weight, grad


def block_terms(xt, yb, sb, m, theta, want_h):
    """(loss, weight, grad, hess or None) of the first m rows of a loaded block."""
    rows = [[xt[j][r] for j in range(len(xt) - 1)] for r in range(m)]
    loss, weight, _, grad, hess = logistic_pass(rows, yb[:m], sb[:m], theta, 1, 1,
                                                1 if want_h else 0)
    return loss, weight, grad, (hess if want_h else None)
