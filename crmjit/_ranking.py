"""Running the ranking and metric kernels (:mod:`crmjit.kernels.ranking`) on the kernel
threads: validated arrays in, per-segment sums out.  :mod:`crmjit.metrics` turns the sums
into metrics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _threads
from .kernels.grouping import _first_slots
from .kernels.calibration import _calibration_sums, _loss_sums
from .kernels.ranking import (SIGN, _auc_merge, _count_buckets, _gains_bins,
                              _scatter_buckets, _tally_buckets)

BUCKET_ROWS = 256  # rows a bucket, on average: worked on in cache (10M scores, measured:
#                   0.11 s; the same at 128, 0.12 s at 512, and the sort 2x at 4096)
MAX_BUCKET_BITS = 16  # at most 2**16 buckets a segment


@dataclass
class Ranking:
    """Rows bucketed in score order within each segment.  Segment g's buckets are g*per ..
    g*per+per-1, in score order; bucket b's rows are packed[offsets[b]:offsets[b+1]], each
    (key - kmin - (b - g*per) * 2**shift) * 2 + label, with their weights wv (when
    weighted), in no particular order within the bucket (sorted only where the bucket was
    too large to tally pairwise); stats[b] = (positive weight, negative weight, pairs
    ranked within the bucket)."""
    packed: np.ndarray
    wv: np.ndarray
    offsets: np.ndarray
    stats: np.ndarray
    per: int
    kmin: int
    shift: int
    n_groups: int


def rank(scores, y, w, codes, n_groups):
    """Rank float64 scores (n,) with labels y (n,) uint8 and weights w ((1,) or (n,)
    float64) within segments codes (n,) int64 in [0, n_groups), or codes empty: one
    segment.  Buckets: about BUCKET_ROWS rows each, at most 2**MAX_BUCKET_BITS a
    segment."""
    n = scores.shape[0]
    bits = scores.view(np.uint64)
    kmin = key(scores.min())  # NumPy's vectorised min and max: 3x a kernel pass (measured)
    span = key(scores.max()) - kmin
    want = max(1, n // (BUCKET_ROWS * n_groups)).bit_length()
    bucket_bits = min(MAX_BUCKET_BITS, max(1, want))  # >= 1: shift <= 63, room for the label
    shift = max(0, span.bit_length() - bucket_bits)
    per = (span >> shift) + 1
    n_buckets = per * n_groups
    n_chunks = max(1, min(16, n // 65536, n // (4 * n_buckets)))
    chunk = -(-n // n_chunks)
    counts = np.zeros((n_chunks, n_buckets), dtype=np.int64)
    args = (bits, codes, np.uint64(kmin), np.uint64(shift), per)
    _threads.run(_count_buckets, [args + (c, chunk, counts) for c in range(n_chunks)], work=n)
    offsets = np.zeros(n_buckets + 1, dtype=np.int64)
    _first_slots(counts, np.empty((0, 0), np.int64), offsets, np.empty(0, np.int64))
    packed = np.empty(n, dtype=np.uint64)
    wv = np.empty(n if w.shape[0] > 1 else 0)
    _threads.run(_scatter_buckets, [(bits, y, w) + args[1:] + (c, chunk, counts, packed, wv)
                                    for c in range(n_chunks)], work=n)
    del counts
    stats = np.zeros((n_buckets, 3))
    # spans of buckets with about equal rows (each bucket is worked on alone, so any split
    # gives the same result): scores bunch up in a few buckets
    rows_at = np.searchsorted(offsets, np.linspace(0, n, 17)[1:-1], side="right") - 1
    cuts = np.unique(np.concatenate([[0], rows_at, [n_buckets]]))
    _threads.run(_tally_buckets, [(packed, wv, w, offsets, stats, int(a), int(b))
                                 for a, b in zip(cuts[:-1], cuts[1:])], work=n)
    return Ranking(packed, wv, offsets, stats, per, kmin, shift, n_groups)


def key(x):
    """The order-preserving key (``crmjit.kernels.ranking._key``) of one float, as an int."""
    bits = int(np.float64(x + 0.0).view(np.uint64))  # + 0.0: -0.0 is 0.0
    return bits ^ int(SIGN) if bits < int(SIGN) else (1 << 64) - 1 - bits


def auc_sums(ranking):
    """(n_groups, 3): (pairs ranked correctly, positive weight, negative weight)."""
    return _auc_merge(ranking.stats, ranking.per, np.zeros((ranking.n_groups, 3)))


def gains_sums(ranking, w, n_bins):
    """(sums (G, n_bins, 3) of (weight, positive weight, rows), edges (G, n_bins, 2) of
    the (lowest, highest) score, NaN in an empty bin), highest scores in bin 0."""
    G = ranking.n_groups
    sums = np.zeros((G, n_bins, 3))
    keys = np.zeros((G, n_bins, 2), dtype=np.uint64)
    keys[..., 0] = np.iinfo(np.uint64).max
    r = ranking
    _threads.over(_gains_bins, G, r.packed, r.wv, w, r.offsets, r.stats, r.per,
                  np.uint64(r.kmin), np.uint64(r.shift), n_bins, sums, keys,
                  work=r.packed.shape[0])
    bits = np.where(keys >= SIGN, keys ^ SIGN, ~keys)
    edges = bits.view(np.float64)
    edges[sums[..., 2] == 0] = np.nan
    return sums, edges


def _slots(n, n_groups, width):
    """Spans of [0, n) fixed by n and n_groups, each with its own (n_groups, *width) slot
    of float64 zeros: no more than 2**22 values in all."""
    cap = max(1, (1 << 22) // max(1, n_groups * int(np.prod(width))))
    spans = _threads.spans(n)
    if len(spans) > cap:
        spans = _threads.spans(n, -(-n // cap))
    return spans, np.zeros((len(spans), n_groups) + width)


def loss_sums(p, y, w, codes, n_groups, eps):
    """(n_groups, 3): (sum w log loss, sum w (y - p)^2, sum w) per segment."""
    spans, out = _slots(p.shape[0], n_groups, (3,))
    _threads.run(_loss_sums, [(p, y, w, codes, eps, out[s], a, b)
                              for s, (a, b) in enumerate(spans)], work=p.shape[0])
    return out.sum(axis=0)


def calibration_sums(p, y, w, codes, inner):
    """(n_groups, n_bins, 4): (sum w, sum w y, sum w p, rows) per segment and bin, the
    bins cut at the inner edges inner (n_groups, n_bins - 1)."""
    spans, out = _slots(p.shape[0], inner.shape[0], (inner.shape[1] + 1, 4))
    _threads.run(_calibration_sums, [(p, y, w, codes, inner, out[s], a, b)
                                     for s, (a, b) in enumerate(spans)], work=p.shape[0])
    return out.sum(axis=0)
