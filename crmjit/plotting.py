"""Plots of propensity scores: ROC curve, cumulative gains, lift and a reliability
(calibration) diagram.  Each takes labels and scores, draws on ``ax`` (a new figure's axes
by default) and returns the matplotlib Axes; the numbers drawn are those of
:mod:`crmjit.metrics`.

matplotlib is an optional dependency: ``pip install "crmjit[plot]"``.
"""

from __future__ import annotations

import numpy as np

from . import metrics


def _axes(ax):
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("crmjit.plotting needs matplotlib: pip install 'crmjit[plot]' "
                          "(or pip install matplotlib)") from None
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    return ax


def roc_points(y_true, y_score, *, sample_weight=None, points=200):
    """(fpr, tpr) of the ROC curve at up to ``points`` + 1 thresholds, from (0, 0) to
    (1, 1): the cut after each bin of an equal-weight ``gains_table`` (ties never split),
    so each point lies exactly on the ROC curve."""
    table = metrics.gains_table(y_true, y_score, points, sample_weight=sample_weight)
    pos = np.cumsum(table["positives"].to_numpy())
    neg = np.cumsum((table["customers"] - table["positives"]).to_numpy())
    return (np.concatenate([[0.0], neg / neg[-1]]) if neg[-1] > 0 else
            np.concatenate([[0.0], neg])), np.concatenate([[0.0], pos / pos[-1]])


def plot_roc(y_true, y_score, *, sample_weight=None, ax=None, points=200):
    """The ROC curve (``roc_points``) with the chance diagonal; the legend gives the exact
    AUC (:func:`crmjit.metrics.roc_auc_score`)."""
    ax = _axes(ax)
    fpr, tpr = roc_points(y_true, y_score, sample_weight=sample_weight, points=points)
    auc = metrics.roc_auc_score(y_true, y_score, sample_weight=sample_weight)
    ax.plot(fpr, tpr, label=f"model (AUC {auc:.4f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve",
           xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right")
    return ax


def plot_gains(y_true, y_score, n_bins=10, *, sample_weight=None, ax=None):
    """Cumulative gains: the share of all positives among the top-scored share of customers,
    bin by bin (:func:`crmjit.metrics.gains_table`), against random targeting."""
    ax = _axes(ax)
    table = metrics.gains_table(y_true, y_score, n_bins, sample_weight=sample_weight)
    x = np.concatenate([[0.0], table["cumulative_customers"].to_numpy()])
    y = np.concatenate([[0.0], table["cumulative_gain"].to_numpy()])
    ax.plot(x, y, marker="o", label="model")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    ax.set(xlabel="share of customers targeted (highest scores first)",
           ylabel="share of positives reached", title="Cumulative gains", xlim=(0, 1),
           ylim=(0, 1.01))
    ax.legend(loc="lower right")
    return ax


def plot_lift(y_true, y_score, n_bins=10, *, sample_weight=None, ax=None):
    """Lift by bin (bars: each bin's response rate over the overall rate) and cumulative
    lift (line), highest scores first (:func:`crmjit.metrics.gains_table`)."""
    ax = _axes(ax)
    table = metrics.gains_table(y_true, y_score, n_bins, sample_weight=sample_weight)
    ax.bar(table["bin"], table["lift"], color="tab:blue", alpha=0.6, label="lift")
    ax.plot(table["bin"], table["cumulative_lift"], marker="o", color="tab:orange",
            label="cumulative lift")
    ax.axhline(1.0, linestyle="--", color="grey")
    ax.set(xlabel="bin (1 = highest scores)", ylabel="lift", title="Lift")
    ax.legend(loc="upper right")
    return ax


def plot_calibration(y_true, y_prob, n_bins=10, *, strategy="uniform", sample_weight=None,
                     ax=None):
    """Reliability diagram: the observed rate of label 1 against the mean predicted
    probability in each bin (:func:`crmjit.metrics.calibration_curve`), against the
    diagonal of perfect calibration."""
    ax = _axes(ax)
    prob_true, prob_pred = metrics.calibration_curve(y_true, y_prob, n_bins,
                                                     strategy=strategy,
                                                     sample_weight=sample_weight)
    ax.plot(prob_pred, prob_true, marker="o", label="model")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.set(xlabel="mean predicted probability", ylabel="observed rate",
           title="Calibration", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left")
    return ax
