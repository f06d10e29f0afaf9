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
  ``serial_reduce`` adds ``reassoc`` for reductions inside one row (the scoring dot
  product) or over one block of rows that a single thread reduces (the training sums),
  which LLVM then vectorises: their order depends on the row or block length and the CPU's
  vector width, never on the thread count, so results stay identical for any
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
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

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


def _item_pointer(context, builder, aty, value, indices):
    """LLVM pointer to the element at ``indices`` (intp values) of the array ``value`` of
    numba type ``aty``: no wraparound, no bounds check (the callers' contract)."""
    ary = context.make_array(aty)(context, builder, value)
    return cgutils.get_item_pointer2(context, builder, ary.data,
                                     cgutils.unpack_tuple(builder, ary.shape),
                                     cgutils.unpack_tuple(builder, ary.strides),
                                     aty.layout, indices, wraparound=False,
                                     boundscheck=False)


@intrinsic
def _prefetch_byte(typingctx, arr, i, offset):
    """Hint the CPU to fetch the cache line holding byte ``offset`` of row ``i`` of the 2-D
    array ``arr`` (read, keep in all cache levels); never faults, so no bounds check."""
    sig = types.void(arr, i, offset)

    def codegen(context, builder, signature, args):
        row = context.cast(builder, args[1], signature.args[1], types.intp)
        off = context.cast(builder, args[2], signature.args[2], types.intp)
        zero = context.get_constant(types.intp, 0)
        ptr = _item_pointer(context, builder, signature.args[0], args[0], [row, zero])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
            "llvm.prefetch.p0i8")
        at = builder.gep(builder.bitcast(ptr, i8p), [off])
        builder.call(fn, [at, i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


@numba.njit(inline="always", **_COMMON)
def prefetch_row(arr, i):
    """Hint the CPU to fetch every cache line of row ``i`` of the C-contiguous 2-D array
    ``arr``; no effect on results.  Kernels that gather rows in a known order issue it
    AHEAD rows ahead, so many cache misses are in flight instead of one.

    A row is rarely aligned to the 64-byte lines: NumPy's large arrays start 16 bytes into
    a page, so a 128-byte row (16 float64) spans three lines.  Prefetching only its first
    128 bytes left the third line to a demand miss on every row, which serialised the
    gather: 10M scattered rows of 16 float64 took 0.13 s on 2 threads, and 0.05 s with
    every line prefetched 32 rows ahead (measured)."""
    nbytes = arr.shape[1] * arr.itemsize
    for offset in range(0, nbytes, 64):
        _prefetch_byte(arr, i, offset)
    _prefetch_byte(arr, i, nbytes - 1)


@intrinsic
def float_from_bits(typingctx, bits):
    """The float whose IEEE-754 bits are ``bits`` (a bit cast, no conversion): float32 from
    an int32, float64 from an int64.  ``float_from_bits(np.int32((k + 127) << 23))`` is
    2**k for k in [-126, 127], ``float_from_bits(np.int64((k + 1023) << 52))`` for k in
    [-1022, 1023].  A scalar cast that LLVM vectorises, where a table of powers of two
    needs a gather (the float64 exp: 0.75 -> 0.39 us for 1000 values, measured) and an
    ``ndarray.view`` of a scratch array stopped the loop vectorising."""
    if bits == types.int32:
        out, llty = types.float32, ir.FloatType()
    elif bits == types.int64:
        out, llty = types.float64, ir.DoubleType()
    else:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llty)

    return out(bits), codegen


@intrinsic
def fetch_add(typingctx, counter, i):
    """Atomically add 1 to ``counter[i]`` (int64 array) and return its value before: a work
    queue shared by the threads of a parallel loop (each takes the next item as it frees
    up, whatever the threading layer's schedule; numba's OpenMP layer splits a prange into
    fixed contiguous ranges even with ``parallel_chunksize(1)``, measured)."""
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64):
        return None
    sig = types.int64(counter, i)

    def codegen(context, builder, signature, args):
        idx = context.cast(builder, args[1], signature.args[1], types.intp)
        ptr = _item_pointer(context, builder, signature.args[0], args[0], [idx])
        return builder.atomic_rmw("add", ptr, ir.Constant(ir.IntType(64), 1), "monotonic")

    return sig, codegen


@intrinsic
def store_stream(typingctx, arr, i, val):
    """``arr[i] = val`` for a 1-D array, as a non-temporal (streaming) store: the line goes
    to memory without first being read into the cache (no read-for-ownership) and without
    evicting what the cache holds.  For copies larger than the caches, written once and
    read back much later; the writing thread sees its own stores in program order (other
    threads would need a fence).  No bounds check."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1):
        return None
    sig = types.void(arr, i, val)

    def codegen(context, builder, signature, args):
        aty = signature.args[0]
        idx = context.cast(builder, args[1], signature.args[1], types.intp)
        v = context.cast(builder, args[2], signature.args[2], aty.dtype)
        st = builder.store(v, _item_pointer(context, builder, aty, args[0], [idx]))
        st.set_metadata("nontemporal",
                        builder.module.add_metadata([ir.Constant(ir.IntType(32), 1)]))
        return context.get_dummy_value()

    return sig, codegen
