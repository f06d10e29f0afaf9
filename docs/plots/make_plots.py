"""Render the example plots in this folder: python docs/plots/make_plots.py

Synthetic data (``crmjit.data_gen``): a propensity model on customers with a known true
model, and BG/NBD on a simulated transaction log checked on a holdout."""

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import crmjit  # noqa: E402
from crmjit import plotting  # noqa: E402
from crmjit.data_gen import make_customers, make_transactions  # noqa: E402

HERE = pathlib.Path(__file__).parent


def save(ax, name):
    ax.figure.tight_layout()
    ax.figure.savefig(HERE / f"{name}.png", dpi=60)
    plt.close(ax.figure)


def main():
    c = make_customers(200_000, n_features=6, seed=0)
    p = crmjit.LogisticRegression().fit(c.X[:100_000], c.y[:100_000]).predict_proba(
        c.X[100_000:])[:, 1]
    y = c.y[100_000:]
    save(plotting.plot_gains(y, p), "gains")
    save(plotting.plot_roc(y, p), "roc")
    save(plotting.plot_calibration(y, p), "calibration")

    log, _ = make_transactions(20_000, seed=1)
    cal = crmjit.rfm_calibration_holdout(log, "customer_id", "date", "2025-09-30",
                                         "2026-01-01")
    bg = crmjit.BetaGeoModel().fit(cal.frequency_cal, cal.recency_cal, cal.T_cal)
    save(plotting.plot_calibration_vs_holdout(crmjit.holdout_report(bg, cal)),
         "calibration_vs_holdout")
    tracking = crmjit.expected_cumulative_transactions(bg, log, "customer_id", "date", 365)
    save(plotting.plot_cumulative_transactions(tracking), "cumulative_transactions")
    save(plotting.plot_probability_alive_matrix(bg, 20, 270), "p_alive_matrix")
    save(plotting.plot_period_transactions(bg, cal.frequency_cal, cal.T_cal),
         "period_transactions")


if __name__ == "__main__":
    main()
