"""Pure-Python twins of :mod:`crmjit.kernels.elementwise`."""

from __future__ import annotations

import math


def exp_neg_abs(z):
    """e^(-|z|)."""
    return math.exp(-abs(z))


def exp_neg_abs32(z):
    """e^(-|z|) (the kernel computes it in float32)."""
    return math.exp(-abs(z))


def log1p_unit(e):
    """log(1 + e)."""
    return math.log1p(e)


def log(u):
    """The natural log, with the kernel's answers where math.log raises: -inf at 0, NaN
    below 0."""
    if u > 0.0:
        return math.log(u)
    return -math.inf if u == 0.0 else math.nan


def sigmoid(z):
    """1 / (1 + e^-z), on the side that cannot overflow."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def sigmoid32(z):
    """1 / (1 + e^-z) (the kernel computes it in float32)."""
    return sigmoid(z)


def log1pexp(z):
    """log(1 + e^z), on the side that cannot overflow."""
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))
