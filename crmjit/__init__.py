"""crmjit: Numba-JIT kernels for customer analytics at tens of millions of customers.

Public API
----------
Propensity: :class:`LogisticRegression`, :class:`BatchedLogisticRegression`, :func:`predict_proba`, :func:`decision_function`.
Probabilistic CLV: :func:`rfm_summary`, :class:`BetaGeoModel`, :class:`GammaGammaModel`,
:func:`customer_lifetime_value`.
Value: :func:`clv`, :func:`cac`, :func:`conversion_rate`, :func:`channel_summary`.
Synthetic data: :mod:`crmjit.data_gen` (``make_customers``, ``customer_chunks``,
``make_rfm``, ``make_transactions``).
Pipelines: ``model.save(path)``, :func:`load`, :func:`score_parquet` (pyarrow), and
:mod:`crmjit.dask` (``predict_proba``, ``clv``, ``fit_batched``; imported on demand).
Pure-Python yardsticks: :mod:`crmjit.reference`.
"""

from . import data_gen, reference
from ._version import __version__
from .batched import BatchedLogisticRegression
from .btyd import BetaGeoModel, GammaGammaModel, customer_lifetime_value
from .logistic import LogisticRegression, decision_function, predict_proba
from .parquet import score_parquet
from .persist import load
from .rfm import rfm_summary
from .value import cac, channel_summary, clv, conversion_rate

__all__ = [
    "BatchedLogisticRegression",
    "BetaGeoModel",
    "GammaGammaModel",
    "LogisticRegression",
    "__version__",
    "cac",
    "channel_summary",
    "clv",
    "conversion_rate",
    "customer_lifetime_value",
    "data_gen",
    "decision_function",
    "load",
    "predict_proba",
    "reference",
    "rfm_summary",
    "score_parquet",
]
