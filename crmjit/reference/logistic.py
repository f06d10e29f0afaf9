"""Pure-Python twins of :mod:`crmjit.kernels.logistic` and a plain Newton fit."""

from __future__ import annotations

import math

from .value import _at

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


def row_dot(X, i, W, c, b):
    """b + X[i] . W[c]."""
    return b + sum(x * w for x, w in zip(X[i], W[c]))


def sigmoid_into(z, m):
    """(sigmoid of the first m values, how many of them are NaN or inf)."""
    bad = sum(1 for v in z[:m] if math.isnan(v) or math.isinf(v))
    return [sigmoid(v) for v in z[:m]], bad


def decision_function(X, codes, coefs, intercepts):
    """intercepts[c] + x . coefs[c] per row, c its code (one code: the same for all)."""
    return [row_dot(X, i, coefs, _at(codes, i), intercepts[_at(codes, i)])
            for i in range(len(X))]


def predict_proba(X, codes, coefs, intercepts):
    """sigmoid(intercepts[c] + x . coefs[c]) per row."""
    return [sigmoid(z) for z in decision_function(X, codes, coefs, intercepts)]


def predict_proba_columns(cols, coef, intercept):
    """sigmoid(intercept + sum_j cols[j][i] coef[j]) per row, features given by column."""
    return [sigmoid(intercept + sum(c[i] * w for c, w in zip(cols, coef)))
            for i in range(len(cols[0]))]


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


def block_terms(X, y, sample_weight, s0, m, theta, want_h):
    """(loss, weight, grad, hess or None) of rows s0 .. s0+m-1."""
    rows = X[s0:s0 + m]
    sw = sample_weight if len(sample_weight) == 1 else sample_weight[s0:s0 + m]
    loss, weight, _, grad, hess = logistic_pass(rows, y[s0:s0 + m], sw, theta, 1, 1,
                                                1 if want_h else 0)
    return loss, weight, grad, (hess if want_h else None)


def block_scratch(k):
    """The kernel's scratch buffers: nothing to compute in Python."""
    return None


def segment_pass(X, y, sample_weight, offsets, active, thetas):
    """{segment: (loss, weight, grad, hess)} for the active segments of grouped data (the
    kernel takes them dealt into slots; the order does not change any result)."""
    out = {}
    for s in active:
        lo, hi = offsets[s], offsets[s + 1]
        sw = sample_weight if len(sample_weight) == 1 else sample_weight[lo:hi]
        loss, weight, _, grad, hess = logistic_pass(X[lo:hi], y[lo:hi], sw, thetas[s], 1, 1,
                                                    1)
        out[s] = (loss, weight, grad, hess)
    return out


def newton_direction(g, H, k):
    """-H[:k, :k]^-1 g[:k] padded with zeros to len(g)."""
    step = solve([row[:k] for row in H[:k]], [-v for v in g[:k]])
    return step + [0.0] * (len(g) - k)


def newton_directions(grads, hess, idx, k):
    """{s: newton_direction(grads[s], hess[s], k)} for s in idx."""
    return {s: newton_direction(grads[s], hess[s], k) for s in idx}


def group_order(codes, n_groups):
    """(order, offsets): a stable sort of row indices by code, and segment boundaries."""
    order = sorted(range(len(codes)), key=lambda i: codes[i])
    offsets = [0] * (n_groups + 1)
    for c in codes:
        offsets[c + 1] += 1
    for s in range(n_groups):
        offsets[s + 1] += offsets[s]
    return order, offsets


def map_labels(labels, table):
    """([table[v] or -1 outside the table, ...], how many are negative)."""
    out = [table[v] if 0 <= v < len(table) else -1 for v in labels]
    return out, sum(1 for c in out if c < 0)


def gather_rows(X, order):
    """[X[i] for i in order]."""
    return [list(X[i]) for i in order]


def fit_grouped(X, y, groups, sample_weight, C, fit_intercept=True):
    """The plain fit applied group by group: {label: (coef, intercept)}."""
    out = {}
    for label in sorted(set(groups)):
        rows = [i for i, g in enumerate(groups) if g == label]
        sw = sample_weight if len(sample_weight) == 1 else [sample_weight[i] for i in rows]
        c = C[label] if isinstance(C, dict) else C
        out[label] = fit([X[i] for i in rows], [y[i] for i in rows], sw, c, fit_intercept)
    return out


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
