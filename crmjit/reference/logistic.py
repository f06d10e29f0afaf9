"""Pure-Python twins of :mod:`crmjit.kernels.logistic` and a plain Newton fit."""

from __future__ import annotations

import math

BLOCK = 256


def exp_neg_abs(z):
    """e^(-|z|)."""
    return math.exp(-abs(z))


def log1p_unit(e):
    """log(1 + e)."""
    return math.log1p(e)


def sigmoid(z):
    """1 / (1 + e^-z), on the side that cannot overflow."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def log1pexp(z):
    """log(1 + e^z), on the side that cannot overflow."""
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def row_dot(X, i, w, b):
    """b + X[i] . w."""
    return b + sum(x * c for x, c in zip(X[i], w))


def sigmoid_block(z, m):
    """sigmoid of the first m values."""
    return [sigmoid(v) for v in z[:m]]


def sigmoid_into(z, m):
    """(sigmoid of the first m values, how many of them are NaN or inf)."""
    bad = sum(1 for v in z[:m] if math.isnan(v) or math.isinf(v))
    return sigmoid_block(z, m), bad


def decision_function(X, coef, intercept):
    """intercept + x . coef per row."""
    return [row_dot(X, i, coef, intercept) for i in range(len(X))]


def predict_proba(X, coef, intercept):
    """sigmoid(intercept + x . coef) per row."""
    return [sigmoid(z) for z in decision_function(X, coef, intercept)]


#: twin of ``_predict_proba_blas`` (same numbers; only the kernel's dot product differs)
predict_proba_blas = predict_proba


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


def fit(X, y, sample_weight, C, fit_intercept=True, tol=1e-12, max_iter=100):
    """Plain Newton on C * sum s*logloss + 0.5 ||w||^2 for tiny data; returns (coef, b)."""
    d = len(X[0])
    theta = [0.0] * (d + 1)
    k = d + 1 if fit_intercept else d
    for _ in range(max_iter):
        _, _, _, g, H = logistic_pass(X, y, sample_weight, theta, 1, 1, 1)
        g = [C * v + (theta[j] if j < d else 0.0) for j, v in enumerate(g)]
        H = [[C * H[j][m] + (1.0 if j == m and j < d else 0.0) for m in range(d + 1)]
             for j in range(d + 1)]
        step = solve([row[:k] for row in H[:k]], [-v for v in g[:k]])
        for j in range(k):
            theta[j] += step[j]
        if max(abs(v) for v in step) < tol:
            break
    return theta[:d], theta[d]
