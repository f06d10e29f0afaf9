"""crmjit: Numba-JIT kernels for customer analytics at tens of millions of customers.

Public API
----------
Propensity: :class:`LogisticRegression`, :class:`BatchedLogisticRegression`,
:func:`predict_proba`, :func:`decision_function`.
Probabilistic CLV: :func:`rfm_summary`, :func:`rfm_calibration_holdout`,
:class:`BetaGeoModel`, :class:`ParetoNBDModel`, :class:`ModifiedBetaGeoModel`,
:class:`GammaGammaModel`, :func:`customer_lifetime_value`; discrete opportunities:
:class:`BetaGeoBetaBinomModel` (BG/BB); subscriptions: :class:`ShiftedBetaGeoModel` (sBG) and :func:`cohort_data`; checked
on a holdout with :func:`holdout_report` and :func:`expected_cumulative_transactions`.
Value: :func:`clv`, :func:`cac`, :func:`conversion_rate`, :func:`channel_summary`.
Evaluation: :mod:`crmjit.metrics` (``roc_auc_score``, ``log_loss``, ``brier_score``,
``gains_table``, ``calibration_curve``), each per segment with ``groups=``; plots in
:mod:`crmjit.plotting` (matplotlib).
Synthetic data: :mod:`crmjit.data_gen` (``make_customers``, ``customer_chunks``,
``make_rfm``, ``make_transactions``).
Pipelines: ``model.save(path)``, :func:`load`, :func:`score_parquet` (pyarrow), and
:mod:`crmjit.dask` (``predict_proba``, ``clv``, ``fit_batched``, ``rfm_summary``,
``fit_btyd``, ``customer_lifetime_value``).
Pure-Python yardsticks: :mod:`crmjit.reference`.

Names are imported on first use (``import crmjit`` itself loads neither numba nor
scikit-learn nor pandas), so the command line and scripts that need one function start
fast.
"""

from __future__ import annotations

import importlib

from ._version import __version__

#: public name -> module that defines it (a module itself where the name is a module)
_WHERE = {
    "BatchedLogisticRegression": ".batched",
    "BetaGeoModel": ".btyd",
    "BetaGeoBetaBinomModel": ".bgbb",
    "GammaGammaModel": ".gamma_gamma",
    "ModifiedBetaGeoModel": ".btyd",
    "ParetoNBDModel": ".pareto",
    "ShiftedBetaGeoModel": ".sbg",
    "cohort_data": ".sbg",
    "customer_lifetime_value": ".btyd_clv",
    "LogisticRegression": ".logistic",
    "decision_function": ".logistic",
    "predict_proba": ".logistic",
    "score_parquet": ".parquet",
    "load": ".persist",
    "rfm_summary": ".rfm",
    "rfm_calibration_holdout": ".rfm",
    "holdout_report": ".holdout",
    "expected_cumulative_transactions": ".holdout",
    "cac": ".value",
    "channel_summary": ".value",
    "clv": ".value",
    "conversion_rate": ".value",
}
_MODULES = ("dask", "data_gen", "metrics", "plotting", "reference")

__all__ = sorted([*_WHERE, *_MODULES, "__version__"])


def __getattr__(name):
    if name in _MODULES:
        value = importlib.import_module(f".{name}", __name__)
    elif name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    else:
        raise AttributeError(f"module 'crmjit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
