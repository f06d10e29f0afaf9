"""Kernels of the Pareto/NBD model (Schmittlein, Morrison & Colombo 1987; lifetimes'
``ParetoNBDFitter``): purchases at Poisson rate lambda ~ Gamma(r, alpha) while alive, a
lifetime exponential at rate mu ~ Gamma(s, beta).

A customer's likelihood (x repeat purchases, the last at t_x, age T) is

    Gamma(r + x) alpha^r beta^s / Gamma(r)  *  [e^A + s I],
    A = -(r + x) log(alpha + T) - s log(beta + T),
    I = integral over t_x < tau < T of (alpha + tau)^-(r + x) (beta + tau)^-(s + 1),

the second term being death at tau.  With M = max(alpha, beta) and m the other, e_M and
e_m the exponents of their factors, p = e_M + e_m - 1, z(tau) = (M - m) / (M + tau):

    I = G(t_x) - G(T),  log G(tau) = -e_M log(M + tau) + (1 - e_m) log(m + tau)
                                     + log S(tau) - log p,
    S = sum_k (e_M)_k / (p + 1)_k z^k,

the Euler transform of Fader & Hardie's 2F1(p, e_m; p + 1; z).  Every term of S is
positive and at most z times the one before, so 1 <= S <= 1 / (1 - z): no overflow or
cancellation however large x grows (lifetimes' untransformed series overflows in the
thousands).  The gradient and Hessian of log G in (e_M, e_m, M, m) are summed along with
S (the derivatives of log (e_M)_k and log (p + 1)_k are running sums), then permuted to
(r, alpha, s, beta).  S needs about 37 / (1 - z) terms: from z(t_x) = Z_QUAD on, I itself
is integrated by Gauss-Legendre pieces instead (:func:`_log_i_quad`).

Accumulators (``NACC_PARETO`` = 15) as :mod:`crmjit.kernels.btyd`: value, gradient, upper
Hessian.  Customer passes run over fixed chunks, one accumulator row each.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import row_weight, serial, serial_inline
from .btyd import _log_moments, _nbd_terms
from .btyd_predict import _gg_mean
from .special import _digamma, _trigamma

NACC_PARETO = 15
#: series cap (z(tau) <= z(t_x) <= Z_QUAD there, so about 350 terms at most; beyond: NaN,
#: the caller raises or backs off)
MAX_TERMS = 1 << 12
EPS = 1e-16


@serial
def _log_g(tau, eM, em, M, m, want, out):
    """log G(tau) into out[0]; with want, its gradient in (e_M, e_m, M, m) into out[1:5]
    and Hessian (upper triangle, row by row) into out[5:15].  Returns False where the
    series did not converge within MAX_TERMS terms."""
    uM = M + tau
    um = m + tau
    p = eM + em - 1.0
    z = (M - m) / uM
    S = 1.0
    Sb = Sp = Sz = Sbb = Sbp = Spp = Sbz = Spz = Szz = 0.0
    c = 1.0  # (e_M)_k / (p + 1)_k
    A = B = A2 = B2 = 0.0  # running sums of 1/(e_M + j), 1/(p + 1 + j) and their squares
    zk2 = 0.0  # z^(k-2)
    k = 0
    ok = False
    while k < MAX_TERMS:
        k += 1
        ia = 1.0 / (eM + k - 1.0)
        ib = 1.0 / (p + k)
        c *= (eM + k - 1.0) * ib
        zk2 = 1.0 if k == 2 else zk2 * z  # z^(k-2) (k = 1: unused)
        zk1 = 1.0 if k == 1 else zk2 * z
        t = c * zk1 * z
        S += t
        if want:
            A += ia
            B += ib
            A2 += ia * ia
            B2 += ib * ib
            Sb += t * A
            Sp -= t * B
            Sbb += t * (A * A - A2)
            Sbp -= t * A * B
            Spp += t * (B * B + B2)
            d = k * c * zk1  # d t / d z
            Sz += d
            Sbz += d * A
            Spz -= d * B
            if k >= 2:
                Szz += k * (k - 1.0) * c * zk2
        # every later term is at most z times the one before, so the value's tail is below
        # t / (1 - z); the derivative sums' terms carry factors up to k (1 + A + B) more
        # (and 1/z, 1/z^2 in the z-derivatives: relative 1e-13 at z = 0.01, ample for a
        # Hessian).  k >= 3: at z = 0 the z-derivatives need the terms k = 1, 2.
        if k >= 3 and t * (k + 1.0) * (1.0 + A + B) <= EPS * (1.0 - z) * S:
            ok = True
            break
    lM = math.log(uM)
    lm = math.log(um)
    out[0] = -eM * lM + (1.0 - em) * lm + math.log(S) - math.log(p)
    if not want:
        return ok
    Fb, Fp, Fz = Sb / S, Sp / S, Sz / S
    Fbb, Fbp, Fpp = Sbb / S - Fb * Fb, Sbp / S - Fb * Fp, Spp / S - Fp * Fp
    Fbz, Fpz, Fzz = Sbz / S - Fb * Fz, Spz / S - Fp * Fz, Szz / S - Fz * Fz
    zM = um / (uM * uM)  # dz/dM; dz/dm = -1/uM; d2z/dM2 = -2 um / uM^3; d2z/dMdm = 1/uM^2
    zm = -1.0 / uM
    ip2 = 1.0 / (p * p)
    out[1] = -lM + Fb + Fp - 1.0 / p            # e_M
    out[2] = -lm + Fp - 1.0 / p                 # e_m
    out[3] = -eM / uM + Fz * zM                 # M
    out[4] = (1.0 - em) / um + Fz * zm          # m
    out[5] = Fbb + 2.0 * Fbp + Fpp + ip2        # e_M e_M
    out[6] = Fbp + Fpp + ip2                    # e_M e_m
    out[7] = -1.0 / uM + (Fbz + Fpz) * zM       # e_M M
    out[8] = (Fbz + Fpz) * zm                   # e_M m
    out[9] = Fpp + ip2                          # e_m e_m
    out[10] = Fpz * zM                          # e_m M
    out[11] = -1.0 / um + Fpz * zm              # e_m m
    out[12] = eM / (uM * uM) + Fzz * zM * zM - Fz * 2.0 * um / (uM * uM * uM)  # M M
    out[13] = Fzz * zM * zm + Fz / (uM * uM)    # M m
    out[14] = -(1.0 - em) / (um * um) + Fzz * zm * zm  # m m
    return ok


_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(10)
Z_QUAD = 0.9  # from this z(t_x) on (over 350 series terms) the integral is by quadrature
DROP = 5.0  # a quadrature piece spans at most this fall of the log integrand ...
H_MAX = 2.0  # ... and this length (its singularities lie pi off the real axis)
CUTOFF = 40.0  # pieces stop where the integrand is below e^-CUTOFF of its maximum


@serial
def _log_i_quad(t1, t2, eM, em, M, m, want, out):
    """log I, I = integral over t1 < tau < t2 of (M + tau)^-e_M (m + tau)^-e_m, into out as
    :func:`_log_g` (value, gradient and Hessian in (e_M, e_m, M, m)), by Gauss-Legendre
    pieces in v = log((m + tau) / (M - m)).  There the log integrand psi(v) = (1 - e_m) v -
    e_M softplus(v) (+ a constant) is concave: the pieces start at its maximum and walk
    out both ways, each short enough that psi falls by at most DROP, until it is CUTOFF
    below the maximum.  The derivatives are the same quadrature of the derivatives of the
    integrand (in tau, over the fixed interval).  For z near 1, where the series needs
    thousands of terms."""
    D = M - m
    v1 = math.log((m + t1) / D)
    v2 = math.log((m + t2) / D)
    p = eM + em - 1.0
    v0 = v1
    if em < 1.0:  # psi' = (1 - e_m) - e_M sigma(v) vanishes inside
        v0 = min(max(math.log((1.0 - em) / p), v1), v2)
    psi0 = (1.0 - em) * v0 - eM * (max(v0, 0.0) + math.log1p(math.exp(-abs(v0))))
    for q in range(15):
        out[q] = 0.0
    S = 0.0
    gv = np.empty(4)
    for direction in (1.0, -1.0):
        a = v0
        end = v2 if direction > 0.0 else v1
        while (end - a) * direction > 0.0:
            # psi falls by at most slope h + K h^2 / 2 over [a, a + h], K = max |psi''| =
            # e_M max sigma(v) sigma(-v) there (at the point nearest 0)
            slope = abs((1.0 - em) - eM / (1.0 + math.exp(-a)))
            h = H_MAX
            near = min(abs(a), abs(a + direction * h)) if a * (a + direction * h) > 0.0 \
                else 0.0
            K = eM * math.exp(-near) / (1.0 + math.exp(-near)) ** 2
            h = min(h, 2.0 * DROP / (slope + math.sqrt(slope * slope + 2.0 * K * DROP)))
            b = a + direction * h
            if (end - b) * direction < 0.0:
                b = end
            mid = 0.5 * (a + b)
            half = 0.5 * abs(b - a)
            low = 0.0
            for k in range(_GL_NODES.shape[0]):
                v = mid + half * _GL_NODES[k]
                sp = max(v, 0.0) + math.log1p(math.exp(-abs(v)))
                psi = (1.0 - em) * v - eM * sp
                e = half * _GL_WEIGHTS[k] * math.exp(psi - psi0)
                S += e
                if want:
                    um = D * math.exp(v)
                    uM = D + um
                    gv[0] = -math.log(uM)
                    gv[1] = -math.log(um)
                    gv[2] = -eM / uM
                    gv[3] = -em / um
                    pos = 5
                    for i in range(4):
                        out[1 + i] += e * gv[i]
                        for j in range(i, 4):
                            out[pos] += e * gv[i] * gv[j]
                            pos += 1
                    out[7] -= e / uM            # e_M M
                    out[12] += e * eM / (uM * uM)  # M M
                    out[11] -= e / um           # e_m m
                    out[14] += e * em / (um * um)  # m m
                low = psi - psi0
            a = b
            if low < -CUTOFF:
                break
    # the integrand in v is (M + tau)^-e_M (m + tau)^(1 - e_m) = D^-p e^psi
    out[0] = psi0 - p * math.log(D) + math.log(S)
    if want:
        _log_moments(out, S)
    return True


@serial_inline
def _death_term(t1, t2, x, r, al, s, be, want, v, g, h):
    """log s + log G(t1) of one customer (t2 < 0), or log s + log I over (t1, t2) by
    quadrature (t2 >= 0): value v[0], gradient g (4,) and Hessian h (4, 4) in (r, alpha,
    s, beta) (with want).  Returns False where the series failed."""
    if al >= be:  # M = alpha (exponent r + x), m = beta (exponent s + 1)
        eM, em, M, m = r + x, s + 1.0, al, be
        perm = (0, 2, 1, 3)
    else:
        eM, em, M, m = s + 1.0, r + x, be, al
        perm = (2, 0, 3, 1)
    if t2 < 0.0:  # one call site each: every call site is a copy LLVM optimises
        ok = _log_g(t1, eM, em, M, m, want, v)
    else:
        ok = _log_i_quad(t1, t2, eM, em, M, m, want, v)
    v[0] += math.log(s)
    if want:
        pos = 5
        for i in range(4):
            g[perm[i]] = v[1 + i]
            for j in range(i, 4):
                h[perm[i], perm[j]] = v[pos]
                h[perm[j], perm[i]] = v[pos]
                pos += 1
        g[2] += 1.0 / s
        h[2, 2] -= 1.0 / (s * s)
    return ok


@serial
def _pareto_table_pass(ux, uw, u_ptr, params, active, out, start, stop):
    """Pareto/NBD terms that depend on x only, per group: sum of w lgamma(r + x), plus
    W (r log alpha + s log beta - lgamma(r)).  params (G, 4) = (r, alpha, s, beta); out
    (G, 15) overwritten for active groups."""
    for g in range(start, stop):
        if not active[g]:
            continue
        r, al, s, be = params[g, 0], params[g, 1], params[g, 2], params[g, 3]
        W, f, gr, hrr = _nbd_terms(ux, uw, u_ptr[g], u_ptr[g + 1], r)
        out[g, 0] = f + W * (r * math.log(al) + s * math.log(be) - math.lgamma(r))
        out[g, 1] = gr + W * (math.log(al) - _digamma(r))
        out[g, 2] = W * r / al
        out[g, 3] = W * math.log(be)
        out[g, 4] = W * s / be
        for q in range(5, 15):
            out[g, q] = 0.0
        out[g, 5] = hrr - W * _trigamma(r)  # r r
        out[g, 6] = W / al                  # r alpha
        out[g, 9] = -W * r / (al * al)      # alpha alpha
        out[g, 13] = W / be                 # s beta
        out[g, 14] = -W * s / (be * be)     # beta beta
    return out


@serial_inline
def _alive_term(x, T, r, al, s, be, v, g, h):
    """A = -(r + x) log(alpha + T) - s log(beta + T) with its derivatives (as
    :func:`_death_term`)."""
    ua = al + T
    ub = be + T
    v[0] = -(r + x) * math.log(ua) - s * math.log(ub)
    g[0] = -math.log(ua)
    g[1] = -(r + x) / ua
    g[2] = -math.log(ub)
    g[3] = -s / ub
    for i in range(4):
        for j in range(4):
            h[i, j] = 0.0
    h[0, 1] = h[1, 0] = -1.0 / ua
    h[1, 1] = (r + x) / (ua * ua)
    h[2, 3] = h[3, 2] = -1.0 / ub
    h[3, 3] = s / (ub * ub)


@serial_inline
def _copy_term(g, h, g_out, h_out):
    """g_out, h_out = g (4,), h (4, 4), element by element (a slice assignment would
    compile numba's shape-mismatch error formatting: seconds)."""
    for i in range(4):
        g_out[i] = g[i]
        for j in range(4):
            h_out[i, j] = h[i, j]


@serial
def _pareto_customer_pass(x, tx, T, w, chunk_ptr, chunk_group, params, active, acc, start,
                          stop):
    """Per chunk: sum over its customers of w log(e^A + e^B - e^C), B = log s + log G(t_x),
    C = log s + log G(T) (by quadrature where z(t_x) > Z_QUAD: w log(e^A + e^B), B = log
    s + log I), with the gradient and Hessian.  w : float64 or (n,) float64
    (``row_weight``); acc (n_chunks, 15), overwritten for active chunks; a row is NaN
    where a series failed (the solver then backs off)."""
    vs = np.empty((3, 15))
    gs = np.empty((3, 4))
    hs = np.empty((3, 4, 4))
    g0 = np.empty(4)
    h0 = np.empty((4, 4))
    grad = np.empty(4)
    for c in range(start, stop):
        grp = chunk_group[c]
        if not active[grp]:
            continue
        r, al, s, be = params[grp, 0], params[grp, 1], params[grp, 2], params[grp, 3]
        for q in range(NACC_PARETO):
            acc[c, q] = 0.0
        have0 = False  # B of x = 0 (t_x = 0) depends on the parameters only: cached
        v0 = 0.0
        for i in range(chunk_ptr[c], chunk_ptr[c + 1]):
            wi = row_weight(w, i)
            xi = x[i]
            _alive_term(xi, T[i], r, al, s, be, vs[0], gs[0], hs[0])
            terms = 1
            ok = True
            if tx[i] < T[i]:
                # quadrature: B = log s + log I; series: B and C at t_x and T
                quad = _use_quad(tx[i], al, be)
                terms = 2 if quad else 3
                for k in range(1, terms):
                    cached = k == 1 and xi == 0.0 and not quad
                    if cached and have0:
                        vs[1, 0] = v0
                        _copy_term(g0, h0, gs[1], hs[1])
                        continue
                    done = _death_term(tx[i] if k == 1 else T[i], T[i] if quad else -1.0, xi,
                                       r, al, s, be, True, vs[k], gs[k], hs[k])
                    ok = ok and done
                    if cached and done:
                        have0 = True
                        v0 = vs[1, 0]
                        _copy_term(gs[1], hs[1], g0, h0)
            if not ok:
                acc[c, 0] = np.nan
                continue
            top = max(vs[0, 0], vs[1, 0]) if terms > 1 else vs[0, 0]
            wA = math.exp(vs[0, 0] - top)
            wB = math.exp(vs[1, 0] - top) if terms > 1 else 0.0
            wC = math.exp(vs[2, 0] - top) if terms == 3 else 0.0
            Z = wA + wB - wC
            pis = (wA / Z, wB / Z, -wC / Z)
            acc[c, 0] += wi * (top + math.log(Z))
            for a in range(4):
                grad[a] = 0.0
                for k in range(terms):
                    grad[a] += pis[k] * gs[k, a]
                acc[c, 1 + a] += wi * grad[a]
            pos = 5
            for a in range(4):
                for b in range(a, 4):
                    hab = -grad[a] * grad[b]
                    for k in range(terms):
                        hab += pis[k] * (hs[k, a, b] + gs[k, a] * gs[k, b])
                    acc[c, pos] += wi * hab
                    pos += 1
    return acc


@serial_inline
def _use_quad(tx, al, be):
    """Whether z(t_x) = |alpha - beta| / (max(alpha, beta) + t_x) > Z_QUAD: the death-time
    integral by quadrature (:func:`_log_i_quad`), not the series."""
    return abs(al - be) > Z_QUAD * (max(al, be) + tx)


@serial
def _p_alive_one(x, tx, T, r, al, s, be, v, g, h):
    """P(alive | x, t_x, T) = e^A / (e^A + e^B - e^C) (e^A / (e^A + e^B) by quadrature);
    NaN where a series failed."""
    if tx >= T:
        return 1.0
    a = -(r + x) * math.log(al + T) - s * math.log(be + T)
    quad = _use_quad(tx, al, be)
    b = c = -np.inf
    for k in range(1 if quad else 2):  # one call site (see _death_term)
        if not _death_term(tx if k == 0 else T, T if quad else -1.0, x, r, al, s, be,
                           False, v, g, h):
            return np.nan
        if k == 0:
            b = v[0]
        else:
            c = v[0]
    top = max(a, b)
    return math.exp(a - top) / (math.exp(a - top) + math.exp(b - top) - math.exp(c - top))


@serial
def _rate_integral(t, s, be_T):
    """(1 - ((beta + T) / (beta + T + t))^(s - 1)) / (s - 1), as its s -> 1 limit
    log1p(t / (beta + T)) there: E[(1 - e^(-mu t)) / mu] / (beta + T), mu ~ Gamma(s,
    beta + T)."""
    L = math.log1p(t / be_T)
    if s == 1.0:
        return L
    return -math.expm1(-(s - 1.0) * L) / (s - 1.0)


@serial
def _pareto_predict(t, x, tx, T, m, codes, params, gg_codes, gg_params, times, disc, what,
                    out, start, stop):
    """Per customer i: what 0 = P(alive); 1 = expected purchases in (T, T + t_i] (t (1,) or
    (n,)); 2 = CLV: spend_i sum_j disc_j (E(times_j) - E(times_j-1)), spend the
    Gamma-Gamma mean (gg_params per gg_codes, m the mean repeat spend).  E(t) = P(alive)
    (r + x) (beta + T) / (alpha + T) * _rate_integral(t).  NaN where a series failed."""
    v = np.empty(15)
    gd = np.empty(4)
    hd = np.empty((4, 4))
    one_code = codes.shape[0] == 1
    one_gg = gg_codes.shape[0] == 1
    for i in range(start, stop):
        g = codes[0] if one_code else codes[i]
        r, al, s, be = params[g, 0], params[g, 1], params[g, 2], params[g, 3]
        alive = _p_alive_one(x[i], tx[i], T[i], r, al, s, be, v, gd, hd)
        if what == 0:
            out[i] = alive
            continue
        rate = alive * (r + x[i]) * (be + T[i]) / (al + T[i])
        if what == 1:
            out[i] = rate * _rate_integral(t[0] if t.shape[0] == 1 else t[i], s, be + T[i])
            continue
        h = gg_codes[0] if one_gg else gg_codes[i]
        spend = _gg_mean(x[i], m[i], gg_params[h, 0], gg_params[h, 1], gg_params[h, 2])
        acc = 0.0
        prev = 0.0
        for j in range(times.shape[0]):
            cur = _rate_integral(times[j], s, be + T[i])
            acc += disc[j] * (cur - prev)
            prev = cur
        out[i] = spend * rate * acc
    return out
