"""Grouping rows by integer label on the kernel threads: the counting sort, the label table
lookup and the gather of :mod:`crmjit.kernels.grouping`."""

from __future__ import annotations

import numpy as np

from . import _threads
from .kernels.grouping import _count_chunk, _first_slots, _map_labels, _scatter_chunk, _take


def group_order(codes, n_groups, flags, order):
    """Counting sort: returns (offsets, flag_sums, grouped) and writes order with
    codes[order] non-decreasing, stable, segment s at order[offsets[s]:offsets[s+1]].

    codes : (n,) ints in [0, n_groups); flags : (n,) uint8 (the 0/1 labels) or empty
    (flag_sums stays zero); order : (n,) int32 (when n < 2^31: half the bytes to write and
    to read back) or int64, allocated by the caller with NumPy (huge pages).  flag_sums
    (n_groups,) int64: the flags summed per group (the positives of each segment, exact).
    grouped: codes were already non-decreasing, and then order is left unwritten (the rows
    are grouped as they stand).

    The rows are cut into a fixed number of chunks (a function of n and n_groups only):
    each chunk counts its labels, a serial prefix sum gives every (group, chunk) pair its
    first slot, and each chunk scatters its rows in order, so the result is the serial
    stable sort's for any thread count.  Scratch: 2 * chunks * n_groups int64, chunks <= 16
    and <= n / (4 n_groups)."""
    n = codes.shape[0]
    n_chunks = max(1, min(16, n // (4 * max(n_groups, 1)), n // 65536))
    chunk = -(-n // n_chunks)
    counts = np.zeros((n_chunks, n_groups), dtype=np.int64)
    sums = np.zeros((n_chunks if flags.shape[0] else 0, n_groups), dtype=np.int64)
    descents = np.zeros(n_chunks, dtype=np.int64)
    chunks = range(n_chunks)
    _threads.run(_count_chunk, [(codes, flags, c, chunk, counts, sums, descents)
                                for c in chunks], work=n)
    offsets = np.zeros(n_groups + 1, dtype=np.int64)
    flag_sums = np.zeros(n_groups, dtype=np.int64)
    _first_slots(counts, sums, offsets, flag_sums)
    if not descents.any():
        return offsets, flag_sums, True
    _threads.run(_scatter_chunk, [(codes, c, chunk, counts, order) for c in chunks], work=n)
    return offsets, flag_sums, False


def map_labels(labels, table, out):
    """out[i] = table[labels[i]] (-1 outside the table); returns how many are negative."""
    return sum(_threads.over(_map_labels, labels.shape[0], labels, table, out))


def take(values, rows, out):
    """out[i] = values[rows[i]]; returns out."""
    _threads.over(_take, rows.shape[0], values, rows, out)
    return out
