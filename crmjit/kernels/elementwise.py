"""Elementwise maths of the logistic model: e^(-|z|), log(1 + e) on [0, 1], the sigmoid and
log(1 + e^z), in float64 and (for scoring) float32; and the natural log that the BG/NBD
likelihood passes take twice a customer.

Why our own exp and log1p: numba calls libm for ``math.exp``, which LLVM cannot vectorise
without Intel SVML (absent from PyPI's llvmlite).  ``_exp_neg_abs`` and ``_log1p_unit`` are
plain arithmetic (Cody-Waite reduction, a degree-13 Taylor polynomial, a power of two
built from its bits; an atanh series), so loops over a block of rows vectorise.  Both are
within 2 ulp of libm (tested against ``math`` in ``tests/test_logistic.py``) and stable for
any z: only e^(-|z|) in (0, 1] is ever formed, so nothing overflows.  Their Horner chains are
written out: a loop over a coefficient array stops LLVM vectorising the sigmoid loop.
"""

from __future__ import annotations

import numpy as np

from ._jit import bits_from_float, float_from_bits, serial, serial_inline

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_ROUND = 6755399441055744.0  # 1.5 * 2**52: (x + _ROUND) - _ROUND rounds x to an integer
_LOG2E32 = np.float32(_LOG2E)
_LN2_HI32 = np.float32(0.693359375)  # 9 significant bits: k * _LN2_HI32 is exact
_LN2_LO32 = np.float32(-2.12194440e-4)  # ln 2 - _LN2_HI32
_ROUND32 = np.float32(12582912.0)  # 1.5 * 2**23: (x + _ROUND32) - _ROUND32 rounds x
_EXP32_MIN = np.float32(-104.0)  # e^-104 < 2**-150: below it, float32 rounds e^t to 0
_SQRT2 = 1.4142135623730951
_TINY = 2.2250738585072014e-308  # the smallest normal float64
_MANTISSA = (1 << 52) - 1
_ONE_BITS = 1023 << 52  # the exponent field of [1, 2)


@serial
def _exp_neg_abs(z):
    """e^(-|z|) in (0, 1]; 0 below e^-708 (where the true value is < 3.3e-308).  2^k is
    built from its bits (k in [-1022, 0]: always a normal float64), not looked up in a
    table: no gather, 1.9x faster a vectorised row (measured), the same values."""
    t = -abs(z)
    tc = max(t, -708.0)
    kf = (tc * _LOG2E + _ROUND) - _ROUND  # t = k ln2 + f, |f| <= ln2 / 2
    f = (tc - kf * _LN2_HI) - kf * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * f + 1.0 / 479001600.0
    p = p * f + 1.0 / 39916800.0
    p = p * f + 1.0 / 3628800.0
    p = p * f + 1.0 / 362880.0
    p = p * f + 1.0 / 40320.0
    p = p * f + 1.0 / 5040.0
    p = p * f + 1.0 / 720.0
    p = p * f + 1.0 / 120.0
    p = p * f + 1.0 / 24.0
    p = p * f + 1.0 / 6.0
    p = p * f + 0.5
    p = p * f + 1.0
    p = p * f + 1.0
    e = p * float_from_bits((np.int64(kf) + 1023) << 52)
    return e if t >= -708.0 else 0.0


@serial
def _exp_neg_abs32(z):
    """e^(-|z|) for float32 z, in float32 arithmetic: ``_exp_neg_abs`` with the degree-7
    polynomial float32 needs and 2^k built from its bits (two factors, so k down to -149
    stays exact); within 4 float32 ulp of e^(-|z|) while that is a normal float32, within
    2^-149 (one subnormal step) below, 0 below e^-104 (tested).  Float32 scoring uses it:
    twice the lanes and about half the polynomial of the float64 path."""
    t = -abs(z)
    tc = max(t, _EXP32_MIN)
    kf = (tc * _LOG2E32 + _ROUND32) - _ROUND32
    f = (tc - kf * _LN2_HI32) - kf * _LN2_LO32
    p = np.float32(1.0 / 5040.0)
    p = p * f + np.float32(1.0 / 720.0)
    p = p * f + np.float32(1.0 / 120.0)
    p = p * f + np.float32(1.0 / 24.0)
    p = p * f + np.float32(1.0 / 6.0)
    p = p * f + np.float32(0.5)
    p = p * f + np.float32(1.0)
    p = p * f + np.float32(1.0)
    k = np.int32(kf)
    k1 = np.int32(k >> 1)
    e = (p * float_from_bits(np.int32((k1 + 127) << 23))
         * float_from_bits(np.int32((k - k1 + 127) << 23)))
    return e if t >= _EXP32_MIN else np.float32(0.0)


@serial
def _log1p_unit(e):
    """log(1 + e) for e in [0, 1]: 2 atanh(s), s = e / (2 + e) <= 1/3, odd series to s^33."""
    s = e / (2.0 + e)
    s2 = s * s
    p = 1.0 / 33.0
    p = p * s2 + 1.0 / 31.0
    p = p * s2 + 1.0 / 29.0
    p = p * s2 + 1.0 / 27.0
    p = p * s2 + 1.0 / 25.0
    p = p * s2 + 1.0 / 23.0
    p = p * s2 + 1.0 / 21.0
    p = p * s2 + 1.0 / 19.0
    p = p * s2 + 1.0 / 17.0
    p = p * s2 + 1.0 / 15.0
    p = p * s2 + 1.0 / 13.0
    p = p * s2 + 1.0 / 11.0
    p = p * s2 + 1.0 / 9.0
    p = p * s2 + 1.0 / 7.0
    p = p * s2 + 1.0 / 5.0
    p = p * s2 + 1.0 / 3.0
    p = p * s2 + 1.0
    return 2.0 * s * p


@serial_inline
def _log(u):
    """The natural log of u, within 2 ulp (tested against mpmath, subnormals included):
    u = 2^k m with m in [1/sqrt 2, sqrt 2) from u's bits (``bits_from_float``), log m =
    ``_log1p_unit(m - 1)`` (m - 1 exact), plus k ln 2 in two parts.  0 gives -inf, inf
    gives inf, negatives and NaN give NaN, as ``math.log`` (no exception).  Branch-free
    selects, so a loop over customers vectorises (libm's log does not).  Inlined in
    numba's IR: compiled as a function of its own, LLVM did not inline it into the
    customer loop, which then did not vectorise (93 ns a customer, measured)."""
    sub = u < _TINY
    v = u * 18014398509481984.0 if sub else u  # 2^54: a subnormal made normal
    bits = bits_from_float(v)
    m = float_from_bits((bits & _MANTISSA) | _ONE_BITS)  # in [1, 2)
    big = m > _SQRT2
    k = (bits >> 52) - (1077 if sub else 1023) + (1 if big else 0)
    kf = np.float64(k)
    r = kf * _LN2_HI + (kf * _LN2_LO + _log1p_unit(m * 0.5 - 1.0 if big else m - 1.0))
    if u > 0.0 and u < np.inf:
        return r
    return -np.inf if u == 0.0 else (u if u > 0.0 else np.nan)


@serial
def _sigmoid(z):
    """1 / (1 + e^-z), from e^(-|z|) so it never overflows."""
    e = _exp_neg_abs(z)
    inv = 1.0 / (1.0 + e)
    return inv if z >= 0 else e * inv


@serial
def _sigmoid32(z):
    """``_sigmoid`` in float32 arithmetic for float32 z (``_exp_neg_abs32``)."""
    e = _exp_neg_abs32(z)
    inv = np.float32(1.0) / (np.float32(1.0) + e)
    return inv if z >= 0 else e * inv


@serial
def _log1pexp(z):
    """log(1 + e^z) = max(z, 0) + log1p(e^(-|z|)), exact to a few ulp for any z."""
    return max(z, 0.0) + _log1p_unit(_exp_neg_abs(z))
