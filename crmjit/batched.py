"""One logistic-regression model per customer segment, thousands of segments in one call."""

from __future__ import annotations

import numbers
import queue
import warnings
from functools import partial

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .persist import Saveable
from . import _newton, _threads
from ._validation import check_finite, label_codes, positions
from ._grouping import group_order, map_labels, take
from .kernels.newton import FRESH_HESSIAN_ITERS, LAG_STEP
from .kernels.logloss import _load_rows
from .kernels.passes import BLOCK
from .kernels.scoring import _decision_function, _predict_proba
from .kernels.segments import SEGMENT_BLOCK, _fit_batch, _padded
from .logistic import _raise_huge, _raise_nonfinite_rows, fit_rows, training_data

__all__ = ["BatchedLogisticRegression"]

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


_SHOWN = 5


def _name_labels(labels):
    labels = np.asarray(labels).tolist()
    more = f" and {len(labels) - _SHOWN} more" if len(labels) > _SHOWN else ""
    return f"{len(labels)} segment(s): {labels[:_SHOWN]}{more}"


class BatchedLogisticRegression(Saveable, BaseEstimator):
    """One independent L2-penalised logistic regression per segment, fitted in one call.

    Each segment's model minimises scikit-learn's objective on that segment's rows alone,
    ``C_g * sum_i s_i * logloss_i + 0.5 * ||w_g||^2`` (intercept not penalised), so it
    agrees with ``sklearn.linear_model.LogisticRegression(C=C_g)`` fitted on the segment.

    The rows are grouped once (a counting sort of the labels: one int32 per row; none
    when the labels are already sorted).  Segments are then solved in parallel, largest
    first, each thread taking the next segment as it frees up, so a few large segments
    among thousands of small ones stay balanced.  Each thread copies one segment at a time
    into a float64 buffer and solves it there to the end by damped Newton (the loss and the
    step rules of :class:`crmjit.LogisticRegression`), so every iteration reads the
    segment from cache and X is never copied whole: peak memory beyond the input is the
    row order and y in segment order (5 bytes a row; 13 with sample weights) plus
    8 * (d + 3) bytes a row of the largest segment, per thread.  Segments of
    ``big_segment_rows(d)`` rows or more
    (1,048,576 for d <= 18) are solved one at a time by both threads: their rows are
    copied once, in parallel, into the same blocked layout (8 * (d + 3) bytes a row of the
    largest such segment; read in place when the labels are already sorted) and each Newton
    evaluation reads those blocks in parallel, with a subsampled Hessian as in
    :class:`crmjit.LogisticRegression`.  The path a segment takes depends on its size
    alone, so its model is the same, to the bit, whatever else is fitted with it; results
    do not depend on the number of threads either.

    Parameters
    ----------
    C : float > 0 or array-like of shape (n_segments,), default 1.0
        Inverse regularisation strength, one value for all segments or one per segment in
        the order of ``groups_`` (sorted labels); ``numpy.inf`` means no penalty.
    fit_intercept : bool, default True
    tol : float > 0, default 1e-6
        Newton-step tolerance per segment, as in :class:`crmjit.LogisticRegression`.
    max_iter : int >= 1, default 100
    invalid : {"raise", "flag"}, default "raise"
        A segment whose positively weighted rows are all one class cannot be fitted.
        "raise": a ValueError naming the first few such labels and how many there are.
        "flag": fit the others; those get ``valid_ = False``, zero coefficients, and
        predicting for their rows raises.

    Attributes
    ----------
    groups_ : ndarray (n_segments,) sorted segment labels
    coef_ : ndarray (n_segments, n_features)
    intercept_ : ndarray (n_segments,)
    n_iter_ : ndarray (n_segments,) Newton iterations per segment
    converged_ : ndarray (n_segments,) bool
    valid_ : ndarray (n_segments,) bool, False for flagged segments
    classes_ : ndarray (2,) the two labels of y; class 1 is ``classes_[1]``
    n_features_in_ : int, feature_names_in_ : when fitted on a DataFrame

    Examples
    --------
    >>> import numpy as np, crmjit
    >>> X = np.array([[0.], [1.], [2.], [3.], [0.], [1.], [2.], [3.]])
    >>> y = np.array([0, 0, 1, 1, 1, 1, 0, 0])
    >>> groups = np.array(["a"] * 4 + ["b"] * 4)
    >>> m = crmjit.BatchedLogisticRegression(C=10.0).fit(X, y, groups)
    >>> m.groups_.tolist(), bool(m.coef_[0, 0] > 0), bool(m.coef_[1, 0] < 0)
    (['a', 'b'], True, True)
    """

    _parameter_constraints = {
        "C": [Interval(numbers.Real, 0, None, closed="right"), "array-like"],
        "fit_intercept": ["boolean"],
        "tol": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "invalid": [StrOptions({"raise", "flag"})],
    }

    def __init__(self, C=1.0, *, fit_intercept=True, tol=1e-6, max_iter=100,
                 invalid="raise"):
        self.C = C
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.invalid = invalid

    def _per_segment_C(self, n_segments):
        C = np.asarray(self.C, dtype=np.float64) if not np.isscalar(self.C) else None
        if C is None:
            return np.full(n_segments, float(self.C))
        if C.ndim != 1 or C.shape[0] != n_segments:
            raise ValueError(f"C must be a scalar or have one value per segment "
                             f"({n_segments}, in the order of groups_), got shape {C.shape}")
        bad = ~(C > 0)  # also catches NaN
        if bad.any():
            raise ValueError(f"C must be > 0 for every segment; bad values at positions "
                             f"{positions(bad)}")
        return C

    def fit(self, X, y, groups, sample_weight=None):
        """Fit one model per distinct label of ``groups``; returns self.

        X : (n, d) float32/float64 (never copied whole: see the class docstring), y : (n,) two
        class labels, groups : (n,) labels (integers, integral floats, strings or a
        Categorical) in any order, sample_weight : (n,) non-negative, optional.
        """
        self._validate_params()
        # X's finiteness is checked as the fit copies its rows (``_fit_segments``)
        X, y, classes = training_data(self, X, y, check_X=False)
        n = X.shape[0]
        if np.ndim(groups) == 1 and len(groups) != n:
            raise ValueError(f"groups has length {len(groups)} but X has {n} rows")
        codes, labels = label_codes(groups, "groups", as_is=True)
        if classes.shape[0] > 2:
            raise ValueError(f"Only binary classification is supported: y has "
                             f"{classes.shape[0]} classes {classes[:5].tolist()}")
        G, d = len(labels), X.shape[1]
        lam = 1.0 / self._per_segment_C(G)
        if sample_weight is None:
            sw = np.ones(1)
        else:
            sw = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                      ensure_non_negative=True)
        y01 = np.equal(y, classes[-1]).view(np.uint8) if classes.shape[0] == 2 else \
            np.zeros(n, dtype=np.uint8)
        # one counting sort: the row order and, unweighted, the positives per segment (with
        # weights they count only rows of positive weight: summed below instead)
        # int32 row numbers where they fit: half the bytes the scatter writes and the
        # gathers read (10M rows: 0.96x the fit time, measured)
        order = np.empty(n, np.int32 if n < 2**31 else np.int64)
        flags = y01 if sw.shape[0] == 1 else np.empty(0, dtype=np.uint8)
        offsets, pos, grouped = group_order(codes, G, flags, order)
        if grouped:  # already grouped: read in place
            order, yg = order[:0], y01
        else:
            yg = take(y01, order, np.empty(n, dtype=np.uint8))
        tot = np.diff(offsets)
        if sw.shape[0] > 1:
            present = sw > 0
            pos = np.bincount(codes, weights=y01 * present, minlength=G)
            tot = np.bincount(codes, weights=present, minlength=G)
        invalid = (pos == 0) | (pos == tot)
        if invalid.any() and (self.invalid == "raise" or invalid.all()):
            raise ValueError(f"y needs samples of 2 classes (with positive weight) in every "
                             f"segment; {_name_labels(labels[invalid])} hold only 1 class. "
                             f"Pass invalid='flag' to fit the others.")
        theta = np.zeros((G, d + 1))
        if self.fit_intercept:
            ybar = np.clip(pos / np.maximum(tot, 1), 1e-12, 1 - 1e-12)
            if sw.shape[0] > 1:
                wpos = np.bincount(codes, weights=y01 * sw, minlength=G)
                wtot = np.bincount(codes, weights=sw, minlength=G)
                ybar = np.clip(wpos / np.maximum(wtot, 1e-300), 1e-12, 1 - 1e-12)
            theta[:, d] = np.log(ybar / (1 - ybar))
        theta[invalid, d] = 0.0
        # Segments are solved in parallel, each to the end in its thread's copy (in cache up
        # to a few thousand rows, in L3 beyond); large ones (big_segment_rows) one at a time
        # by both threads (a blocked copy read in parallel, subsampled Hessian), so skewed
        # sizes stay balanced and no per-thread copy grows unbounded.
        sizes = np.diff(offsets)
        small = sizes < big_segment_rows(d)
        big = ~small & ~invalid
        n_iter = np.zeros(G, dtype=np.int64)
        converged = np.zeros(G, dtype=bool)
        # X's finiteness: the kernel checks each segment's rows as it copies them, also
        # those it does not fit (lam -1: flagged segments); the big segments are checked
        # as they are copied or read below, flagged big ones here
        items = largest_first(np.flatnonzero(small), sizes)
        lam_k = np.where(invalid, -1.0, lam)
        for s in np.flatnonzero(invalid & ~small):
            rows = order[offsets[s]:offsets[s + 1]] if order.shape[0] else \
                np.arange(offsets[s], offsets[s + 1])
            for a in range(0, rows.shape[0], CHECK_ROWS):
                _check_rows(X, rows[a:a + CHECK_ROWS])
        n_free = d + 1 if self.fit_intercept else d
        swg = sw  # y and the weights in segment order: only X is gathered
        if order.shape[0] and sw.shape[0] > 1:
            swg = take(sw, order, np.empty(n))
        wide = lane_buffers(min(_threads.threads(), len(items)), d + 1,
                                    sizes[items].max(initial=1))
        fit_lanes(wide, X, yg, swg, order, offsets, items, lam_k, n_free, float(self.tol),
                  int(self.max_iter), FRESH_HESSIAN_ITERS, LAG_STEP, theta, n_iter,
                  converged)
        if (n_iter == -1).any():
            _raise_nonfinite(X)
        if (n_iter == -2).any():
            _raise_huge(X)
        big_idx = np.flatnonzero(big)
        if order.shape[0] and big_idx.size:  # one blocked buffer for the copies, reused
            nb = -(-int(sizes[big_idx].max()) // BLOCK)  # NumPy's allocation: huge pages
            xt, yb, sb = (np.empty((nb, d + 1, BLOCK)), np.empty((nb, BLOCK)),
                          np.empty((nb, BLOCK)))
        for s in big_idx:
            lo, hi = offsets[s], offsets[s + 1]
            m = int(hi - lo)
            if order.shape[0]:  # one copy of the segment's rows, transposed in blocks
                if not load_segment(X, yg, swg, order, lo, m, xt, yb, sb):
                    _raise_nonfinite(X)
                tw = float(sw[0]) * m if sw.shape[0] == 1 else float(np.sum(swg[lo:hi]))
                make = partial(_newton.SegmentProblem, xt, yb, sb, m, lam[s],
                               self.fit_intercept, tw)
                one, it = _newton.fit_problem(make, m, theta[s], self.tol, self.max_iter)
            else:  # already grouped: read in place
                _check_rows(X, slice(lo, hi))
                one, it = fit_rows(X[lo:hi], y01[lo:hi], sw[lo:hi] if sw.shape[0] > 1 else sw,
                                   lam[s], self.fit_intercept, self.tol, self.max_iter,
                                   theta[s])
            theta[s], n_iter[s], converged[s] = one[0], it[0], bool(it[1])
        late = ~converged & ~invalid
        if late.any():
            used = n_iter[late]
            hit = int((used >= self.max_iter).sum())
            warnings.warn(f"{late.sum()} of {G} segments did not converge: "
                          f"{_name_labels(labels[late])}; {hit} hit max_iter="
                          f"{self.max_iter}, {late.sum() - hit} stopped after "
                          f"{used.min()}-{used.max()} iterations with no acceptable step "
                          f"(separable or badly scaled data)", ConvergenceWarning,
                          stacklevel=2)
        theta[invalid] = 0.0
        self.classes_ = classes
        self.groups_ = np.asarray(labels)
        self.coef_ = theta[:, :d].copy()
        self.intercept_ = theta[:, d].copy()
        self.n_iter_ = n_iter.astype(np.int32)
        self.converged_ = converged
        self.valid_ = ~invalid
        return self

    def _prepare(self, X, groups):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32], order=None,
                          ensure_all_finite=False)
        n = X.shape[0]
        if np.ndim(groups) != 1 or len(groups) != n:
            raise ValueError(f"groups must be 1-D with one label per row of X ({n})")
        fast = self._integer_codes(groups)
        if fast is not None:
            return X, fast
        codes, labels = label_codes(groups, "groups")
        where = pd.Index(self.groups_).get_indexer(pd.Index(labels))
        unseen = where < 0
        if unseen.any():
            raise ValueError(f"groups holds labels not seen in fit: "
                             f"{_name_labels(np.asarray(labels)[unseen])}")
        flagged = ~self.valid_[where]
        if flagged.any():
            raise ValueError(f"no model for {_name_labels(np.asarray(labels)[flagged])} "
                             f"(flagged at fit: only one class)")
        return X, where[codes]

    def _integer_codes(self, groups):
        """Model index per row for integer labels through a lookup table, in one parallel
        pass that also validates them; None when the labels are not small integers."""
        g = groups.to_numpy() if isinstance(groups, pd.Series) else groups
        if isinstance(g, np.ndarray) and not g.dtype.isnative:  # big-endian labels
            g = g.astype(g.dtype.newbyteorder("="))
        fitted = self.groups_
        if not (isinstance(g, np.ndarray) and g.dtype.kind in "iu"
                and fitted.dtype.kind in "iu" and fitted.size
                and 0 <= fitted.min() and fitted.max() < (1 << 24)):
            return None
        if (self.valid_.all() and fitted[0] == 0 and fitted[-1] == fitted.size - 1
                and g.dtype.isnative):
            # labels 0 .. G-1 (sorted and distinct, so the model index is the label): the
            # labels are the codes once their range is checked, no table and no copy
            # (10M rows: a parallel lookup pass of 5 ms and a 40 MB array saved)
            if g.size == 0 or (g.min() >= 0 and g.max() < fitted.size):
                return g
        table = np.full(int(fitted.max()) + 1, -1, dtype=np.int32)
        table[fitted[self.valid_]] = np.flatnonzero(self.valid_)
        codes = np.empty(g.shape[0], dtype=np.int32)
        if map_labels(g, table, codes):
            bad = np.unique(g[codes < 0])
            known = np.isin(bad, fitted)
            if not known.all():
                raise ValueError(f"groups holds labels not seen in fit: "
                                 f"{_name_labels(bad[~known])}")
            raise ValueError(f"no model for {_name_labels(bad)} (flagged at fit: only one "
                             f"class)")
        return codes

    def _score(self, X, groups, kernel):
        X, codes = self._prepare(X, groups)
        out = np.empty(X.shape[0], dtype=X.dtype)
        coefs = self.coef_.astype(X.dtype)
        intercepts = self.intercept_.astype(X.dtype)
        if sum(_threads.over(kernel, X.shape[0], X, codes, coefs, intercepts, out)):
            _raise_nonfinite_rows(X)
        return out

    def predict_proba(self, X, groups):
        """Probability of ``classes_[1]`` for each row under its own segment's model:
        (n,) in X's dtype (float32 X scored in float32)."""
        return self._score(X, groups, _predict_proba)

    def decision_function(self, X, groups):
        """Linear predictor of each row under its own segment's model, (n,)."""
        return self._score(X, groups, _decision_function)
