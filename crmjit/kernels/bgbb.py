"""Kernels of the beta-geometric/beta-Bernoulli (BG/BB) model of discrete purchase
opportunities (Fader, Hardie & Shang 2010; lifetimes' ``BetaGeoBetaBinomFitter``): at
each opportunity an alive customer buys with probability p ~ Beta(alpha, beta) and then
drops out with probability theta ~ Beta(gamma, delta).

A customer with x purchases in n opportunities, the last at opportunity t_x, has

    L = sum_j exp(u_j),
    u_0     = lB(alpha + x, beta + n - x) + lB(gamma, delta + n)              (alive at n)
    u_(1+i) = lB(alpha + x, beta + t_x - x + i) + lB(gamma + 1, delta + t_x + i)
              (dropped out after opportunity t_x + i, i = 0 .. n - t_x - 1)
    minus lB(alpha, beta) + lB(gamma, delta),

lB the log beta function.  The likelihood depends on (x, t_x, n) only, so it is summed
over a table of the distinct patterns per segment with their total weights, each pattern
a log-sum-exp of n - t_x + 1 terms; the gradient and Hessian come from the digamma and
trigamma of each term (the Hessian of each u_j is block-diagonal in (alpha, beta) and
(gamma, delta)).  A pattern is keyed as x + K (t_x + K n), K = 1 + the largest n.
Accumulators (``NACC_BGBB`` = 15) as :mod:`crmjit.kernels.btyd`.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import serial
from .btyd import _log_moments
from .special import _digamma, _trigamma

NACC_BGBB = 15


@serial
def _lbeta_terms(a, b, want, out):
    """log B(a, b) and (with want) its derivatives: out = (value, d/da, d/db, d2/da2,
    d2/dadb, d2/db2)."""
    if not want:
        out[0] = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
        return out
    psi_ab = _digamma(a + b)
    tri_ab = _trigamma(a + b)
    out[0] = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    out[1] = _digamma(a) - psi_ab
    out[2] = _digamma(b) - psi_ab
    out[3] = _trigamma(a) - tri_ab
    out[4] = -tri_ab
    out[5] = _trigamma(b) - tri_ab
    return out


@serial
def _pattern_terms(x, tx, n, al, be, ga, de, want, sums, p, q, g):
    """log L of one pattern (without the constant -lB(alpha, beta) - lB(gamma, delta))
    into sums[0]; with want, the gradient into sums[1:5] and the Hessian's upper triangle
    into sums[5:15], in (alpha, beta, gamma, delta).  p, q (6,) and g (4,): scratch."""
    m = int(n - tx)
    top = -np.inf
    for q_i in range(15):
        sums[q_i] = 0.0
    total = 0.0  # sum of exp(u_j - top)
    for j in range(m + 1):
        if j == 0:
            _lbeta_terms(al + x, be + n - x, want, p)
            _lbeta_terms(ga, de + n, want, q)
        else:
            _lbeta_terms(al + x, be + tx - x + (j - 1), want, p)
            _lbeta_terms(ga + 1.0, de + tx + (j - 1), want, q)
        u = p[0] + q[0]
        if u > top:  # rescale what was summed to the new top
            scale = math.exp(top - u) if top > -np.inf else 0.0
            total *= scale
            for k in range(1, 15):
                sums[k] *= scale
            top = u
        e = math.exp(u - top)
        total += e
        if want:
            g[0], g[1], g[2], g[3] = p[1], p[2], q[1], q[2]
            for a in range(4):
                sums[1 + a] += e * g[a]
            pos = 5
            for a in range(4):
                for b in range(a, 4):
                    hab = g[a] * g[b]
                    if a < 2 and b < 2:
                        hab += p[3 + a + b]
                    elif a >= 2 and b >= 2:
                        hab += q[3 + (a - 2) + (b - 2)]
                    sums[pos] += e * hab
                    pos += 1
    sums[0] = top + math.log(total)
    if want:
        _log_moments(sums, total)
    return sums


@serial
def _bgbb_table_pass(ux, uw, u_ptr, K, params, active, out, start, stop):
    """Per segment g: the weighted log-likelihood of its distinct patterns (keys ux,
    total weights uw) with the gradient and Hessian.  params (G, 4) = (alpha, beta,
    gamma, delta); out (G, 15) overwritten for active segments."""
    sums = np.empty(15)
    c = np.empty(6)
    p = np.empty(6)
    q = np.empty(6)
    gs = np.empty(4)
    for g in range(start, stop):
        if not active[g]:
            continue
        al, be, ga, de = params[g, 0], params[g, 1], params[g, 2], params[g, 3]
        for k in range(15):
            out[g, k] = 0.0
        W = 0.0
        for j in range(u_ptr[g], u_ptr[g + 1]):
            key = ux[j]
            x = key % K
            rest = (key - x) / K
            tx = rest % K
            n = (rest - tx) / K
            _pattern_terms(x, tx, n, al, be, ga, de, True, sums, p, q, gs)
            w = uw[j]
            W += w
            for k in range(15):
                out[g, k] += w * sums[k]
        # the constant -lB(alpha, beta) - lB(gamma, delta), times the total weight: each
        # into its pair's gradient slots and Hessian block
        for pair in range(2):
            _lbeta_terms(al if pair == 0 else ga, be if pair == 0 else de, True, c)
            slots = (0, 1, 2, 5, 6, 9) if pair == 0 else (0, 3, 4, 12, 13, 14)
            for k in range(6):
                out[g, slots[k]] -= W * c[k]
    return out


@serial
def _bgbb_log_lik(x, tx, n, codes, params, out, start, stop):
    """Per customer: the log-likelihood of (x, t_x, n) (with the constants): out (n,)."""
    one_code = codes.shape[0] == 1
    sums = np.empty(15)
    c = np.empty(6)
    d = np.empty(6)
    gs = np.empty(4)
    for i in range(start, stop):
        g = codes[0] if one_code else codes[i]
        al, be, ga, de = params[g, 0], params[g, 1], params[g, 2], params[g, 3]
        _pattern_terms(x[i], tx[i], n[i], al, be, ga, de, False, sums, c, d, gs)
        out[i] = (sums[0] - _lbeta_terms(al, be, False, c)[0]
                  - _lbeta_terms(ga, de, False, d)[0])
    return out
