"""Grouping rows by integer label: a stable, thread-count-independent counting sort, label
lookup through a table (with the bounds check that keeps bad labels out of the scoring
kernels), and a gather.  Used by the per-segment models, RFM and BTYD fits through
:mod:`crmjit._grouping`, which runs these kernels over chunks of rows on the threads.
"""

from __future__ import annotations

from ._jit import serial


@serial
def _count_chunk(codes, flags, c, chunk, counts, sums, descents):
    """The counting pass of chunk c (rows c*chunk .. c*chunk+chunk-1) of a counting sort:
    counts[c, g] += rows of label g, sums[c, g] += their flags (when flags is not empty),
    descents[c] = how many of those rows have a smaller label than the row before (the
    chunk's first row is compared with the last row of the chunk before).  codes : (n,)
    ints in [0, n_groups); flags : (n,) uint8 or empty."""
    n = codes.shape[0]
    with_flags = flags.shape[0] > 0
    lo = c * chunk
    prev = codes[lo - 1] if lo > 0 else 0
    down = 0
    for i in range(lo, min(n, lo + chunk)):
        g = codes[i]
        counts[c, g] += 1
        if with_flags:
            sums[c, g] += flags[i]
        down += 1 if g < prev else 0
        prev = g
    descents[c] = down
    return down


@serial
def _first_slots(counts, sums, offsets, flag_sums):
    """The serial step between the counting and scatter passes: offsets (n_groups + 1,)
    where each label's rows start, flag_sums (n_groups,) the flags summed per label (chunks
    in order), and counts[c, g] turned into the first slot of chunk c's rows of label g
    (group by group, chunk by chunk: a stable sort)."""
    n_chunks, n_groups = counts.shape
    with_flags = sums.shape[0] > 0
    run = 0
    for g in range(n_groups):
        offsets[g] = run
        for c in range(n_chunks):
            cnt = counts[c, g]
            counts[c, g] = run
            run += cnt
            if with_flags:
                flag_sums[g] += sums[c, g]
    offsets[n_groups] = run
    return run


@serial
def _scatter_chunk(codes, c, chunk, slots, order):
    """The scatter pass of chunk c: each row i of the chunk, in order, goes to
    order[slots[c, codes[i]]], and that slot moves on by one."""
    n = codes.shape[0]
    for i in range(c * chunk, min(n, (c + 1) * chunk)):
        g = codes[i]
        slot = slots[c, g]
        order[slot] = i
        slots[c, g] = slot + 1
    return c


@serial
def _map_labels(labels, table, out, start, stop):
    """out[i] = table[labels[i]] for integer labels, -1 for a label outside the table, for
    rows start <= i < stop.  Returns how many of those out[i] are negative (labels with no
    usable model).  This is the check that keeps unvalidated indices away from the scoring
    kernels: bounds are tested here."""
    m = table.shape[0]
    bad = 0
    for i in range(start, stop):
        v = labels[i]
        c = table[v] if 0 <= v < m else -1
        out[i] = c
        bad += 1 if c < 0 else 0
    return bad


@serial
def _take(values, rows, out, start, stop):
    """out[i] = values[rows[i]] for start <= i < stop, 1-D values (a segment-grouped copy
    of y or of the sample weights)."""
    for i in range(start, stop):
        out[i] = values[rows[i]]
    return out
