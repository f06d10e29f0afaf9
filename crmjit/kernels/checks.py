"""Parallel passes the public layer uses to validate and encode its inputs: finding
non-finite values and marking which small integers occur.

Each is one read of its input over all numba threads; neither result depends on the
thread count or on the order the blocks finish in.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import parallel, serial_reduce

_BLOCK = 1 << 16  # values per parallel task


@serial_reduce
def _all_finite(a):
    """True when the 1-D array a is all finite: the sum of x * 0 over it is 0 for finite x
    and NaN once any x is NaN or inf.  A sum of zeros is exact in any order, so it may be
    reassociated (vectorised) without changing the answer."""
    acc = a.dtype.type(0)
    for i in range(a.shape[0]):
        acc += a[i] * 0
    return acc == 0


@parallel
def _nonfinite_blocks(a):
    """How many blocks of _BLOCK values of the 1-D float array a hold a NaN or +-inf (0:
    all finite).  One parallel read; each block is a view indexed from 0 (an offset index
    made LLVM emit gathers with wraparound code, measured).  A C- or F-contiguous 2-D array
    is passed as its flat view (``ravel(order="K")``): no copy."""
    n = a.shape[0]
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    bad = 0
    for b in prange(n_blocks):
        s0 = b * _BLOCK
        bad += 0 if _all_finite(a[s0:min(n, s0 + _BLOCK)]) else 1
    return bad


@parallel
def _mark_present(values, lo, present):
    """present[v - lo] = 1 for every value v of the integer array ``values``; the caller
    has checked lo <= v < lo + len(present).  Threads may write the same byte at once, always
    the same value 1, so the result is the same for any thread count.  A byte is written only
    while it is 0: a write to a cache line the other core also writes moves the line between
    cores (10M labels: 3x slower when every occurrence wrote, measured)."""
    for i in prange(values.shape[0]):
        k = values[i] - lo
        if present[k] == 0:
            present[k] = 1
    return present
