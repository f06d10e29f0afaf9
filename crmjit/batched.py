"""One logistic-regression model per customer segment, thousands of segments in one call."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .persist import Saveable
from . import _compile, _state, _threads
from ._validation import label_codes, positions
from ._grouping import map_labels
from ._segment_fit import fit_segments, grouped_data, start_point
from .kernels.logloss import _row_terms
from .kernels.scoring import _decision_function, _predict_proba
from .logistic import (_names, _raise_nonfinite_rows, _set_names, class_weights,
                       sample_weights, training_data)

__all__ = ["BatchedLogisticRegression"]

_SHOWN = 5


def _name_labels(labels):
    labels = np.asarray(labels).tolist()
    more = f" and {len(labels) - _SHOWN} more" if len(labels) > _SHOWN else ""
    return f"{len(labels)} segment(s): {labels[:_SHOWN]}{more}"


@_state.register
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
    :class:`crmjit.LogisticRegression`.  With more than 160 features, segments where the
    one-model fit would use Newton-CG (wide data) are solved that way, one at a time.  The
    path a segment takes depends on its size and the number of features alone, so its
    model is the same, to the bit, whatever else is fitted with it; results do not depend
    on the number of threads either.

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
    class_weight : dict, "balanced" or None, default None
        As :class:`crmjit.LogisticRegression`'s; "balanced" is computed within each
        segment (each segment's model equals scikit-learn's with "balanced" on its rows).

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
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(self, C=1.0, *, fit_intercept=True, tol=1e-6, max_iter=100,
                 invalid="raise", class_weight=None):
        self.C = C
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.invalid = invalid
        self.class_weight = class_weight

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
        _compile.first_call_helper("warm_batched", _row_terms)
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
        sw = sample_weights(sample_weight, X)
        y01 = np.equal(y, classes[-1]).view(np.uint8) if classes.shape[0] == 2 else \
            np.zeros(n, dtype=np.uint8)
        if self.class_weight is not None:  # "balanced": within each segment
            sw = class_weights(self.class_weight, classes, y, y01, sw, codes, G)
        data = grouped_data(X, y01, sw, codes, G)
        invalid = (data.pos == 0) | (data.pos == data.tot)
        if invalid.any() and (self.invalid == "raise" or invalid.all()):
            raise ValueError(f"y needs samples of 2 classes (with positive weight) in every "
                             f"segment; {_name_labels(labels[invalid])} hold only 1 class. "
                             f"Pass invalid='flag' to fit the others.")
        theta = start_point(data, invalid, self.fit_intercept)
        n_iter, converged = fit_segments(data, theta, lam, invalid, self.fit_intercept,
                                         self.tol, self.max_iter)
        self._warn_unconverged(labels, n_iter, converged | invalid)
        theta[invalid] = 0.0
        self.classes_ = classes
        self.groups_ = np.asarray(labels)
        self.coef_ = theta[:, :d].copy()
        self.intercept_ = theta[:, d].copy()
        self.n_iter_ = n_iter.astype(np.int32)
        self.converged_ = converged
        self.valid_ = ~invalid
        return self

    def _get_state(self):
        """The fitted state (:mod:`crmjit._state`)."""
        check_is_fitted(self)
        return {"params": self.get_params(),
                "arrays": {"coef_": self.coef_, "intercept_": self.intercept_,
                           "n_iter_": self.n_iter_, "converged_": self.converged_,
                           "valid_": self.valid_},
                "labels": {"classes_": self.classes_, "groups_": self.groups_},
                "feature_names": _names(self)}

    @classmethod
    def _from_state(cls, state):
        """A fitted model from a state; ValueError naming the field that is wrong."""
        model = cls(**state["params"])
        model._validate_params()
        groups = _state.labels(state, "groups_")
        G = groups.shape[0]
        model._per_segment_C(G)  # one C per segment, all > 0
        model.coef_ = _state.array(state, "coef_", "f", (G, None), finite=True)
        model.intercept_ = _state.array(state, "intercept_", "f", (G,), finite=True)
        model.n_iter_ = _state.array(state, "n_iter_", "iu", (G,)).astype(np.int32)
        model.converged_ = _state.array(state, "converged_", "b", (G,))
        model.valid_ = _state.array(state, "valid_", "b", (G,))
        model.classes_ = _state.labels(state, "classes_", count=2)
        model.groups_ = groups
        _set_names(model, state)
        return model

    def _warn_unconverged(self, labels, n_iter, settled):
        """One ConvergenceWarning naming the segments that are not ``settled`` and why."""
        late = ~settled
        if late.any():
            used = n_iter[late]
            hit = int((used >= self.max_iter).sum())
            warnings.warn(f"{late.sum()} of {len(labels)} segments did not converge: "
                          f"{_name_labels(labels[late])}; {hit} hit max_iter="
                          f"{self.max_iter}, {late.sum() - hit} stopped after "
                          f"{used.min()}-{used.max()} iterations with no acceptable step "
                          f"(separable or badly scaled data)", ConvergenceWarning,
                          stacklevel=3)

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
            _raise_nonfinite_rows(X, coefs, intercepts, codes)
        return out

    def predict_proba(self, X, groups):
        """Probability of ``classes_[1]`` for each row under its own segment's model:
        (n,) in X's dtype (float32 X scored in float32)."""
        return self._score(X, groups, _predict_proba)

    def decision_function(self, X, groups):
        """Linear predictor of each row under its own segment's model, (n,)."""
        return self._score(X, groups, _decision_function)
