"""The per-segment fit behind :class:`crmjit.BatchedLogisticRegression`, in named steps:
grouping the rows (``grouped_data``), the starting point, then three paths, chosen for
each segment by its size and the number of features alone (so a segment's model is the
same, to the bit, whatever else is fitted with it, and for any thread count):

* ``fit_lanes``: most segments, solved in parallel, each in one thread's copy of its
  rows by the per-segment Newton solver (``crmjit.kernels.segments``);
* ``fit_big``: segments of ``big_segment_rows(d)`` rows or more, one at a time by all
  threads, from one blocked copy (the one-model solver, ``crmjit._newton``);
* ``fit_wide``: wide segments (``wide_segment``), one at a time by Newton-CG
  (``crmjit._newton_cg``) on a copy of their rows.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass
from functools import partial

import numpy as np

from . import _newton, _newton_cg, _threads
from ._validation import check_finite
from ._grouping import group_order, take
from .kernels.newton import FRESH_HESSIAN_ITERS, LAG_STEP
from .kernels.logloss import _load_rows
from .kernels.passes import BLOCK
from .kernels.segments import SEGMENT_BLOCK, _fit_batch, _padded
from .logistic import _raise_huge, fit_rows

#: segments with at least this many rows are solved by both threads, one at a time ...
BIG_SEGMENT = 1 << 20
#: ... and so are those whose copy (``_fit_segments``' per-thread buffer) would exceed this.
#: The path depends on the segment's size only (never on the other segments or the thread
#: count), so a segment's model is the same, to the bit, whatever else is fitted with it.
SEGMENT_BYTES = 256 << 20
#: flagged (unfitted) big segments are checked for NaN and inf this many rows at a time
CHECK_ROWS = 1 << 18


def big_segment_rows(d):
    """Rows from which a segment of d features is solved by both threads at once."""
    return int(min(BIG_SEGMENT, max(1024, SEGMENT_BYTES // (8 * d + 24))))


def largest_first(idx, sizes):
    """Segments idx ordered largest first (ties in label order), the order the fit takes
    them in, so the few large ones start first and the many small ones fill in behind."""
    return idx[np.argsort(-sizes[idx], kind="stable")]


def segment_blocks(rows):
    """(blocks, rows per block) in which a segment of ``rows`` rows is solved: its rows
    padded to a multiple of PAD, in blocks of up to SEGMENT_BLOCK rows."""
    m = int(_padded(max(int(rows), 1)))
    B = min(m, SEGMENT_BLOCK)
    return -(-m // B), B


def lane_buffers(lanes, k, rows):
    """Per-lane flat buffers (``lanes`` rows) big enough for segments of up to ``rows``
    rows and k = d+1 columns (``carve``), allocated by NumPy: huge pages, not the 4 KiB
    page faults of a kernel's own allocation."""
    nb, B = segment_blocks(rows)
    return np.empty((lanes, nb * B * (k + 2)))


def carve(buf, k, rows):
    """Views (xt (nb, k, B), yb (nb, B), sb (nb, B)) of the front of a flat lane buffer,
    consecutive, for segments of up to ``rows`` rows (``segment_blocks``): feature rows a
    block of this size apart, not the largest segment's."""
    nb, B = segment_blocks(rows)
    a = nb * k * B
    return (buf[:a].reshape(nb, k, B), buf[a:a + nb * B].reshape(nb, B),
            buf[a + nb * B:a + 2 * nb * B].reshape(nb, B))


def batches(items, sizes, parts):
    """items (largest first) cut into consecutive batches of about sizes[items].sum() /
    parts rows each (a segment larger than that is a batch of its own), largest first."""
    target = max(1, int(sizes[items].sum()) // max(parts, 1))
    cuts, run = [], 0
    for pos, s in enumerate(items):
        run += int(sizes[s])
        if run >= target:
            cuts.append(pos + 1)
            run = 0
    return [b for b in np.split(items, cuts) if b.size]


def fit_lanes(bufs, X, y, sw, order, offsets, items, lam, n_free, tol, max_iter, fresh,
              lag, theta, n_iter, converged):
    """Fit the segments ``items`` (largest first) by ``_fit_batch`` in batches on the
    threads, largest first, each batch in whichever buffer of ``bufs`` (lanes, size) is
    free: a thread that is held up (another process on its core) holds up one batch, not
    a fixed share of the segments."""
    sizes = np.diff(offsets)
    free = queue.SimpleQueue()
    for buf in bufs:
        free.put(buf)

    def run(batch):
        buf = free.get()
        try:
            xt, yb, sb = carve(buf, X.shape[1] + 1, sizes[batch].max())
            return _fit_batch(batch, X, y, sw, order, offsets, lam, n_free, tol, max_iter,
                              fresh, lag, theta, n_iter, converged, xt, yb, sb)
        finally:
            free.put(buf)

    jobs = [(b,) for b in batches(items, sizes, 8 * bufs.shape[0])]
    _threads.run(run, jobs, work=int(sizes[items].sum()), lanes=bufs.shape[0])


#: blocks of BLOCK rows per task of ``load_segment``
LOAD_RUN = 32


def load_segment(X, y, sample_weight, order, s0, m, xt, yb, sb):
    """``_load_rows`` of rows s0 .. s0+m-1 into the blocks of xt, yb, sb (nb, ., BLOCK), in
    runs of LOAD_RUN blocks on the kernel threads: a large segment's one copy, in the
    layout ``crmjit._newton.blocks_pass`` reads.  Returns whether every value is finite."""
    nb = -(-m // BLOCK)
    runs = [(X, y, sample_weight, order, s0 + c * BLOCK, min(m, (c + LOAD_RUN) * BLOCK) - c *
             BLOCK, xt[c:c + LOAD_RUN], yb[c:c + LOAD_RUN], sb[c:c + LOAD_RUN])
            for c in range(0, nb, LOAD_RUN)]
    return all(_threads.run(_load_rows, runs, work=m))


def _raise_nonfinite(X):
    """A kernel found a NaN or inf in X: raise the ValueError naming its positions."""
    check_finite(X, "X")
    raise AssertionError("a kernel reported a NaN or inf that X does not hold")


def _check_rows(X, rows):
    """Raise the ValueError naming X's NaN/inf positions if X[rows] holds one."""
    try:
        check_finite(X[rows], "X")
    except ValueError:
        _raise_nonfinite(X)


#: segments with more features than this may go to Newton-CG (``wide_segment``)
WIDE_SEGMENT_FEATURES = 160


def wide_segment(rows, d):
    """Whether a segment of ``rows`` rows and d features is solved by Newton-CG: where the
    one-model fit would be (``crmjit._newton_cg.use_wide``) and d is beyond what the
    per-segment dense solver does well (a (d+1)^2 Hessian and its Cholesky factor per
    thread and iteration; 1000-row segments, measured: lanes 0.11 s against 0.13 s at
    d = 128, 0.28 s against 0.14 s at d = 256)."""
    return d > WIDE_SEGMENT_FEATURES and _newton_cg.use_wide(rows, d)


@dataclass
class Grouped:
    """Training data with its rows grouped by segment.  Segment s is positions
    offsets[s] .. offsets[s+1]-1 of the grouped order: rows ``order[...]`` of X (order
    empty: the rows were already grouped, X is read in place); yg and swg are y (uint8
    0/1) and the weights in that order (swg (1,): one weight for all); pos and tot count
    each segment's positive rows and rows (of positive weight); codes, y01 and sw are in
    X's row order."""

    X: np.ndarray
    codes: np.ndarray
    y01: np.ndarray
    sw: np.ndarray
    order: np.ndarray
    yg: np.ndarray
    swg: np.ndarray
    offsets: np.ndarray
    pos: np.ndarray
    tot: np.ndarray

    @property
    def sizes(self):
        return np.diff(self.offsets)

    def rows(self, s):
        """Row numbers of X in segment s (a slice when read in place)."""
        lo, hi = int(self.offsets[s]), int(self.offsets[s + 1])
        return self.order[lo:hi] if self.order.shape[0] else slice(lo, hi)


def grouped_data(X, y01, sw, codes, G):
    """Group the rows by their segment codes (0 .. G-1) with one counting sort; the row
    order is int32 where it fits (half the bytes the scatter writes and the gathers read:
    10M rows, 0.96x the fit time, measured).  Unweighted, the sort also counts each
    segment's positives; with weights they count only rows of positive weight."""
    n = X.shape[0]
    order = np.empty(n, np.int32 if n < 2**31 else np.int64)
    flags = y01 if sw.shape[0] == 1 else np.empty(0, dtype=np.uint8)
    offsets, pos, grouped = group_order(codes, G, flags, order)
    if grouped:  # already grouped: read in place
        order, yg = order[:0], y01
    else:
        yg = take(y01, order, np.empty(n, dtype=np.uint8))
    tot = np.diff(offsets)
    swg = sw
    if sw.shape[0] > 1:
        present = sw > 0
        pos = np.bincount(codes, weights=y01 * present, minlength=G)
        tot = np.bincount(codes, weights=present, minlength=G)
        if order.shape[0]:
            swg = take(sw, order, np.empty(n))
    return Grouped(X, codes, y01, sw, order, yg, swg, offsets, pos, tot)


def start_point(data, invalid, fit_intercept):
    """theta (G, d+1): zero coefficients and, with an intercept, the log-odds of each
    segment's (weighted) positive share; zero for the flagged segments."""
    G, d = data.pos.shape[0], data.X.shape[1]
    theta = np.zeros((G, d + 1))
    if fit_intercept:
        if data.sw.shape[0] > 1:
            wpos = np.bincount(data.codes, weights=data.y01 * data.sw, minlength=G)
            wtot = np.bincount(data.codes, weights=data.sw, minlength=G)
            ybar = wpos / np.maximum(wtot, 1e-300)
        else:
            ybar = data.pos / np.maximum(data.tot, 1)
        ybar = np.clip(ybar, 1e-12, 1 - 1e-12)
        theta[:, d] = np.log(ybar / (1 - ybar))
    theta[invalid, d] = 0.0
    return theta


def fit_segments(data, theta, lam, invalid, fit_intercept, tol, max_iter):
    """Solve every valid segment from theta (G, d+1), in place, each by its path; returns
    (n_iter (G,) int64, converged (G,) bool).  X's finiteness is checked as the rows are
    copied or read, also for the flagged segments."""
    sizes, d = data.sizes, data.X.shape[1]
    G = sizes.shape[0]
    n_iter = np.zeros(G, dtype=np.int64)
    converged = np.zeros(G, dtype=bool)
    wide = np.zeros(G, dtype=bool)
    if d > WIDE_SEGMENT_FEATURES:  # the common case, few features, skips the loop
        wide[:] = [wide_segment(int(m), d) for m in sizes]
    small = (sizes < big_segment_rows(d)) & ~wide
    for s in np.flatnonzero(invalid & ~small):  # the lanes check the small ones
        rows = data.rows(s)
        rows = np.arange(rows.start, rows.stop) if isinstance(rows, slice) else rows
        for a in range(0, rows.shape[0], CHECK_ROWS):
            _check_rows(data.X, rows[a:a + CHECK_ROWS])
    steps = dict(tol=tol, max_iter=max_iter, theta=theta, n_iter=n_iter, converged=converged)
    fit_small(data, largest_first(np.flatnonzero(small), sizes),
              np.where(invalid, -1.0, lam), d + 1 if fit_intercept else d, **steps)
    fit_big(data, np.flatnonzero(~small & ~wide & ~invalid), lam, fit_intercept, **steps)
    fit_wide(data, np.flatnonzero(wide & ~invalid), lam, fit_intercept, **steps)
    return n_iter, converged


def fit_small(data, items, lam_k, n_free, tol, max_iter, theta, n_iter, converged):
    """The segments ``items`` (largest first; lam_k -1 for a flagged one, which is only
    checked) in the per-thread lanes."""
    X = data.X
    bufs = lane_buffers(min(_threads.threads(), len(items)), X.shape[1] + 1,
                        data.sizes[items].max(initial=1))
    fit_lanes(bufs, X, data.yg, data.swg, data.order, data.offsets, items, lam_k, n_free,
              float(tol), int(max_iter), FRESH_HESSIAN_ITERS, LAG_STEP, theta, n_iter,
              converged)
    if (n_iter == -1).any():
        _raise_nonfinite(X)
    if (n_iter == -2).any():
        _raise_huge(X)


def fit_big(data, idx, lam, fit_intercept, tol, max_iter, theta, n_iter, converged):
    """The big segments idx, one at a time by all threads: one copy of the segment's rows
    in blocks (read in place when the rows are already grouped)."""
    X, sizes, d = data.X, data.sizes, data.X.shape[1]
    if data.order.shape[0] and idx.size:  # one blocked buffer for the copies, reused
        nb = -(-int(sizes[idx].max()) // BLOCK)  # NumPy's allocation: huge pages
        xt, yb, sb = (np.empty((nb, d + 1, BLOCK)), np.empty((nb, BLOCK)),
                      np.empty((nb, BLOCK)))
    for s in idx:
        lo, hi = int(data.offsets[s]), int(data.offsets[s + 1])
        m = hi - lo
        if data.order.shape[0]:
            if not load_segment(X, data.yg, data.swg, data.order, lo, m, xt, yb, sb):
                _raise_nonfinite(X)
            tw = (float(data.swg[0]) * m if data.swg.shape[0] == 1
                  else float(np.sum(data.swg[lo:hi])))
            make = partial(_newton.SegmentProblem, xt, yb, sb, m, lam[s], fit_intercept, tw)
            one, it = _newton.fit_problem(make, m, theta[s], tol, max_iter)
        else:
            _check_rows(X, slice(lo, hi))
            one, it = fit_rows(X[lo:hi], data.yg[lo:hi], _segment_weights(data, lo, hi),
                               lam[s], fit_intercept, tol, max_iter, theta[s])
        theta[s], n_iter[s], converged[s] = one[0], it[0], bool(it[1])


def fit_wide(data, idx, lam, fit_intercept, tol, max_iter, theta, n_iter, converged):
    """The wide segments idx, one at a time by Newton-CG on a copy of their rows."""
    for s in idx:
        lo, hi = int(data.offsets[s]), int(data.offsets[s + 1])
        Xs = data.X[data.rows(s)]
        try:
            check_finite(Xs, "X")
        except ValueError:
            _raise_nonfinite(data.X)
        try:
            one, it = _newton_cg.fit_wide(Xs, data.yg[lo:hi], _segment_weights(data, lo, hi),
                                          lam[s], fit_intercept, tol, max_iter, theta[s])
        except OverflowError:
            _raise_huge(data.X)
        theta[s], n_iter[s], converged[s] = one[0], it[0], bool(it[1])


def _segment_weights(data, lo, hi):
    return data.swg[lo:hi] if data.swg.shape[0] > 1 else data.swg
