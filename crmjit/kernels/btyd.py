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

Prediction kernels take ``codes`` (n,) int64 group codes (length 1: every customer uses
``params[codes[0]]``) and ``params`` (G, k) natural parameters.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import serial
from .special import _digamma, _trigamma

NACC_BG = 15
NACC_GG = 10
MAX_TERMS = 1 << 20  # hypergeometric series cap (z within 4e-5 of 1 still converges)
EPS = 1e-16


@serial
def _bg_table_pass(ux, uw, u_ptr, params, active, out, start, stop):
    """BG/NBD terms that depend on x only, per group g: the distinct frequencies
    ux[u_ptr[g]:u_ptr[g+1]] with total weights uw.  params (G, 4) = (r, alpha, a, b);
    out (G, 15) is overwritten."""
    G = params.shape[0]
    for g in range(start, stop):
        if not active[g]:
            continue
        r, al, a, b = params[g, 0], params[g, 1], params[g, 2], params[g, 3]
        W = 0.0
        f = 0.0
        gr = 0.0
        ga = 0.0
        gb = 0.0
        hrr = 0.0
        haa = 0.0
        hbb = 0.0
        for j in range(u_ptr[g], u_ptr[g + 1]):
            x = ux[j]
            w = uw[j]
            W += w
            f += w * (math.lgamma(r + x) + math.lgamma(b + x) - math.lgamma(a + b + x))
            psi_abx = _digamma(a + b + x)
            tri_abx = _trigamma(a + b + x)
            gr += w * _digamma(r + x)
            ga -= w * psi_abx
            gb += w * (_digamma(b + x) - psi_abx)
            hrr += w * _trigamma(r + x)
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


@serial
def _bg_customer_pass(x, tx, T, w, chunk_ptr, chunk_group, params, active, acc, start, stop):
    """BG/NBD terms that need recency and age: sum over customers of
    w * log(exp(A3) + [x > 0] exp(A4)), A3 = -(r + x) log(alpha + T),
    A4 = log a - log(b + x - 1) - (r + x) log(alpha + t_x).

    x, tx, T : (n,) float64 sorted by group.  w : (1,) or (n,) float64.
    acc : (n_chunks, 15), overwritten (one row per chunk)."""
    n_chunks = chunk_group.shape[0]
    scalar_w = w.shape[0] == 1
    for c in range(start, stop):
        g = chunk_group[c]
        if not active[g]:
            continue
        r, al, a, b = params[g, 0], params[g, 1], params[g, 2], params[g, 3]
        log_a = math.log(a)
        inv_a = 1.0 / a
        f = 0.0
        gr = 0.0
        gal = 0.0
        ga = 0.0
        gb = 0.0
        h_rr = 0.0
        h_ral = 0.0
        h_ra = 0.0
        h_rb = 0.0
        h_alal = 0.0
        h_ala = 0.0
        h_alb = 0.0
        h_aa = 0.0
        h_ab = 0.0
        h_bb = 0.0
        for i in range(chunk_ptr[c], chunk_ptr[c + 1]):
            wi = w[0] if scalar_w else w[i]
            xi = x[i]
            rx = r + xi
            uT = al + T[i]
            lT = math.log(uT)
            iT = 1.0 / uT
            if xi > 0.0:
                ut = al + tx[i]
                lt = math.log(ut)
                it = 1.0 / ut
                bx = b + xi - 1.0
                ibx = 1.0 / bx
                delta = log_a - math.log(bx) + rx * (lT - lt)  # A4 - A3
                if delta > 0.0:
                    e = math.exp(-delta)
                    m = -rx * lT + delta + math.log1p(e)
                    pi = 1.0 / (1.0 + e)
                else:
                    e = math.exp(delta)
                    m = -rx * lT + math.log1p(e)
                    pi = e / (1.0 + e)
                q = pi * (1.0 - pi)
                # d = grad A4 - grad A3 in (r, alpha, a, b)
                d_r = lT - lt
                d_al = rx * (iT - it)
                d_b = -ibx
                f += wi * m
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
            else:
                f -= wi * rx * lT
                gr -= wi * lT
                gal -= wi * rx * iT
                h_ral -= wi * iT
                h_alal += wi * rx * iT * iT
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
    G = params.shape[0]
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
    w * ((p x - 1) log m - (p x + q) log(x m + v)).  acc (n_chunks, 10) overwritten."""
    n_chunks = chunk_group.shape[0]
    scalar_w = w.shape[0] == 1
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
            wi = w[0] if scalar_w else w[i]
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


@serial
def _p_alive(x, tx, T, r, al, a, b):
    """P(alive | x, t_x, T) = 1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)),
    computed from its logarithm so that it neither overflows nor returns NaN."""
    if x == 0.0:
        return 1.0
    log_odds = math.log(a / (b + x - 1.0)) + (r + x) * (math.log(al + T) - math.log(al + tx))
    if log_odds > 0.0:
        e = math.exp(-log_odds)
        return e / (1.0 + e)
    return 1.0 / (1.0 + math.exp(log_odds))


BIG = 1e150  # series partial sums are rescaled by 1/BIG when they pass BIG
LOG_BIG = math.log(BIG)


@serial
def _expected_series(z, one_minus_z, A, B, C, d, s, term_top):
    """Sum the series sum_{k>=1} d_k z_j^k for every lane j until the last lane (the
    largest z) has converged; d_k = (A)_k (B)_k / (B (C)_k k!), d = d_1.  s and term_top
    hold z_j d_1 z_j-powers on entry and are updated in place.  When the terms grow past
    BIG (large a and z near 1, where the sum overflows long before the (1-z)^B factor
    brings it back) everything is rescaled by 1/BIG; returns how many times (the caller
    multiplies back in log space)."""
    K = z.shape[0]
    zk = z[K - 1]
    # Once ratio * z < 1 the terms fall; the ratios then tend to 1 from below (the tail is
    # at most term * z / (1 - z)) or from above (at most term * rho / (1 - rho) with
    # rho = ratio * z), so the larger of the two bounds the tail.
    geometric = zk / one_minus_z
    k = 1
    scaled = 0
    while k < MAX_TERMS:
        ratio = (A + k) * (B + k) / ((C + k) * (k + 1.0))
        d *= ratio
        k += 1
        for j in range(K):
            term_top[j] *= z[j]
            s[j] += d * term_top[j]
        top = abs(d * term_top[K - 1])
        if top > BIG:
            d /= BIG
            for j in range(K):
                s[j] /= BIG
            scaled += 1
        rho = ratio * zk
        if rho < 1.0:
            tail = top * max(geometric, rho / (1.0 - rho))
            if tail <= EPS * (abs(s[K - 1]) * (BIG if top > BIG else 1.0) + zk):
                break
    return scaled


@serial
def _conditional_q(t, beta, A, B, C, lane_z, lane_s, lane_pow, q_out):
    """Q(t_j) for sorted times t (K,) of one customer: E[purchases in (T, T+t_j]] =
    C * P(alive) * Q(t_j), with beta = alpha + T, A = a+b-1-r, B = a-1, C = a+b+x-1.

    Q = -expm1(B L)/B - (1 - z)^B sum_{k>=1} d_k z^k, z = t/(beta+t), L = log(1-z): the
    Euler-transformed Gauss series 2F1(A, B; C; z), whose parameters stay bounded however
    large x grows (the untransformed 2F1(r+x, b+x; C; z) overflows there), divided by B
    analytically so that a -> 1 (B -> 0) is exact, not 0/0."""
    K = t.shape[0]
    for j in range(K):
        z = t[j] / (beta + t[j])
        lane_z[j] = z
        lane_pow[j] = z
        lane_s[j] = z * (A / C)
    scaled = 0
    if t[K - 1] > 0.0:
        scaled = _expected_series(lane_z, 1.0 - lane_z[K - 1], A, B, C, A / C, lane_s,
                                  lane_pow)
    for j in range(K):
        if scaled > 0 and K > 1:  # rare: a lane of its own keeps its own scale
            lane_pow[j] = lane_z[j]
            lane_s[j] = lane_z[j] * (A / C)
            lane_scaled = _expected_series(lane_z[j:j + 1], 1.0 - lane_z[j], A, B, C, A / C,
                                           lane_s[j:j + 1], lane_pow[j:j + 1])
        else:
            lane_scaled = scaled
        L = -math.log1p(t[j] / beta)
        bl = B * L
        # one exp a lane: expm1 where e^{BL} is near 1 (then e^{BL} = 1 + B em exactly
        # enough), exp elsewhere (then em = (e^{BL} - 1) / B has no cancellation)
        if B == 0.0:
            em = L
            e = 1.0
        elif abs(bl) < 0.5:
            em = math.expm1(bl) / B
            e = 1.0 + B * em
        else:
            e = math.exp(bl)
            em = (e - 1.0) / B
        if lane_scaled > 0:
            e = math.exp(bl + lane_scaled * LOG_BIG)
        q_out[j] = -em - e * lane_s[j]
    return q_out


@serial
def _bg_expected(t, x, tx, T, codes, params, n_chunks, out, start, stop):
    """Conditional expected repeat purchases in (T, T + t]: out (n,).  t : (1,) or (n,)."""
    n = out.shape[0]
    one_code = codes.shape[0] == 1
    scalar_t = t.shape[0] == 1
    chunk = -(-n // n_chunks)
    for c in range(start, stop):
        lane_t = np.empty(1)
        lane_z = np.empty(1)
        lane_s = np.empty(1)
        lane_pow = np.empty(1)
        q = np.empty(1)
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            g = codes[0] if one_code else codes[i]
            r, al, a, b = params[g, 0], params[g, 1], params[g, 2], params[g, 3]
            lane_t[0] = t[0] if scalar_t else t[i]
            xi = x[i]
            C = a + b + xi - 1.0
            _conditional_q(lane_t, al + T[i], a + b - 1.0 - r, a - 1.0, C, lane_z, lane_s,
                           lane_pow, q)
            out[i] = C * _p_alive(xi, tx[i], T[i], r, al, a, b) * q[0]
    return out


@serial
def _bg_p_alive(x, tx, T, codes, params, out, start, stop):
    """P(alive) per customer: out (n,)."""
    n = out.shape[0]
    one_code = codes.shape[0] == 1
    for i in range(start, stop):
        g = codes[0] if one_code else codes[i]
        out[i] = _p_alive(x[i], tx[i], T[i], params[g, 0], params[g, 1], params[g, 2],
                          params[g, 3])
    return out


@serial
def _gg_mean(x, m, p, q, v):
    """E[mean spend | x, m] = (1 - w) v p / (q - 1) + w m, w = p x / (p x + q - 1)."""
    w = p * x / (p * x + q - 1.0)
    return (1.0 - w) * (v * p / (q - 1.0)) + w * m


@serial
def _gg_expected(x, m, codes, params, out, start, stop):
    """Gamma-Gamma conditional expected average spend per customer: out (n,)."""
    n = out.shape[0]
    one_code = codes.shape[0] == 1
    for i in range(start, stop):
        g = codes[0] if one_code else codes[i]
        out[i] = _gg_mean(x[i], m[i], params[g, 0], params[g, 1], params[g, 2])
    return out


@serial
def _horizon_sum(times, disc, beta, A, B, C, lane_z, lane_s, lane_pow, q):
    """sum_j disc_j (Q(t_j) - Q(t_{j-1})) of one customer, Q(t_0) = 0: the CLV per unit of
    spend, C and P(alive) (see :func:`_conditional_q`)."""
    _conditional_q(times, beta, A, B, C, lane_z, lane_s, lane_pow, q)
    acc = 0.0
    prev = 0.0
    for j in range(times.shape[0]):
        acc += disc[j] * (q[j] - prev)
        prev = q[j]
    return acc


CHEB_DEGREE = 20  # Chebyshev degree of a table piece
MAX_PIECES = 48  # pieces [0, 1/R], [1/R, 2/R], [2/R, 4/R], ... of w = t_1 / (alpha + T)
CHEB_TOL = 1e-14  # a table is used only where its last coefficients are below this


@serial
def _piece_of(w, ratio):
    """Table piece holding w >= 0 (ratio = t_K / t_1): 0 on [0, 1/ratio), then p on
    [2^(p-1) / ratio, 2^p / ratio)."""
    y = w * ratio
    if y < 1.0:
        return 0
    return 1 + int(math.floor(math.log2(y)))


@serial
def _clv_tables(times, disc, A, B, C, w_max, cheb_cos, coef, n_pieces, start, stop):
    """Chebyshev tables of the horizon sum S(w), w = t_1 / (alpha + T), one per (segment,
    frequency) pair i with parameters A[i], B[i], C[i]: with the horizons fixed, a
    customer's CLV depends on its age only through w, and S is analytic in w except at
    w = -t_1 / t_j (j = 1..K), so pieces [0, 1/R], [1/R, 2/R], [2/R, 4/R] ... (R = t_K / t_1)
    each lie at least their own length away from the nearest singularity and degree 20
    resolves them to rounding.  coef (n, MAX_PIECES, CHEB_DEGREE + 1); n_pieces[i] = pieces
    built (0: no usable table; the caller sums the series per customer there).
    cheb_cos[m, k] = cos(pi m (k + 1/2) / (D + 1))."""
    K = times.shape[0]
    D1 = CHEB_DEGREE + 1
    ratio = times[K - 1] / times[0]
    for i in range(start, stop):
        lane_z = np.empty(K)
        lane_s = np.empty(K)
        lane_pow = np.empty(K)
        q = np.empty(K)
        vals = np.empty(D1)
        need = _piece_of(w_max[i], ratio) + 1
        if need > MAX_PIECES:
            n_pieces[i] = 0
            continue
        ok = True
        for p in range(need):
            lo = 0.0 if p == 0 else 2.0 ** (p - 1) / ratio
            hi = 2.0 ** p / ratio if p > 0 else 1.0 / ratio
            mid = 0.5 * (lo + hi)
            half = 0.5 * (hi - lo)
            for k in range(D1):
                w = mid + half * cheb_cos[1, k]
                vals[k] = _horizon_sum(times, disc, times[0] / w, A[i], B[i], C[i], lane_z,
                                       lane_s, lane_pow, q)
            top = 0.0
            for m in range(D1):
                acc = 0.0
                for k in range(D1):
                    acc += vals[k] * cheb_cos[m, k]
                coef[i, p, m] = acc * 2.0 / D1
                top = max(top, abs(coef[i, p, m]))
            if (abs(coef[i, p, D1 - 1]) + abs(coef[i, p, D1 - 2]) > CHEB_TOL * top
                    or not np.isfinite(top)):
                ok = False
                break
        n_pieces[i] = need if ok else 0
    return n_pieces


@serial
def _pair_counts(x, codes, width, out):
    """out[g * width + x] += 1 for each customer with frequency x < width in segment g
    (codes of length 1: every customer in segment codes[0])."""
    one_code = codes.shape[0] == 1
    for i in range(x.shape[0]):
        if x[i] < width:
            g = codes[0] if one_code else codes[i]
            out[g * width + int(x[i])] += 1
    return out


@serial
def _clenshaw(c, w, lo, hi):
    """sum_m c[m] T_m(y) - c[0] / 2, y = (2 w - lo - hi) / (hi - lo)."""
    y = (2.0 * w - lo - hi) / (hi - lo)
    y2 = 2.0 * y
    b1 = 0.0
    b2 = 0.0
    for m in range(c.shape[0] - 1, 0, -1):
        b1, b2 = y2 * b1 - b2 + c[m], b1
    return y * b1 - b2 + 0.5 * c[0]


@serial
def _bg_clv(x, tx, T, m, codes, params, gg_codes, gg_params, times, disc, tab_index,
            tab_coef, tab_pieces, n_chunks, out, start, stop):
    """Probabilistic CLV, fused: out[i] = spend_i * sum_j disc_j (E(t_j) - E(t_{j-1})),
    E(t) the BG/NBD conditional expected purchases in (T, T+t] (E(t_0) = 0), spend_i the
    Gamma-Gamma expected average spend.  times (K,) increasing, disc (K,) discount factors.

    E(t_j) = C P(alive) Q(t_j): the horizon sum of Q is read from the (segment, frequency)
    table tab_index[g, x] (``_clv_tables``; -1 or x >= tab_index.shape[1]: none) when it
    has one, else summed from the series (all K horizons share one series per customer:
    its coefficients depend on x only).  Scratch is per chunk of customers."""
    n = out.shape[0]
    K = times.shape[0]
    one_code = codes.shape[0] == 1
    one_gg = gg_codes.shape[0] == 1
    xt = tab_index.shape[1]
    ratio = times[K - 1] / times[0]
    chunk = -(-n // n_chunks)
    for c in range(start, stop):
        lane_z = np.empty(K)
        lane_s = np.empty(K)
        lane_pow = np.empty(K)
        q = np.empty(K)
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            g = codes[0] if one_code else codes[i]
            r, al, a, b = params[g, 0], params[g, 1], params[g, 2], params[g, 3]
            h = gg_codes[0] if one_gg else gg_codes[i]
            xi = x[i]
            C = a + b + xi - 1.0
            beta = al + T[i]
            tab = tab_index[g, int(xi)] if xi < xt else -1
            p = -1
            w = times[0] / beta
            if tab >= 0:
                p = _piece_of(w, ratio)
                if p >= tab_pieces[tab]:
                    p = -1
            if p >= 0:
                lo = 0.0 if p == 0 else 2.0 ** (p - 1) / ratio
                hi = 2.0 ** p / ratio if p > 0 else 1.0 / ratio
                acc = _clenshaw(tab_coef[tab, p], w, lo, hi)
            else:
                acc = _horizon_sum(times, disc, beta, a + b - 1.0 - r, a - 1.0, C, lane_z,
                                   lane_s, lane_pow, q)
            spend = _gg_mean(xi, m[i], gg_params[h, 0], gg_params[h, 1], gg_params[h, 2])
            out[i] = spend * C * _p_alive(xi, tx[i], T[i], r, al, a, b) * acc
    return out
