"""The machinery shared by the probabilistic-CLV models (:mod:`crmjit.btyd`): input
checks of RFM columns, the grouped layout of the customers, the likelihood evaluated by the
fused kernels of :mod:`crmjit.kernels.btyd`, the lock-step Newton solve in log parameters
and the standard errors."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

from . import _newton
from ._validation import check_finite, float_array, label_codes, positions, readonly
from . import _threads
from ._grouping import group_order
from .kernels.btyd_predict import MAX_TERMS as MAX_WINDOW_TERMS
from .kernels.checks import WHOLE_MAX, _rfm_bad_blocks

SAME_POINT = 1e-8  # relative: the standard errors reuse a Hessian evaluated this close
CHUNK = 1 << 14  # customers per chunk of a likelihood pass at most (a function of n only)
START = 0.1  # lifetimes' starting point: every log-parameter 0.1 (alpha in scaled time)


# ----------------------------------------------------------------------------- inputs

def _vector(x, name, check=True):
    """A scalar or 1-D float input as a float64 1-D array (a scalar gives length 1),
    checked finite unless ``check`` is False (the caller checks it with more)."""
    a = float_array(np.atleast_1d(x) if np.ndim(x) == 0 else x, name, ndims=(1,))
    a = np.ascontiguousarray(a, dtype=np.float64)
    if check:
        check_finite(a, name)
    return a


def _index_of(*args):
    for a in args:
        if isinstance(a, pd.Series):
            return a.index
    return None


def _broadcast(named):
    """Broadcast (name, array) pairs of length 1 or n to one length n."""
    n = max(a.shape[0] for _, a in named)
    out = []
    for name, a in named:
        if a.shape[0] not in (1, n):
            raise ValueError(f"{name} has length {a.shape[0]} but another argument has "
                             f"length {n}")
        out.append(np.ascontiguousarray(np.broadcast_to(a, (n,))) if a.shape[0] != n else a)
    return out


def _frequency(frequency, name="frequency"):
    return _whole_counts(_vector(frequency, name), name)


def _whole_counts(x, name):
    """x (finite) itself, or ValueError naming the positions that are not whole numbers
    of purchases in [0, 2^53]."""
    bad = x < 0
    if bad.any():
        raise ValueError(f"{name} must be >= 0; negative values at positions {positions(bad)}")
    frac = x != np.floor(x)
    if frac.any():
        raise ValueError(f"{name} must hold whole numbers of repeat purchases; non-integer "
                         f"values at positions {positions(frac)}")
    big = x > WHOLE_MAX
    if big.any():
        raise ValueError(f"{name} must be below 2**53 (whole numbers float64 holds "
                         f"exactly); larger at positions {positions(big)}")
    return x


def rfm_arrays(frequency, recency, T):
    """Validated, broadcast (x, t_x, T) float64 arrays: finite, x whole and >= 0,
    0 <= t_x <= T, and t_x = 0 where x = 0 (lifetimes' rules).  Good input costs one
    pass of a kernel over the three (``_rfm_bad_blocks``); only bad input pays for the
    checks that name the argument and positions."""
    named = [(name, _vector(a, name, check=False))
             for name, a in (("frequency", frequency), ("recency", recency), ("T", T))]
    x, tx, age = _broadcast(named)
    if sum(_threads.over(_rfm_bad_blocks, x.shape[0], x, tx, age, span=1 << 20)) == 0:
        return x, tx, age
    for name, a in (("frequency", x), ("recency", tx), ("T", age)):
        check_finite(a, name)
    _whole_counts(x, "frequency")
    for name, a in (("recency", tx), ("T", age)):
        if (a < 0).any():
            raise ValueError(f"{name} must be >= 0; negative values at positions "
                             f"{positions(a < 0)}")
    if (tx > age).any():
        raise ValueError(f"recency must be <= T (a purchase after the end of observation); "
                         f"recency > T at positions {positions(tx > age)}")
    raise ValueError("recency must be 0 for customers with frequency 0 (no repeat "
                     f"purchase); non-zero at positions {positions((x == 0) & (tx != 0))}")


def horizon_arrays(t, frequency, recency, T):
    """Validated (t, x, t_x, T) for a conditional expectation over (T, T + t]: t >= 0,
    (1,) for one horizon (a scalar, or the same t for every customer, like a holdout
    period's length) or (n,), and (x, t_x, T) broadcast to n by the RFM rules of
    :func:`rfm_arrays`."""
    tt = _vector(t, "t")
    if (tt < 0).any():
        raise ValueError(f"t must be >= 0; negative at positions {positions(tt < 0)}")
    x, tx, age = rfm_arrays(frequency, recency, T)
    if tt.shape[0] == 1:
        return [tt, x, tx, age]
    tt, x, tx, age = _broadcast([("t", tt), ("frequency", x), ("recency", tx), ("T", age)])
    if tt.shape[0] and (tt == tt[0]).all():
        tt = np.array(tt[:1])  # a fresh writable (1,): the one-horizon kernels' signature
    return [tt, x, tx, age]


def _weights(weights, n):
    if weights is None:
        return np.ones(1)
    w = _vector(weights, "weights")
    if w.shape[0] != n:
        raise ValueError(f"weights has length {w.shape[0]} but there are {n} customers")
    if (w < 0).any():
        raise ValueError(f"weights must be >= 0; negative at positions {positions(w < 0)}")
    return w


def _check_solver(tol, max_iter):
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not 0 < tol < 1:
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")


def _check_penalizer(c):
    if isinstance(c, bool) or not isinstance(c, numbers.Real) or not np.isfinite(c) or c < 0:
        raise ValueError(f"penalizer_coef must be a finite number >= 0, got {c!r}")
    return float(c)


# ----------------------------------------------------------------------- the layout

class _Layout:
    """Customers grouped for a likelihood pass: sorted by group (a counting sort, no copy
    when there is one group), cut into chunks of at most CHUNK customers inside a group,
    and the distinct frequencies of each group with their total weights.  A heavier
    pass takes smaller chunks (``chunk``), so that a small fit still spreads over the
    threads."""

    def __init__(self, codes, n_groups, x, w, chunk=CHUNK):
        n = x.shape[0]
        self.n_rows = n
        if codes is None:
            self.order = None
            offsets = np.array([0, n], dtype=np.int64)
        else:
            none = np.empty(0, dtype=np.uint8)
            order = np.empty(codes.shape[0], dtype=np.int64)
            offsets, _, grouped = group_order(codes, n_groups, none, order)
            self.order = None if grouped else order
        self.offsets = offsets
        sizes = np.diff(offsets)
        per = np.maximum(1, -(-sizes // chunk))
        # a group of more than one chunk: a multiple of 4 chunks of equal size, which 2 or
        # 4 threads share evenly (7 chunks of 100k customers on 2 threads: 4 against 3)
        per = np.where(per > 1, -(-per // 4) * 4, per)
        g_of = np.repeat(np.arange(n_groups, dtype=np.int64), per)
        self.chunk_group = g_of
        first = np.zeros(n_groups, dtype=np.int64)
        np.cumsum(per[:-1], out=first[1:])
        self.chunk_first = first
        within = np.arange(g_of.shape[0]) - first[g_of]
        starts = offsets[:-1][g_of] + within * sizes[g_of] // per[g_of]
        self.chunk_ptr = np.append(starts, n).astype(np.int64)
        xi = self.take(x).astype(np.int64)
        ws = self.take(w)
        scalar_w = ws.shape[0] == 1 and n != 1
        width = int(xi.max()) + 1 if n else 1
        key = xi  # group * width + x: one group needs no group column
        if n_groups > 1:
            key = np.repeat(np.arange(n_groups, dtype=np.int64), sizes) * width + xi
        row_w = None if scalar_w else ws
        if n_groups * width <= 1 << 25:
            counts = np.bincount(key, minlength=n_groups * width)
            keys = np.flatnonzero(counts)
            # counts times the one weight (exact for the default 1, else better rounded)
            uw = (counts[keys] * ws[0] if scalar_w
                  else np.bincount(key, weights=row_w, minlength=n_groups * width)[keys])
        else:
            keys, inverse = np.unique(key, return_inverse=True)
            uw = (np.bincount(inverse) * ws[0] if scalar_w
                  else np.bincount(inverse, weights=row_w))
        key_group = keys // width
        self.W = np.bincount(key_group, weights=uw, minlength=n_groups).astype(np.float64)
        self.ux = (keys % width).astype(np.float64)
        self.uw = np.asarray(uw, dtype=np.float64)
        self.u_ptr = np.searchsorted(key_group, np.arange(n_groups + 1)).astype(np.int64)

    def weights(self, w):
        """The weights as the customer passes take them (``row_weight``): one float when
        everyone weighs the same (w of length 1), else ``take(w)``."""
        return float(w[0]) if w.shape[0] == 1 and self.n_rows != 1 else self.take(w)

    def take(self, a):
        """a (n,) in the layout's order (a (1,) weight stays as it is) as a read-only
        C-contiguous array: one array type whatever the caller passed (a strided sample,
        a writable array or a pandas column), so each pass compiles once and vectorises."""
        if self.order is not None and a.shape[0] == self.n_rows:
            a = a[self.order]
        return readonly(np.ascontiguousarray(a))


def _upper_index(k):
    """(k, k) index of each Hessian entry in an accumulator row: value, gradient, then
    the upper triangle row by row (both halves of the symmetric matrix read it)."""
    at = np.empty((k, k), dtype=np.int64)
    pos = 1 + k
    for i in range(k):
        for j in range(i, k):
            at[i, j] = at[j, i] = pos
            pos += 1
    return at


def _unpack(tot, at):
    """(G, nacc) accumulators -> value (G,), gradient (G, k), Hessian (G, k, k); at from
    :func:`_upper_index`."""
    k = at.shape[0]
    return tot[:, 0], tot[:, 1:1 + k], tot[:, at]


class _Likelihood:
    """Mean negative log-likelihood (+ penalty) of G independent problems in log
    parameters, in the form :func:`crmjit._newton.minimize` solves."""

    fit_intercept = True  # every coordinate is free
    max_step = 1.0  # no parameter changes by more than a factor e in one step

    def __init__(self, k, nacc, table, table_args, customer, customer_args, layout,
                 penalizer, penalty_scale, cost=1):
        """``cost``: a customer's pass in units of ``crmjit._threads``' work (rows of a
        light pass), which decide whether a pass is worth the threads."""
        self.k, self.table, self.customer = k, table, customer
        self._at = _upper_index(k)
        self.cost = cost
        self.table_args, self.customer_args = table_args, customer_args
        self.layout = layout
        G = layout.W.shape[0]
        self.penalty = penalizer * penalty_scale  # (G, k)
        self._tab = np.zeros((G, nacc))
        self._acc = np.zeros((layout.chunk_group.shape[0], nacc))
        # the last point each problem was evaluated at, and its Hessian there
        self.last_params = np.full((G, k), np.nan)
        self.last_hess = np.full((G, k, k), np.nan)

    def natural(self, params, idx):
        """Total log-likelihood (G,), gradient (G, k), Hessian (G, k, k) in the natural
        parameters (rows idx valid)."""
        active = np.zeros(params.shape[0], dtype=bool)
        active[idx] = True
        n = self.layout.n_rows
        _threads.over(self.table, params.shape[0], *self.table_args, params, active,
                      self._tab, span=64, work=n)
        if self.customer is None:  # a likelihood of the table's keys alone (sBG)
            out = _unpack(self._tab, self._at)
        else:
            chunks = self._acc.shape[0]
            _threads.over(self.customer, chunks, *self.customer_args, params, active,
                          self._acc, span=max(1, chunks // 32), work=n * self.cost)
            out = _unpack(self._tab + np.add.reduceat(self._acc, self.layout.chunk_first,
                                                      axis=0), self._at)
        self.last_params[idx] = params[idx]
        self.last_hess[idx] = out[2][idx]
        return out

    def evaluate(self, theta, idx, f, g, H):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            p = np.exp(theta)
            ll, gn, Hn = self.natural(p, idx)
            W = self.layout.W[idx, None]
            pi, pen = p[idx], self.penalty[idx]
            f[idx] = -ll[idx] / W[:, 0] + np.sum(pen * pi * pi, axis=1)
            g[idx] = -pi * gn[idx] / W + 2.0 * pen * pi * pi
            Hl = -(pi[:, :, None] * pi[:, None, :] * Hn[idx])
            diag = np.arange(self.k)
            Hl[:, diag, diag] -= pi * gn[idx]
            H[idx] = Hl / W[:, :, None]
            H[idx[:, None], diag, diag] += 4.0 * pen * pi * pi


RUNAWAY = 9.0  # a parameter more than e^9 (8,100) times from its start: running away


def _solve(problem, theta, tol, max_iter, labels, what, names):
    """Run the lock-step Newton; raise if a group's parameters are not finite, and warn
    once for groups that did not converge: why they stopped (max_iter, or no acceptable
    step after the true number of iterations) and which parameter ran off towards 0 or
    infinity (the one furthest from its start, when more than e^RUNAWAY away)."""
    start = theta.copy()
    n_iter, converged = _newton.minimize(problem, theta, tol, max_iter)
    params = np.exp(theta)
    bad = ~np.isfinite(params).all(axis=1)
    if bad.any():
        which = "" if labels is None else f" for segments {list(labels[bad][:5])}"
        raise ValueError(f"{what} fit diverged{which}: the likelihood has no finite "
                         "maximum for these data; add a penalizer_coef > 0")
    if not converged.all():
        stuck = np.flatnonzero(~converged)
        g = stuck[0]
        which = ("" if labels is None else
                 f" in {stuck.size} segments, e.g. {list(labels[stuck][:5])}")
        why = (f"max_iter={max_iter} reached" if n_iter[g] >= max_iter else
               f"stopped after {n_iter[g]} iterations with no step making progress")
        moved = theta[g] - start[g]
        j = int(np.argmax(np.abs(moved)))
        if abs(moved[j]) > RUNAWAY:
            why += (f": {names[j]} is running off to {'0' if moved[j] < 0 else 'infinity'} "
                    f"({names[j]} = {params[g, j]:.3g}"
                    + ("" if labels is None else f" in segment {labels[g]!r}") + ")")
        warnings.warn(f"{what} fit did not converge{which}: {why}; the data may not "
                      f"identify the model (add a penalizer_coef), or increase max_iter",
                      ConvergenceWarning, stacklevel=3)
    return params, n_iter, converged


def _standard_errors(problem, params):
    """sqrt(diag(inverse observed information)) of the unpenalised log-likelihood; NaN
    where the information is not positive definite (a fit stopped short of a maximum).

    The information is the Hessian the solver last evaluated where that point is within
    ``SAME_POINT`` (relative) of params (a converged fit: it then took a Newton step
    below tol, 1e-10 by default), which saves a pass over the customers; otherwise
    it is evaluated at params."""
    Hn = problem.last_hess.copy()
    off = np.abs(problem.last_params - params) > SAME_POINT * np.abs(params)
    redo = np.flatnonzero(~np.isfinite(problem.last_params).all(axis=1) | off.any(axis=1))
    if redo.size:
        with np.errstate(invalid="ignore", over="ignore"):  # a fit run off to 0 or inf
            Hn[redo] = problem.natural(params, redo)[2][redo]
    idx = np.arange(params.shape[0])
    ses = np.full(params.shape, np.nan)
    for g in idx:
        if not np.isfinite(Hn[g]).all():
            continue
        try:
            var = np.diag(np.linalg.inv(-Hn[g]))
        except np.linalg.LinAlgError:
            continue
        ses[g] = np.where(var > 0, np.sqrt(np.abs(var)), np.nan)  # NaN off a maximum
    return ses


def _group_input(groups, n):
    if groups is None:
        return None, None, 1
    codes, labels = label_codes(groups, "groups")
    if codes.shape[0] != n:
        raise ValueError(f"groups has length {codes.shape[0]} but there are {n} customers")
    labels = np.asarray(labels)
    return codes, labels, labels.shape[0]


def _wrap(values, index):
    return values if index is None or len(index) != values.shape[0] else pd.Series(
        values, index=index)


def check_summed(out):
    """Raise where a prediction kernel could not sum the expectation (NaN: parameters run
    off so far, e.g. alpha near 0, that the purchases in the window are beyond what can
    be summed), naming the customers."""
    bad = np.isnan(out)
    if bad.any():
        raise ValueError(f"expected purchases cannot be computed for the customers at "
                         f"positions {positions(bad)}: the fitted parameters put beyond "
                         f"{MAX_WINDOW_TERMS:,} purchase opportunities in the window (a fit "
                         f"run off to alpha -> 0?); refit with penalizer_coef > 0")
