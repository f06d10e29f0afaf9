"""Probabilistic CLV ("buy till you die"): the BG/NBD and MBG/NBD purchase models and the
machinery every purchase model shares (Pareto/NBD in :mod:`crmjit.pareto`, BG/BB in
:mod:`crmjit.bgbb`, Gamma-Gamma spend in :mod:`crmjit.gamma_gamma`, CLV in
:mod:`crmjit.btyd_clv`), with per-segment fits in one call.

Definitions follow the ``lifetimes`` package (Fader, Hardie & Lee 2005; Batislam et al.
2007; Fader & Hardie 2013) so that its users get the same numbers:

* BG/NBD: each customer buys at Poisson rate lambda ~ Gamma(r, alpha) while alive and dies
  after each purchase with probability p ~ Beta(a, b).  Fitted by maximum likelihood on
  (frequency x = repeat purchases, recency t_x = age at the last purchase, T = age), all in
  the same time unit.  ``penalizer_coef`` adds ``c * (r^2 + (alpha/T_max)^2 + a^2 + b^2)``
  to the mean negative log-likelihood: lifetimes' penalty, which it applies in time scaled
  so that the oldest customer has T = 1.
* MBG/NBD: the same, and a customer may also drop out right after the first purchase.

The models solve the likelihood with the damped Newton of :mod:`crmjit._newton` in log
parameters, with the exact gradient and Hessian from the fused kernels of
:mod:`crmjit.kernels.btyd`; ``groups=`` fits one parameter set per segment in lock-step.
"""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from . import _newton, _state, _threads
from ._btyd_core import (CHUNK, START, _Layout, _Likelihood, _broadcast, _check_penalizer,
                         _check_solver, _frequency, _group_input, _index_of, _solve,
                         _standard_errors, _vector, _weights, _wrap, check_summed,
                         horizon_arrays, rfm_arrays)
from ._horizon import horizon_sum
from ._validation import positions
from .kernels._jit import fixed_chunks
from .kernels.btyd import NACC_BG, _bg_customer_pass, _bg_table_pass
from .kernels.btyd_predict import _bg_expected, _bg_p_alive
from .persist import Saveable

__all__ = ["BetaGeoModel", "ModifiedBetaGeoModel", "rfm_arrays"]

T_MIN = 1e-100  # the oldest customer's age must reach this (in the data's time unit)
WARM_MIN = 50_000  # customers from which an ungrouped fit starts from ...
WARM_STRIDE = 16  # ... the fit of every WARM_STRIDE-th customer, solved to WARM_TOL:
WARM_TOL = 1e-2  # its optimum lies about 0.1 (in log parameters) from the full data's
_ONE = np.ones(1)  # one horizon weighted 1, one scale 1 (``horizon_sum``)


@functools.cache
def _names(params):
    """The parameter names as one shared (immutable) pandas Index (a Series built from a
    list of names infers their dtype: 38 against 10 us)."""
    return pd.Index(params)


class _Model(Saveable):
    """Shared fitted-parameter handling of the two models."""

    PARAMS: tuple = ()

    def _set_fit(self, params, labels, n_iter, converged, ses):
        self.groups_ = labels
        self.n_iter_ = n_iter if labels is not None else int(n_iter[0])
        self.converged_ = converged if labels is not None else bool(converged[0])
        self._params = params
        if labels is None:
            names = _names(self.PARAMS)
            self.params_ = pd.Series(params[0], index=names)
            self.standard_errors_ = pd.Series(ses[0], index=names)
        else:
            index = pd.Index(labels, name="group")
            self.params_ = pd.DataFrame(params, index=index, columns=list(self.PARAMS))
            self.standard_errors_ = pd.DataFrame(ses, index=index, columns=list(self.PARAMS))

    def _get_state(self):
        """The fitted state (:mod:`crmjit._state`)."""
        self._check_fitted()
        ses = np.asarray(self.standard_errors_, dtype=np.float64).reshape(self._params.shape)
        return {"params": {"penalizer_coef": self.penalizer_coef, "tol": self.tol,
                           "max_iter": self.max_iter},
                "arrays": {"params": self._params, "standard_errors": ses,
                           "n_iter": np.atleast_1d(self.n_iter_).astype(np.int64),
                           "converged": np.atleast_1d(self.converged_).astype(bool)},
                "labels": {"groups_": self.groups_}, "feature_names": None}

    @classmethod
    def _from_state(cls, state):
        """A fitted model from a state; ValueError naming the field that is wrong."""
        model = cls(**state["params"])
        _check_penalizer(model.penalizer_coef)
        _check_solver(model.tol, model.max_iter)
        groups = _state.labels(state, "groups_", optional=True)
        G, k = (1 if groups is None else groups.shape[0]), len(cls.PARAMS)
        params = _state.array(state, "params", "f", (G, k), finite=True, positive=True)
        ses = _state.array(state, "standard_errors", "f", (G, k))
        n_iter = _state.array(state, "n_iter", "iu", (G,)).astype(np.int64)
        converged = _state.array(state, "converged", "b", (G,))
        model._set_fit(params.astype(np.float64), groups, n_iter, converged,
                       ses.astype(np.float64))
        return model

    @classmethod
    def from_params(cls, params, groups=None):
        """A model with the given parameters, as if fitted (from lifetimes, a paper, or
        a fit elsewhere): params (k,) in the order of ``PARAMS``, or (G, k) with one row
        per label of ``groups`` (G distinct labels).  Standard errors are NaN.

        >>> import crmjit
        >>> bg = crmjit.BetaGeoModel.from_params([0.243, 4.41, 0.793, 2.43])
        >>> round(float(bg.p_alive(2, 30.0, 39.0)[0]), 4)
        0.7198
        """
        p = np.asarray(params, dtype=np.float64)
        p = p.reshape(1, -1) if p.ndim == 1 else p
        G = p.shape[0]
        labels = None if groups is None else np.asarray(groups).reshape(-1)
        return cls._from_state({"params": {}, "arrays": {
            "params": p, "standard_errors": np.full(p.shape, np.nan),
            "n_iter": np.zeros(G, dtype=np.int64), "converged": np.ones(G, dtype=bool)},
            "labels": {"groups_": labels}, "feature_names": None})

    def _one_set(self, what):
        """The fitted parameters (k,) of a model fitted without groups."""
        self._check_fitted()
        if self.groups_ is not None:
            raise ValueError(f"{what} needs a model with one parameter set; this one has "
                             f"{len(self.groups_)} segments")
        return self._params[0]

    def _simulation(self, T, seed):
        """(rng, ages, params) for ``simulate_frequency``: ages finite and >= 0."""
        ages = _vector(T, "T")
        if (ages < 0).any():
            raise ValueError(f"T must be >= 0; negative at positions {positions(ages < 0)}")
        return np.random.default_rng(seed), ages, self._one_set("simulate_frequency")

    def _check_fitted(self):
        if not hasattr(self, "_params"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet: call fit first")

    def _codes(self, groups, n):
        """Per-customer parameter rows: (1,) code 0 for an ungrouped model, else the
        fitted segment of each label (unseen labels are an error)."""
        self._check_fitted()
        if self.groups_ is None:
            if groups is not None:
                raise ValueError("groups given, but the model was fitted without groups")
            return np.zeros(1, dtype=np.int64)
        if groups is None:
            raise ValueError(f"the model was fitted per segment ({len(self.groups_)} "
                             "segments): pass groups= with each customer's segment")
        g = np.asarray(groups.to_numpy() if hasattr(groups, "to_numpy") else groups)
        g = g.reshape(-1) if g.ndim == 0 else g
        if g.ndim != 1 or g.shape[0] not in (1, n):
            raise ValueError(f"groups must be 1-D with one label per customer ({n}), got "
                             f"shape {g.shape}")
        codes = pd.Index(self.groups_).get_indexer(g)
        if (codes < 0).any():
            unseen = pd.unique(g[codes < 0])
            raise ValueError(f"groups has {len(unseen)} label(s) not seen at fit, e.g. "
                             f"{list(unseen[:5])}")
        return codes.astype(np.int64)


class _PurchaseModel(_Model):
    """What the purchase models (BG/NBD, MBG/NBD, Pareto/NBD) share: the (frequency,
    recency, T) inputs, the fit in log parameters with time parameters (``TIME``) started
    at e^0.1 times the oldest age and penalised in time scaled to it (lifetimes' rules),
    the log-likelihood and lifetimes' method names.  A model gives its likelihood passes
    (``_passes``), ``p_alive`` and ``expected_purchases``."""

    PARAMS: tuple = ()
    NAME = ""
    TIME = ()  # the parameters in units of time
    COST = 1  # a customer's likelihood pass, in rows of a light pass (``_Likelihood``)

    def __init__(self, penalizer_coef=0.0, *, tol=1e-10, max_iter=200):
        self.penalizer_coef = penalizer_coef
        self.tol = tol
        self.max_iter = max_iter

    def _problem(self, x, tx, age, w, codes, n_groups, penalizer):
        layout = _Layout(codes, n_groups, x, w, chunk=max(256, CHUNK // self.COST))
        xs, txs, ages = layout.take(x), layout.take(tx), layout.take(age)
        ws = layout.weights(w)
        sizes = np.diff(layout.offsets)
        t_max = np.ones(n_groups)  # a segment without customers (log_likelihood on a subset)
        if ages.size:
            t_max[sizes > 0] = np.maximum.reduceat(ages, layout.offsets[:-1][sizes > 0])
        scale = np.ones((n_groups, len(self.PARAMS)))
        # 1 / t_max^2, kept finite (T <= 0 is rejected by fit; T near 1e-300 is not)
        scale[:, list(self.TIME)] = (1.0 / np.where(t_max > 0, np.maximum(t_max, 1e-150),
                                                    1.0))[:, None] ** 2
        nacc, table, table_extra, customer, customer_extra = self._passes()
        return _Likelihood(len(self.PARAMS), nacc, table,
                           (layout.ux, layout.uw, layout.u_ptr, *table_extra), customer,
                           (xs, txs, ages, ws, layout.chunk_ptr, layout.chunk_group,
                            *customer_extra), layout, penalizer, scale, self.COST), t_max

    def fit(self, frequency, recency, T, weights=None, groups=None):
        """Fit by maximum likelihood.

        frequency, recency, T : (n,) repeat purchases, age at the last purchase, age.
        weights : (n,) optional, how many customers share each row (lifetimes' weights).
        groups : (n,) optional segment labels: one parameter set per segment.
        Returns self.
        """
        penalizer = _check_penalizer(self.penalizer_coef)
        _check_solver(self.tol, self.max_iter)
        x, tx, age = rfm_arrays(frequency, recency, T)
        n = x.shape[0]
        if n == 0:
            raise ValueError("frequency, recency and T are empty: nothing to fit")
        w = _weights(weights, n)
        codes, labels, G = _group_input(groups, n)
        problem, t_max = self._problem(x, tx, age, w, codes, G, penalizer)
        if (t_max <= 0).any():
            raise ValueError("T must be > 0 for at least one customer (of each segment)")
        if (t_max < T_MIN).any():  # 1 / (alpha + T)^2 would overflow in the derivatives
            raise ValueError(f"T must reach at least {T_MIN:g} in every segment (the oldest "
                             f"customer's age); express the times in a larger unit")
        if (problem.layout.W <= 0).any():
            raise ValueError("weights sum to 0 (in a segment): nothing to fit")
        theta = np.full((G, len(self.PARAMS)), START)
        theta[:, list(self.TIME)] += np.log(t_max)[:, None]  # e^0.1 in scaled time
        if codes is None and n >= WARM_MIN:
            self._warm_start(theta, x, tx, age, w, penalizer)
        params, n_iter, conv = _solve(problem, theta, self.tol, self.max_iter, labels,
                                      self.NAME, self.PARAMS)
        self._set_fit(params, labels, n_iter, conv, _standard_errors(problem, params))
        return self

    def _warm_start(self, theta, x, tx, age, w, penalizer):
        """Move the start (1, k) to the optimum of every WARM_STRIDE-th customer (to a
        loose WARM_TOL): the full data's Newton then needs about 5 passes over all
        customers instead of 10 to 15.  Kept only if that fit converged."""
        sub = slice(None, None, WARM_STRIDE)
        problem, t_max = self._problem(x[sub], tx[sub], age[sub],
                                       w if w.shape[0] == 1 else w[sub], None, 1, penalizer)
        if t_max[0] < T_MIN or problem.layout.W[0] <= 0:
            return
        trial = theta.copy()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            _, converged = _newton.minimize(problem, trial, WARM_TOL, self.max_iter)
        if converged.all() and np.isfinite(trial).all():
            theta[:] = trial

    def log_likelihood(self, frequency, recency, T, weights=None, groups=None):
        """Total (weighted) log-likelihood of the data under the fitted parameters."""
        x, tx, age = rfm_arrays(frequency, recency, T)
        w = _weights(weights, x.shape[0])
        codes = self._codes(groups, x.shape[0])
        G = self._params.shape[0]
        full = None if self.groups_ is None else np.broadcast_to(codes, x.shape).copy()
        problem, _ = self._problem(x, tx, age, w, full, G, 0.0)
        ll, _, _ = problem.natural(self._params, np.arange(G))
        return float(np.sum(ll))

    def expected_purchases_new_customer(self, t, groups=None):
        """Expected repeat purchases in (0, t] of a new customer (lifetimes'
        ``expected_number_of_purchases_up_to_time``): the conditional expectation at
        x = t_x = T = 0.  t: scalar or (m,); groups: a label or (m,) labels if grouped."""
        tt = _vector(t, "t")
        if groups is not None and np.ndim(groups) == 0:
            groups = [groups]
        if groups is not None:
            gl = np.asarray(groups)
            if tt.shape[0] == 1 and gl.shape[0] > 1:
                tt = np.full(gl.shape[0], tt[0])
        zeros = np.zeros(tt.shape[0])
        out = self.expected_purchases(tt, zeros, zeros, zeros, groups=groups)
        return float(out[0]) if np.ndim(t) == 0 and out.shape[0] == 1 else out

    # lifetimes' names for the same predictions
    def conditional_probability_alive(self, frequency, recency, T, groups=None):
        """lifetimes' name for :meth:`p_alive`."""
        return self.p_alive(frequency, recency, T, groups=groups)

    def conditional_expected_number_of_purchases_up_to_time(self, t, frequency, recency, T,
                                                             groups=None):
        """lifetimes' name for :meth:`expected_purchases`."""
        return self.expected_purchases(t, frequency, recency, T, groups=groups)

    def expected_number_of_purchases_up_to_time(self, t, groups=None):
        """lifetimes' name for :meth:`expected_purchases_new_customer`."""
        return self.expected_purchases_new_customer(t, groups=groups)

    def probability_of_n_purchases_up_to_time(self, t, n, groups=None):
        """lifetimes' name for :meth:`probability_of_n_purchases`."""
        return self.probability_of_n_purchases(t, n, groups=groups)


@_state.register
class BetaGeoModel(_PurchaseModel):
    """BG/NBD purchase model (lifetimes' ``BetaGeoFitter``), optionally one per segment.

    Parameters
    ----------
    penalizer_coef : float >= 0
        L2 penalty on the parameters, as lifetimes (alpha in time scaled to max T = 1).
    tol : float
        Newton stops when a step changes no log-parameter by more than ``tol`` (relative).
    max_iter : int
        Newton iterations per segment before a ``ConvergenceWarning``.

    Fitted attributes: ``params_`` (Series r, alpha, a, b; a DataFrame with one row per
    segment when fitted with ``groups``), ``standard_errors_`` (same shape, from the
    observed information), ``groups_`` (labels or None), ``n_iter_``, ``converged_``.
    Times (recency, T, t) are in whatever unit the data uses; alpha is in that unit.
    """

    PARAMS = ("r", "alpha", "a", "b")
    NAME = "BG/NBD"
    TIME = (1,)
    SHIFT = 0.0  # 1 in MBG/NBD: its formulas are BG/NBD's with b + 1, x = 0 included

    def _passes(self):
        return NACC_BG, _bg_table_pass, (self.SHIFT,), _bg_customer_pass, (self.SHIFT,)

    def simulate_frequency(self, T, seed=0):
        """Repeat purchases of len(T) new customers simulated from the (single) fitted
        parameters over ages T: N ~ Poisson(lambda T), lambda ~ Gamma(r, alpha), cut at
        the purchase after which the customer drops out (geometric, probability p ~
        Beta(a, b); MBG/NBD: possibly at the first purchase, giving 0)."""
        rng, ages, (r, al, a, b) = self._simulation(T, seed)
        n = rng.poisson(rng.gamma(r, 1.0 / al, ages.shape) * ages)
        return np.minimum(n, rng.geometric(rng.beta(a, b, ages.shape)) - self.SHIFT)

    def p_alive(self, frequency, recency, T, groups=None):
        """P(customer still alive | history): (n,) (a Series when given Series)."""
        x, tx, age = rfm_arrays(frequency, recency, T)
        codes = self._codes(groups, x.shape[0])
        out = np.empty(x.shape[0])
        _threads.over(_bg_p_alive, x.shape[0], x, tx, age, codes, self._params, self.SHIFT,
                      out)
        return _wrap(out, _index_of(frequency, recency, T))

    def expected_purchases(self, t, frequency, recency, T, groups=None):
        """Expected repeat purchases in (T, T + t] given the history (lifetimes'
        ``conditional_expected_number_of_purchases_up_to_time``).  t: scalar or (n,), >= 0,
        in the data's time unit."""
        tt, x, tx, age = horizon_arrays(t, frequency, recency, T)
        codes = self._codes(groups, x.shape[0])
        if tt.shape[0] == 1 and tt[0] > 0:  # one horizon for everyone: tables by frequency
            out = horizon_sum(self._params, self.SHIFT, x, tx, age, codes, _ONE, tt, _ONE)
            return _wrap(out, _index_of(frequency, recency, T))
        n = x.shape[0]
        out, chunks = np.empty(n), fixed_chunks(n, 1 << 12)
        _threads.over(_bg_expected, chunks, tt, x, tx, age, codes, self._params, self.SHIFT,
                      chunks, out, span=1, work=n)
        check_summed(out)
        return _wrap(out, _index_of(frequency, recency, T))

    def probability_of_n_purchases(self, t, n, groups=None):
        """P(a new customer makes exactly n repeat purchases in (0, t]) (lifetimes'
        ``probability_of_n_purchases_up_to_time``): t > 0 and n >= 0 whole, scalars or
        (m,).  The closed form in log space, its finite sum as a negative-binomial tail
        (a regularised incomplete beta): finite for n in the thousands."""
        from scipy.special import betainc, betaln, gammaln
        tt, nn = _vector(t, "t"), _frequency(n, "n")
        if (tt <= 0).any():
            raise ValueError(f"t must be > 0; not at positions {positions(tt <= 0)}")
        tt, nn = _broadcast([("t", tt), ("n", nn)])
        p = self._params[self._codes(groups, tt.shape[0])]
        r, al, a, b = (np.broadcast_to(p[:, j], tt.shape) for j in range(4))
        bn = b + self.SHIFT + nn  # MBG/NBD: the customer may also drop out at time 0
        with np.errstate(divide="ignore"):
            first = np.exp(betaln(a, bn) - betaln(a, b) + gammaln(r + nn) - gammaln(r)
                           - gammaln(nn + 1) + r * np.log(al / (al + tt))
                           + nn * np.log(tt / (al + tt)))
            tail = np.where(nn > 0, betainc(np.maximum(nn, 1), r, tt / (al + tt)), 1.0)
            second = np.where(bn > b, np.exp(betaln(a + 1, np.maximum(bn - 1, 1e-300))
                                             - betaln(a, b)) * tail, 0.0)
        out = first + second
        return float(out[0]) if np.ndim(t) == 0 and np.ndim(n) == 0 else out



@_state.register
class ModifiedBetaGeoModel(BetaGeoModel):
    """MBG/NBD purchase model (lifetimes' ``ModifiedBetaGeoFitter``; Batislam, Denizel &
    Filiztekin 2007): BG/NBD where a customer may also drop out right after the first
    purchase, so a customer with no repeat purchase is not certainly alive.  Same
    parameters (r, alpha, a, b), arguments, attributes and predictions as
    :class:`BetaGeoModel`; its formulas are BG/NBD's with b + 1 in the purchase terms.
    """

    NAME = "MBG/NBD"
    SHIFT = 1.0
