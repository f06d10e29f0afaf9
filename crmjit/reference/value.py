"""Pure-Python twins of :mod:`crmjit.kernels.value` and of the CAC/conversion formulas."""

from __future__ import annotations


def _at(seq, i):
    """Element i of a per-customer list, or its only element when it has length 1."""
    return seq[0] if len(seq) == 1 else seq[i]


def clv_matrix(cash_flows, rate, lifespan):
    """CLV_i = sum over t = 1..L_i of cash_flows[i][t-1] / (1 + rate_i) ** t."""
    out = []
    for i, row in enumerate(cash_flows):
        r = _at(rate, i)
        life = len(row) if len(lifespan) == 0 else _at(lifespan, i)
        total = 0.0
        for t in range(1, life + 1):
            total += row[t - 1] / (1.0 + r) ** t
        out.append(total)
    return out


def annuity(rate, life):
    """sum over t = 1..life of 1 / (1 + rate) ** t."""
    return sum(1.0 / (1.0 + rate) ** t for t in range(1, life + 1))


def clv_constant(margin, rate, lifespan):
    """CLV_i = margin_i * sum over t = 1..L_i of 1 / (1 + rate_i) ** t."""
    n = max(len(margin), len(rate), len(lifespan))
    return [_at(margin, i) * annuity(_at(rate, i), _at(lifespan, i)) for i in range(n)]


def group_sums(values, codes, n_groups):
    """Row count and sum of values per group code."""
    counts = [0] * n_groups
    sums = [0.0] * n_groups
    for v, g in zip(values, codes):
        counts[g] += 1
        sums[g] += v
    return counts, sums


def cac(spend, new_customers):
    """Customer acquisition cost per channel: spend / new customers."""
    return [s / k for s, k in zip(spend, new_customers)]


def conversion_rate(conversions, visits):
    """Conversion rate per channel in percent: 100 * conversions / visits."""
    return [100.0 * c / v for c, v in zip(conversions, visits)]
