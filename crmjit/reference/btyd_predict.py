"""Pure-Python twins of :mod:`crmjit.kernels.btyd_predict` (written with the likelihood
twins in :mod:`crmjit.reference.btyd`, whose formulas they share)."""

from .btyd import (bg_expected, bg_horizon, bg_p_alive, clenshaw, clv_tables,  # noqa: F401
                   conditional_q, expected_series, gg_expected, gg_mean, horizon_sum,
                   p_alive, pair_counts, piece_edges, piece_of, survival_sum)
