"""Passes the public layer uses to validate and encode its inputs: finding non-finite
values and marking which small integers occur.

Each reads a span of its input; the caller runs spans on the threads
(``crmjit._threads.over``).  Neither result depends on the thread count or on the order
the spans finish in.
"""

from __future__ import annotations

from ._jit import serial, serial_reduce

_BLOCK = 1 << 16  # values per block


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
