"""Pareto/NBD purchase model (lifetimes' ``ParetoNBDFitter``; Schmittlein, Morrison &
Colombo 1987), optionally one per segment.

While alive a customer buys at Poisson rate lambda ~ Gamma(r, alpha); their lifetime is
exponential at rate mu ~ Gamma(s, beta), so they may drop out at any time, not only at a
purchase as in BG/NBD.  The likelihood's integral over the time of death is summed in
log space as a series of positive terms (:mod:`crmjit.kernels.pareto`): finite at
frequencies in the thousands, where lifetimes' hypergeometric function overflows.
"""

from __future__ import annotations

import numpy as np

from . import _state, _threads
from ._btyd_core import (_broadcast, _frequency, _index_of, _vector, _wrap, horizon_arrays,
                         rfm_arrays)
from ._validation import positions
from .btyd import _PurchaseModel
from .kernels.pareto import NACC_PARETO, _pareto_customer_pass, _pareto_predict, \
    _pareto_table_pass

__all__ = ["ParetoNBDModel"]

_NONE = np.zeros(1)
_NO_CODES = np.zeros(1, dtype=np.int64)
_NO_GG = np.ones((1, 3))


def _check_series(out):
    bad = np.isnan(out)
    if bad.any():
        raise ValueError(f"Pareto/NBD predictions cannot be computed for the customers at "
                         f"positions {positions(bad)}: with these parameters the series "
                         "of the death-time integral does not converge fast enough: "
                         "(min(alpha, beta) + recency) / (max(alpha, beta) + recency) is "
                         "below about 1.2 %, where alpha / beta runs off to 0 or infinity; "
                         "refit with penalizer_coef > 0")


@_state.register
class ParetoNBDModel(_PurchaseModel):
    """Pareto/NBD purchase model (lifetimes' ``ParetoNBDFitter``).

    Parameters
    ----------
    penalizer_coef : float >= 0
        L2 penalty ``c * (r^2 + (alpha/T_max)^2 + s^2 + (beta/T_max)^2)`` on the mean
        negative log-likelihood, as lifetimes (alpha and beta in time scaled to max T = 1).
    tol, max_iter : as :class:`crmjit.BetaGeoModel`.

    ``fit(frequency, recency, T, weights=None, groups=None)``; fitted ``params_`` (r,
    alpha, s, beta: a Series, or a DataFrame per segment), ``standard_errors_``,
    ``groups_``, ``n_iter_``, ``converged_``.  Times are in the data's unit; alpha and
    beta are in that unit.

    >>> import crmjit
    >>> m = crmjit.ParetoNBDModel.from_params([0.553, 10.58, 0.606, 11.67])
    >>> round(float(m.p_alive(2, 30.43, 38.86)[0]), 4)
    0.8692
    """

    PARAMS = ("r", "alpha", "s", "beta")
    NAME = "Pareto/NBD"
    TIME = (1, 3)
    COST = 32  # about 0.5 us a customer (two series): the 1/16 warm start is worth 2 threads

    def _passes(self):
        return NACC_PARETO, _pareto_table_pass, (), _pareto_customer_pass, ()

    def _predict(self, what, t, x, tx, age, codes, m=_NONE, gg_codes=_NO_CODES,
                 gg_params=_NO_GG, times=_NONE, disc=_NONE):
        out = np.empty(x.shape[0])
        _threads.over(_pareto_predict, x.shape[0], t, x, tx, age, m, codes, self._params,
                      gg_codes, gg_params, times, disc, what, out, span=64)
        _check_series(out)
        return out

    def simulate_frequency(self, T, seed=0):
        """Repeat purchases of len(T) new customers simulated from the (single) fitted
        parameters over ages T: Poisson(lambda min(tau, T)), lambda ~ Gamma(r, alpha), the
        time of death tau exponential at rate mu ~ Gamma(s, beta)."""
        rng, ages, (r, al, s, be) = self._simulation(T, seed)
        tau = rng.exponential(1.0 / rng.gamma(s, 1.0 / be, ages.shape))
        return rng.poisson(rng.gamma(r, 1.0 / al, ages.shape) * np.minimum(tau, ages))

    def p_alive(self, frequency, recency, T, groups=None):
        """P(customer still alive | history): (n,) (a Series when given Series)."""
        x, tx, age = rfm_arrays(frequency, recency, T)
        out = self._predict(0, _NONE, x, tx, age, self._codes(groups, x.shape[0]))
        return _wrap(out, _index_of(frequency, recency, T))

    def expected_purchases(self, t, frequency, recency, T, groups=None):
        """Expected repeat purchases in (T, T + t] given the history (lifetimes'
        ``conditional_expected_number_of_purchases_up_to_time``): P(alive) (r + x)
        (beta + T) / ((alpha + T) (s - 1)) (1 - ((beta + T) / (beta + T + t))^(s - 1)),
        its limit at s = 1.  t: scalar or (n,), >= 0, in the data's time unit."""
        tt, x, tx, age = horizon_arrays(t, frequency, recency, T)
        out = self._predict(1, tt, x, tx, age, self._codes(groups, x.shape[0]))
        return _wrap(out, _index_of(frequency, recency, T))

    def probability_of_n_purchases(self, t, n, frequency=None, recency=None, T=None,
                                   groups=None):
        """P(exactly n repeat purchases in the next t), t > 0 and n >= 0 whole, scalars or
        (m,): for a new customer, or given a history (frequency, recency, T; lifetimes'
        ``probability_of_n_purchases_up_to_time``).  A customer alive now buys
        NegBin(r', alpha' / (alpha' + t)) times if still alive at t, probability
        (beta' / (beta' + t))^s, else up to their death at tau (the integral over tau,
        by adaptive quadrature of a positive integrand, in log space); r' = r + x,
        alpha' = alpha + T, beta' = beta + T given a history (x, T), times P(alive), plus
        1 - P(alive) at n = 0."""
        from scipy.integrate import quad
        from scipy.special import gammaln
        tt, nn = _vector(t, "t"), _frequency(n, "n")
        if (tt <= 0).any():
            raise ValueError(f"t must be > 0; not at positions {positions(tt <= 0)}")
        history = (frequency, recency, T)
        if any(v is not None for v in history) and any(v is None for v in history):
            raise ValueError("give all of frequency, recency and T, or none")
        if frequency is None:
            x, age, alive = np.zeros(1), np.zeros(1), np.ones(1)
        else:
            x, tx, age = rfm_arrays(frequency, recency, T)
            alive = np.asarray(self.p_alive(x, tx, age, groups=groups))
        tt, nn, x, age, alive = _broadcast([("t", tt), ("n", nn), ("frequency", x),
                                            ("T", age), ("p_alive", alive)])
        p = np.broadcast_to(self._params[self._codes(groups, tt.shape[0])], (tt.shape[0], 4))
        out = np.empty(tt.shape[0])
        for i in range(tt.shape[0]):
            r, al, s, be = p[i, 0] + x[i], p[i, 1] + age[i], p[i, 2], p[i, 3] + age[i]
            ti, k = tt[i], nn[i]
            const = gammaln(r + k) - gammaln(r) - gammaln(k + 1) + r * np.log(al)

            def log_nb(tau):  # log P(k purchases in (0, tau]) for tau > 0
                return const - (r + k) * np.log(al + tau) + (k * np.log(tau) if k else 0.0)

            alive_t = np.exp(log_nb(ti) + s * (np.log(be) - np.log(be + ti)))
            dens = np.log(s) + s * np.log(be)
            death, _ = quad(lambda u: np.exp(log_nb(u) + dens - (s + 1) * np.log(be + u))
                            if u > 0 else (np.exp(dens - (s + 1) * np.log(be)) if k == 0
                                           else 0.0), 0.0, ti, epsabs=0.0, epsrel=1e-12,
                            limit=200)
            out[i] = alive[i] * (alive_t + death) + (1.0 - alive[i]) * (k == 0)
        return float(out[0]) if out.shape[0] == 1 and np.ndim(t) == 0 and np.ndim(n) == 0 \
            else out

    def conditional_probability_of_n_purchases_up_to_time(self, n, t, frequency, recency, T,
                                                          groups=None):
        """lifetimes' name (and argument order) for :meth:`probability_of_n_purchases`
        given a history."""
        return self.probability_of_n_purchases(t, n, frequency, recency, T, groups=groups)
