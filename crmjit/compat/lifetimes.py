"""lifetimes' fitters on crmjit's models: a lifetimes script runs after changing its import
to ``from crmjit.compat.lifetimes import BetaGeoFitter, GammaGammaFitter`` (and
``ModifiedBetaGeoFitter``, ``ParetoNBDFitter``, ``BetaGeoBetaBinomFitter``).

Same signatures, attribute names and meaning as lifetimes 0.11 for the steps of its
quickstart (fit, ``params_``, ``summary``, the conditional expectations, P(alive),
P(n purchases), CLV); the numbers are crmjit's, which equal lifetimes' on its CDNOW and
donations data.  lifetimes' plotting functions are in
:mod:`crmjit.plotting`.  Arguments lifetimes accepts for its own optimiser
(``initial_params``, ``verbose``, ``tol`` in its sense, ``index``) are accepted and
ignored: crmjit's Newton solve does not need them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..bgbb import BetaGeoBetaBinomModel
from ..btyd import BetaGeoModel, ModifiedBetaGeoModel
from ..gamma_gamma import GammaGammaModel
from ..pareto import ParetoNBDModel


class _Fitter:
    """What lifetimes' fitters share: params_, summary, the wrapped crmjit model."""

    _model_class = None

    def __init__(self, penalizer_coef=0.0):
        self.penalizer_coef = penalizer_coef

    def _fitted(self, model):
        self.model = model
        self.params_ = model.params_.copy()
        self.standard_errors_ = model.standard_errors_.copy()
        return self

    @property
    def summary(self):
        """lifetimes' table: coef, se(coef) and the 95 % bounds."""
        z = 1.959963984540054
        return pd.DataFrame({"coef": self.params_, "se(coef)": self.standard_errors_,
                             "lower 95% bound": self.params_ - z * self.standard_errors_,
                             "upper 95% bound": self.params_ + z * self.standard_errors_})

    def __repr__(self):
        if not hasattr(self, "params_"):
            return f"<crmjit.compat.lifetimes.{type(self).__name__}>"
        shown = ", ".join(f"{k}: {v:.2f}" for k, v in self.params_.items())
        return f"<crmjit.compat.lifetimes.{type(self).__name__}: {shown}>"


class _PurchaseFitter(_Fitter):
    """lifetimes' (frequency, recency, T) fitters; their predictions, under lifetimes'
    names, are the model's own (``conditional_probability_alive`` and the rest)."""

    _AGE = "T"  # the third column's name in ``data``

    def fit(self, frequency, recency, T, weights=None, initial_params=None, verbose=False,
            tol=1e-7, index=None, **kwargs):
        w = np.ones(len(frequency)) if weights is None else np.asarray(weights, np.float64)
        self.data = pd.DataFrame({"frequency": np.asarray(frequency, dtype=np.float64),
                                  "recency": np.asarray(recency, dtype=np.float64),
                                  self._AGE: np.asarray(T, dtype=np.float64),
                                  "weights": w}, index=index)
        model = self._model_class(penalizer_coef=self.penalizer_coef).fit(
            frequency, recency, T, weights=weights)
        return self._fitted(model)

    def __getattr__(self, name):
        if "model" in self.__dict__ and name == "predict":  # lifetimes' shorthand
            return self.model.conditional_expected_number_of_purchases_up_to_time
        if name.startswith(("conditional_", "expected_", "probability_")) \
                and "model" in self.__dict__:
            return getattr(self.model, name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")


class BetaGeoFitter(_PurchaseFitter):
    """lifetimes' ``BetaGeoFitter`` (BG/NBD) on :class:`crmjit.BetaGeoModel`."""

    _model_class = BetaGeoModel


class ModifiedBetaGeoFitter(_PurchaseFitter):
    """lifetimes' ``ModifiedBetaGeoFitter`` (MBG/NBD) on :class:`crmjit.ModifiedBetaGeoModel`."""

    _model_class = ModifiedBetaGeoModel


class ParetoNBDFitter(_PurchaseFitter):
    """lifetimes' ``ParetoNBDFitter`` on :class:`crmjit.ParetoNBDModel`."""

    _model_class = ParetoNBDModel


class BetaGeoBetaBinomFitter(_PurchaseFitter):
    """lifetimes' ``BetaGeoBetaBinomFitter`` (BG/BB) on :class:`crmjit.BetaGeoBetaBinomModel`:
    fit(frequency, recency, n_periods, weights=None)."""

    _model_class = BetaGeoBetaBinomModel
    _AGE = "n_periods"

    def fit(self, frequency, recency, n_periods, weights=None, initial_params=None,
            verbose=False, tol=1e-7, index=None, **kwargs):
        return super().fit(frequency, recency, n_periods, weights=weights, index=index)

    def expected_number_of_transactions_in_first_n_periods(self, n):
        """Expected customers by frequency after n opportunities (the fitted data's)."""
        counts = self.data.groupby("frequency")["weights"].sum()
        counts.index = counts.index.astype(int)
        return self.model.expected_number_of_transactions_in_first_n_periods(n, counts)


class GammaGammaFitter(_Fitter):
    """lifetimes' ``GammaGammaFitter`` on :class:`crmjit.GammaGammaModel`."""

    def fit(self, frequency, monetary_value, weights=None, initial_params=None,
            verbose=False, tol=1e-7, index=None, q_constraint=False, **kwargs):
        self.data = pd.DataFrame({"monetary_value": np.asarray(monetary_value, np.float64),
                                  "frequency": np.asarray(frequency, np.float64)}, index=index)
        model = GammaGammaModel(penalizer_coef=self.penalizer_coef).fit(
            frequency, monetary_value, weights=weights)
        return self._fitted(model)

    def conditional_expected_average_profit(self, frequency=None, monetary_value=None):
        if frequency is None:
            frequency = self.data["frequency"]
        if monetary_value is None:
            monetary_value = self.data["monetary_value"]
        return self.model.expected_average_value(frequency, monetary_value)

    def customer_lifetime_value(self, transaction_prediction_model, frequency, recency, T,
                                monetary_value, time=12, discount_rate=0.01, freq="D"):
        from ..btyd_clv import customer_lifetime_value
        purchase = getattr(transaction_prediction_model, "model", transaction_prediction_model)
        return customer_lifetime_value(purchase, self.model, frequency, recency, T,
                                       monetary_value, time=time, discount_rate=discount_rate,
                                       freq=freq)
