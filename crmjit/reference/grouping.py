"""Pure-Python twins of :mod:`crmjit.kernels.grouping`."""

from __future__ import annotations


def group_order(codes, n_groups, flags=()):
    """(order, offsets, flag_sums, grouped): a stable sort of row indices by code, segment
    boundaries, the flags summed per segment, and whether the codes were already
    non-decreasing."""
    order = sorted(range(len(codes)), key=lambda i: codes[i])
    offsets = [0] * (n_groups + 1)
    for c in codes:
        offsets[c + 1] += 1
    for s in range(n_groups):
        offsets[s + 1] += offsets[s]
    flag_sums = [0] * n_groups
    for c, f in zip(codes, flags):
        flag_sums[c] += f
    grouped = all(a <= b for a, b in zip(codes, codes[1:]))
    return order, offsets, flag_sums, grouped


def map_labels(labels, table):
    """([table[v] or -1 outside the table, ...], how many are negative)."""
    out = [table[v] if 0 <= v < len(table) else -1 for v in labels]
    return out, sum(1 for c in out if c < 0)


def take(values, rows):
    """[values[i] for i in rows]."""
    return [values[i] for i in rows]


def count_chunk(codes, flags, c, chunk, n_groups):
    """(counts, sums, descents) of chunk c of a counting sort: rows per label, flags per
    label, and how many rows have a smaller label than the row before."""
    lo, hi = c * chunk, min(len(codes), (c + 1) * chunk)
    counts, sums = [0] * n_groups, [0] * n_groups
    for i in range(lo, hi):
        counts[codes[i]] += 1
        if flags:
            sums[codes[i]] += flags[i]
    prev = [codes[lo - 1]] if lo > 0 else [0]
    seq = prev + list(codes[lo:hi])
    return counts, sums, sum(1 for a, b in zip(seq, seq[1:]) if b < a)


def first_slots(counts, sums):
    """(offsets, flag_sums, slots): where each label's rows start, the flags per label, and
    the first slot of each chunk's rows of each label (chunks in order within a label)."""
    n_chunks, n_groups = len(counts), len(counts[0]) if counts else 0
    offsets, slots, run = [], [[0] * n_groups for _ in range(n_chunks)], 0
    for g in range(n_groups):
        offsets.append(run)
        for c in range(n_chunks):
            slots[c][g] = run
            run += counts[c][g]
    flag_sums = [sum(s[g] for s in sums) for g in range(n_groups)] if sums else [0] * n_groups
    return offsets + [run], flag_sums, slots


def scatter_chunk(codes, c, chunk, slots):
    """{slot: row} written by chunk c: its rows in order, each at the next slot of its
    label."""
    out, nxt = {}, list(slots[c])
    for i in range(c * chunk, min(len(codes), (c + 1) * chunk)):
        out[nxt[codes[i]]] = i
        nxt[codes[i]] += 1
    return out
