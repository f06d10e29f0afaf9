"""Checking a purchase model on a holdout: predicted against actual holdout purchases
(``holdout_report``) and the cumulative repeat transactions a model predicts for a whole
transaction log, day by day or week by week (``expected_cumulative_transactions``), with
lifetimes' definitions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._validation import check_int_scalar

CAL = ("frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout")


@dataclass
class HoldoutReport:
    """What :func:`holdout_report` returns.

    by_frequency : DataFrame indexed by ``frequency_cal``: ``customers``, ``actual`` and
        ``predicted`` (mean holdout purchases), the table behind lifetimes'
        ``plot_calibration_purchases_vs_holdout_purchases``.
    summary : Series: customers, actual and predicted total holdout purchases, and the
        per-customer ``mae``, ``rmse`` and ``correlation``; with a spend model, the same
        for the average spend of customers with purchases in both periods
        (``spend_customers``, ``spend_actual_mean``, ``spend_predicted_mean``,
        ``spend_mae``, ``spend_rmse``, ``spend_correlation``).
    per_customer : DataFrame (the input's index): ``actual``, ``predicted`` and, with a
        spend model, ``spend_actual`` and ``spend_predicted`` (NaN where not compared).
    model : the purchase model checked.
    """
    by_frequency: pd.DataFrame
    summary: pd.Series
    per_customer: pd.DataFrame
    model: object = None

    def to_markdown(self, max_frequency=7):
        """The summary and the first ``max_frequency`` rows of by_frequency as Markdown."""
        lines = ["| measure | value |", "|---|---:|"]
        lines += [f"| {k} | {v:,.6g} |" for k, v in self.summary.items()]
        lines += ["", "| frequency_cal | customers | actual | predicted |", "|---:|---:|---:|---:|"]
        for f, r in self.by_frequency.iloc[:max_frequency].iterrows():
            lines.append(f"| {f:g} | {r.customers:,.0f} | {r.actual:.4f} | {r.predicted:.4f} |")
        return "\n".join(lines) + "\n"


def _errors(actual, predicted, prefix=""):
    diff = predicted - actual
    corr = (float(np.corrcoef(actual, predicted)[0, 1])
            if actual.size > 1 and actual.std() > 0 and predicted.std() > 0 else np.nan)
    return {f"{prefix}mae": float(np.mean(np.abs(diff))) if diff.size else np.nan,
            f"{prefix}rmse": float(np.sqrt(np.mean(diff ** 2))) if diff.size else np.nan,
            f"{prefix}correlation": corr}


def holdout_report(purchase_model, cal_holdout, *, spend_model=None, groups=None):
    """Predicted against actual holdout purchases for a purchase model fitted on the
    calibration columns of ``cal_holdout`` (:func:`crmjit.rfm_calibration_holdout`).

    Predictions are ``purchase_model.expected_purchases(duration_holdout, frequency_cal,
    recency_cal, T_cal)`` (lifetimes' conditional expectation); with ``spend_model`` (a
    fitted :class:`crmjit.GammaGammaModel`), the expected average spend of customers with
    repeat purchases in the calibration period against their mean holdout spend
    (``monetary_value_holdout``), for those who bought in the holdout.  ``groups``: the
    customers' segment labels, for models fitted per segment.  Returns a
    :class:`HoldoutReport`."""
    if not isinstance(cal_holdout, pd.DataFrame):
        raise TypeError(f"cal_holdout must be the DataFrame rfm_calibration_holdout returns, "
                        f"got {type(cal_holdout).__name__}")
    missing = [c for c in CAL if c not in cal_holdout.columns]
    if missing:
        raise ValueError(f"cal_holdout lacks the column(s) {missing}: pass the DataFrame "
                         f"rfm_calibration_holdout returns")
    d = cal_holdout
    predicted = np.asarray(purchase_model.expected_purchases(
        d["duration_holdout"], d["frequency_cal"], d["recency_cal"], d["T_cal"],
        groups=groups), dtype=np.float64)
    actual = d["frequency_holdout"].to_numpy(np.float64)
    per = pd.DataFrame({"actual": actual, "predicted": predicted}, index=d.index)
    by = (pd.DataFrame({"frequency_cal": d["frequency_cal"].to_numpy(), "actual": actual,
                        "predicted": predicted})
          .groupby("frequency_cal").agg(customers=("actual", "size"), actual=("actual", "mean"),
                                        predicted=("predicted", "mean")))
    summary = {"customers": float(len(d)), "actual_total": float(actual.sum()),
               "predicted_total": float(predicted.sum()), **_errors(actual, predicted)}
    if spend_model is not None:
        summary.update(_spend(spend_model, d, per, groups))
    return HoldoutReport(by, pd.Series(summary, name="holdout"), per, purchase_model)


def _spend(spend_model, d, per, groups):
    """Average spend, predicted against actual, where both exist; fills per."""
    for c in ("monetary_value_cal", "monetary_value_holdout"):
        if c not in d.columns:
            raise ValueError(f"cal_holdout lacks {c!r}: make it with monetary_value_col= to "
                             f"check a spend model")
    both = (d["frequency_cal"].to_numpy() > 0) & (d["frequency_holdout"].to_numpy() > 0)
    per["spend_actual"] = np.where(both, d["monetary_value_holdout"].to_numpy(float), np.nan)
    per["spend_predicted"] = np.nan
    if both.any():
        g = None if groups is None else np.asarray(groups)[both]
        per.loc[both, "spend_predicted"] = np.asarray(spend_model.expected_average_value(
            d["frequency_cal"].to_numpy(float)[both],
            d["monetary_value_cal"].to_numpy(float)[both], groups=g), dtype=np.float64)
    a = per["spend_actual"].to_numpy()[both]
    p = per["spend_predicted"].to_numpy()[both]
    return {"spend_customers": float(both.sum()),
            "spend_actual_mean": float(a.mean()) if a.size else np.nan,
            "spend_predicted_mean": float(p.mean()) if p.size else np.nan,
            **_errors(a, p, "spend_")}


def expected_cumulative_transactions(model, transactions, customer_id_col, datetime_col, t,
                                     *, datetime_format=None, freq="D", freq_multiplier=1,
                                     set_index_date=False):
    """Cumulative repeat transactions, actual and predicted, over the t periods (of
    ``freq``) from the log's first purchase: lifetimes' ``expected_cumulative_transactions``.

    A customer's purchases in one period count once; the first is not a repeat.  The
    prediction adds, for every customer, the model's expected purchases of a new customer
    (``expected_purchases_new_customer``) from the period of their first purchase: the
    number of first purchases in each period, convolved with that curve.  Every
    ``freq_multiplier`` periods is one row (7 with freq="D": weekly); the index counts
    rows from 0, or with ``set_index_date`` is the rows' periods.  The model's time unit
    must be freq_multiplier periods of freq (days for a model fitted in days with
    freq="D", freq_multiplier=1).  Returns a DataFrame with ``actual`` and ``predicted``.
    """
    t = check_int_scalar(t, "t", minimum=1)
    fm = check_int_scalar(freq_multiplier, "freq_multiplier", minimum=1)
    if not isinstance(transactions, pd.DataFrame):
        raise TypeError(f"transactions must be a pandas DataFrame, got "
                        f"{type(transactions).__name__}")
    for c, flag in ((customer_id_col, "customer_id_col"), (datetime_col, "datetime_col")):
        if c not in transactions.columns:
            raise ValueError(f"{flag} {c!r} is not a column of transactions")
    if isinstance(getattr(model, "params_", None), pd.DataFrame):
        raise ValueError("model must be fitted without groups (one parameter set): pass one "
                         "segment's model, e.g. BetaGeoModel.from_params(model.params_.loc[g])")
    dates = pd.to_datetime(transactions[datetime_col], format=datetime_format)
    if dates.isna().any():
        raise ValueError(f"datetime_col {datetime_col!r} has missing dates")
    periods = pd.PeriodIndex(dates, freq=freq)
    start = periods.min()
    offset = periods.asi8 - start.ordinal  # periods since the first purchase's
    frame = pd.DataFrame({"c": transactions[customer_id_col].to_numpy(), "k": offset})
    frame = frame[frame.k <= t].drop_duplicates()  # one purchase per customer and period
    first = frame.groupby("c", sort=False)["k"].transform("min").to_numpy() == frame.k
    births = np.bincount(frame.k[first], minlength=t + 1)[:t + 1].astype(np.float64)
    repeats = np.bincount(frame.k[~first], minlength=t + 1)[:t + 1]
    curve = np.asarray(model.expected_purchases_new_customer(np.arange(1, t + 1) / fm),
                       dtype=np.float64)
    rows = np.arange(fm, t + 1, fm)  # the periods i evaluated: fm, 2 fm, ...
    conv = np.convolve(births, curve)  # conv[i - 1] = sum_{k < i} births[k] curve[i - k - 1]
    predicted = conv[rows - 1]
    actual = np.cumsum(repeats)[rows - 1]
    index = (pd.period_range(start, periods=t + 1, freq=freq)[rows - 1] if set_index_date
             else pd.RangeIndex(len(rows)))
    return pd.DataFrame({"actual": actual, "predicted": predicted}, index=index)
