"""Pure-Python twins of :mod:`crmjit.kernels.btyd_predict` (written with the likelihood
twins in :mod:`crmjit.reference.btyd`, whose formulas they share)."""

from .btyd import (beta_average, bg_clv, bg_expected, bg_p_alive, clenshaw,  # noqa: F401
                   clv_tables, conditional_q, expected_series, gg_expected, gg_mean, gl_part,
                   horizon_sum, p_alive, pair_counts, piece_of)
