"""The one place that sets numba options for every crmjit kernel.

Every kernel is decorated with :func:`serial`, :func:`serial_inline` or
:func:`serial_reduce` from here, never with ``numba.njit`` directly (``tests/test_policy.py``
greps for that).  No kernel is a numba ``prange`` driver: parallel work runs as serial
kernels over spans of the input on crmjit's own threads (``crmjit._threads``).

* ``nogil=True``: callers may run kernels from several Python threads.
* ``error_model="numpy"``: division by zero gives inf/NaN instead of raising inside the
  kernel; the public layer has already ruled such inputs out, so this only removes the
  branch numba would otherwise add to every division.
* ``no_cfunc_wrapper=True``: no kernel is used as a C callback, and numba would otherwise
  build and compile a C wrapper for every kernel and signature (3 % of a cold
  ``LogisticRegression.fit``'s instructions, counted under valgrind).
* ``fastmath=FASTMATH``: a *set* of LLVM flags, never blanket ``fastmath=True``.  ``nnan``
  and ``ninf`` are deliberately absent so NaN and inf propagate (stumpy #850), and
  ``reassoc`` is absent so a loop's summation order is the one written in the source.
  ``serial_reduce`` adds ``reassoc`` for reductions inside one row (the scoring dot
  product) or over one block of rows that a single thread reduces (the training sums),
  which LLVM then vectorises: their order depends on the row or block length and the CPU's
  vector width, never on the thread count, so results stay identical for any
  ``NUMBA_NUM_THREADS``.
* Caching: compiled kernels are kept in :func:`cache_dir` (``CRMJIT_CACHE_DIR``, else
  ``NUMBA_CACHE_DIR``/crmjit-VERSION, else the user cache directory
  ``~/.cache/crmjit/VERSION-...``), never inside site-packages: an install can be
  read-only, and files written there survive ``pip uninstall`` (they once left an empty
  namespace package that shadowed a later editable install).  The folder is named by the
  version and a digest of every kernel source (``_sources_digest``: a cached kernel
  holds its callees' code, which numba does not check), so every environment of one
  crmjit build on a machine shares one cache, and no other build reads it.  An entry
  that cannot be loaded (a truncated or corrupted file) is recompiled with a warning
  naming the directory.  Set ``CRMJIT_NO_CACHE=1`` to turn caching off.
* Intrinsics: three hand-written LLVM intrinsics (a prefetch hint, a float built from its
  bits and the bits of a float) each have a plain fallback, used when
  ``CRMJIT_NO_INTRINSICS=1`` or when the intrinsics fail to compile on this
  numba/llvmlite (checked once, at the first compile).
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import pathlib
import warnings

import numba
import numpy as np
from llvmlite import ir
from numba.core import caching, cgutils, types
from numba.extending import intrinsic, overload

from .._version import __version__

FASTMATH = frozenset({"nsz", "arcp", "contract"})
FASTMATH_REDUCE = FASTMATH | {"reassoc"}
CACHE = os.environ.get("CRMJIT_NO_CACHE", "") in ("", "0")
PLAIN = os.environ.get("CRMJIT_NO_INTRINSICS", "") not in ("", "0")

_COMMON = {"nogil": True, "error_model": "numpy", "no_cfunc_wrapper": True}
CACHE_FORMAT = "c1"  # the layout of a cache entry (``_Impl``): a new one, a new folder


# ------------------------------------------------------------------------------ caching
@functools.lru_cache(maxsize=None)
def _sources_digest(folder=None) -> str:
    """A digest of every kernel module's source (in ``folder``, default this package).
    numba checks only the file of the kernel it loads, but a cached kernel holds the code
    of the kernels it calls, inlined from other files: a folder per set of sources means
    none is ever loaded with a stale callee (an install from a newer commit of the same
    version, a local edit)."""
    digest = hashlib.sha256()
    for path in sorted(pathlib.Path(folder or pathlib.Path(__file__).parent).glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def cache_dir() -> pathlib.Path:
    """Where compiled kernels are kept (see the module docstring); a separate folder when
    the intrinsics are off, so the two builds never mix."""
    tag = (f"{__version__}-{CACHE_FORMAT}-{_sources_digest()}"
           + ("-plain" if PLAIN else ""))
    if os.environ.get("CRMJIT_CACHE_DIR"):
        return pathlib.Path(os.environ["CRMJIT_CACHE_DIR"]) / tag
    if numba.config.CACHE_DIR:
        return pathlib.Path(numba.config.CACHE_DIR) / f"crmjit-{tag}"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "crmjit" / tag


class _Locator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """Cache files of a kernel module in ``cache_dir() / <module name>``."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        stem = pathlib.Path(py_file).stem
        self._cache_path = str(cache_dir() / stem)

    def get_cache_path(self):
        return self._cache_path


class _Impl(caching.CompileResultCacheImpl):
    """numba's compile-result cache with a checksum of the machine code and bitcode, checked
    before LLVM reads them: LLVM aborts the process on a damaged object file."""

    _locator_classes = [_Locator]

    @staticmethod
    def _digest(libdata):
        _, _, (obj, bitcode) = libdata
        return hashlib.sha256(bytes(obj) + bytes(bitcode)).hexdigest()

    def reduce(self, cres):
        payload = super().reduce(cres)
        return (self._digest(payload[0]),) + tuple(payload)

    def rebuild(self, target_context, payload):
        digest, payload = payload[0], payload[1:]
        if self._digest(payload[0]) != digest:
            raise ValueError("checksum mismatch: the file is damaged")
        return super().rebuild(target_context, payload)


class _HealingCache(caching.FunctionCache):
    """numba's function cache in ``cache_dir()``, which recompiles (with a warning naming
    the folder) where an entry cannot be loaded or its index cannot be read."""

    _impl_class = _Impl

    def _warn(self, what, exc):
        warnings.warn(f"crmjit: {what} the compiled kernel cache entry of {self._name} in "
                      f"{self._cache_path} ({type(exc).__name__}: {exc}); it is recompiled "
                      f"and written again", RuntimeWarning, stacklevel=4)

    def load_overload(self, sig, target_context):
        try:
            return super().load_overload(sig, target_context)
        except Exception as exc:  # a damaged file: pickle, EOF or LLVM errors
            self._warn("could not load", exc)
            self._drop_index()
            return None

    def save_overload(self, sig, data):
        try:
            super().save_overload(sig, data)
        except Exception as exc:  # e.g. an unreadable index: start it afresh, once
            self._drop_index()
            try:
                super().save_overload(sig, data)
            except Exception as exc2:
                self._warn("could not save", exc2)
            del exc

    def _drop_index(self):
        try:
            os.remove(self._cache_file._index_path)
        except OSError:
            pass


def _jit(func, fastmath, **options):
    disp = numba.njit(fastmath=set(fastmath), **_COMMON, **options)(func)
    if CACHE:
        try:
            disp._cache = _HealingCache(disp.py_func)
        except RuntimeError:  # no writable cache folder: compile in every process
            pass
    return disp


def serial(func):
    """Compile ``func`` as a single-threaded kernel."""
    return _jit(func, FASTMATH)


def serial_inline(func):
    """Like :func:`serial`, inlined into its callers in numba's IR (``inline="always"``):
    compiled once inside each caller instead of as a function of its own that every caller
    links in and LLVM optimises again, level after level.  For the middle layers of deep
    kernels; never for reductions (they would lose ``serial_reduce``'s flags)."""
    return _jit(func, FASTMATH, inline="always")


def serial_reduce(func):
    """Like :func:`serial`, with ``reassoc`` so a per-row reduction vectorises."""
    return _jit(func, FASTMATH_REDUCE)


def serial_reduce_inline(func):
    """A reduction inlined into its (``serial_reduce``) caller, whose flags it takes."""
    return _jit(func, FASTMATH_REDUCE, inline="always")


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


# --------------------------------------------------------------------------- intrinsics
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


@intrinsic
def _bitcast_float(typingctx, bits):
    """The float whose IEEE-754 bits are ``bits``: float32 from an int32, float64 from an
    int64 (a bit cast, no conversion)."""
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
def _bitcast_int(typingctx, value):
    """The IEEE-754 bits of the float64 ``value`` as an int64 (a bit cast, no conversion)."""
    if value != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(value), codegen


@functools.lru_cache(maxsize=None)
def intrinsics_enabled() -> bool:
    """Whether kernels compile with the intrinsics: not under ``CRMJIT_NO_INTRINSICS=1``,
    nor where they fail to compile (checked once per process, at the first compile of a
    kernel that uses them; a warning says so)."""
    if PLAIN:
        return False

    def probe(a, b):
        _prefetch_byte(a, 0, 0)
        return (_bitcast_float(b) + np.float64(_bitcast_float(np.int32(b >> 32)))
                + _bitcast_int(a[0, 0]))
    try:
        numba.njit(probe)(np.zeros((1, 1)), np.int64(1 << 62))
    except Exception as exc:  # an llvmlite or numba these intrinsics do not fit
        warnings.warn(f"crmjit: LLVM intrinsics unavailable on this numba/llvmlite "
                      f"({type(exc).__name__}); using plain code", RuntimeWarning)
        return False
    return True


def float_from_bits(bits):
    """The float whose IEEE-754 bits are ``bits`` (a bit cast, no conversion): float32 from
    an int32, float64 from an int64.  ``float_from_bits(np.int32((k + 127) << 23))`` is
    2**k for k in [-126, 127], ``float_from_bits(np.int64((k + 1023) << 52))`` for k in
    [-1022, 1023].  A scalar cast that LLVM vectorises, where a table of powers of two
    needs a gather (the float64 exp: 0.75 -> 0.39 us for 1000 values, measured).  For use
    inside kernels; the plain fallback decodes the fields with ``math.ldexp``."""
    raise TypeError("float_from_bits is for use inside numba kernels")


@overload(float_from_bits)
def _float_from_bits(bits):
    if bits not in (types.int32, types.int64):
        return None
    if intrinsics_enabled():
        return lambda bits: _bitcast_float(bits)
    if bits == types.int32:
        return lambda bits: _decode(np.int64(bits), 23, 8, np.float32)
    return lambda bits: _decode(bits, 52, 11, np.float64)


@numba.njit(**_COMMON)
def _decode(bits, mbits, ebits, dtype):
    """The IEEE-754 float of ``bits`` with mbits mantissa and ebits exponent bits."""
    mant = bits & ((np.int64(1) << mbits) - 1)
    exp = (bits >> mbits) & ((np.int64(1) << ebits) - 1)
    neg = (bits >> (mbits + ebits)) & 1
    bias = (1 << (ebits - 1)) - 1
    if exp == (1 << ebits) - 1:
        v = math.inf if mant == 0 else math.nan
    elif exp == 0:
        v = math.ldexp(float(mant), 1 - bias - mbits)
    else:
        v = math.ldexp(float(mant + (np.int64(1) << mbits)), int(exp) - bias - mbits)
    return dtype(-v if neg else v)


def bits_from_float(value):
    """The IEEE-754 bits of the float64 ``value`` as an int64 (a bit cast, no conversion):
    the inverse of ``float_from_bits``, so that a kernel can split a float into exponent
    and mantissa in arithmetic LLVM vectorises (``math.frexp`` is a libm call).  For use
    inside kernels; the plain fallback encodes the fields with ``math.frexp``, exactly."""
    raise TypeError("bits_from_float is for use inside numba kernels")


@overload(bits_from_float)
def _bits_from_float(value):
    if value != types.float64:
        return None
    if intrinsics_enabled():
        return lambda value: _bitcast_int(value)
    return lambda value: _encode(value)


@numba.njit(**_COMMON)
def _encode(v):
    """The IEEE-754 bits of the float64 v, from its fields (``bits_from_float``'s plain
    fallback)."""
    if v != v:
        return np.int64(0x7FF8000000000000)
    neg = np.int64(1 if math.copysign(1.0, v) < 0.0 else 0)
    a = abs(v)
    if a == math.inf:
        exp, mant = np.int64(2047), np.int64(0)
    elif a == 0.0:
        exp, mant = np.int64(0), np.int64(0)
    else:
        m, e = math.frexp(a)  # a = m 2^e, m in [0.5, 1)
        if e >= -1021:  # a normal float: biased exponent e + 1022 >= 1
            exp, mant = np.int64(e + 1022), np.int64((m * 2.0 - 1.0) * 4503599627370496.0)
        else:  # subnormal: a = mant 2^-1074
            exp, mant = np.int64(0), np.int64(math.ldexp(a, 1074))
    return (neg << 63) | (exp << 52) | mant


def row_weight(w, i):
    """Customer i's weight: ``w`` itself when it is a float (one weight for everyone),
    else ``w[i]``.  A kernel taking its weights this way compiles a version without the
    per-customer read and the select for the unweighted case (no gathers in a
    vectorised loop: the BG/NBD pass 17.6 -> 14.5 ns a customer, measured), and one with it
    when weights are given.  For use inside kernels."""
    raise TypeError("row_weight is for use inside numba kernels")


@overload(row_weight)
def _row_weight(w, i):
    if isinstance(w, types.Float):
        return lambda w, i: w
    if isinstance(w, types.Array) and w.ndim == 1:
        return lambda w, i: w[i]
    return None


def prefetch_row(arr, i):
    """Hint the CPU to fetch every cache line of row ``i`` of the C-contiguous 2-D array
    ``arr``; no effect on results (the plain fallback does nothing).  Kernels that gather
    rows in a known order issue it AHEAD rows ahead, so many cache misses are in flight
    instead of one: 10M scattered rows of 16 float64 took 0.13 s on 2 threads, and 0.05 s
    with every line prefetched 32 rows ahead (measured).  For use inside kernels."""
    raise TypeError("prefetch_row is for use inside numba kernels")


@overload(prefetch_row)
def _prefetch_row(arr, i):
    if not intrinsics_enabled():
        return lambda arr, i: None

    def impl(arr, i):
        nbytes = arr.shape[1] * arr.itemsize
        for offset in range(0, nbytes, 64):
            _prefetch_byte(arr, i, offset)
        _prefetch_byte(arr, i, nbytes - 1)
    return impl
