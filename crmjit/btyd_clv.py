"""Customer lifetime value from a fitted BG/NBD purchase model and a Gamma-Gamma spend
model (lifetimes' ``GammaGammaFitter.customer_lifetime_value``), in one fused kernel."""

from __future__ import annotations

import numbers

import numpy as np

from . import _threads
from ._btyd_core import _broadcast, _index_of, _vector, _wrap, rfm_arrays
from ._horizon import horizon_sum
from .btyd import BetaGeoModel
from .gamma_gamma import GammaGammaModel, _spend_arrays
from .kernels.btyd_predict import _gg_expected

FREQ_FACTOR = {"D": 30.0, "W": 4.345, "M": 1.0, "H": 720.0, "h": 720.0}


#: the purchase models by their command-line names
PURCHASE_MODELS = {"bgnbd": "BetaGeoModel", "pareto": "ParetoNBDModel",
                   "mbgnbd": "ModifiedBetaGeoModel"}


def fit_pair(frequency, recency, T, monetary_value, groups=None, model="bgnbd", **params):
    """(purchase model, Gamma-Gamma) fitted on RFM columns: the purchase model named by
    ``model`` (a key of PURCHASE_MODELS) on every customer, Gamma-Gamma on the repeat
    buyers with positive spend; params (e.g. penalizer_coef) go to both."""
    import crmjit
    if model not in PURCHASE_MODELS:
        raise ValueError(f"model must be one of {sorted(PURCHASE_MODELS)}, got {model!r}")
    purchases = getattr(crmjit, PURCHASE_MODELS[model])(**params).fit(
        frequency, recency, T, groups=groups)
    spend = (np.asarray(frequency) > 0) & (np.asarray(monetary_value) > 0)
    if not spend.any():
        raise ValueError("no customer has repeat purchases with a positive monetary value: "
                         "nothing to fit the spend model on")
    gg = GammaGammaModel(**params).fit(np.asarray(frequency)[spend],
                                       np.asarray(monetary_value)[spend],
                                       groups=None if groups is None else groups[spend])
    return purchases, gg


#: months whose discount factor is below TAIL * rate of the first month's are left out: a
#: month's expected purchases never exceed the previous month's (the purchase rate of a
#: customer who may have dropped out only falls), so all later months together add at
#: most disc_J / rate of one month's value, under TAIL of the sum.  Without it the cost
#: grows as the square of the horizon (time=60000 took 40 s for 5 customers).
TAIL = 2.0 ** -60


def customer_lifetime_value(purchase_model, spend_model, frequency, recency, T,
                            monetary_value, time=12, discount_rate=0.01, freq="D",
                            groups=None):
    """Discounted expected value of each customer's next ``time`` months (lifetimes'
    ``GammaGammaFitter.customer_lifetime_value``).

    purchase_model : a fitted :class:`BetaGeoModel`, :class:`ModifiedBetaGeoModel` or
    :class:`ParetoNBDModel`; spend_model : fitted :class:`GammaGammaModel`.  frequency,
    recency, T, monetary_value : (n,) in the time unit ``freq`` names ("D" days, "W"
    weeks, "M" months, "H" hours).  time : months (int >= 1; with discount_rate > 0 the
    months that cannot change the sum, ``TAIL``, are skipped, so at 1 % any horizon costs
    what 4,600 months cost; at rate <= 0 the cost grows as the square of the horizon).
    discount_rate : per month, > -1.  groups : segment labels for models fitted per
    segment.  Returns (n,) float64 (a Series when given Series).

    For each customer the purchase model's sum over all ``time`` horizons is read from
    a Chebyshev table of its (segment, frequency) pair, or its series evaluated once for
    all of them (:mod:`crmjit._horizon`; Pareto/NBD: a closed form), times the
    Gamma-Gamma expected spend.
    """
    from .pareto import ParetoNBDModel
    if not isinstance(purchase_model, (BetaGeoModel, ParetoNBDModel)):
        raise TypeError("purchase_model must be a fitted crmjit.BetaGeoModel, "
                        "ModifiedBetaGeoModel or ParetoNBDModel, got "
                        f"{type(purchase_model).__name__}")
    if not isinstance(spend_model, GammaGammaModel):
        raise TypeError("spend_model must be a fitted crmjit.GammaGammaModel, got "
                        f"{type(spend_model).__name__}")
    if freq not in FREQ_FACTOR:
        raise ValueError(f"freq must be one of {sorted(FREQ_FACTOR)}, got {freq!r}")
    if isinstance(time, bool) or not isinstance(time, numbers.Integral) or time < 1:
        raise ValueError(f"time must be a whole number of months >= 1, got {time!r}")
    if (isinstance(discount_rate, bool) or not isinstance(discount_rate, numbers.Real)
            or not np.isfinite(discount_rate) or discount_rate <= -1):
        raise ValueError(f"discount_rate must be a finite number > -1, got {discount_rate!r}")
    purchase_model._check_fitted()
    spend_model._check_fitted()
    if groups is not None and purchase_model.groups_ is None and spend_model.groups_ is None:
        raise ValueError("groups given, but neither model was fitted with groups")
    x, tx, age = rfm_arrays(frequency, recency, T)
    x, tx, age, m = _broadcast([("frequency", x), ("recency", tx), ("T", age),
                                ("monetary_value", _vector(monetary_value, "monetary_value"))])
    _spend_arrays(x, m)
    n = x.shape[0]
    codes = purchase_model._codes(groups if purchase_model.groups_ is not None else None, n)
    gg_codes = spend_model._codes(groups if spend_model.groups_ is not None else None, n)
    spend_model._check_q(gg_codes)
    steps = np.arange(1, time + 1, dtype=np.float64)
    disc = (1.0 + discount_rate) ** -steps
    if discount_rate > 0:  # months that cannot change the sum are left out
        keep = disc >= TAIL * disc[0] * discount_rate
        steps, disc = steps[keep], disc[keep]
    times = steps * FREQ_FACTOR[freq]
    if isinstance(purchase_model, ParetoNBDModel):  # a closed form over the horizons
        out = purchase_model._predict(2, np.zeros(1), x, tx, age, codes, m, gg_codes,
                                      spend_model._params, times, disc)
        return _wrap(out, _index_of(frequency, recency, T, monetary_value))
    spend = np.empty(n)  # the expected spend, then (in place) the CLV
    _threads.over(_gg_expected, n, x, m, gg_codes, spend_model._params, spend)
    out = horizon_sum(purchase_model._params, purchase_model.SHIFT, x, tx, age, codes, spend,
                      times, disc, out=spend)
    return _wrap(out, _index_of(frequency, recency, T, monetary_value))
