"""Pure-Python twins of the kernels: lists and ``math`` only, no NumPy.

One function per kernel, same name without the leading underscore, same arguments (minus
the output buffer), same broadcasting conventions.  Slow and obvious on purpose: they are
the yardstick the kernels are tested against.
"""

from .value import annuity, cac, clv_constant, clv_matrix, conversion_rate, group_sums
from .generate import customer_rows

__all__ = [
    "annuity",
    "cac",
    "clv_constant",
    "clv_matrix",
    "conversion_rate",
    "customer_rows",
    "group_sums",
]
