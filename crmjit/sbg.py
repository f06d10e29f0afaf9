"""Contractual customers (subscriptions, renewals): the shifted-beta-geometric model of
Fader & Hardie (2007, 2010), optionally one per segment, with retention, survival and the
discounted expected residual lifetime (DERL)."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from . import _state
from ._btyd_core import (START, _Layout, _Likelihood, _check_penalizer, _check_solver,
                         _frequency, _group_input, _solve, _standard_errors, _vector,
                         _weights)
from ._validation import binary_labels, positions
from .btyd import _Model
from .kernels.sbg import NACC_SBG, _sbg_table_pass


def _customers(lifetime, churned):
    """Validated (t, churned) as float64 arrays: t whole >= 0, >= 1 where churned."""
    t = _frequency(lifetime, "lifetime")
    c = binary_labels(np.atleast_1d(churned) if np.ndim(churned) == 0 else churned,
                      "churned").astype(np.float64)
    if c.shape[0] == 1 and t.shape[0] != 1:
        c = np.broadcast_to(c, t.shape)
    if c.shape != t.shape:
        raise ValueError(f"churned has {c.shape[0]} values but lifetime has {t.shape[0]}")
    early = (c == 1) & (t < 1)
    if early.any():
        raise ValueError(f"lifetime must be >= 1 for churned customers (they stayed at least "
                         f"the period they left in); 0 at positions {positions(early)}")
    return t, c


def cohort_data(survivors):
    """Per-customer data of a cohort from its survivor counts: survivors[k] customers
    still active at the start of period k + 1 (survivors[0] the cohort's size), e.g.
    ``[1000, 631, 468, 382]``.  Returns a DataFrame with ``lifetime``, ``churned`` and
    ``customers`` (the weights), ready for ``ShiftedBetaGeoModel().fit(df.lifetime,
    df.churned, weights=df.customers)``: survivors[k-1] - survivors[k] customers churned
    after k periods, and the survivors[-1] still active after len(survivors) - 1."""
    s = np.asarray(survivors)
    if s.ndim != 1 or s.size < 2:
        raise ValueError("survivors must hold at least two counts (the cohort's size, then "
                         "the customers still active a period later, ...)")
    if s.dtype.kind not in "iuf" or not np.all(np.isfinite(s)) or (s != np.floor(s)).any():
        raise ValueError("survivors must hold whole numbers")
    if s[0] <= 0 or (s < 0).any() or (np.diff(s) > 0).any():
        raise ValueError(f"survivors must start above 0 and never grow (a cohort only "
                         f"loses customers); got {s.tolist()[:10]}")
    k = s.size - 1
    lost = -np.diff(s).astype(np.float64)
    return pd.DataFrame({"lifetime": np.append(np.arange(1, k + 1), k).astype(np.float64),
                         "churned": np.append(np.ones(k), 0.0),
                         "customers": np.append(lost, float(s[-1]))})


@_state.register
class ShiftedBetaGeoModel(_Model):
    """sBG for contractual customers: each renews each period with their own probability
    1 - theta, theta ~ Beta(alpha, beta) across customers (Fader & Hardie 2007).

    ``fit(lifetime, churned, weights=None, groups=None)``: lifetime = the periods a customer
    stayed, churned = whether they left at the end of it (else they are still active after
    it); :func:`cohort_data` turns survivor counts into this.  ``params_``: alpha, beta
    (Series, or a DataFrame per segment); ``standard_errors_``, ``groups_``, ``n_iter_``,
    ``converged_``, ``save``/``load`` as the other models.
    """

    PARAMS = ("alpha", "beta")

    def __init__(self, penalizer_coef=0.0, *, tol=1e-10, max_iter=200):
        self.penalizer_coef = penalizer_coef
        self.tol = tol
        self.max_iter = max_iter

    def _problem(self, t, c, w, codes, n_groups, penalizer):
        layout = _Layout(codes, n_groups, 2.0 * t + c, w)
        return _Likelihood(2, NACC_SBG, _sbg_table_pass, (layout.ux, layout.uw, layout.u_ptr),
                           None, (), layout, penalizer, np.ones((n_groups, 2)))

    def fit(self, lifetime, churned, weights=None, groups=None):
        """Fit by maximum likelihood; returns self."""
        penalizer = _check_penalizer(self.penalizer_coef)
        _check_solver(self.tol, self.max_iter)
        t, c = _customers(lifetime, churned)
        if t.shape[0] == 0:
            raise ValueError("lifetime is empty: nothing to fit")
        w = _weights(weights, t.shape[0])
        codes, labels, G = _group_input(groups, t.shape[0])
        problem = self._problem(t, c, w, codes, G, penalizer)
        if (problem.layout.W <= 0).any():
            raise ValueError("weights sum to 0 (in a segment): nothing to fit")
        theta = np.full((G, 2), START)
        params, n_iter, conv = _solve(problem, theta, self.tol, self.max_iter, labels,
                                      "sBG", self.PARAMS)
        self._set_fit(params, labels, n_iter, conv, _standard_errors(problem, params))
        return self

    def log_likelihood(self, lifetime, churned, weights=None, groups=None):
        """Total (weighted) log-likelihood of the data under the fitted parameters."""
        t, c = _customers(lifetime, churned)
        w = _weights(weights, t.shape[0])
        codes = self._codes(groups, t.shape[0])
        G = self._params.shape[0]
        full = None if self.groups_ is None else np.broadcast_to(codes, t.shape).copy()
        ll, _, _ = self._problem(t, c, w, full, G, 0.0).natural(self._params, np.arange(G))
        return float(np.sum(ll))

    def _per(self, t, groups, name, minimum):
        tt = _vector(t, name)
        if (tt < minimum).any() or (tt != np.floor(tt)).any():
            raise ValueError(f"{name} must be whole numbers >= {minimum}; not at positions "
                             f"{positions((tt < minimum) | (tt != np.floor(tt)))}")
        p = self._params[self._codes(groups, tt.shape[0])]
        return tt, np.broadcast_to(p[:, 0], tt.shape), np.broadcast_to(p[:, 1], tt.shape)

    def retention_rate(self, t, groups=None):
        """P(renew at the end of period t | active in period t), t >= 1 whole:
        (beta + t - 1) / (alpha + beta + t - 1).  Scalar or (m,)."""
        tt, a, b = self._per(t, groups, "t", 1)
        out = (b + tt - 1.0) / (a + b + tt - 1.0)
        return float(out[0]) if np.ndim(t) == 0 and out.size == 1 else out

    def survival(self, t, groups=None):
        """P(still active after t periods), t >= 0 whole: B(alpha, beta + t) / B(alpha,
        beta), in log space (finite for any t).  Scalar or (m,)."""
        tt, a, b = self._per(t, groups, "t", 0)
        # log S(t) = log G(b + t) - log G(a + b + t) - log G(b) + log G(a + b)
        out = np.exp(_log_gamma_shift(b, a) - _log_gamma_shift(b + tt, a))
        return float(out[0]) if np.ndim(t) == 0 and out.size == 1 else out

    def derl(self, discount_rate, renewals=0, groups=None):
        """Discounted expected residual lifetime (Fader & Hardie 2010): for a customer who
        has renewed ``renewals`` times, the present value at discount_rate (per period,
        > 0) of their expected future renewals, each counted 1 when it happens, the next
        one discounted once: sum over k >= 1 of P(k more renewals) / (1 + d)^k
        = (beta + n) / (alpha + beta + n) 2F1(1, beta + n + 1; alpha + beta + n + 1;
        1 / (1 + d)).  Multiply by the payment per period for a value.  The series has
        positive terms, summed per distinct (segment, renewals) until they stop counting."""
        if (isinstance(discount_rate, bool) or not isinstance(discount_rate, numbers.Real)
                or not np.isfinite(discount_rate) or discount_rate <= 0):
            raise ValueError(f"discount_rate must be a finite number > 0, got "
                             f"{discount_rate!r}")
        n, a, b = self._per(renewals, groups, "renewals", 0)
        pairs, inverse = np.unique(np.stack([a, b, n], axis=1), axis=0, return_inverse=True)
        z = 1.0 / (1.0 + discount_rate)
        out = np.array([_derl_series(pa, pb, pn, z) for pa, pb, pn in pairs])[inverse.ravel()]
        return float(out[0]) if np.ndim(renewals) == 0 and out.size == 1 else out


STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680)  # B_2k / (2k (2k - 1)), k = 1..4
SHIFT_TO = 15.0  # the series is used from here up: its next term is below 1e-13


def _log_gamma_shift(x, a):
    """log Gamma(x + a) - log Gamma(x) for x > 0, a > 0 (arrays), without the cancellation
    of two large log-gammas: Stirling's series of the difference in log1p and expm1 form,
    x first shifted up to SHIFT_TO by the recurrence (scipy's gammaln difference loses 3e-11
    at x = 10,000; this stays within 1e-13, checked against mpmath)."""
    x, a = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(a, np.float64))
    m = np.maximum(0.0, np.ceil(SHIFT_TO - x))
    low = np.zeros(x.shape)
    for i in range(int(m.max(initial=0))):
        low -= np.where(i < m, np.log1p(a / (x + i)), 0.0)
    y = x + m
    ratio = np.log1p(a / y)
    out = (y - 0.5) * ratio + a * np.log(y + a) - a
    for k, c in enumerate(STIRLING, start=1):  # c ((y + a)^(1-2k) - y^(1-2k))
        out += c * y ** (1 - 2 * k) * np.expm1((1 - 2 * k) * ratio)
    return out + low


def _derl_series(a, b, n, z):
    """(b + n) / (a + b + n) * 2F1(1, b + n + 1; a + b + n + 1; z), 0 < z < 1: terms
    c_k z^k with c_{k+1} / c_k = (b + n + 1 + k) / (a + b + n + 1 + k) < 1, all positive,
    summed until one adds less than 2^-60 of the sum."""
    term = (b + n) / (a + b + n)
    total = term
    k = 0
    while term > total * 2.0 ** -60:
        term *= z * (b + n + 1.0 + k) / (a + b + n + 1.0 + k)
        total += term
        k += 1
    return total
