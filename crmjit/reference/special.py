"""Pure-Python twins of :mod:`crmjit.kernels.special`."""

from __future__ import annotations

import math


def digamma(x):
    """psi(x), x > 0: recurrence up to x >= 10, then the asymptotic series."""
    acc = 0.0
    while x < 10.0:
        acc -= 1.0 / x
        x += 1.0
    series = (1 / 12) / x**2 - (1 / 120) / x**4 + (1 / 252) / x**6 - (1 / 240) / x**8 \
        + (1 / 132) / x**10 - (691 / 32760) / x**12
    return acc + math.log(x) - 0.5 / x - series


def trigamma(x):
    """psi'(x), x > 0: recurrence up to x >= 10, then the asymptotic series."""
    acc = 0.0
    while x < 10.0:
        acc += 1.0 / (x * x)
        x += 1.0
    series = 1 / (6 * x**3) - 1 / (30 * x**5) + 1 / (42 * x**7) - 1 / (30 * x**9) \
        + 5 / (66 * x**11) - 691 / (2730 * x**13)
    return acc + 1.0 / x + 0.5 / x**2 + series
