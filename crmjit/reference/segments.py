"""Pure-Python twins of :mod:`crmjit.kernels.segments` and a plain Newton fit."""

from __future__ import annotations

import math

from .logloss import block_terms, load_rows
from .newton import solve


def penalised(xt, yb, sb, m, theta, lam, n_free, want_h):
    """(f, g, H or None) of sum s*logloss + 0.5 lam ||w||^2 on a loaded segment; the
    intercept's gradient is zero when it is held fixed (n_free = d).  The kernel's modes
    only choose the precision it computes this in (float64; float32 Hessian sums; all data
    terms in float32)."""
    loss, _, g, h = block_terms(xt, yb, sb, m, theta, want_h)
    d = len(theta) - 1
    f = loss + 0.5 * lam * sum(w * w for w in theta[:d])
    g = [v + (lam * theta[j] if j < d else 0.0) for j, v in enumerate(g)]
    if n_free < d + 1:
        g[d] = 0.0
    if h is not None:
        h = [[v + (lam if j == m2 and j < d else 0.0) for m2, v in enumerate(row)]
             for j, row in enumerate(h)]
    return f, g, h


def segment_newton(xt, yb, sb, m, lam, n_free, tol=1e-12, max_iter=100):
    """The plain fit on a loaded segment: (theta, converged)."""
    rows = [[xt[j][r] for j in range(len(xt) - 1)] for r in range(m)]
    return newton(rows, yb[:m], sb[:m], lam, n_free, tol, max_iter)


def newton(X, y, sample_weight, lam, n_free, tol=1e-12, max_iter=100):
    """Plain Newton on sum s*logloss + 0.5 lam ||w||^2 from zero for tiny data (n_free = d:
    intercept held at 0); returns (theta, converged)."""
    d = len(X[0])
    theta = [0.0] * (d + 1)
    xt = [[float(row[j]) for row in X] for j in range(d)] + [[1.0] * len(X)]
    for _ in range(max_iter):
        _, g, H = penalised(xt, y, sample_weight, len(X), theta, lam, n_free, True)
        step = solve([row[:n_free] for row in H[:n_free]], [-v for v in g[:n_free]])
        for j in range(n_free):
            theta[j] += step[j]
        if max(abs(v) for v in step) < tol:
            return theta, True
    return theta, False


def fit(X, y, sample_weight, C, fit_intercept=True, tol=1e-12, max_iter=100):
    """Plain Newton on C * sum s*logloss + 0.5 ||w||^2 for tiny data; returns (coef, b).
    (The same minimiser as sum s*logloss + 0.5 ||w||^2 / C.)"""
    d = len(X[0])
    theta, _ = newton(X, y, sample_weight, 0.0 if math.isinf(C) else 1.0 / C,
                      d + 1 if fit_intercept else d, tol, max_iter)
    return theta[:d], theta[d]


def fit_grouped(X, y, groups, sample_weight, C, fit_intercept=True):
    """The plain fit applied group by group: {label: (coef, intercept)}."""
    out = {}
    for label in sorted(set(groups)):
        rows = [i for i, g in enumerate(groups) if g == label]
        sw = sample_weight if len(sample_weight) == 1 else [sample_weight[i] for i in rows]
        c = C[label] if isinstance(C, dict) else C
        out[label] = fit([X[i] for i in rows], [y[i] for i in rows], sw, c, fit_intercept)
    return out


def fit_segments(X, y, sample_weight, order, offsets, items, lam, n_free):
    """{segment: theta} of the plain fit on each segment in items (the kernel's lanes take
    them in any order; neither the lanes nor the order change any result); None for a
    segment whose rows hold a NaN or inf (the kernel: n_iter -1); segments with lam < 0
    are only checked, not fitted (left out)."""
    out = {}
    for s in items:
        xt, yb, sb, finite = load_rows(X, y, sample_weight, order, offsets[s],
                                       offsets[s + 1] - offsets[s])
        if not finite:
            out[s] = None
        elif lam[s] >= 0:
            out[s] = segment_newton(xt, yb, sb, len(yb), lam[s], n_free)[0]
    return out


def padded(m, pad=16):
    """m rounded up to a multiple of pad (the kernel solves a segment on that many rows,
    the extra ones of weight 0, which change no sum)."""
    return -(-m // pad) * pad


def segment_blocks(m, block):
    """(blocks, rows per block) of a segment of m rows solved in blocks of up to block."""
    b = max(1, min(m, block))
    return max(1, -(-m // b)), b


def lane_size(k, m, block, pad=16):
    """Values in a lane buffer for segments of up to m rows of k columns: a blocked copy
    (blocks, k, b) of the padded rows and two (blocks, b) arrays."""
    nb, b = segment_blocks(padded(m, pad), block)
    return nb * b * (k + 2)


def carve(k, m, block):
    """The shapes of a segment's blocked copy carved from a lane buffer: (blocks, k, b),
    (blocks, b), (blocks, b) for m rows in blocks of up to block rows."""
    nb, b = segment_blocks(m, block)
    return (nb, k, b), (nb, b), (nb, b)


def load_padded(X, y, sample_weight, order, s0, rows, pad=16):
    """(xt, yb, sb, finite): ``load_rows`` of the segment followed by padded(rows) - rows
    rows of zeros with weight 0 (the kernel cuts them into blocks)."""
    xt, yb, sb, finite = load_rows(X, y, sample_weight, order, s0, rows)
    extra = [0.0] * (padded(rows, pad) - rows)
    return [col + extra for col in xt], yb + extra, sb + extra, finite


def fit_batch(batch, X, y, sample_weight, order, offsets, lam, n_free):
    """{segment: theta} of the plain fit on each segment of the batch (``fit_segments``)."""
    return fit_segments(X, y, sample_weight, order, offsets, batch, lam, n_free)
