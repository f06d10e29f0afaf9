"""Passes for wide data (thousands of features, or more features than rows), where a
(d+1, d+1) Hessian is too large to form: the solver (``crmjit._newton_cg``) needs the
loss, the gradient, the Hessian's diagonal and Hessian-vector products, each one read of
X's rows in place, O(d) memory a row.

For rows i with weights s_i, labels y_i in {0, 1}, z_i = theta . (x_i, 1) and
p_i = sigmoid(z_i):

* ``_wide_terms``: loss = sum_i s_i logloss_i, weight = sum_i s_i,
  g += sum_i s_i (p_i - y_i) (x_i, 1), hdiag += sum_i q_i (x_i, 1)^2 and q_i = s_i p_i (1 - p_i)
  written per row (the Hessian's row weights at theta);
* ``_wide_hessvec``: out += sum_i q_i (v . (x_i, 1)) (x_i, 1), i.e. (X1^T Q X1) v.

Rows are taken four at a time: four dot products, then one pass along the features that
adds all four rows (the sums are read and written a quarter as often; 2x faster than row
by row on 100k x 2000, measured).  Each call covers rows [r0, r1) and adds into its own
slots; the caller runs fixed spans on the threads and merges the slots in span order
(identical results for any thread count).  No penalty: the solver adds it.
"""

from __future__ import annotations

from ._jit import serial, serial_inline
from .elementwise import _log1pexp, _sigmoid
from .logloss import _theta_dot

ROWS = 4  # rows added to the sums in one pass along the features


@serial_inline
def _row_weights(X, y, sample_weight, theta, i, q):
    """(loss, weight, a, b) of row i: a = s (p - y) (gradient), b = s p (1 - p), also
    written to q[i]."""
    s = sample_weight[0] if sample_weight.shape[0] == 1 else sample_weight[i]
    z = _theta_dot(X, i, theta)
    p = _sigmoid(z)
    b = s * p * (1.0 - p)
    q[i] = b
    return s * (_log1pexp(z) - y[i] * z), s, s * (p - y[i]), b


@serial
def _wide_terms(X, y, sample_weight, theta, q, g, hdiag, r0, r1):
    """Rows r0 .. r1-1 of X (n, d) float32/float64 (C order reads fastest), y (n,) uint8
    0/1, sample_weight (1,) or (n,) float64, theta (d+1,): adds to g and hdiag (d+1,),
    writes q[r0:r1], returns (loss, weight) of those rows."""
    d = X.shape[1]
    loss = 0.0
    weight = 0.0
    i = r0
    while i < r1:
        if i + ROWS <= r1:
            l0, s0, a0, b0 = _row_weights(X, y, sample_weight, theta, i, q)
            l1, s1, a1, b1 = _row_weights(X, y, sample_weight, theta, i + 1, q)
            l2, s2, a2, b2 = _row_weights(X, y, sample_weight, theta, i + 2, q)
            l3, s3, a3, b3 = _row_weights(X, y, sample_weight, theta, i + 3, q)
            loss += (l0 + l1) + (l2 + l3)
            weight += (s0 + s1) + (s2 + s3)
            x0, x1, x2, x3 = X[i], X[i + 1], X[i + 2], X[i + 3]
            for j in range(d):
                u0, u1, u2, u3 = x0[j], x1[j], x2[j], x3[j]
                g[j] += (a0 * u0 + a1 * u1) + (a2 * u2 + a3 * u3)
                hdiag[j] += (b0 * u0 * u0 + b1 * u1 * u1) + (b2 * u2 * u2 + b3 * u3 * u3)
            g[d] += (a0 + a1) + (a2 + a3)
            hdiag[d] += (b0 + b1) + (b2 + b3)
            i += ROWS
        else:
            l0, s0, a0, b0 = _row_weights(X, y, sample_weight, theta, i, q)
            loss += l0
            weight += s0
            x0 = X[i]
            for j in range(d):
                g[j] += a0 * x0[j]
                hdiag[j] += b0 * x0[j] * x0[j]
            g[d] += a0
            hdiag[d] += b0
            i += 1
    return loss, weight


@serial
def _wide_hessvec(X, q, v, out, r0, r1):
    """out (d+1,) += sum over rows r0 .. r1-1 of q_i (v . (x_i, 1)) (x_i, 1); returns the
    number of rows read."""
    d = X.shape[1]
    i = r0
    while i < r1:
        if i + ROWS <= r1:
            t0 = q[i] * _theta_dot(X, i, v)
            t1 = q[i + 1] * _theta_dot(X, i + 1, v)
            t2 = q[i + 2] * _theta_dot(X, i + 2, v)
            t3 = q[i + 3] * _theta_dot(X, i + 3, v)
            x0, x1, x2, x3 = X[i], X[i + 1], X[i + 2], X[i + 3]
            for j in range(d):
                out[j] += (t0 * x0[j] + t1 * x1[j]) + (t2 * x2[j] + t3 * x3[j])
            out[d] += (t0 + t1) + (t2 + t3)
            i += ROWS
        else:
            t0 = q[i] * _theta_dot(X, i, v)
            x0 = X[i]
            for j in range(d):
                out[j] += t0 * x0[j]
            out[d] += t0
            i += 1
    return r1 - r0
