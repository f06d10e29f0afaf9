"""Kernels of the probabilistic ("buy till you die") CLV models: BG/NBD and Gamma-Gamma.

Likelihood passes (fits).  A model's log-likelihood splits into terms that depend on a
customer's frequency x only (log-gamma, digamma, trigamma of parameter + x) and terms that
need the customer's own recency and age.  The first are summed over a table of the distinct
x values per group with their total weights (``*_table_pass``, one entry per distinct x, a
few hundred in practice), the second over customers (``*_customer_pass``: two logs and an
exp a customer, no special functions).  Both return the log-likelihood, its gradient and
its Hessian in the natural parameters, summed with the weights.

Customer passes run over fixed chunks of customers sorted by group (``chunk_ptr``, each
chunk inside one group, ``chunk_group`` its group); each chunk writes its own row of
``acc``, which the caller sums per group in chunk order, so results are identical for any
thread count and the work is balanced whether there is one group or thousands.

Accumulator layout (``NACC_BG`` = 15 for 4 parameters, ``NACC_GG`` = 10 for 3): the value,
the gradient, then the Hessian's upper triangle row by row.

Groups (or chunks) whose ``active`` flag is False are skipped and their rows left as they
were (a lock-step solve stops evaluating groups that have converged).

Predictions and CLV are in :mod:`crmjit.kernels.btyd_predict`.
"""

from __future__ import annotations

import math

from ._jit import row_weight, serial, serial_reduce
from .elementwise import _exp_neg_abs, _log, _log1p_unit
from .special import _digamma, _trigamma

NACC_BG = 15
NACC_GG = 10


@serial
def _nbd_terms(ux, uw, lo, hi, r):
    """The purchase-count terms of BG/NBD, MBG/NBD and Pareto/NBD over distinct
    frequencies ux[lo:hi] with total weights uw: (W, sum w lgamma(r + x), sum w psi(r + x),
    sum w psi'(r + x))."""
    W = 0.0
    f = 0.0
    gr = 0.0
    hrr = 0.0
    for j in range(lo, hi):
        w = uw[j]
        W += w
        f += w * math.lgamma(r + ux[j])
        gr += w * _digamma(r + ux[j])
        hrr += w * _trigamma(r + ux[j])
    return W, f, gr, hrr


@serial
def _log_moments(out, total):
    """Moments -> derivatives of a log: out[1:5] (sum of e_j grad u_j) and out[5:15] (the
    upper triangle of sum e_j (Hess u_j + grad u_j grad u_j^T)), with total = sum e_j,
    become the gradient and Hessian of log sum_j exp(u_j)."""
    for q in range(1, 15):
        out[q] /= total
    pos = 5
    for i in range(4):
        for j in range(i, 4):
            out[pos] -= out[1 + i] * out[1 + j]
            pos += 1
    return out


@serial
def _bg_table_pass(ux, uw, u_ptr, shift, params, active, out, start, stop):
    """BG/NBD terms that depend on x only, per group g: the distinct frequencies
    ux[u_ptr[g]:u_ptr[g+1]] with total weights uw.  params (G, 4) = (r, alpha, a, b);
    out (G, 15) is overwritten.  shift 0: BG/NBD; 1: MBG/NBD, whose x-terms read b + 1
    (a customer may also drop out at the first purchase: lgamma(b + 1 + x) -
    lgamma(a + b + 1 + x)), the constant lgamma(a + b) - lgamma(b) unchanged."""
    for g in range(start, stop):
        if not active[g]:
            continue
        r, al, a, b = params[g, 0], params[g, 1], params[g, 2], params[g, 3]
        W, f, gr, hrr = _nbd_terms(ux, uw, u_ptr[g], u_ptr[g + 1], r)
        ga = 0.0
        gb = 0.0
        haa = 0.0
        hbb = 0.0
        for j in range(u_ptr[g], u_ptr[g + 1]):
            w = uw[j]
            x = ux[j] + shift
            f += w * (math.lgamma(b + x) - math.lgamma(a + b + x))
            psi_abx = _digamma(a + b + x)
            tri_abx = _trigamma(a + b + x)
            ga -= w * psi_abx
            gb += w * (_digamma(b + x) - psi_abx)
            haa -= w * tri_abx
            hbb += w * (_trigamma(b + x) - tri_abx)
        # terms constant within the group, times its total weight
        la = math.log(al)
        psi_ab = _digamma(a + b)
        tri_ab = _trigamma(a + b)
        out[g, 0] = f + W * (r * la - math.lgamma(r) + math.lgamma(a + b) - math.lgamma(b))
        out[g, 1] = gr + W * (la - _digamma(r))
        out[g, 2] = W * r / al
        out[g, 3] = ga + W * psi_ab
        out[g, 4] = gb + W * (psi_ab - _digamma(b))
        out[g, 5] = hrr - W * _trigamma(r)          # r r
        out[g, 6] = W / al                          # r alpha
        out[g, 7] = 0.0                             # r a
        out[g, 8] = 0.0                             # r b
        out[g, 9] = -W * r / (al * al)              # alpha alpha
        out[g, 10] = 0.0                            # alpha a
        out[g, 11] = 0.0                            # alpha b
        out[g, 12] = haa + W * tri_ab               # a a
        out[g, 13] = haa + W * tri_ab               # a b
        out[g, 14] = hbb + W * (tri_ab - _trigamma(b))  # b b
    return out


@serial_reduce
def _bg_customer_pass(x, tx, T, w, chunk_ptr, chunk_group, shift, params, active, acc,
                      start, stop):
    """BG/NBD terms that need recency and age: sum over customers of
    w * log(exp(A3) + [x > 0] exp(A4)), A3 = -(r + x) log(alpha + T),
    A4 = log a - log(b + x - 1) - (r + x) log(alpha + t_x).  shift 1 (MBG/NBD): b + x in
    A4 and the A4 term for every customer, x = 0 included.

    x, tx, T : (n,) float64 sorted by group.  w : float64 (everyone's weight) or (n,)
    float64 (``row_weight``).
    acc : (n_chunks, 15), overwritten (one row per chunk).

    Branch-free, so the loop over a chunk's customers vectorises: the A4 term is computed
    for every customer and multiplied by ``on`` (0 where it is absent), with its log taken
    of 1 there; logs by ``_log``, the log-sum-exp by ``_exp_neg_abs`` and ``_log1p_unit``
    (libm's, branching on the sign of A4 - A3, took 28 ns a BG/NBD customer and 55 ns an
    MBG/NBD one; this takes 14.5, measured on one thread).  The sums within a chunk are
    reassociated (``serial_reduce``): their order depends on the chunk, never on the
    thread count."""
    for c in range(start, stop):
        g = chunk_group[c]
        if not active[g]:
            continue
        r, al, a, b = params[g, 0], params[g, 1], params[g, 2], params[g, 3]
        log_a = math.log(a)
        inv_a = 1.0 / a
        # scalar sums (kept in registers): the value, gradient and upper Hessian
        f = gr = gal = ga = gb = 0.0
        h_rr = h_ral = h_ra = h_rb = h_alal = h_ala = h_alb = h_aa = h_ab = h_bb = 0.0
        for i in range(chunk_ptr[c], chunk_ptr[c + 1]):
            wi = row_weight(w, i)
            xi = x[i]
            rx = r + xi
            uT = al + T[i]
            lT = _log(uT)
            iT = 1.0 / uT
            on = 1.0 if xi > 0.0 or shift > 0.0 else 0.0
            ut = al + tx[i]
            lt = _log(ut)
            it = 1.0 / ut
            bx = b + xi - 1.0 + shift if on > 0.0 else 1.0
            ibx = 1.0 / bx
            delta = log_a - _log(bx) + rx * (lT - lt)  # A4 - A3
            e = _exp_neg_abs(delta)
            inv = 1.0 / (1.0 + e)
            pi = on * (inv if delta > 0.0 else e * inv)  # the A4 share
            q = pi * (1.0 - pi)
            # d = grad A4 - grad A3 in (r, alpha, a, b)
            d_r = lT - lt
            d_al = rx * (iT - it)
            d_b = -ibx
            f += wi * (-rx * lT + on * (max(delta, 0.0) + _log1p_unit(e)))
            gr += wi * (-lT + pi * d_r)
            gal += wi * (-rx * iT + pi * d_al)
            ga += wi * pi * inv_a
            gb += wi * pi * d_b
            h_rr += wi * q * d_r * d_r
            h_ral += wi * (-(1.0 - pi) * iT - pi * it + q * d_r * d_al)
            h_ra += wi * q * d_r * inv_a
            h_rb += wi * q * d_r * d_b
            h_alal += wi * (rx * ((1.0 - pi) * iT * iT + pi * it * it) + q * d_al * d_al)
            h_ala += wi * q * d_al * inv_a
            h_alb += wi * q * d_al * d_b
            h_aa += wi * (q - pi) * inv_a * inv_a
            h_ab += wi * q * inv_a * d_b
            h_bb += wi * (pi + q) * ibx * ibx
        acc[c, 0] = f
        acc[c, 1] = gr
        acc[c, 2] = gal
        acc[c, 3] = ga
        acc[c, 4] = gb
        acc[c, 5] = h_rr
        acc[c, 6] = h_ral
        acc[c, 7] = h_ra
        acc[c, 8] = h_rb
        acc[c, 9] = h_alal
        acc[c, 10] = h_ala
        acc[c, 11] = h_alb
        acc[c, 12] = h_aa
        acc[c, 13] = h_ab
        acc[c, 14] = h_bb
    return acc


@serial
def _gg_table_pass(ux, uw, u_ptr, params, active, out, start, stop):
    """Gamma-Gamma terms that depend on x only (x >= 1), per group: log Gamma(p x + q) -
    log Gamma(p x) + p x log x, plus the group constants W (q log v - log Gamma(q)).
    params (G, 3) = (p, q, v); out (G, 10) overwritten."""
    for g in range(start, stop):
        if not active[g]:
            continue
        p, q, v = params[g, 0], params[g, 1], params[g, 2]
        W = 0.0
        f = 0.0
        gp = 0.0
        gq = 0.0
        hpp = 0.0
        hpq = 0.0
        hqq = 0.0
        for j in range(u_ptr[g], u_ptr[g + 1]):
            x = ux[j]
            w = uw[j]
            W += w
            px = p * x
            lx = math.log(x)
            psi_s = _digamma(px + q)
            tri_s = _trigamma(px + q)
            f += w * (math.lgamma(px + q) - math.lgamma(px) + px * lx)
            gp += w * x * (psi_s - _digamma(px) + lx)
            gq += w * psi_s
            hpp += w * x * x * (tri_s - _trigamma(px))
            hpq += w * x * tri_s
            hqq += w * tri_s
        lv = math.log(v)
        out[g, 0] = f + W * (q * lv - math.lgamma(q))
        out[g, 1] = gp
        out[g, 2] = gq + W * (lv - _digamma(q))
        out[g, 3] = W * q / v
        out[g, 4] = hpp                   # p p
        out[g, 5] = hpq                   # p q
        out[g, 6] = 0.0                   # p v
        out[g, 7] = hqq - W * _trigamma(q)  # q q
        out[g, 8] = W / v                 # q v
        out[g, 9] = -W * q / (v * v)      # v v
    return out


@serial
def _gg_customer_pass(x, m, w, chunk_ptr, chunk_group, params, active, acc, start, stop):
    """Gamma-Gamma terms that need the mean spend m: sum over customers of
    w * ((p x - 1) log m - (p x + q) log(x m + v)).  w : float64 or (n,) float64
    (``row_weight``); acc (n_chunks, 10) overwritten."""
    for c in range(start, stop):
        g = chunk_group[c]
        if not active[g]:
            continue
        p, q, v = params[g, 0], params[g, 1], params[g, 2]
        f = 0.0
        gp = 0.0
        gq = 0.0
        gv = 0.0
        hpv = 0.0
        hqv = 0.0
        hvv = 0.0
        for i in range(chunk_ptr[c], chunk_ptr[c + 1]):
            wi = row_weight(w, i)
            xi = x[i]
            s = p * xi + q
            u = xi * m[i] + v
            lu = math.log(u)
            lm = math.log(m[i])
            iu = 1.0 / u
            f += wi * ((p * xi - 1.0) * lm - s * lu)
            gp += wi * xi * (lm - lu)
            gq -= wi * lu
            gv -= wi * s * iu
            hpv -= wi * xi * iu
            hqv -= wi * iu
            hvv += wi * s * iu * iu
        acc[c, 0] = f
        acc[c, 1] = gp
        acc[c, 2] = gq
        acc[c, 3] = gv
        acc[c, 4] = 0.0
        acc[c, 5] = 0.0
        acc[c, 6] = hpv
        acc[c, 7] = 0.0
        acc[c, 8] = hqv
        acc[c, 9] = hvv
    return acc
