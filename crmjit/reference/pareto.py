"""Pure-Python twins of :mod:`crmjit.kernels.pareto`: lifetimes' Pareto/NBD formulas
written plainly.  The death-time integral is Fader & Hardie's untransformed Gauss series
2F1(p, e_m; p + 1; z) summed term by term (fine for moderate x), an independent check of
the kernels' Euler-transformed series; gradients and Hessians are central differences of
the values (as the BG/NBD twins)."""

from __future__ import annotations

import math

from .btyd import _at, _chunk_rows, _derivatives, _table_rows, gg_mean, hyp2f1


def log_g(tau, eM, em, M, m):
    """log of (M + tau)^-p 2F1(p, e_m; p + 1; (M - m) / (M + tau)) / p, p = e_M + e_m - 1:
    the antiderivative of -(M + tau)^-e_M (m + tau)^-e_m."""
    p = eM + em - 1
    z = (M - m) / (M + tau)
    return -p * math.log(M + tau) + math.log(hyp2f1(p, em, p + 1, z)) - math.log(p)


def log_g_derivatives(tau, eM, em, M, m):
    """log_g with its central-difference gradient and Hessian in (e_M, e_m, M, m)."""
    return _derivatives(lambda q: log_g(tau, *q), [eM, em, M, m])


def log_i_quad(t1, t2, eM, em, M, m):
    """log of the integral over t1 < tau < t2 of (M + tau)^-e_M (m + tau)^-e_m, as the
    difference of the antiderivative's values (the plain series)."""
    return math.log(math.exp(log_g(t1, eM, em, M, m)) - math.exp(log_g(t2, eM, em, M, m)))


def log_i_quad_derivatives(t1, t2, eM, em, M, m):
    """log_i_quad with its central-difference gradient and Hessian in (e_M, e_m, M, m)."""
    return _derivatives(lambda q: log_i_quad(t1, t2, *q), [eM, em, M, m])


def use_quad(tx, alpha, beta):
    """z(t_x) > 0.9: the kernels integrate by quadrature there."""
    return abs(alpha - beta) > 0.9 * (max(alpha, beta) + tx)


def death_term(t1, t2, x, r, alpha, s, beta):
    """log s + log G(t1) (t2 < 0) or log s + log I over (t1, t2), M the larger of alpha
    and beta."""
    if alpha >= beta:
        args = (r + x, s + 1, alpha, beta)
    else:
        args = (s + 1, r + x, beta, alpha)
    if t2 < 0:
        return math.log(s) + log_g(t1, *args)
    return math.log(s) + log_i_quad(t1, t2, *args)


def copy_term(g, h):
    """Copies of a gradient (4,) and Hessian (4, 4)."""
    return list(g), [list(row) for row in h]


def alive_term(x, T, r, alpha, s, beta):
    """A = -(r + x) log(alpha + T) - s log(beta + T): alive through T."""
    return -(r + x) * math.log(alpha + T) - s * math.log(beta + T)


def mix_term(params, x, tx, T):
    """log(e^A + s I) of one customer: A the :func:`alive_term`, I = G(t_x) - G(T) the
    integral over the time of death."""
    r, alpha, s, beta = params
    a = alive_term(x, T, r, alpha, s, beta)
    if tx >= T:
        return a
    b = death_term(tx, -1, x, r, alpha, s, beta)
    c = death_term(T, -1, x, r, alpha, s, beta)
    top = max(a, b)
    return top + math.log(math.exp(a - top) + math.exp(b - top) - math.exp(c - top))


def x_terms(params, x):
    """lgamma(r + x) - lgamma(r) + r log alpha + s log beta."""
    r, alpha, s, beta = params
    return math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha) + s * math.log(beta)


def log_likelihood(params, x, tx, T, w):
    """Total weighted Pareto/NBD log-likelihood (lifetimes' formula, unscaled time)."""
    return sum(_at(w, i) * (x_terms(params, x[i]) + mix_term(params, x[i], tx[i], T[i]))
               for i in range(len(x)))


def pareto_table_pass(ux, uw, u_ptr, params, active):
    """Per group: sum of uw * x_terms with derivatives; None for inactive groups."""
    return _table_rows(ux, uw, u_ptr, params, active, x_terms)


def pareto_customer_pass(x, tx, T, w, chunk_ptr, chunk_group, params, active):
    """Per chunk: sum of w * mix_term with derivatives."""
    return _chunk_rows((x, tx, T), w, chunk_ptr, chunk_group, params, active, mix_term)


def p_alive_one(x, tx, T, r, alpha, s, beta):
    """P(alive) = e^A / (e^A + s I)."""
    return math.exp(alive_term(x, T, r, alpha, s, beta) - mix_term((r, alpha, s, beta), x, tx, T))


def rate_integral(t, s, beta_T):
    """(1 - (beta_T / (beta_T + t))^(s - 1)) / (s - 1); log(1 + t / beta_T) at s = 1."""
    if s == 1:
        return math.log(1 + t / beta_T)
    return (1 - (beta_T / (beta_T + t)) ** (s - 1)) / (s - 1)


def pareto_predict(t, x, tx, T, m, codes, params, gg_codes, gg_params, times, disc, what):
    """Per customer: P(alive) (what 0), expected purchases in (T, T + t] (1) or CLV (2)."""
    out = []
    for i in range(len(x)):
        r, alpha, s, beta = params[_at(codes, i)]
        alive = p_alive_one(x[i], tx[i], T[i], r, alpha, s, beta)
        rate = alive * (r + x[i]) * (beta + T[i]) / (alpha + T[i])
        if what == 0:
            out.append(alive)
        elif what == 1:
            out.append(rate * rate_integral(_at(t, i), s, beta + T[i]))
        else:
            spend = gg_mean(x[i], m[i], *gg_params[_at(gg_codes, i)])
            e = [rate * rate_integral(tj, s, beta + T[i]) for tj in times]
            out.append(spend * sum(d * (ej - ep) for d, ej, ep in zip(disc, e, [0.0] + e[:-1])))
    return out
