"""Plots.  Propensity scores: ROC curve, cumulative gains, lift and a reliability
(calibration) diagram, from :mod:`crmjit.metrics`.  Probabilistic CLV: the
frequency/recency and P(alive) matrices, repeat purchases against the model's simulation,
calibration vs holdout purchases, cumulative and incremental transactions tracking, the
CLV distribution and one customer's P(alive) history.  Each draws on ``ax`` (a new
figure's axes by default) and returns the matplotlib Axes; where the numbers take work,
a function without ``plot_`` returns them (``roc_points``, ``period_transactions``,
``p_alive_history``).

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


# ------------------------------------------------------------------- probabilistic CLV
def _grid(max_frequency, max_recency, T, group):
    """The integer grid frequency 0..max_frequency by recency 0..max_recency at age T
    (default max_recency), as (frequency, recency, T, groups) of its cells that a customer
    can have (frequency 0 only with recency 0), their flat positions and the grid's shape."""
    from ._validation import check_int_scalar
    fmax = check_int_scalar(max_frequency, "max_frequency", minimum=0)
    rmax = check_int_scalar(max_recency, "max_recency", minimum=1)
    T = float(rmax if T is None else T)
    if T < rmax:
        raise ValueError(f"T must be >= max_recency ({rmax}), got {T}")
    f, r = np.meshgrid(np.arange(fmax + 1.0), np.arange(rmax + 1.0), indexing="ij")
    cells = np.flatnonzero((f > 0) | (r == 0))
    groups = None if group is None else np.full(cells.size, group, dtype=object)
    return f.ravel()[cells], r.ravel()[cells], np.full(cells.size, T), groups, cells, f.shape


def _matrix(values, cells, shape):
    """The grid's values, NaN (blank) where no customer can be."""
    out = np.full(int(np.prod(shape)), np.nan)
    out[cells] = np.asarray(values, dtype=np.float64)
    return out.reshape(shape)


def _show_matrix(ax, matrix, title, label):
    image = ax.imshow(matrix, origin="lower", aspect="auto", cmap="viridis",
                      interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, label=label)
    ax.set(xlabel="recency (age at the last purchase)", ylabel="frequency (repeat purchases)",
           title=title)
    return ax


def plot_frequency_recency_matrix(model, max_frequency, max_recency, *, t=1, T=None,
                                  group=None, ax=None):
    """Expected purchases in the next ``t`` periods (``model.expected_purchases``) of a
    customer of age T (default max_recency) by frequency (rows) and recency (columns);
    cells of frequency 0 and recency > 0, which no customer has, are left blank.
    ``group``: the segment, for a model fitted per segment."""
    ax = _axes(ax)
    f, r, age, groups, cells, shape = _grid(max_frequency, max_recency, T, group)
    values = model.expected_purchases(t, f, r, age, groups=groups)
    return _show_matrix(ax, _matrix(values, cells, shape), f"Expected purchases in the next "
                        f"{t:g} periods, by frequency and recency (T = {age[0]:g})",
                        "expected purchases")


def plot_probability_alive_matrix(model, max_frequency, max_recency, *, T=None, group=None,
                                  ax=None):
    """P(alive) (``model.p_alive``) of a customer of age T (default max_recency) by
    frequency and recency; cells of frequency 0 and recency > 0 are left blank."""
    ax = _axes(ax)
    f, r, age, groups, cells, shape = _grid(max_frequency, max_recency, T, group)
    values = model.p_alive(f, r, age, groups=groups)
    return _show_matrix(ax, _matrix(values, cells, shape), f"P(alive) by frequency and recency "
                        f"(T = {age[0]:g})", "P(alive)")


def period_transactions(model, frequency, T, *, max_frequency=7, seed=0):
    """(actual, simulated): customers by repeat purchases 0, 1, .., max_frequency - 1 and
    max_frequency or more, in the data and among as many customers simulated from the
    model's parameters at the same ages T (``model.simulate_frequency``)."""
    params = model.params_
    if not hasattr(params, "index") or getattr(params, "ndim", 1) != 1:
        raise ValueError("period_transactions needs a model with one parameter set")
    x = np.asarray(frequency, dtype=np.float64)
    ages = np.asarray(T, dtype=np.float64)
    if ages.shape != x.shape:
        raise ValueError(f"T has {ages.size} values but frequency has {x.size}")
    simulated = model.simulate_frequency(ages, seed=seed)

    def counts(v):
        return np.bincount(np.minimum(v, max_frequency).astype(np.int64),
                           minlength=max_frequency + 1)[:max_frequency + 1]
    return counts(x), counts(simulated)


def plot_period_transactions(model, frequency, T, *, max_frequency=7, seed=0, ax=None):
    """Customers by number of repeat purchases, actual against simulated from the model for
    the customers' own ages T (``period_transactions``), the last bar max_frequency or
    more."""
    ax = _axes(ax)
    actual, simulated = period_transactions(model, frequency, T, max_frequency=max_frequency,
                                            seed=seed)
    k = np.arange(max_frequency + 1)
    ax.bar(k - 0.2, actual, width=0.4, label="actual")
    ax.bar(k + 0.2, simulated, width=0.4, label="model (simulated)")
    ax.set_xticks(k, [str(v) for v in k[:-1]] + [f"{max_frequency}+"])
    ax.set(xlabel="repeat purchases", ylabel="customers", title="Repeat purchases per customer")
    ax.legend()
    return ax


def plot_calibration_vs_holdout(report, *, max_frequency=7, ax=None):
    """Mean holdout purchases, actual and predicted, by calibration-period frequency: the
    ``by_frequency`` table of a :func:`crmjit.holdout_report`, first max_frequency rows."""
    ax = _axes(ax)
    table = report.by_frequency.iloc[:max_frequency]
    ax.plot(table.index, table["actual"], marker="o", label="actual")
    ax.plot(table.index, table["predicted"], marker="o", label="predicted")
    ax.set(xlabel="purchases in the calibration period", ylabel="mean holdout purchases",
           title="Calibration vs holdout purchases")
    ax.legend()
    return ax


def plot_cumulative_transactions(tracking, *, ax=None):
    """Cumulative repeat transactions, actual and predicted: the DataFrame of
    :func:`crmjit.expected_cumulative_transactions`."""
    ax = _axes(ax)
    ax.plot(np.arange(len(tracking)), tracking["actual"], label="actual")
    ax.plot(np.arange(len(tracking)), tracking["predicted"], linestyle="--", label="predicted")
    ax.set(xlabel="period", ylabel="cumulative repeat transactions",
           title="Tracking cumulative transactions")
    ax.legend()
    return ax


def plot_incremental_transactions(tracking, *, ax=None):
    """Repeat transactions per row (the differences of
    :func:`crmjit.expected_cumulative_transactions`), actual and predicted."""
    ax = _axes(ax)
    inc = tracking[["actual", "predicted"]].diff()
    inc.iloc[0] = tracking[["actual", "predicted"]].iloc[0]
    ax.plot(np.arange(len(inc)), inc["actual"], label="actual")
    ax.plot(np.arange(len(inc)), inc["predicted"], linestyle="--", label="predicted")
    ax.set(xlabel="period", ylabel="repeat transactions", title="Tracking daily transactions")
    ax.legend()
    return ax


def plot_clv_distribution(clv, *, bins=50, ax=None):
    """Histogram of customer lifetime values (``crmjit.customer_lifetime_value``), with
    the mean and median marked."""
    ax = _axes(ax)
    v = np.asarray(clv, dtype=np.float64)
    ax.hist(v, bins=bins, color="tab:blue", alpha=0.7)
    ax.axvline(np.mean(v), color="tab:orange", label=f"mean {np.mean(v):,.2f}")
    ax.axvline(np.median(v), color="tab:green", linestyle="--",
               label=f"median {np.median(v):,.2f}")
    ax.set(xlabel="CLV", ylabel="customers", title="CLV distribution")
    ax.legend()
    return ax


def _purchase_periods(purchases, freq):
    """(the first purchase's period, the offsets from it of the periods with a purchase,
    ascending and distinct) of one customer's purchase dates."""
    import pandas as pd
    days = pd.PeriodIndex(pd.to_datetime(pd.Series(purchases)), freq=freq)
    if len(days) == 0:
        raise ValueError("purchases is empty: one customer's purchase dates are needed")
    return days.min(), np.unique(days.asi8 - days.min().ordinal)


def p_alive_history(model, purchases, t, *, freq="D", group=None):
    """P(alive) of one customer at the end of each of the t periods (of ``freq``) from the
    period of their first purchase: their repeat purchases (one a period), recency and
    age as of that period.  purchases: the customer's purchase dates.  A Series indexed
    by period."""
    import pandas as pd

    from ._validation import check_int_scalar
    t = check_int_scalar(t, "t", minimum=1)
    first, k = _purchase_periods(purchases, freq)
    age = np.arange(t, dtype=np.float64)
    made = np.searchsorted(k, age, side="right")  # purchases up to each period
    last = k[made - 1].astype(np.float64)
    groups = None if group is None else np.full(t, group, dtype=object)
    values = model.p_alive(made - 1.0, last, age, groups=groups)
    return pd.Series(np.asarray(values, dtype=np.float64),
                     index=pd.period_range(first, periods=t, freq=freq), name="p_alive")


def plot_history_alive(model, purchases, t, *, freq="D", group=None, ax=None):
    """P(alive) of one customer over time (``p_alive_history``), purchases marked."""
    ax = _axes(ax)
    history = p_alive_history(model, purchases, t, freq=freq, group=group)
    ax.plot(np.arange(len(history)), history.to_numpy(), label="P(alive)")
    marks = _purchase_periods(purchases, freq)[1]
    ax.vlines(marks[marks < len(history)], 0, 1, colors="grey", linestyles=":",
              label="purchase")
    ax.set(xlabel=f"periods ({freq}) since the first purchase", ylabel="P(alive)",
           title="History of P(alive)", ylim=(0, 1.05))
    ax.legend(loc="lower left")
    return ax
