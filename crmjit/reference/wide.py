"""Pure-Python twins of :mod:`crmjit.kernels.wide`."""

from __future__ import annotations

from .elementwise import log1pexp, sigmoid
from .logloss import theta_dot


def row_weights(X, y, sample_weight, theta, i):
    """(loss, weight, a, b) of row i: s logloss, s, s (p - y) and s p (1 - p)."""
    s = sample_weight[0] if len(sample_weight) == 1 else sample_weight[i]
    z = theta_dot(X, i, theta)
    p = sigmoid(z)
    return s * (log1pexp(z) - y[i] * z), s, s * (p - y[i]), s * p * (1 - p)


def wide_terms(X, y, sample_weight, theta, r0, r1):
    """(loss, weight, q, g, hdiag) of rows r0 .. r1-1: q the rows' s p (1 - p), g and
    hdiag (d+1,) the gradient and the Hessian's diagonal, without the penalty."""
    d = len(theta) - 1
    loss = weight = 0.0
    q, g, hdiag = [], [0.0] * (d + 1), [0.0] * (d + 1)
    for i in range(r0, r1):
        li, si, a, b = row_weights(X, y, sample_weight, theta, i)
        loss, weight = loss + li, weight + si
        q.append(b)
        for j, x in enumerate(list(X[i]) + [1.0]):
            g[j] += a * x
            hdiag[j] += b * x * x
    return loss, weight, q, g, hdiag


def wide_hessvec(X, q, v, r0, r1):
    """sum over rows r0 .. r1-1 of q_i (v . (x_i, 1)) (x_i, 1), a list of d+1."""
    out = [0.0] * len(v)
    for i in range(r0, r1):
        t = q[i] * theta_dot(X, i, v)
        for j, x in enumerate(list(X[i]) + [1.0]):
            out[j] += t * x
    return out
