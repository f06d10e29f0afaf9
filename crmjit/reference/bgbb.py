"""Pure-Python twins of :mod:`crmjit.kernels.bgbb`: Fader, Hardie & Shang's BG/BB
likelihood written plainly, as a sum of products of beta functions (lifetimes' form,
without its 1e-15 offset); gradients and Hessians are central differences of it (as the
BG/NBD twins)."""

from __future__ import annotations

import math

from .btyd import _at, _derivatives, _table_rows
from .special import digamma, trigamma


def _lbeta(a, b):
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def lbeta_terms(a, b, want=True):
    """log B(a, b) and (with want) d/da, d/db, d2/da2, d2/dadb, d2/db2."""
    if not want:
        return [_lbeta(a, b)]
    return [_lbeta(a, b), digamma(a) - digamma(a + b), digamma(b) - digamma(a + b),
            trigamma(a) - trigamma(a + b), -trigamma(a + b), trigamma(b) - trigamma(a + b)]


def likelihood(x, tx, n, alpha, beta, gamma, delta):
    """L(x, t_x, n): alive after n opportunities, or dropped out after t_x + i."""
    total = math.exp(_lbeta(alpha + x, beta + n - x) + _lbeta(gamma, delta + n))
    for i in range(int(n - tx)):
        total += math.exp(_lbeta(alpha + x, beta + tx - x + i)
                          + _lbeta(gamma + 1, delta + tx + i))
    return total / math.exp(_lbeta(alpha, beta) + _lbeta(gamma, delta))


def pattern_terms(x, tx, n, alpha, beta, gamma, delta):
    """log L of one pattern without the constant -lB(alpha, beta) - lB(gamma, delta), with
    its central-difference gradient and Hessian."""
    def value(q):
        a, b, g, d = q
        return math.log(likelihood(x, tx, n, a, b, g, d)) + _lbeta(a, b) + _lbeta(g, d)
    return _derivatives(value, [alpha, beta, gamma, delta])


def _decode(key, K):
    x = key % K
    rest = (key - x) / K
    return x, rest % K, (rest - rest % K) / K


def bgbb_table_pass(ux, uw, u_ptr, K, params, active):
    """Per segment: sum of weight * log L over the distinct pattern keys, with derivatives."""
    return _table_rows(ux, uw, u_ptr, params, active,
                       lambda q, key: math.log(likelihood(*_decode(key, K), *q)))


def bgbb_log_lik(x, tx, n, codes, params):
    """log L per customer."""
    return [math.log(likelihood(x[i], tx[i], n[i], *params[_at(codes, i)]))
            for i in range(len(x))]
