"""Exact ranking of scores, for the ranking metrics (:mod:`crmjit.metrics`): the rows of
each segment in score order, ties found, and the sums the metrics are made of.

Scores are compared through their *keys*: the float64's bits as an unsigned integer,
flipped so that integer order is score order (-0.0 is taken as 0.0).  Comparing keys is
comparing scores, so ties are exact.  A ranking (``crmjit._ranking``), from the smallest
key kmin and the largest:

1. ``_count_buckets``, ``_scatter_buckets``: a counting sort of the rows by bucket,
   (segment, the top bits of key - kmin), so that the buckets in order hold ranges of
   scores in order.  Each row is written as its key's remaining low bits with its label
   as the lowest bit (and, weighted, its weight beside it);
2. ``_tally_buckets``: each bucket's positive and negative weight and the (positive,
   negative) pairs it ranks correctly, ties counting half: every positive compared with
   every negative in a small bucket, a large one sorted (``_sort_run``: a radix pass on
   its highest differing bits, then insertion sorts) and its tie groups tallied;
3. ``_gains_bins``: the gains table walks the buckets from the top, sorting only those
   that straddle a bin's edge.

With a few hundred rows a bucket, a bucket's rows stay in cache while it is worked on.  Every
result is a function of the data alone: buckets are fixed by the keys, each bucket's sort
is serial, and the per-bucket sums are merged in bucket order (``_auc_merge``,
``_gains_bins``), so no result depends on the thread count.  The probability metrics'
sums are in :mod:`crmjit.kernels.calibration`.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import serial, serial_reduce

SIGN = np.uint64(1 << 63)
DIGIT = 8  # bits per radix pass
PAIRWISE = 1024  # buckets up to this many rows: every positive against every negative
SMALL = 24  # digit groups of at most this many rows: insertion sort


@serial
def _key(b):
    """The order-preserving key of a float64 given as its bits b (uint64)."""
    if b == SIGN:  # -0.0 is 0.0
        b = np.uint64(0)
    return b ^ SIGN if b < SIGN else ~b


@serial
def _bucket(bits, codes, i, kmin, shift, per):
    """Row i's bucket: codes[i] * per + ((key - kmin) >> shift) (codes empty: one segment).
    The caller picks shift so that the second term is < per."""
    top = np.int64((_key(bits[i]) - kmin) >> shift)
    return (codes[i] * per if codes.shape[0] > 0 else 0) + top


@serial
def _count_buckets(bits, codes, kmin, shift, per, c, chunk, counts):
    """The counting pass of chunk c (rows c*chunk .. c*chunk+chunk-1) of the bucket sort:
    counts[c, b] = its rows in bucket b."""
    n = bits.shape[0]
    for i in range(c * chunk, min(n, (c + 1) * chunk)):
        counts[c, _bucket(bits, codes, i, kmin, shift, per)] += 1
    return c


@serial
def _scatter_buckets(bits, y, w, codes, kmin, shift, per, c, chunk, slots, packed, wv):
    """The scatter pass of chunk c: row i goes to slot s = slots[c, its bucket] (which
    moves on by one) as packed[s] = ((key - kmin) mod 2**shift) * 2 + y[i], the bits that
    order it within its bucket with its label as the lowest bit, and, weighted (w (n,)),
    wv[s] = w[i]."""
    n = bits.shape[0]
    low = (np.uint64(1) << shift) - np.uint64(1)
    weighted = w.shape[0] > 1
    for i in range(c * chunk, min(n, (c + 1) * chunk)):
        b = _bucket(bits, codes, i, kmin, shift, per)
        s = slots[c, b]
        slots[c, b] = s + 1
        rel = (_key(bits[i]) - kmin) & low
        packed[s] = (rel << np.uint64(1)) | np.uint64(1 if y[i] != 0 else 0)
        if weighted:
            wv[s] = w[i]
    return c


@serial
def _insertion(src_k, src_v, keys, vals, lo, hi, weighted):
    """keys[lo:hi] = src_k[lo:hi] sorted ascending, stably, and (weighted) vals with them:
    each value inserted in turn (src may be keys itself: an in-place insertion sort)."""
    for i in range(lo, hi):
        k = src_k[i]
        v = src_v[i] if weighted else 0.0
        j = i - 1
        while j >= lo and keys[j] > k:
            keys[j + 1] = keys[j]
            if weighted:
                vals[j + 1] = vals[j]
            j -= 1
        keys[j + 1] = k
        if weighted:
            vals[j + 1] = v


@serial
def _radix_pass(keys, vals, sh, width, tmp_k, tmp_v, counts, weighted):
    """One stable counting-sort pass of keys (and vals) on the ``width`` bits from bit sh,
    into tmp_k[:m] (and tmp_v), m = len(keys); counts (>= 2**width + 1,) is left holding
    the digit groups' starts, counts[2**width] = m."""
    m = keys.shape[0]
    size = 1 << width
    mask = np.uint64(size - 1)
    for v in range(size + 1):
        counts[v] = 0
    for i in range(m):
        counts[np.int64((keys[i] >> sh) & mask) + 1] += 1
    for v in range(1, size + 1):
        counts[v] += counts[v - 1]
    for i in range(m):
        v = np.int64((keys[i] >> sh) & mask)
        p = counts[v]
        counts[v] = p + 1
        tmp_k[p] = keys[i]
        if weighted:
            tmp_v[p] = vals[i]
    for v in range(size, 0, -1):  # back to each digit group's start
        counts[v] = counts[v - 1]
    counts[0] = 0


@serial
def _sort_run(keys, vals, tmp_k, tmp_v, counts, starts, weighted):
    """Sort keys (uint64) ascending, stably, with vals when ``weighted``: one counting pass
    on the highest bits where the keys differ (about one digit group per 4 rows, at most
    2**DIGIT) into tmp_k (tmp_v), then each digit group back into keys by insertion sort,
    or when larger than SMALL, copied back and sorted by LSD radix passes (DIGIT bits
    each) on the lower bits where its keys differ.  tmp_k, tmp_v (>= len(keys),), counts
    and starts (2**DIGIT + 1,) are scratch.  Every length and offset is a variable, not a
    literal: numba compiles one version."""
    m = keys.shape[0]
    differ = np.uint64(0)
    for i in range(1, m):
        differ |= keys[i] ^ keys[0]
    if differ == 0:
        return
    top = 63
    while (differ >> np.uint64(top)) == 0:
        top -= 1
    lg = 0  # log2(m / 4), rounded down
    while (m >> (lg + 3)) > 0:
        lg += 1
    width = min(DIGIT, max(1, lg), top + 1)
    sh = top + 1 - width
    _radix_pass(keys, vals, np.uint64(sh), width, tmp_k, tmp_v, counts, weighted)
    for v in range((1 << width) + 1):
        starts[v] = counts[v]
    for v in range(1 << width):
        a = starts[v]
        z = starts[v + 1]
        if z - a <= SMALL:
            _insertion(tmp_k, tmp_v, keys, vals, a, z, weighted)
            continue
        low = np.uint64(0)
        for i in range(a, z):
            low |= tmp_k[i] ^ tmp_k[a]
        _copy(tmp_k, tmp_v, keys, vals, a, z, weighted)
        for d in range(0, sh, DIGIT):
            if (low >> np.uint64(d)) & np.uint64((1 << DIGIT) - 1) != 0:
                _radix_pass(keys[a:z], vals[a:z] if weighted else vals,
                            np.uint64(d), min(DIGIT, sh - d), tmp_k[a:], tmp_v[a:] if weighted
                            else tmp_v, counts, weighted)
                _copy(tmp_k, tmp_v, keys, vals, a, z, weighted)


@serial
def _copy(src_k, src_v, keys, vals, lo, hi, weighted):
    """keys[lo:hi] = src_k[lo:hi] (and vals from src_v when weighted)."""
    for i in range(lo, hi):
        keys[i] = src_k[i]
        if weighted:
            vals[i] = src_v[i]


@serial
def _tally_buckets(packed, wv, w, offsets, stats, b0, b1):
    """Tally the ties of buckets b0 .. b1-1: stats[b] = (pw, nw, pairs), the weight of
    bucket b's positives and negatives (w (1,): one weight for all, else wv beside packed)
    and the sum over its positives of weight * (the weight of the bucket's negatives ranked
    below + half those tied).

    Bucket b holds packed[offsets[b]:offsets[b+1]] (``_scatter_buckets``: the key bits
    below the bucket's, times 2, plus the label).  Up to PAIRWISE rows, every positive is
    compared with every negative (``_below``: vectorised; 10M scores: 3x faster than
    sorting, measured) and the bucket is left as it is; a larger bucket is sorted
    (``_sort_run``) and its tie groups tallied in order (``_tally_sorted``)."""
    most = 1
    for b in range(b0, b1):
        most = max(most, offsets[b + 1] - offsets[b])
    weighted = w.shape[0] > 1
    tmp_k = np.empty(most, dtype=np.uint64)
    tmp_v = np.empty(most)
    neg_k = np.empty(min(most, PAIRWISE), dtype=np.uint64)
    neg_w = np.empty(min(most, PAIRWISE))
    counts = np.empty((1 << DIGIT) + 1, dtype=np.int64)
    starts = np.empty((1 << DIGIT) + 1, dtype=np.int64)
    for b in range(b0, b1):
        lo = offsets[b]
        hi = offsets[b + 1]
        keys = packed[lo:hi]
        vals = wv[lo:hi]
        if hi - lo > PAIRWISE:
            _sort_run(keys, vals, tmp_k, tmp_v, counts, starts, weighted)
            _tally_sorted(keys, vals, w, stats[b])
            continue
        n_pos = 0
        n_neg = 0
        for t in range(hi - lo):  # positives to tmp, negatives to neg (keys without label)
            wt = vals[t] if weighted else w[0]
            if keys[t] & np.uint64(1):
                tmp_k[n_pos] = keys[t] >> np.uint64(1)
                tmp_v[n_pos] = wt
                n_pos += 1
            else:
                neg_k[n_neg] = keys[t] >> np.uint64(1)
                neg_w[n_neg] = wt
                n_neg += 1
        pw = 0.0
        pairs = 0.0
        for t in range(n_pos):
            below, tied = _below(neg_k[:n_neg], neg_w[:n_neg], tmp_k[t])
            pairs += tmp_v[t] * (below + 0.5 * tied)
            pw += tmp_v[t]
        stats[b, 0] = pw
        stats[b, 1] = _weight(neg_w[:n_neg])
        stats[b, 2] = pairs
    return b1 - b0


@serial_reduce
def _below(keys, wts, k):
    """(sum of wts[j] where keys[j] < k, sum where keys[j] == k), reassociated
    (vectorised): whole and half weights sum exactly in any order."""
    lt = 0.0
    eq = 0.0
    for j in range(keys.shape[0]):
        x = keys[j]
        lt += wts[j] if x < k else 0.0
        eq += wts[j] if x == k else 0.0
    return lt, eq


@serial
def _weight(wts):
    """sum of wts, in order."""
    acc = 0.0
    for j in range(wts.shape[0]):
        acc += wts[j]
    return acc


@serial
def _tally_sorted(keys, vals, w, out):
    """out = (pw, nw, pairs) of sorted packed keys (label lowest), tie group by tie group;
    vals the weights when w is not (1,)."""
    weighted = w.shape[0] > 1
    pw = 0.0
    nw = 0.0
    pairs = 0.0
    m = keys.shape[0]
    t = 0
    while t < m:
        gp = 0.0
        gn = 0.0
        tie = keys[t] >> np.uint64(1)
        u = t
        while u < m and (keys[u] >> np.uint64(1)) == tie:
            wr = vals[u] if weighted else w[0]
            if keys[u] & np.uint64(1):
                gp += wr
            else:
                gn += wr
            u += 1
        pairs += gp * (nw + 0.5 * gn)
        pw += gp
        nw += gn
        t = u
    out[0] = pw
    out[1] = nw
    out[2] = pairs


@serial
def _auc_merge(stats, per, out):
    """For each segment g (buckets g*per .. g*per+per-1, in order): out[g] = (pairs, P, N),
    the weighted count of (positive, negative) pairs ranked correctly (ties count half)
    and the total positive and negative weight: AUC = pairs / (P N)."""
    for g in range(out.shape[0]):
        pairs = 0.0
        pos = 0.0
        neg = 0.0
        for b in range(g * per, (g + 1) * per):
            pairs += stats[b, 2] + stats[b, 0] * neg
            pos += stats[b, 0]
            neg += stats[b, 1]
        out[g, 0] = pairs
        out[g, 1] = pos
        out[g, 2] = neg
    return out


@serial
def _bin_of(above, total, n_bins):
    """The gains-table bin (0: highest scores) of a tie group with weight ``above`` ranked
    above it, out of ``total``: equal-weight bins, a tie group never split.  Always a bin
    in [0, n_bins), whatever the floats (the caller rules out total <= 0)."""
    x = above * n_bins / total
    if not (x < n_bins - 1):  # also NaN: never an index out of range
        return n_bins - 1
    return int(math.floor(x)) if x > 0.0 else 0


@serial
def _gains_bins(packed, wv, w, offsets, stats, per, kmin, shift, n_bins, out, edges, g0, g1):
    """The gains table of segments g0 .. g1-1 from their tallied buckets
    (``_tally_buckets``), highest scores first: out[g, j] = (weight, positive weight,
    rows) of bin j and edges[g, j] = (lowest, highest key) of its scores.  A bucket that
    lies in one bin is added whole (its key range found by a scan); only a bucket that
    straddles a bin's edge is sorted (``_sort_run``) and read from the top, one tie group
    at a time."""
    weighted = w.shape[0] > 1
    most = 1
    for b in range(g0 * per, g1 * per):
        most = max(most, offsets[b + 1] - offsets[b])
    tmp_k = np.empty(most, dtype=np.uint64)
    tmp_v = np.empty(most)
    counts = np.empty((1 << DIGIT) + 1, dtype=np.int64)
    starts = np.empty((1 << DIGIT) + 1, dtype=np.int64)
    one = np.uint64(1)
    for g in range(g0, g1):
        total = 0.0
        for b in range(g * per, (g + 1) * per):
            total += stats[b, 0] + stats[b, 1]
        above = 0.0
        for b in range((g + 1) * per - 1, g * per - 1, -1):
            lo = offsets[b]
            hi = offsets[b + 1]
            if hi == lo:
                continue
            keys = packed[lo:hi]
            vals = wv[lo:hi]
            base = kmin + (np.uint64(b - g * per) << shift)
            bw = stats[b, 0] + stats[b, 1]
            j = _bin_of(above, total, n_bins)
            if j == n_bins - 1 or _bin_of(above + bw, total, n_bins) == j:
                low = keys[0]
                high = keys[0]
                for t in range(1, hi - lo):
                    low = min(low, keys[t])
                    high = max(high, keys[t])
                _add_bin(out[g, j], edges[g, j], bw, stats[b, 0], hi - lo,
                         base + (low >> one), base + (high >> one))
                above += bw
                continue
            _sort_run(keys, vals, tmp_k, tmp_v, counts, starts, weighted)
            t = hi - lo - 1
            while t >= 0:
                tie = keys[t] >> one
                gw = 0.0
                gp = 0.0
                u = t
                while u >= 0 and (keys[u] >> one) == tie:
                    wr = vals[u] if weighted else w[0]
                    gw += wr
                    if keys[u] & one:
                        gp += wr
                    u -= 1
                j = _bin_of(above, total, n_bins)
                _add_bin(out[g, j], edges[g, j], gw, gp, t - u, base + tie, base + tie)
                above += gw
                t = u
    return g1 - g0


@serial
def _add_bin(acc, edge, weight, positives, rows, low, high):
    """Add (weight, positives, rows) to a bin's sums acc and widen its key range edge
    (uint64; starts as (max, 0))."""
    acc[0] += weight
    acc[1] += positives
    acc[2] += rows
    edge[0] = min(edge[0], low)
    edge[1] = max(edge[1], high)
