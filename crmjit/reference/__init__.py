"""Pure-Python twins of the kernels: lists and ``math`` only, no NumPy.

One function per kernel, same name without the leading underscore, same arguments (minus
the output buffer), same broadcasting conventions; where a kernel works on a sorted or
chunked layout, its twin may take the plain per-customer lists instead.  Slow and obvious
on purpose: they are the yardstick the kernels are tested against.  One module per kernel
module, of the same name.
"""

from . import (bgbb, btyd, btyd_predict, calibration, checks, elementwise, generate,
               grouping, logloss, newton, passes, pareto, ranking, rfm, sbg, scoring, segments,
               special, value, wide)
from .elementwise import exp_neg_abs, log1p_unit, log1pexp, sigmoid
from .generate import customer_rows
from .grouping import group_order, map_labels
from .logloss import block_terms, load_rows, logistic_pass
from .newton import newton_direction
from .scoring import (decision_function, predict_proba, predict_proba_columns, row_dot,
                      sigmoid_into)
from .segments import fit, fit_grouped, fit_segments, segment_newton
from .value import annuity, cac, clv_constant, clv_matrix, conversion_rate, group_sums

__all__ = [
    "bgbb", "btyd", "btyd_predict", "calibration", "checks", "elementwise", "generate",
    "grouping", "logloss", "newton", "passes", "pareto", "ranking", "rfm", "sbg", "scoring",
    "segments", "special", "value", "wide", "annuity", "block_terms", "cac", "clv_constant",
    "clv_matrix", "conversion_rate", "customer_rows", "decision_function", "exp_neg_abs",
    "fit", "fit_grouped", "fit_segments", "group_order", "group_sums", "load_rows",
    "log1p_unit", "log1pexp", "logistic_pass", "map_labels", "newton_direction",
    "predict_proba", "predict_proba_columns", "row_dot", "segment_newton", "sigmoid",
    "sigmoid_into",
]
