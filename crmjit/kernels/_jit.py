"""The one place that sets numba options for every crmjit kernel.

Every kernel is decorated with :func:`serial` or :func:`parallel` from here, never with
``numba.njit`` directly (``tests/test_policy.py`` greps for that).

* ``nogil=True``: callers may run kernels from several Python threads.
* ``error_model="numpy"``: division by zero gives inf/NaN instead of raising inside the
  kernel; the public layer has already ruled such inputs out, so this only removes the
  branch numba would otherwise add to every division.
* ``fastmath=FASTMATH``: a *set* of LLVM flags, never blanket ``fastmath=True``.  ``nnan``
  and ``ninf`` are deliberately absent so NaN and inf propagate (stumpy #850), and
  ``reassoc`` is absent so a loop's summation order is the one written in the source.
  ``serial_reduce`` adds ``reassoc`` for one short reduction inside one row (the scoring
  dot product), which LLVM then vectorises: its order depends on the row length and the
  CPU's vector width, never on the thread count, so results stay identical for any
  ``NUMBA_NUM_THREADS`` (1.8x faster per-row scoring, measured).
* ``cache=True``: compiled kernels are written next to the source (or to numba's user
  cache dir when site-packages is read-only), which cuts ``crmjit demo``'s cold start.
  The known hazard (numba #7522: a cached parallel kernel reused under another thread
  count) is covered by ``tests/test_threads.py``, which runs the same kernels with
  ``NUMBA_NUM_THREADS=1`` and ``2`` against one shared cache directory.  Set
  ``CRMJIT_NO_CACHE=1`` to turn caching off.
"""

from __future__ import annotations

import os

import numba

FASTMATH = frozenset({"nsz", "arcp", "contract"})
FASTMATH_REDUCE = FASTMATH | {"reassoc"}
CACHE = os.environ.get("CRMJIT_NO_CACHE", "") in ("", "0")

_COMMON = {"nogil": True, "error_model": "numpy", "cache": CACHE}


def serial(func):
    """Compile ``func`` as a single-threaded kernel (inner workers, small helpers)."""
    return numba.njit(fastmath=set(FASTMATH), **_COMMON)(func)


def serial_reduce(func):
    """Like :func:`serial`, with ``reassoc`` so a per-row reduction vectorises."""
    return numba.njit(fastmath=set(FASTMATH_REDUCE), **_COMMON)(func)


def parallel(func):
    """Compile ``func`` as a ``prange`` driver that splits work across numba threads."""
    return numba.njit(parallel=True, fastmath=set(FASTMATH), **_COMMON)(func)


def fixed_chunks(n: int, min_chunk: int = 1 << 15, max_chunks: int = 256) -> int:
    """Number of row chunks for a reduction over ``n`` rows.

    It depends on ``n`` only, never on the thread count: each chunk reduces into its own
    slot and the slots are merged in chunk order, so the answer is bit-identical for any
    ``NUMBA_NUM_THREADS``.
    """
    if n <= 0:
        return 1
    chunk = max(min_chunk, -(-n // max_chunks))
    return -(-n // chunk)
