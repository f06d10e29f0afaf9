"""Pure-Python twins of :mod:`crmjit.kernels.ranking`.  Keys and bits are Python ints (the
uint64 values); sorts are Python's stable ``sorted``."""

from __future__ import annotations

import math

SIGN = 1 << 63
ALL = (1 << 64) - 1


def key(bits):
    """The order-preserving key of a float64's bits (-0.0 taken as 0.0)."""
    if bits == SIGN:
        bits = 0
    return bits ^ SIGN if bits < SIGN else ALL ^ bits


def bucket(bits, codes, i, kmin, shift, per):
    """Row i's bucket."""
    return (codes[i] * per if codes else 0) + ((key(bits[i]) - kmin) >> shift)


def count_buckets(bits, codes, kmin, shift, per, c, chunk, n_buckets):
    """Rows of chunk c in each bucket."""
    counts = [0] * n_buckets
    for i in range(c * chunk, min(len(bits), (c + 1) * chunk)):
        counts[bucket(bits, codes, i, kmin, shift, per)] += 1
    return counts


def scatter_buckets(bits, y, w, codes, kmin, shift, per):
    """(packed, wv) of all rows in bucket order, stably: packed = the key bits below the
    bucket's, times 2, plus the label; wv the rows' weights (weighted: len(w) > 1)."""
    rows = sorted(range(len(bits)), key=lambda i: bucket(bits, codes, i, kmin, shift, per))
    low = (1 << shift) - 1
    packed = [(((key(bits[i]) - kmin) & low) << 1) | (1 if y[i] else 0) for i in rows]
    return packed, ([w[i] for i in rows] if len(w) > 1 else [])


def insertion(keys, vals):
    """keys sorted ascending, stably, with vals (or [] when vals is empty)."""
    return sort_run(keys, vals)


def copy(keys, vals):
    """(keys, vals), copied."""
    return list(keys), list(vals)


def radix_pass(keys, vals, sh, width):
    """keys (and vals) sorted stably on their ``width`` bits from bit sh."""
    idx = sorted(range(len(keys)), key=lambda i: (keys[i] >> sh) & ((1 << width) - 1))
    return [keys[i] for i in idx], ([vals[i] for i in idx] if vals else [])


def sort_run(keys, vals):
    """keys sorted ascending, stably, with vals (or [] when vals is empty)."""
    idx = sorted(range(len(keys)), key=lambda i: keys[i])
    return [keys[i] for i in idx], ([vals[i] for i in idx] if vals else [])


def _ties(packed, weights):
    """(positive weight, negative weight) of each tie group of sorted packed keys."""
    groups = []
    for k, wt in zip(packed, weights):
        if groups and groups[-1][0] == k >> 1:
            g = groups[-1]
        else:
            g = [k >> 1, 0.0, 0.0]
            groups.append(g)
        g[1 if k & 1 else 2] += wt
    return [(p, n) for _, p, n in groups]


def tally_sorted(packed, weights):
    """[pw, nw, pairs] of sorted packed keys: pairs ranked correctly, ties half."""
    pw = nw = pairs = 0.0
    for gp, gn in _ties(packed, weights):
        pairs += gp * (nw + 0.5 * gn)
        pw += gp
        nw += gn
    return [pw, nw, pairs]


def tally_buckets(packed, wv, w, offsets):
    """stats[b] = tally_sorted of bucket b, sorted (the kernel sorts only large buckets;
    the tallies do not depend on the order)."""
    stats = []
    for b in range(len(offsets) - 1):
        lo, hi = offsets[b], offsets[b + 1]
        k, v = sort_run(packed[lo:hi], wv[lo:hi] if wv else [])
        stats.append(tally_sorted(k, v if wv else [w[0]] * len(k)))
    return stats


def below(keys, wts, k):
    """(weight of keys < k, weight of keys == k)."""
    return (sum(x for key_, x in zip(keys, wts) if key_ < k),
            sum(x for key_, x in zip(keys, wts) if key_ == k))


def weight(wts):
    """sum of wts, in order."""
    total = 0.0
    for x in wts:
        total += x
    return total


def auc_merge(stats, per, n_groups):
    """[(pairs, positive weight, negative weight)] per segment, buckets in order."""
    out = []
    for g in range(n_groups):
        pairs = pos = neg = 0.0
        for b in range(g * per, (g + 1) * per):
            pairs += stats[b][2] + stats[b][0] * neg
            pos += stats[b][0]
            neg += stats[b][1]
        out.append((pairs, pos, neg))
    return out


def bin_of(above, total, n_bins):
    """The bin of a tie group with weight ``above`` ranked above it (the last bin for a
    ratio that is not a number)."""
    x = above * n_bins / total
    if not x < n_bins - 1:
        return n_bins - 1
    return int(math.floor(x)) if x > 0 else 0


def add_bin(acc, edge, weight, positives, rows, low, high):
    """(acc, edge) with a tie group or bucket added."""
    return ([acc[0] + weight, acc[1] + positives, acc[2] + rows],
            [min(edge[0], low), max(edge[1], high)])


def gains_bins(keys, y, w, codes, n_groups, n_bins):
    """Per segment and bin (highest keys first): ([weight, positive weight, rows], [lowest,
    highest key]), from plain per-customer keys: each tie group, in descending order, goes
    to the bin of the weight ranked above it."""
    sums = [[[0.0, 0.0, 0] for _ in range(n_bins)] for _ in range(n_groups)]
    edges = [[[ALL, 0] for _ in range(n_bins)] for _ in range(n_groups)]
    for g in range(n_groups):
        rows = [i for i in range(len(keys)) if (codes[i] if codes else 0) == g]
        wt = {i: (w[i] if len(w) > 1 else w[0]) for i in rows}
        total = sum(wt[i] for i in rows)
        above = 0.0
        for k in sorted({keys[i] for i in rows}, reverse=True):
            tie = [i for i in rows if keys[i] == k]
            gw = sum(wt[i] for i in tie)
            gp = sum(wt[i] for i in tie if y[i])
            j = bin_of(above, total, n_bins)
            sums[g][j], edges[g][j] = add_bin(sums[g][j], edges[g][j], gw, gp, len(tie), k, k)
            above += gw
    return sums, edges
