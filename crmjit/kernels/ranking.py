"""Exact ranking of scores, for the ranking metrics (:mod:`crmjit.metrics`): the rows of
each segment in score order, ties found, and the sums the metrics are made of.

Scores are compared through their *keys*: the float64's bits as an unsigned integer,
flipped so that integer order is score order (-0.0 is taken as 0.0).  Comparing keys is
comparing scores, so ties are exact.  A ranking takes three passes (``crmjit._ranking``):

1. ``_key_range``: the smallest and largest key;
2. ``_bucket_codes``: each row's bucket, (segment, the top bits of key - kmin); a
   counting sort (``crmjit._grouping.group_order``) then groups the rows by bucket, so the
   buckets in order hold ranges of scores in order;
3. ``_sort_buckets``: each bucket sorted on the remaining low bits of its keys (a stable
   LSD radix sort, 8 bits a pass, skipping the digits every row of the bucket shares) and
   its tie groups tallied: the positives' and negatives' weight, and the pairs it ranks.

With a few dozen rows a bucket, a bucket's rows stay in cache while it is sorted.  Every
result is a function of the data alone: buckets are fixed by the keys, each bucket's sort
is serial, and the per-bucket sums are merged in bucket order (``_auc_merge``,
``_gains_bins``), so no result depends on the thread count.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import serial

SIGN = np.uint64(1 << 63)
DIGIT = 8  # bits per radix pass
SMALL = 24  # buckets of at most this many rows: insertion sort


@serial
def _key(b):
    """The order-preserving key of a float64 given as its bits b (uint64)."""
    if b == SIGN:  # -0.0 is 0.0
        b = np.uint64(0)
    return b ^ SIGN if b < SIGN else ~b


@serial
def _key_range(bits, start, stop):
    """(smallest, largest) key of bits[start:stop] (the scores' uint64 view)."""
    lo = ~np.uint64(0)
    hi = np.uint64(0)
    for i in range(start, stop):
        k = _key(bits[i])
        lo = min(lo, k)
        hi = max(hi, k)
    return lo, hi


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
def _insertion(keys, vals, lo, hi, weighted):
    """Sort keys[lo:hi] ascending, stably, and (weighted) vals[lo:hi] with them."""
    for i in range(lo + 1, hi):
        k = keys[i]
        v = vals[i] if weighted else 0.0
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
def _radix_pass(keys, vals, lo, hi, sh, tmp_k, tmp_v, counts, weighted):
    """One stable counting-sort pass of keys[lo:hi] (and vals) on the DIGIT bits from bit
    sh; counts (2**DIGIT + 1,) is left holding the digit groups' starts (relative to lo)."""
    mask = np.uint64((1 << DIGIT) - 1)
    counts[:] = 0
    for i in range(lo, hi):
        counts[np.int64((keys[i] >> sh) & mask) + 1] += 1
    for v in range(1, counts.shape[0]):
        counts[v] += counts[v - 1]
    for i in range(lo, hi):
        v = np.int64((keys[i] >> sh) & mask)
        p = counts[v]
        counts[v] = p + 1
        tmp_k[p] = keys[i]
        if weighted:
            tmp_v[p] = vals[i]
    for t in range(hi - lo):
        keys[lo + t] = tmp_k[t]
        if weighted:
            vals[lo + t] = tmp_v[t]
    for v in range(counts.shape[0] - 1, 0, -1):  # back to each digit group's start
        counts[v] = counts[v - 1]
    counts[0] = 0


@serial
def _sort_run(keys, vals, lo, hi, tmp_k, tmp_v, counts, starts, weighted):
    """Sort keys[lo:hi] (uint64) ascending, stably, with vals when ``weighted``: insertion
    sort for a few rows; else one pass on the highest DIGIT bits where the keys differ,
    then each digit group by insertion sort when small, or LSD radix passes on the lower
    digits where its keys differ.  tmp_k, tmp_v (>= hi - lo,), counts and starts
    (2**DIGIT + 1,) are scratch."""
    if hi - lo <= SMALL:
        _insertion(keys, vals, lo, hi, weighted)
        return
    differ = np.uint64(0)
    for i in range(lo + 1, hi):
        differ |= keys[i] ^ keys[lo]
    if differ == 0:
        return
    top = 63
    while (differ >> np.uint64(top)) == 0:
        top -= 1
    sh = max(0, top + 1 - DIGIT)
    _radix_pass(keys, vals, lo, hi, np.uint64(sh), tmp_k, tmp_v, counts, weighted)
    for v in range(counts.shape[0]):
        starts[v] = counts[v]
    for v in range(1 << DIGIT):
        a = lo + starts[v]
        z = lo + starts[v + 1]
        if z - a <= SMALL:
            _insertion(keys, vals, a, z, weighted)
            continue
        low = np.uint64(0)
        for i in range(a + 1, z):
            low |= keys[i] ^ keys[a]
        for d in range(0, sh, DIGIT):
            if (low >> np.uint64(d)) & np.uint64((1 << DIGIT) - 1) != 0:
                _radix_pass(keys, vals, a, z, np.uint64(d), tmp_k, tmp_v, counts, weighted)


@serial
def _sort_buckets(packed, wv, w, offsets, stats, b0, b1):
    """Sort the rows of buckets b0 .. b1-1 by score and tally their ties.

    Bucket b holds packed[offsets[b]:offsets[b+1]] (``_scatter_buckets``: the key bits
    below the bucket's, times 2, plus the label) and, weighted, their weights wv; they are
    sorted in place, ascending.  stats[b] = (pw, nw, pairs): the weight of the bucket's
    positives and negatives (w (1,): one weight for all) and the sum over its positives
    of weight * (the weight of the bucket's negatives ranked below + half those tied)."""
    most = 1
    for b in range(b0, b1):
        most = max(most, offsets[b + 1] - offsets[b])
    tmp_k = np.empty(most, dtype=np.uint64)
    tmp_v = np.empty(most if w.shape[0] > 1 else 0)
    counts = np.empty((1 << DIGIT) + 1, dtype=np.int64)
    starts = np.empty((1 << DIGIT) + 1, dtype=np.int64)
    weighted = w.shape[0] > 1
    for b in range(b0, b1):
        lo = offsets[b]
        hi = offsets[b + 1]
        _sort_run(packed, wv, lo, hi, tmp_k, tmp_v, counts, starts, weighted)
        pw = 0.0
        nw = 0.0
        pairs = 0.0
        t = lo
        while t < hi:  # one tie group at a time
            gp = 0.0
            gn = 0.0
            tie = packed[t] >> np.uint64(1)
            u = t
            while u < hi and (packed[u] >> np.uint64(1)) == tie:
                wr = wv[u] if weighted else w[0]
                if packed[u] & np.uint64(1):
                    gp += wr
                else:
                    gn += wr
                u += 1
            pairs += gp * (nw + 0.5 * gn)
            pw += gp
            nw += gn
            t = u
        stats[b, 0] = pw
        stats[b, 1] = nw
        stats[b, 2] = pairs
    return b1 - b0


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
    above it, out of ``total``: equal-weight bins, a tie group never split."""
    return min(n_bins - 1, int(math.floor(above * n_bins / total)))


@serial
def _gains_bins(packed, wv, w, offsets, stats, per, kmin, shift, n_bins, out, edges, g0, g1):
    """The gains table of segments g0 .. g1-1 from their sorted buckets (``_sort_buckets``),
    highest scores first: out[g, j] = (weight, positive weight, rows) of bin j and
    edges[g, j] = (lowest, highest key) of its scores.  A bucket that lies in one bin is
    added whole; only the buckets that straddle a bin's edge are read row by row, from the
    top, one tie group at a time."""
    weighted = w.shape[0] > 1
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
            base = kmin + (np.uint64(b - g * per) << shift)
            bw = stats[b, 0] + stats[b, 1]
            j = _bin_of(above, total, n_bins)
            if j == n_bins - 1 or _bin_of(above + bw, total, n_bins) == j:
                _add_bin(out[g, j], edges[g, j], bw, stats[b, 0], hi - lo,
                         base + (packed[lo] >> np.uint64(1)),
                         base + (packed[hi - 1] >> np.uint64(1)))
                above += bw
                continue
            t = hi - 1
            while t >= lo:
                tie = packed[t] >> np.uint64(1)
                gw = 0.0
                gp = 0.0
                u = t
                while u >= lo and (packed[u] >> np.uint64(1)) == tie:
                    wr = wv[u] if weighted else w[0]
                    gw += wr
                    if packed[u] & np.uint64(1):
                        gp += wr
                    u -= 1
                _add_bin(out[g, _bin_of(above, total, n_bins)],
                         edges[g, _bin_of(above, total, n_bins)], gw, gp, t - u,
                         base + tie, base + tie)
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


@serial
def _loss_sums(p, y, w, codes, eps, out, start, stop):
    """For rows start <= i < stop, per segment (codes empty: one): out[g] += (w log loss,
    w (y - p)^2, w), the log loss of p clipped to [eps, 1 - eps] as scikit-learn does
    (the negative class's probability 1 - p clipped likewise)."""
    grouped = codes.shape[0] > 0
    one_w = w.shape[0] == 1
    for i in range(start, stop):
        g = codes[i] if grouped else 0
        wi = w[0] if one_w else w[i]
        pi = np.float64(p[i])
        q = pi if y[i] != 0 else 1.0 - pi
        q = min(max(q, eps), 1.0 - eps)
        d = y[i] - pi
        out[g, 0] -= wi * math.log(q)
        out[g, 1] += wi * d * d
        out[g, 2] += wi
    return out


@serial
def _calibration_sums(p, y, w, codes, inner, out, start, stop):
    """For rows start <= i < stop: the bin of p[i] among its segment's inner bin edges
    inner[g] (ascending; bin = how many edges are < p, NumPy's ``searchsorted``), and
    out[g, bin] += (w, w y, w p, 1)."""
    grouped = codes.shape[0] > 0
    one_w = w.shape[0] == 1
    k = inner.shape[1]
    for i in range(start, stop):
        g = codes[i] if grouped else 0
        pi = np.float64(p[i])
        lo = 0
        hi = k
        while lo < hi:  # the first edge >= p
            mid = (lo + hi) // 2
            if inner[g, mid] < pi:
                lo = mid + 1
            else:
                hi = mid
        wi = w[0] if one_w else w[i]
        acc = out[g, lo]
        acc[0] += wi
        acc[1] += wi * y[i]
        acc[2] += wi * pi
        acc[3] += 1.0
    return out
