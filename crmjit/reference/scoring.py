"""Pure-Python twins of :mod:`crmjit.kernels.scoring`."""

from __future__ import annotations

import math

from .elementwise import sigmoid
from .value import _at


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
