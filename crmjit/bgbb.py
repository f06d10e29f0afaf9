"""BG/BB: purchases at discrete opportunities (yearly donations, annual renewals, events
attended), lifetimes' ``BetaGeoBetaBinomFitter`` (Fader, Hardie & Shang 2010), optionally
one per segment.

At each opportunity an alive customer buys with probability p ~ Beta(alpha, beta), then
drops out with probability theta ~ Beta(gamma, delta).  Data per customer: frequency x
(opportunities with a purchase), recency t_x (the last of them, 0 if none) and
n_periods n (opportunities observed).  The likelihood is summed over the distinct
(x, t_x, n) patterns (:mod:`crmjit.kernels.bgbb`), all in log space: finite for any
counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import _state, _threads
from ._btyd_core import (START, _Layout, _Likelihood, _broadcast, _check_penalizer,
                         _check_solver, _frequency, _group_input, _index_of, _solve,
                         _standard_errors, _weights, _wrap)
from ._validation import positions
from .btyd import _Model
from .kernels.bgbb import NACC_BGBB, _bgbb_log_lik, _bgbb_table_pass

__all__ = ["BetaGeoBetaBinomModel"]

MAX_PERIODS = 100_000  # patterns are keyed x + K (t_x + K n) in float64: K^3 < 2^53


def bgbb_arrays(frequency, recency, n_periods):
    """Validated, broadcast (x, t_x, n) float64: whole numbers, 0 <= x <= t_x <= n <=
    MAX_PERIODS, x >= 1 wherever t_x >= 1 and t_x = 0 where x = 0 (lifetimes' rules)."""
    x = _frequency(frequency, "frequency")
    tx = _frequency(recency, "recency")
    n = _frequency(n_periods, "n_periods")
    x, tx, n = _broadcast([("frequency", x), ("recency", tx), ("n_periods", n)])
    checks = ((n > MAX_PERIODS, f"n_periods must be <= {MAX_PERIODS:,}"),
              (tx > n, "recency must be <= n_periods (a purchase after the last opportunity)"),
              (x > tx, "frequency must be <= recency (x purchases need x opportunities up to "
                       "the last one)"),
              ((x == 0) != (tx == 0), "recency must be 0 exactly when frequency is 0"))
    for bad, what in checks:
        if bad.any():
            raise ValueError(f"{what}; not at positions {positions(bad)}")
    return x, tx, n


DENSE_CELLS = 1 << 24  # patterns indexed by a dense table up to this many possible keys


def _distinct(columns, n):
    """(distinct rows of the whole-number columns, each row's index among them): by a
    dense table of every possible key when that is small (no sort), else np.unique.
    Columns have length n, or 1 (one value for every row: read once, not broadcast)."""
    sizes = [int(c.max(initial=0)) + 1 for c in columns]
    total = int(np.prod(sizes, dtype=object))
    if total < 2 ** 53:  # the key in float64 arithmetic, exact below 2^53: no int copies
        keyf = np.zeros(n)
        for c, size in zip(columns, sizes):
            keyf *= size
            keyf += c
        key = keyf.astype(np.int64)
    else:
        key = np.zeros(n, dtype=np.int64)
        for c, size in zip(columns, sizes):
            key = key * size + c.astype(np.int64)
    if total <= DENSE_CELLS:
        present = np.zeros(total, dtype=bool)
        present[key] = True
        keys = np.flatnonzero(present)
        lookup = np.empty(total, dtype=np.int64)
        lookup[keys] = np.arange(keys.shape[0])
        inverse = lookup[key]
    elif total < 2 ** 62:
        keys, inverse = np.unique(key, return_inverse=True)
    else:
        rows, inverse = np.unique(np.stack([np.broadcast_to(c, (n,)) for c in columns],
                                           axis=1), axis=0, return_inverse=True)
        return ([rows[:, 0].astype(np.int64)]
                + [rows[:, j].astype(np.float64) for j in range(1, len(columns))],
                inverse.ravel())
    out = []
    for size in reversed(sizes):
        out.append((keys % size).astype(np.float64))
        keys = keys // size
    cols = out[::-1]
    cols[0] = cols[0].astype(np.int64)
    return cols, inverse


@_state.register
class BetaGeoBetaBinomModel(_Model):
    """BG/BB model of purchases at discrete opportunities (lifetimes'
    ``BetaGeoBetaBinomFitter``).

    Parameters: ``penalizer_coef`` (L2 penalty c * (alpha^2 + beta^2 + gamma^2 +
    delta^2), as lifetimes), ``tol``, ``max_iter`` as :class:`crmjit.BetaGeoModel`.

    ``fit(frequency, recency, n_periods, weights=None, groups=None)``; fitted ``params_``
    (alpha, beta, gamma, delta: a Series, or a DataFrame per segment), ``standard_errors_``,
    ``groups_``, ``n_iter_``, ``converged_``.

    >>> import crmjit
    >>> m = crmjit.BetaGeoBetaBinomModel.from_params([1.204, 0.750, 0.657, 2.783])
    >>> round(float(m.expected_purchases(10, 3, 4, 6)[0]), 3)
    1.848
    """

    PARAMS = ("alpha", "beta", "gamma", "delta")

    def __init__(self, penalizer_coef=0.0, *, tol=1e-10, max_iter=200):
        self.penalizer_coef = penalizer_coef
        self.tol = tol
        self.max_iter = max_iter

    def _problem(self, x, tx, n, w, codes, n_groups, penalizer):
        K = float(n.max(initial=0.0) + 1.0)
        layout = _Layout(codes, n_groups, x + K * (tx + K * n), w)
        return _Likelihood(4, NACC_BGBB, _bgbb_table_pass,
                           (layout.ux, layout.uw, layout.u_ptr, K), None, (), layout,
                           penalizer, np.ones((n_groups, 4)))

    def fit(self, frequency, recency, n_periods, weights=None, groups=None):
        """Fit by maximum likelihood on (x, t_x, n) per customer (or per pattern, with
        ``weights`` the customers sharing it, as lifetimes' donations data); returns self."""
        penalizer = _check_penalizer(self.penalizer_coef)
        _check_solver(self.tol, self.max_iter)
        x, tx, n = bgbb_arrays(frequency, recency, n_periods)
        if x.shape[0] == 0:
            raise ValueError("frequency, recency and n_periods are empty: nothing to fit")
        w = _weights(weights, x.shape[0])
        codes, labels, G = _group_input(groups, x.shape[0])
        problem = self._problem(x, tx, n, w, codes, G, penalizer)
        if (problem.layout.W <= 0).any():
            raise ValueError("weights sum to 0 (in a segment): nothing to fit")
        params, n_iter, conv = _solve(problem, np.full((G, 4), START), self.tol,
                                      self.max_iter, labels, "BG/BB", self.PARAMS)
        self._set_fit(params, labels, n_iter, conv, _standard_errors(problem, params))
        return self

    def log_likelihood(self, frequency, recency, n_periods, weights=None, groups=None):
        """Total (weighted) log-likelihood of the data under the fitted parameters."""
        x, tx, n = bgbb_arrays(frequency, recency, n_periods)
        w = _weights(weights, x.shape[0])
        return float(np.sum(np.broadcast_to(w, x.shape) * self._log_lik(x, tx, n, groups)))

    def _log_lik(self, x, tx, n, groups):
        out = np.empty(x.shape[0])
        _threads.over(_bgbb_log_lik, x.shape[0], x, tx, n, self._codes(groups, x.shape[0]),
                      self._params, out, span=256)
        return out

    def _per_pattern(self, m, frequency, recency, n_periods, groups, formula):
        """formula(m, x, t_x, n, alpha, beta, gamma, delta, log P(alive at n)) evaluated
        once per distinct (segment, x, t_x, n, m) and spread to the customers (a customer
        base has few distinct patterns: opportunities are counted in years or months)."""
        mm = _frequency(m, "m_periods_in_future")
        x, tx, n = bgbb_arrays(frequency, recency, n_periods)
        if mm.shape[0] != 1:  # a horizon per customer (one horizon stays one value)
            mm, x, tx, n = _broadcast([("m_periods_in_future", mm), ("frequency", x),
                                       ("recency", tx), ("n_periods", n)])
        codes = np.atleast_1d(self._codes(groups, x.shape[0]))
        cols, inverse = _distinct([codes, x, tx, n, mm], x.shape[0])
        c, ux, utx, un, um = cols
        p = self._params[c]
        a, b, g, d = (p[:, j] for j in range(4))
        out = np.empty(ux.shape[0])
        _threads.over(_bgbb_log_lik, ux.shape[0], ux, utx, un, c, self._params, out, span=256)
        from scipy.special import betaln
        alive = betaln(a + ux, b + un - ux) - betaln(a, b) + betaln(g, d + un) - betaln(g, d) \
            - out
        return _wrap(formula(um, ux, utx, un, a, b, g, d, alive)[inverse],
                     _index_of(frequency, recency, n_periods))

    def p_alive(self, frequency, recency, n_periods, m_periods_in_future=0, groups=None):
        """P(alive at opportunity n + m | history), m >= 0 whole (0: now); (k,)."""
        from scipy.special import betaln

        def formula(mm, x, tx, n, a, b, g, d, alive):
            return np.exp(alive + betaln(g, d + n + mm) - betaln(g, d + n))
        return self._per_pattern(m_periods_in_future, frequency, recency, n_periods, groups,
                                 formula)

    def expected_purchases(self, m_periods_in_future, frequency, recency, n_periods,
                           groups=None):
        """Expected purchases at the next m opportunities given the history (Fader, Hardie
        & Shang 2010, eq. 13): P(alive) E[p | history] sum_{t=1..m} P(survive t more),
        the sum in closed form d/(g - 1) (1 - G(1 + d + m) G(g + d) / (G(1 + d)
        G(g + d + m))), d = delta + n, g = gamma (its limit d (psi(1 + d + m) -
        psi(1 + d)) at gamma = 1).  (k,)."""
        from scipy.special import digamma, gammaln

        def formula(mm, x, tx, n, a, b, g, d, alive):
            dn = d + n
            with np.errstate(divide="ignore", invalid="ignore"):
                delta = (gammaln(1 + dn + mm) - gammaln(1 + dn)) - (gammaln(g + dn + mm)
                                                                    - gammaln(g + dn))
                survive = np.where(g == 1, dn * (digamma(1 + dn + mm) - digamma(1 + dn)),
                                   -np.expm1(delta) * dn / (g - 1))
            return np.exp(alive) * (a + x) / (a + b + n) * survive
        return self._per_pattern(m_periods_in_future, frequency, recency, n_periods, groups,
                                 formula)

    def expected_purchases_new_customer(self, n_periods, groups=None):
        """Expected purchases of a new customer in their first n opportunities: the
        conditional expectation at x = t_x = n = 0.  Scalar or (k,)."""
        n = _frequency(n_periods, "n_periods")
        out = np.asarray(self.expected_purchases(n, np.zeros(n.shape[0]), 0.0, 0.0,
                                                 groups=groups))
        return float(out[0]) if np.ndim(n_periods) == 0 and out.size == 1 else out

    def probability_of_n_purchases(self, n_periods, x, groups=None):
        """P(a new customer makes x purchases in the first n opportunities) (Fader, Hardie
        & Shang 2010, eq. 7), in log space; scalars or (k,)."""
        from scipy.special import betaln, gammaln
        n, k = _frequency(n_periods, "n_periods"), _frequency(x, "x")
        n, k = _broadcast([("n_periods", n), ("x", k)])
        if (k > n).any():
            raise ValueError(f"x must be <= n_periods; not at positions {positions(k > n)}")
        p = self._params[self._codes(groups, n.shape[0])]
        out = np.empty(n.shape[0])
        for j in range(n.shape[0]):
            a, b, g, d = np.broadcast_to(p, (n.shape[0], 4))[j]
            i = np.arange(k[j], n[j])  # dropped out after opportunity i (bought x by then)
            terms = np.append(gammaln(n[j] + 1) - gammaln(k[j] + 1) - gammaln(n[j] - k[j] + 1)
                              + betaln(a + k[j], b + n[j] - k[j]) + betaln(g, d + n[j]),
                              gammaln(i + 1) - gammaln(k[j] + 1) - gammaln(i - k[j] + 1)
                              + betaln(a + k[j], b + i - k[j]) + betaln(g + 1, d + i))
            top = terms.max()
            out[j] = np.exp(top + np.log(np.exp(terms - top).sum()) - betaln(a, b)
                            - betaln(g, d))
        return float(out[0]) if np.ndim(n_periods) == 0 and np.ndim(x) == 0 else out

    # lifetimes' names
    def conditional_expected_number_of_purchases_up_to_time(self, m_periods_in_future,
                                                             frequency, recency, n_periods,
                                                             groups=None):
        """lifetimes' name for :meth:`expected_purchases`."""
        return self.expected_purchases(m_periods_in_future, frequency, recency, n_periods,
                                       groups=groups)

    def conditional_probability_alive(self, m_periods_in_future, frequency, recency,
                                      n_periods, groups=None):
        """lifetimes' name (and argument order) for :meth:`p_alive`."""
        return self.p_alive(frequency, recency, n_periods, m_periods_in_future, groups=groups)

    def expected_number_of_purchases_up_to_time(self, n_periods, groups=None):
        """lifetimes' name for :meth:`expected_purchases_new_customer`."""
        return self.expected_purchases_new_customer(n_periods, groups=groups)

    def probability_of_n_purchases_up_to_time(self, n_periods, x, groups=None):
        """lifetimes' name for :meth:`probability_of_n_purchases`."""
        return self.probability_of_n_purchases(n_periods, x, groups=groups)

    def expected_number_of_transactions_in_first_n_periods(self, n, counts):
        """lifetimes' in-sample check: expected customers with each frequency x after n
        opportunities, for a population of ``counts.sum()`` customers; ``counts`` a
        Series of customers by observed frequency (its index the x values).  DataFrame
        with column ``model`` indexed by frequency."""
        if not isinstance(counts, pd.Series):
            raise TypeError("counts must be a pandas Series of customers indexed by "
                            f"frequency, got {type(counts).__name__}")
        x = np.asarray(counts.index, dtype=np.float64)
        probs = self.probability_of_n_purchases(np.full(x.shape[0], float(n)), x)
        return pd.DataFrame({"model": np.atleast_1d(probs) * float(np.sum(counts))},
                            index=pd.Index(counts.index, name="frequency"))
