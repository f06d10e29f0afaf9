"""Pure-Python twins of the kernels: lists and ``math`` only, no NumPy.

One function per kernel, same name without the leading underscore, same arguments (minus
the output buffer), same broadcasting conventions; where a kernel works on a sorted or
chunked layout, its twin may take the plain per-customer lists instead.  Slow and obvious on purpose: they are
the yardstick the kernels are tested against.
"""

from . import btyd, checks, generate, logistic, rfm, special, value
from .generate import customer_rows
from .logistic import (block_terms, decision_function, exp_neg_abs, fit, fit_grouped,
                       fit_segments, group_order, load_rows, log1p_unit, log1pexp,
                       logistic_pass, map_labels, newton_direction, predict_proba,
                       predict_proba_columns, row_dot, segment_newton, sigmoid, sigmoid_into)
from .value import annuity, cac, clv_constant, clv_matrix, conversion_rate, group_sums

__all__ = [
    "btyd",
    "checks",
    "rfm",
    "special",
    "block_terms",
    "fit_grouped",
    "fit_segments",
    "group_order",
    "map_labels",
    "newton_direction",
    "predict_proba_columns",
    "load_rows",
    "segment_newton",
    "decision_function",
    "exp_neg_abs",
    "fit",
    "log1p_unit",
    "log1pexp",
    "logistic_pass",
    "predict_proba",
    "row_dot",
    "sigmoid",
    "sigmoid_into",
    "annuity",
    "cac",
    "clv_constant",
    "clv_matrix",
    "conversion_rate",
    "customer_rows",
    "group_sums",
]
