"""Prediction kernels of the BG/NBD and Gamma-Gamma models: P(alive), expected purchases
(an Euler-transformed hypergeometric series, rescaled where it would overflow), expected
spend, and the discounted sum over shared horizons (CLV, or expected purchases over one
horizon) with its Chebyshev tables per (segment, frequency) pair.

They take ``codes`` (n,) int64 group codes (length 1: every customer uses
``params[codes[0]]``) and ``params`` (G, k) natural parameters; each works on a span of
customers (or of tables) that the caller runs on the threads.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import serial

MAX_TERMS = 1 << 20  # hypergeometric series cap (z within 4e-5 of 1 still converges)
EPS = 1e-16
SERIES_MAX_A = 256.0  # from this a on, ``_survival_sum`` replaces the series

@serial
def _p_alive(x, tx, T, r, al, a, b, at_zero):
    """P(alive | x, t_x, T) = 1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)),
    computed from its logarithm so that it neither overflows nor returns NaN.  at_zero:
    the odds term applies at x = 0 too (MBG/NBD, called with b + 1)."""
    if x == 0.0 and not at_zero:
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
def _survival_sum(u, s, a1, a2):
    """E[purchases in (T, T+t] | alive] for dropout probability p ~ Beta(a1, a2) (a1 = a,
    a2 = b + x) and purchase rate lambda ~ Gamma(s, alpha + T) (s = r + x), u = t /
    (alpha + T), summed by the model's own structure: the (k+1)-th purchase in the
    window counts if the customer survives the k before it, probability
    w_k = (a2)_k / (a1 + a2)_k, and the window holds at least k+1 purchase opportunities,
    N ~ NegBin(s, 1 / (1 + u)):

        E = sum_k w_k P(N > k) = sum_{j >= 1} P(N = j) (w_0 + ... + w_{j-1}).

    Every term is positive (no cancellation) and P(N = j) comes from its logarithm (no
    overflow): exact for any parameters.  The second form takes about mean(N) + 40 sd(N)
    terms, the first about 40 (a1 + a2) / a1 where a1 >= 64 (w_k falls like
    (1 - a1 / (a1 + a2))^k): the cheaper one is summed.  Beyond MAX_TERMS terms: NaN
    (the caller raises).  Used where the hypergeometric series fails: a from
    ``SERIES_MAX_A`` on (its terms overflow) and r large enough that its alternating terms
    cancel (``_conditional_q``)."""
    if u <= 0.0:
        return 0.0
    n = a1 + a2
    log_odds = math.log(u) - math.log1p(u)  # log(1 - pi), pi = 1 / (1 + u)
    log_pmf = -s * math.log1p(u)  # log P(N = 0)
    mean = s * u
    by_count = mean + 40.0 * math.sqrt(mean * (1.0 + u)) + 50.0
    # w_k falls geometrically, at rate a1 / n, for k up to about n (then as k^-a1): the
    # first form only where 40 n / a1 terms stay in that phase
    by_survival = 40.0 * n / a1 + 50.0 if a1 >= 64.0 else np.inf
    if min(by_count, by_survival) > MAX_TERMS:
        return np.nan
    total = 0.0
    w = 1.0
    if by_survival < by_count:  # sum_k w_k P(N > k)
        tail = -math.expm1(log_pmf)  # P(N > 0)
        k = 0
        while tail > 0.0 and k <= by_survival:
            total += w * tail
            k += 1
            log_pmf += math.log((s + k - 1.0) / k) + log_odds
            tail -= math.exp(log_pmf)
            w *= (a2 + k - 1.0) / (n + k - 1.0)
        return total
    cum = 0.0  # sum_j P(N = j) W_j
    j = 0
    while True:
        j += 1
        log_pmf += math.log((s + j - 1.0) / j) + log_odds
        cum += w
        w *= (a2 + j - 1.0) / (n + j - 1.0)
        term = math.exp(log_pmf) * cum
        total += term
        if j > by_count or (j > mean and term <= EPS * 0.1 * total):
            return total


@serial
def _conditional_q(t, beta, A, B, C, S, lane_z, lane_s, lane_pow, q_out):
    """Q(t_j) for sorted times t (K,) of one customer: E[purchases in (T, T+t_j]] =
    C * P(alive) * Q(t_j), with beta = alpha + T, A = a+b-1-r, B = a-1, C = a+b+x-1 and
    S = r+x (exact, not C - A: that loses ulp(a + b)).

    Q = -expm1(B L)/B - (1 - z)^B sum_{k>=1} d_k z^k, z = t/(beta+t), L = log(1-z): the
    Euler-transformed Gauss series 2F1(A, B; C; z), whose parameters stay bounded however
    large x grows (the untransformed 2F1(r+x, b+x; C; z) overflows there), divided by B
    analytically so that a -> 1 (B -> 0) is exact, not 0/0.  From a = SERIES_MAX_A on
    (the series' terms grow past float64 there) and where A z < -1 (r large: the
    alternating terms cancel), ``_survival_sum``."""
    K = t.shape[0]
    # a large (the series' terms overflow) or A z_K < -1 (its alternating terms cancel)
    if B + 1.0 >= SERIES_MAX_A or A * (t[K - 1] / (beta + t[K - 1])) < -1.0:
        for j in range(K):
            q_out[j] = _survival_sum(t[j] / beta, S, B + 1.0, C - B) / C
        return q_out
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
def _bg_expected(t, x, tx, T, codes, params, shift, n_chunks, out, start, stop):
    """Conditional expected repeat purchases in (T, T + t]: out (n,).  t : (1,) or (n,).
    shift 1: MBG/NBD (BG/NBD's formulas with b + 1, P(alive) < 1 at x = 0 too)."""
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
            r, al, a, b = params[g, 0], params[g, 1], params[g, 2], params[g, 3] + shift
            lane_t[0] = t[0] if scalar_t else t[i]
            xi = x[i]
            C = a + b + xi - 1.0
            _conditional_q(lane_t, al + T[i], a + b - 1.0 - r, a - 1.0, C, r + xi, lane_z,
                           lane_s, lane_pow, q)
            alive = _p_alive(xi, tx[i], T[i], r, al, a, b, shift > 0.0)
            out[i] = C * alive * q[0] if alive > 0.0 else 0.0  # not 0 * inf
    return out


@serial
def _bg_p_alive(x, tx, T, codes, params, shift, out, start, stop):
    """P(alive) per customer: out (n,) (shift as :func:`_bg_expected`)."""
    one_code = codes.shape[0] == 1
    for i in range(start, stop):
        g = codes[0] if one_code else codes[i]
        out[i] = _p_alive(x[i], tx[i], T[i], params[g, 0], params[g, 1], params[g, 2],
                          params[g, 3] + shift, shift > 0.0)
    return out


@serial
def _gg_mean(x, m, p, q, v):
    """E[mean spend | x, m] = (1 - w) v p / (q - 1) + w m, w = p x / (p x + q - 1)."""
    w = p * x / (p * x + q - 1.0)
    return (1.0 - w) * (v * p / (q - 1.0)) + w * m


@serial
def _gg_expected(x, m, codes, params, out, start, stop):
    """Gamma-Gamma conditional expected average spend per customer: out (n,)."""
    one_code = codes.shape[0] == 1
    for i in range(start, stop):
        g = codes[0] if one_code else codes[i]
        out[i] = _gg_mean(x[i], m[i], params[g, 0], params[g, 1], params[g, 2])
    return out


@serial
def _horizon_sum(times, disc, beta, A, B, C, S, lane_z, lane_s, lane_pow, q):
    """sum_j disc_j (Q(t_j) - Q(t_{j-1})) of one customer, Q(t_0) = 0: the CLV per unit of
    spend, C and P(alive) (see :func:`_conditional_q`)."""
    _conditional_q(times, beta, A, B, C, S, lane_z, lane_s, lane_pow, q)
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
    [2^(p-1) / ratio, 2^p / ratio) (p the binary exponent of w * ratio: no log)."""
    y = w * ratio
    if y < 1.0:
        return 0
    return math.frexp(y)[1]


@serial
def _piece_edges(p, ratio):
    """(lo, hi) of table piece p (:func:`_piece_of`)."""
    if p == 0:
        return 0.0, 1.0 / ratio
    return math.ldexp(1.0, p - 1) / ratio, math.ldexp(1.0, p) / ratio


@serial
def _clv_tables(times, disc, A, B, C, S, w_max, cheb_cos, coef, n_pieces, start, stop):
    """Chebyshev tables of S(w) / w, S the horizon sum and w = t_1 / (alpha + T), one per
    (segment, frequency) pair i with parameters A[i], B[i], C[i], S[i]: with the horizons
    fixed, a customer's CLV depends on its age only through w, and S is analytic in w
    except at w = -t_1 / t_j (j = 1..K), so pieces [0, 1/R], [1/R, 2/R], [2/R, 4/R] ...
    (R = t_K / t_1) each lie at least their own length away from the nearest singularity
    and degree 20 resolves them to rounding.  S(0) = 0, and a table of S itself would be
    accurate only to rounding of its largest value: relatively poor near w = 0 (long-lived
    customers, short horizons: 2e-7 at w = 1e-9 for one horizon, measured).  S(w) / w is analytic and non-zero
    there, so w times its table keeps S's relative accuracy.  coef (n, MAX_PIECES,
    CHEB_DEGREE + 1); n_pieces[i] = pieces built (0: no usable table; the caller sums the
    series per customer there).  cheb_cos[m, k] = cos(pi m (k + 1/2) / (D + 1))."""
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
            lo, hi = _piece_edges(p, ratio)
            mid = 0.5 * (lo + hi)
            half = 0.5 * (hi - lo)
            for k in range(D1):
                w = mid + half * cheb_cos[1, k]
                vals[k] = _horizon_sum(times, disc, times[0] / w, A[i], B[i], C[i], S[i],
                                       lane_z, lane_s, lane_pow, q) / w
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
def _bg_horizon(x, tx, T, scale, codes, params, shift, times, disc, tab_index, tab_coef,
                tab_pieces, n_chunks, out, start, stop):
    """Discounted expected purchases over shared horizons: out[i] = scale_i * sum_j
    disc_j (E(t_j) - E(t_{j-1})), E(t) the BG/NBD conditional expected purchases in
    (T, T+t] (E(t_0) = 0).  times (K,) increasing, disc (K,) weights, scale (1,) (one
    factor for everyone) or (n,), and out may be scale itself (scale_i is read before
    out_i is written); shift as :func:`_bg_expected`.  With the Gamma-Gamma
    expected spend as scale, times the months and disc their discount factors, it is the
    probabilistic CLV; with times (t,), disc (1,) and scale (1,): expected purchases.

    E(t_j) = C P(alive) Q(t_j): the horizon sum of Q is w times the (segment, frequency)
    table tab_index[g, x] (``_clv_tables``; -1 or x >= tab_index.shape[1]: none) when it
    has one, else summed from the series (all K horizons share one series per customer:
    its coefficients depend on x only).  Scratch is per chunk of customers."""
    n = out.shape[0]
    K = times.shape[0]
    one_code = codes.shape[0] == 1
    one_scale = scale.shape[0] == 1
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
            r, al, a, b = params[g, 0], params[g, 1], params[g, 2], params[g, 3] + shift
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
                lo, hi = _piece_edges(p, ratio)
                acc = w * _clenshaw(tab_coef[tab, p], w, lo, hi)
            else:
                acc = _horizon_sum(times, disc, beta, a + b - 1.0 - r, a - 1.0, C, r + xi,
                                   lane_z, lane_s, lane_pow, q)
            factor = scale[0] if one_scale else scale[i]
            alive = _p_alive(xi, tx[i], T[i], r, al, a, b, shift > 0.0)
            out[i] = factor * C * alive * acc if alive > 0.0 else 0.0
    return out
