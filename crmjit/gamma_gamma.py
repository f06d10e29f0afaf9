"""Gamma-Gamma spend model (lifetimes' ``GammaGammaFitter``; Fader, Hardie & Lee 2005),
optionally one parameter set per segment: a customer's spends are Gamma(p, nu) with nu ~
Gamma(q, v), fitted on the repeat customers' (frequency, mean repeat spend) by the same
lock-step Newton in log parameters as the purchase models (:mod:`crmjit.btyd`).
Penalty ``c * (p^2 + q^2 + v^2)``."""

from __future__ import annotations

import numpy as np

from . import _state, _threads
from ._btyd_core import (START, _Layout, _Likelihood, _broadcast, _check_penalizer,
                         _check_solver, _frequency, _group_input, _index_of, _solve,
                         _standard_errors, _vector, _weights, _wrap)
from ._validation import positions
from .btyd import _Model
from .kernels.btyd import NACC_GG, _gg_customer_pass, _gg_table_pass
from .kernels.btyd_predict import _gg_expected

__all__ = ["GammaGammaModel"]


def _spend_arrays(frequency, monetary_value, fitting=False):
    """Validated (x, m): m >= 0, and > 0 for the repeat customers the fit reads (its
    likelihood has log m; the conditional mean spend is defined at m = 0, as lifetimes
    has it)."""
    x = _frequency(frequency)
    m = _vector(monetary_value, "monetary_value")
    x, m = _broadcast([("frequency", x), ("monetary_value", m)])
    bad = (x > 0) & (m <= 0) if fitting else m < 0
    if bad.any():
        want = ("> 0 for the repeat customers a Gamma-Gamma fit reads (frequency > 0; "
                "leave out those who spent nothing)" if fitting else ">= 0")
        raise ValueError(f"monetary_value must be {want}; not at positions {positions(bad)}")
    return x, m


@_state.register
class GammaGammaModel(_Model):
    """Gamma-Gamma spend model (lifetimes' ``GammaGammaFitter``), optionally per segment.

    Fitted on repeat customers only (frequency > 0; others carry no spend information and
    are skipped, where lifetimes makes the caller filter them).  ``params_``: p, q, v
    (Series, or a DataFrame per segment); ``standard_errors_``, ``groups_``, ``n_iter_``,
    ``converged_`` as :class:`BetaGeoModel`.
    """

    PARAMS = ("p", "q", "v")

    def __init__(self, penalizer_coef=0.0, *, tol=1e-10, max_iter=200):
        self.penalizer_coef = penalizer_coef
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, frequency, monetary_value, weights=None, groups=None):
        """Fit by maximum likelihood on (frequency, mean repeat spend); returns self."""
        penalizer = _check_penalizer(self.penalizer_coef)
        _check_solver(self.tol, self.max_iter)
        x, m = _spend_arrays(frequency, monetary_value, fitting=True)
        n = x.shape[0]
        w = _weights(weights, n)
        codes, labels, G = _group_input(groups, n)
        keep = x > 0
        if not keep.all():
            x, m = x[keep], m[keep]
            w = w if w.shape[0] == 1 else w[keep]
            codes = None if codes is None else codes[keep]
        if x.shape[0] == 0:
            raise ValueError("no repeat customers (frequency > 0): nothing to fit")
        layout = _Layout(codes, G, x, w)
        if (layout.W <= 0).any():
            empty = labels[layout.W <= 0] if labels is not None else []
            raise ValueError("a segment has no repeat customers with weight > 0, e.g. "
                             f"{list(empty[:5])}: the spend model cannot be fitted there")
        ws = layout.weights(w)
        problem = _Likelihood(3, NACC_GG, _gg_table_pass, (layout.ux, layout.uw, layout.u_ptr),
                              _gg_customer_pass, (layout.take(x), layout.take(m), ws,
                                                  layout.chunk_ptr, layout.chunk_group),
                              layout, penalizer, np.ones((G, 3)))
        theta = np.full((G, 3), START)
        params, n_iter, conv = _solve(problem, theta, self.tol, self.max_iter, labels,
                                      "Gamma-Gamma", self.PARAMS)
        self._set_fit(params, labels, n_iter, conv, _standard_errors(problem, params))
        return self

    def _check_q(self, codes):
        q = self._params[:, 1] if codes.shape[0] != 1 else self._params[codes, 1]
        if (q <= 1).any():
            raise ValueError("the fitted q <= 1: the population mean spend v p / (q - 1) is "
                             "undefined for this model")

    def expected_average_value(self, frequency, monetary_value, groups=None):
        """E[mean spend | frequency, mean repeat spend] per customer (lifetimes'
        ``conditional_expected_average_profit``): (n,)."""
        x, m = _spend_arrays(frequency, monetary_value)  # m = 0 allowed here
        codes = self._codes(groups, x.shape[0])
        self._check_q(codes)
        out = np.empty(x.shape[0])
        _threads.over(_gg_expected, x.shape[0], x, m, codes, self._params, out)
        return _wrap(out, _index_of(frequency, monetary_value))

    conditional_expected_average_profit = expected_average_value  # lifetimes' name
