"""Special functions the probabilistic-CLV kernels need and numba's ``math`` lacks.

``math.lgamma`` is used directly; the digamma and trigamma functions are written here:
the recurrence psi(x) = psi(x + 1) - 1/x lifts x to >= 10, then the asymptotic (Bernoulli)
series, whose first omitted term there is below 1e-16 relative.  Arguments are > 0 (the
model parameters and parameter + frequency), which the public layer guarantees.
"""

from __future__ import annotations

import math

from ._jit import serial

SHIFT = 10.0  # lift the argument to >= SHIFT before the asymptotic series


@serial
def _digamma(x):
    """psi(x) = d/dx log Gamma(x) for x > 0, absolute error ~1e-15."""
    acc = 0.0
    while x < SHIFT:
        acc -= 1.0 / x
        x += 1.0
    inv = 1.0 / x
    i2 = inv * inv
    tail = i2 * (1.0 / 12 - i2 * (1.0 / 120 - i2 * (1.0 / 252 - i2 * (
        1.0 / 240 - i2 * (1.0 / 132 - i2 * (691.0 / 32760))))))
    return acc + math.log(x) - 0.5 * inv - tail


@serial
def _trigamma(x):
    """psi'(x) for x > 0, relative error ~1e-15."""
    acc = 0.0
    while x < SHIFT:
        acc += 1.0 / (x * x)
        x += 1.0
    inv = 1.0 / x
    i2 = inv * inv
    tail = inv * i2 * (1.0 / 6 - i2 * (1.0 / 30 - i2 * (1.0 / 42 - i2 * (
        1.0 / 30 - i2 * (5.0 / 66 - i2 * (691.0 / 2730))))))
    return acc + inv + 0.5 * i2 + tail
