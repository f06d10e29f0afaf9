"""Pure-Python twins of :mod:`crmjit.kernels.btyd`: lifetimes' formulas written plainly.

The likelihood twins compute each customer's log-likelihood term from its textbook form
(``math.lgamma``) and the gradient and Hessian by central differences of it, so they check
the kernels' analytic derivatives as well as their values.  The expectation twins sum the
*untransformed* Gauss series 2F1(r+x, b+x; a+b+x-1; z) term by term (fine for moderate x),
an independent check of the kernels' Euler-transformed series.
"""

from __future__ import annotations

import math

H = 1e-5  # relative step of the central differences for the gradient ...
H2 = 2e-4  # ... and the (larger: rounding) step for the Hessian


def _at(seq, i):
    return seq[0] if len(seq) == 1 else seq[i]


def _derivatives(fun, params):
    """Value, central-difference gradient and Hessian (upper triangle, row by row) of
    fun at params, as one accumulator row."""
    k = len(params)
    f0 = fun(params)

    def shifted(steps, h):
        q = list(params)
        for j, s in steps:
            q[j] += s * h * params[j]
        return fun(q)

    grad = [(shifted([(j, 1)], H) - shifted([(j, -1)], H)) / (2 * H * params[j])
            for j in range(k)]
    hess = []
    for i in range(k):
        for j in range(i, k):
            hi, hj = H2 * params[i], H2 * params[j]
            if i == j:
                d2 = (shifted([(i, 1)], H2) - 2 * f0 + shifted([(i, -1)], H2)) / hi ** 2
            else:
                d2 = (shifted([(i, 1), (j, 1)], H2) - shifted([(i, 1), (j, -1)], H2)
                      - shifted([(i, -1), (j, 1)], H2) + shifted([(i, -1), (j, -1)], H2)) \
                    / (4 * hi * hj)
            hess.append(d2)
    return [f0] + grad + hess


def bg_x_terms(params, x, shift=0.0):
    """Terms of a BG/NBD customer's log-likelihood that depend on x only (and r log alpha);
    shift 1: MBG/NBD's (lifetimes' ``ModifiedBetaGeoFitter``: b + x + 1 where BG/NBD has
    b + x)."""
    r, alpha, a, b = params
    return (math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha) + math.lgamma(a + b)
            + math.lgamma(b + x + shift) - math.lgamma(b) - math.lgamma(a + b + x + shift))


def bg_mix_term(params, x, tx, T, shift=0.0):
    """log(e^A3 + [x > 0] e^A4) of one customer; MBG/NBD (shift 1): log(e^A3 + e^A4) with
    b + x in A4."""
    r, alpha, a, b = params
    a3 = -(r + x) * math.log(alpha + T)
    if x == 0 and shift == 0:
        return a3
    a4 = math.log(a) - math.log(b + x - 1 + shift) - (r + x) * math.log(alpha + tx)
    top = max(a3, a4)
    return top + math.log(math.exp(a3 - top) + math.exp(a4 - top))


def bg_log_likelihood(params, x, tx, T, w, shift=0.0):
    """Total weighted BG/NBD (MBG/NBD: shift 1) log-likelihood (lifetimes' formula,
    unscaled time)."""
    return sum(_at(w, i) * (bg_x_terms(params, x[i], shift)
                            + bg_mix_term(params, x[i], tx[i], T[i], shift))
               for i in range(len(x)))


def _table_rows(ux, uw, u_ptr, params, active, term):
    """Per group: sum of uw * term(params, x) over its distinct x, with derivatives."""
    rows = []
    for g, p in enumerate(params):
        if not active[g]:
            rows.append(None)
            continue
        entries = list(zip(ux[u_ptr[g]:u_ptr[g + 1]], uw[u_ptr[g]:u_ptr[g + 1]]))
        rows.append(_derivatives(lambda q: sum(w * term(q, x) for x, w in entries), list(p)))
    return rows


def _chunk_rows(columns, w, chunk_ptr, chunk_group, params, active, term):
    """Per chunk: sum of w * term(params, *customer's columns), with derivatives."""
    rows = []
    for c, g in enumerate(chunk_group):
        if not active[g]:
            rows.append(None)
            continue
        ids = range(chunk_ptr[c], chunk_ptr[c + 1])
        rows.append(_derivatives(
            lambda q: sum(_at(w, i) * term(q, *(col[i] for col in columns)) for i in ids),
            list(params[g])))
    return rows


def log_moments(out, total):
    """[out[0]] + out[1:5] / total + the upper triangle of out[5:15] / total - g g^T."""
    g = [v / total for v in out[1:5]]
    hess, pos = [], 5
    for i in range(4):
        for j in range(i, 4):
            hess.append(out[pos] / total - g[i] * g[j])
            pos += 1
    return [out[0]] + g + hess


def nbd_terms(ux, uw, lo, hi, r):
    """(W, sum w lgamma(r + x), sum w digamma(r + x), sum w trigamma(r + x)) over
    ux[lo:hi]."""
    from .special import digamma, trigamma
    entries = list(zip(ux[lo:hi], uw[lo:hi]))
    return (sum(w for _, w in entries), sum(w * math.lgamma(r + x) for x, w in entries),
            sum(w * digamma(r + x) for x, w in entries),
            sum(w * trigamma(r + x) for x, w in entries))


def bg_table_pass(ux, uw, u_ptr, shift, params, active):
    """Per group: sum of uw * x-only terms, with derivatives; None for inactive groups."""
    return _table_rows(ux, uw, u_ptr, params, active,
                       lambda q, x: bg_x_terms(q, x, shift))


def bg_customer_pass(x, tx, T, w, chunk_ptr, chunk_group, shift, params, active):
    """Per chunk: sum of w * mix terms over its customers, with derivatives."""
    return _chunk_rows((x, tx, T), w, chunk_ptr, chunk_group, params, active,
                       lambda q, *c: bg_mix_term(q, *c, shift))


def gg_x_terms(params, x):
    """Gamma-Gamma terms depending on x only, with the constant q log v - lgamma(q)."""
    p, q, v = params
    return (math.lgamma(p * x + q) - math.lgamma(p * x) + p * x * math.log(x)
            + q * math.log(v) - math.lgamma(q))


def gg_spend_term(params, x, m):
    """(p x - 1) log m - (p x + q) log(x m + v)."""
    p, q, v = params
    return (p * x - 1) * math.log(m) - (p * x + q) * math.log(x * m + v)


def gg_table_pass(ux, uw, u_ptr, params, active):
    """Gamma-Gamma twin of :func:`bg_table_pass`."""
    return _table_rows(ux, uw, u_ptr, params, active, gg_x_terms)


def gg_customer_pass(x, m, w, chunk_ptr, chunk_group, params, active):
    """Gamma-Gamma twin of :func:`bg_customer_pass`."""
    return _chunk_rows((x, m), w, chunk_ptr, chunk_group, params, active, gg_spend_term)


def hyp2f1(a, b, c, z, tol=1e-17, max_terms=1_000_000):
    """Gauss hypergeometric series sum_k (a)_k (b)_k / ((c)_k k!) z^k, plainly."""
    term, total, k = 1.0, 1.0, 0
    while k < max_terms:
        term *= (a + k) * (b + k) / ((c + k) * (k + 1)) * z
        total += term
        k += 1
        if abs(term) <= tol * abs(total) and (a + k) * (b + k) / ((c + k) * (k + 1)) * z < 1:
            break
    return total


def p_alive(x, tx, T, r, alpha, a, b, at_zero=False):
    """P(alive) = 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x));
    at_zero: the odds at x = 0 too (MBG/NBD, given b + 1)."""
    if x == 0 and not at_zero:
        return 1.0
    return 1.0 / (1.0 + a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x))


def expected(t, x, tx, T, r, alpha, a, b, at_zero=False):
    """lifetimes' conditional expected purchases in (T, T + t] (Fader et al. eq. 10); 0
    for a customer whose P(alive) is 0.  MBG/NBD: b + 1 and at_zero."""
    alive = p_alive(x, tx, T, r, alpha, a, b, at_zero)
    if alive == 0.0:
        return 0.0
    z = t / (alpha + T + t)
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, z)
    first = (a + b + x - 1) / (a - 1)
    second = 1 - hyp * ((alpha + T) / (alpha + T + t)) ** (r + x)
    return first * second * alive


def survival_sum(u, s, a1, a2):
    """E[purchases in the window | alive] = sum_{j >= 1} P(N = j) sum_{k < j} w_k, N ~
    NegBin(s, 1 / (1 + u)) purchase opportunities and w_k = (a2)_k / (a1 + a2)_k the
    probability of surviving k purchases; terms until the tail is negligible."""
    if u <= 0:
        return 0.0
    mean = s * u
    total, cum, w, j = 0.0, 0.0, 1.0, 0
    log_pmf = -s * math.log1p(u)
    while True:
        j += 1
        log_pmf += math.log((s + j - 1) / j) + math.log(u / (1 + u))
        cum += w
        w *= (a2 + j - 1) / (a1 + a2 + j - 1)
        term = math.exp(log_pmf) * cum
        total += term
        if j > mean + 40 * math.sqrt(mean * (1 + u)) + 50 or (j > mean and term <= 1e-17 * total):
            return total


def conditional_q(t, beta, A, B, C, S):
    """Q(t_j) = E(t_j) / (C P(alive)) for each t_j: from the plain series (B != 0), or
    from a = SERIES_MAX_A on and where A z < -1, from the survival sum."""
    if B + 1 >= 256 or A * (t[-1] / (beta + t[-1])) < -1:
        return [survival_sum(tj / beta, S, B + 1, C - B) / C for tj in t]
    out = []
    for tj in t:
        z = tj / (beta + tj)
        h = (1 - z) ** B * hyp2f1(A, B, C, z)
        out.append((1 - h) / B)
    return out


def expected_series(z, A, B, C):
    """sum_{k>=1} d_k z_j^k with d_k = (A)_k (B)_k / (B (C)_k k!), for each z_j (B != 0)."""
    return [(hyp2f1(A, B, C, zj) - 1) / B for zj in z]


def bg_expected(t, x, tx, T, codes, params, shift):
    """Conditional expected purchases per customer (t, codes broadcast from length 1)."""
    out = []
    for i in range(len(x)):
        r, alpha, a, b = params[_at(codes, i)]
        out.append(expected(_at(t, i), x[i], tx[i], T[i], r, alpha, a, b + shift, shift > 0))
    return out


def bg_p_alive(x, tx, T, codes, params, shift):
    """P(alive) per customer."""
    out = []
    for i in range(len(x)):
        r, alpha, a, b = params[_at(codes, i)]
        out.append(p_alive(x[i], tx[i], T[i], r, alpha, a, b + shift, shift > 0))
    return out


def gg_mean(x, m, p, q, v):
    """Gamma-Gamma conditional expected average spend."""
    w = p * x / (p * x + q - 1)
    return (1 - w) * v * p / (q - 1) + w * m


def gg_expected(x, m, codes, params):
    """gg_mean per customer."""
    return [gg_mean(x[i], m[i], *params[_at(codes, i)]) for i in range(len(x))]


def bg_horizon(x, tx, T, scale, codes, params, shift, times, disc):
    """lifetimes' CLV loop: scale_i sum_j (E(t_j) - E(t_{j-1})) disc_j, E(t_0 = 0) = 0
    (scale, codes broadcast from length 1)."""
    out = []
    for i in range(len(x)):
        r, alpha, a, b = params[_at(codes, i)]
        total, prev = 0.0, 0.0
        for tj, dj in zip(times, disc):
            e = expected(tj, x[i], tx[i], T[i], r, alpha, a, b + shift, shift > 0)
            total += _at(scale, i) * (e - prev) * dj
            prev = e
        out.append(total)
    return out


def horizon_sum(times, disc, beta, A, B, C, S):
    """sum_j disc_j (Q(t_j) - Q(t_{j-1})), Q(t_0) = 0."""
    q = conditional_q(times, beta, A, B, C, S)
    return sum(d * (qj - qp) for d, qj, qp in zip(disc, q, [0.0] + q[:-1]))


def piece_of(w, ratio):
    """Index of the table piece [0, 1/ratio), [1/ratio, 2/ratio), [2/ratio, 4/ratio), ..."""
    p, edge = 0, 1.0 / ratio
    while w >= edge:
        p, edge = p + 1, edge * 2
    return p


def piece_edges(p, ratio):
    """(lo, hi) of table piece p of :func:`piece_of`."""
    return (0.0, 1.0 / ratio) if p == 0 else (2.0 ** (p - 1) / ratio, 2.0 ** p / ratio)


def clenshaw(c, w, lo, hi):
    """sum_m c[m] T_m(y) - c[0] / 2 by the Chebyshev polynomials' definition,
    T_m(y) = cos(m arccos y), y = (2w - lo - hi) / (hi - lo) in [-1, 1]."""
    y = (2 * w - lo - hi) / (hi - lo)
    theta = math.acos(max(-1.0, min(1.0, y)))
    return sum(cm * math.cos(m * theta) for m, cm in enumerate(c)) - c[0] / 2


def clv_tables(times, disc, A, B, C, S, w_max, degree=20):
    """Chebyshev interpolants of w -> horizon_sum(times, disc, times[0] / w, A, B, C, S) / w
    on the pieces of :func:`piece_of` up to w_max: a list of coefficient lists, one per
    piece."""
    ratio = times[-1] / times[0]
    n = degree + 1
    pieces = []
    for p in range(piece_of(w_max, ratio) + 1):
        lo, hi = piece_edges(p, ratio)
        nodes = [(lo + hi) / 2 + (hi - lo) / 2 * math.cos(math.pi * (k + 0.5) / n)
                 for k in range(n)]
        vals = [horizon_sum(times, disc, times[0] / w, A, B, C, S) / w for w in nodes]
        pieces.append([2.0 / n * sum(v * math.cos(math.pi * m * (k + 0.5) / n)
                                     for k, v in enumerate(vals)) for m in range(n)])
    return pieces


def pair_counts(x, codes, width, n_groups):
    """Customers per (segment, frequency < width), flat: index g * width + x."""
    out = [0] * (n_groups * width)
    for i, xi in enumerate(x):
        if xi < width:
            out[_at(codes, i) * width + int(xi)] += 1
    return out
