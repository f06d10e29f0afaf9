"""Pure-Python twin of :mod:`crmjit.kernels.sbg`."""

from __future__ import annotations

import math

from .special import digamma, trigamma


def sbg_table_pass(lifetimes, churned, weights, alpha, beta):
    """[log-likelihood, d/d alpha, d/d beta, d2 aa, d2 ab, d2 bb] of one segment's
    customers (lifetime t, churned 0/1, weight), from the plain log-beta definitions."""
    def log_beta(x, y):
        return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)
    out = [0.0] * 6
    for t, c, w in zip(lifetimes, churned, weights):
        x, y = (alpha + 1.0, beta + t - 1.0) if c else (alpha, beta + t)
        out[0] += w * (log_beta(x, y) - log_beta(alpha, beta))
        s, s0 = digamma(x + y), digamma(alpha + beta)
        out[1] += w * (digamma(x) - s - digamma(alpha) + s0)
        out[2] += w * (digamma(y) - s - digamma(beta) + s0)
        q, q0 = trigamma(x + y), trigamma(alpha + beta)
        out[3] += w * (trigamma(x) - q - trigamma(alpha) + q0)
        out[4] += w * (-q + q0)
        out[5] += w * (trigamma(y) - q - trigamma(beta) + q0)
    return out
