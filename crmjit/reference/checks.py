"""Pure-Python twins of ``crmjit.kernels.checks``."""

from __future__ import annotations

import math


def all_finite(a):
    """True when every value of the list a is finite."""
    return all(math.isfinite(v) for v in a)


def nonfinite_blocks(a, block=1 << 16):
    """How many consecutive blocks of ``block`` values of a hold a NaN or inf."""
    return sum(not all_finite(a[s:s + block]) for s in range(0, len(a), block))


def rfm_bad(x, tx, T):
    """How many customers (x, t_x, T) break a rule: x whole in [0, 2^53], t_x in [0, T],
    T finite, t_x = 0 where x = 0."""
    def ok(xi, ti, Ti):
        return (math.isfinite(xi) and 0 <= xi <= 2 ** 53 and xi == math.floor(xi)
                and math.isfinite(Ti) and 0 <= ti <= Ti and (xi > 0 or ti == 0))
    return sum(not ok(*row) for row in zip(x, tx, T))


def rfm_bad_blocks(x, tx, T, block=1 << 16):
    """rfm_bad summed over consecutive blocks (the same count)."""
    return sum(rfm_bad(x[s:s + block], tx[s:s + block], T[s:s + block])
               for s in range(0, len(x), block))


def mark_present(values, lo, size):
    """[1 if lo + k occurs in values else 0 for k < size]."""
    seen = set(values)
    return [1 if lo + k in seen else 0 for k in range(size)]
