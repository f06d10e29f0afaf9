"""Pure-Python twins of ``crmjit.kernels.checks``."""

from __future__ import annotations

import math


def all_finite(a):
    """True when every value of the list a is finite."""
    return all(math.isfinite(v) for v in a)


def nonfinite_blocks(a, block=1 << 16):
    """How many consecutive blocks of ``block`` values of a hold a NaN or inf."""
    return sum(not all_finite(a[s:s + block]) for s in range(0, len(a), block))


def mark_present(values, lo, size):
    """[1 if lo + k occurs in values else 0 for k < size]."""
    seen = set(values)
    return [1 if lo + k in seen else 0 for k in range(size)]
