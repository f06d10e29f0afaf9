"""Passes the public layer uses to validate and encode its inputs: finding non-finite
values, counting customers whose (frequency, recency, T) break the RFM rules, and
marking which small integers occur.

Each reads a span of its input; the caller runs spans on the threads
(``crmjit._threads.over``).  Neither result depends on the thread count or on the order
the spans finish in.
"""

from __future__ import annotations

import math

from ._jit import serial, serial_reduce

_BLOCK = 1 << 16  # values per block
WHOLE_MAX = 2.0 ** 53  # whole numbers up to here are exact in float64
FLOAT_MAX = 1.7976931348623157e308


@serial_reduce
def _all_finite(a):
    """True when the 1-D array a is all finite: the sum of x * 0 over it is 0 for finite x
    and NaN once any x is NaN or inf.  A sum of zeros is exact in any order, so it may be
    reassociated (vectorised) without changing the answer."""
    acc = a.dtype.type(0)
    for i in range(a.shape[0]):
        acc += a[i] * 0
    return acc == 0


@serial
def _nonfinite_blocks(a, start, stop):
    """How many blocks of _BLOCK values of a[start:stop] (a 1-D float array) hold a NaN or
    +-inf (0: all finite).  Each block is a view indexed from 0 (an offset index made LLVM
    emit gathers with wraparound code, measured).  A C- or F-contiguous 2-D array is passed
    as its flat view (``ravel(order="K")``): no copy."""
    bad = 0
    for s0 in range(start, stop, _BLOCK):
        bad += 0 if _all_finite(a[s0:min(stop, s0 + _BLOCK)]) else 1
    return bad


@serial
def _rfm_bad(x, tx, T):
    """How many customers break a rule of an RFM summary: x whole with 0 <= x <= 2^53,
    0 <= t_x <= T < inf, and t_x = 0 where x = 0.  Every comparison with NaN is false, so
    NaN and inf break a rule too.  Branch-free, so the loop vectorises (an integer count
    needs no reassociation flag)."""
    bad = 0
    for i in range(x.shape[0]):
        xi = x[i]
        ti = tx[i]
        Ti = T[i]
        ok = ((xi >= 0.0) & (xi <= WHOLE_MAX) & (xi == math.floor(xi)) & (ti >= 0.0)
              & (ti <= Ti) & (Ti <= FLOAT_MAX) & ((xi > 0.0) | (ti == 0.0)))
        bad += 0 if ok else 1
    return bad


@serial
def _rfm_bad_blocks(x, tx, T, start, stop):
    """:func:`_rfm_bad` over customers start..stop, block by block (views indexed from 0,
    as :func:`_nonfinite_blocks`)."""
    bad = 0
    for s0 in range(start, stop, _BLOCK):
        s1 = min(stop, s0 + _BLOCK)
        bad += _rfm_bad(x[s0:s1], tx[s0:s1], T[s0:s1])
    return bad


@serial
def _mark_present(values, lo, present, start, stop):
    """present[v - lo] = 1 for every value v of values[start:stop] (integers); the caller
    has checked lo <= v < lo + len(present).  Threads may write the same byte at once,
    always the same value 1, so the result is the same for any thread count.  A byte is
    written only while it is 0: a write to a cache line the other core also writes moves
    the line between cores (10M labels: 3x slower when every occurrence wrote, measured).
    Returns present."""
    for i in range(start, stop):
        k = values[i] - lo
        if present[k] == 0:
            present[k] = 1
    return present
