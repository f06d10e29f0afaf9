"""crmjit.holdout against lifetimes on the CDNOW master log: the calibration-vs-holdout
table, the spend check and the cumulative transactions tracking."""

import numpy as np
import pandas as pd
import pytest

import crmjit
from crmjit.holdout import expected_cumulative_transactions, holdout_report


@pytest.fixture(scope="module")
def fitted(cdnow_log):
    cal = crmjit.rfm_calibration_holdout(cdnow_log, "customer_id", "date", "1997-09-30",
                                         "1998-06-30", monetary_value_col="dollar_value")
    bg = crmjit.BetaGeoModel().fit(cal.frequency_cal, cal.recency_cal, cal.T_cal)
    repeat = cal[(cal.frequency_cal > 0) & (cal.monetary_value_cal > 0)]
    gg = crmjit.GammaGammaModel().fit(repeat.frequency_cal, repeat.monetary_value_cal)
    return cal, bg, gg


def _lifetimes(bg, gg, quiet):
    with quiet():
        from lifetimes import BetaGeoFitter, GammaGammaFitter
    theirs_bg, theirs_gg = BetaGeoFitter(), GammaGammaFitter()
    theirs_bg.params_ = bg.params_.copy()
    theirs_gg.params_ = gg.params_.copy()
    return theirs_bg, theirs_gg


def test_holdout_report_equals_lifetimes_on_cdnow(fitted, lifetimes_quiet):
    cal, bg, gg = fitted
    report = holdout_report(bg, cal, spend_model=gg)
    theirs_bg, theirs_gg = _lifetimes(bg, gg, lifetimes_quiet)
    with lifetimes_quiet():  # the table behind plot_calibration_purchases_vs_holdout_purchases
        pred = theirs_bg.conditional_expected_number_of_purchases_up_to_time(
            cal.duration_holdout.iloc[0], cal.frequency_cal, cal.recency_cal, cal.T_cal)
        table = cal.assign(model_predictions=pred).groupby("frequency_cal")[
            ["frequency_holdout", "model_predictions"]].mean()
        both = (cal.frequency_cal > 0) & (cal.frequency_holdout > 0)
        spend = theirs_gg.conditional_expected_average_profit(cal.frequency_cal[both],
                                                              cal.monetary_value_cal[both])
    np.testing.assert_allclose(report.by_frequency.actual, table.frequency_holdout, rtol=1e-12)
    np.testing.assert_allclose(report.by_frequency.predicted, table.model_predictions,
                               rtol=1e-9)
    np.testing.assert_allclose(report.per_customer.spend_predicted[both], spend, rtol=1e-9)
    s = report.summary
    assert s.customers == len(cal) and s.actual_total == cal.frequency_holdout.sum()
    assert s.predicted_total == pytest.approx(pred.sum(), rel=1e-9)
    diff = pred.to_numpy() - cal.frequency_holdout.to_numpy()
    assert s.mae == pytest.approx(np.abs(diff).mean(), rel=1e-9)
    assert s.rmse == pytest.approx(np.sqrt((diff ** 2).mean()), rel=1e-9)
    assert s.correlation == pytest.approx(np.corrcoef(pred, cal.frequency_holdout)[0, 1],
                                          rel=1e-9)
    assert s.spend_customers == both.sum() and 0.3 < s.correlation < 1
    assert s.spend_actual_mean == pytest.approx(cal.monetary_value_holdout[both].mean())
    assert "| frequency_cal | customers |" in report.to_markdown()


@pytest.mark.parametrize("freq, t, multiplier, by_date", [("D", 546, 1, False),
                                                          ("D", 546, 7, True),
                                                          ("W", 78, 1, False)])
def test_cumulative_transactions_equal_lifetimes_on_cdnow(cdnow_log, fitted, lifetimes_quiet,
                                                          freq, t, multiplier, by_date):
    _, bg, gg = fitted
    theirs_bg, _ = _lifetimes(bg, gg, lifetimes_quiet)
    with lifetimes_quiet():
        from lifetimes.utils import expected_cumulative_transactions as theirs_ect
        theirs = theirs_ect(theirs_bg, cdnow_log, "date", "customer_id", t, freq=freq,
                            freq_multiplier=multiplier, set_index_date=by_date)
    ours = expected_cumulative_transactions(bg, cdnow_log, "customer_id", "date", t,
                                            freq=freq, freq_multiplier=multiplier,
                                            set_index_date=by_date)
    assert len(ours) == len(theirs) == t // multiplier
    assert list(ours.index.astype(str)) == list(theirs.index.astype(str))
    np.testing.assert_array_equal(ours.actual, theirs.actual)
    np.testing.assert_allclose(ours.predicted, theirs.predicted, rtol=1e-9)
    assert ours.actual.iloc[-1] > 1000


def test_bad_input_is_named(fitted, cdnow_log):
    cal, bg, _ = fitted
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['duration_holdout'\]"):
        holdout_report(bg, cal.drop(columns="duration_holdout"))
    with pytest.raises(TypeError, match="cal_holdout must be the DataFrame"):
        holdout_report(bg, cal.to_numpy())
    with pytest.raises(ValueError, match="monetary_value_cal"):
        holdout_report(bg, cal.drop(columns="monetary_value_cal"),
                       spend_model=crmjit.GammaGammaModel.from_params([6.25, 3.74, 15.4]))
    two = crmjit.BetaGeoModel.from_params([[0.2, 4.0, 0.8, 2.4]] * 2, ["x", "y"])
    with pytest.raises(ValueError, match="one parameter set"):
        expected_cumulative_transactions(two, cdnow_log, "customer_id", "date", 10)
    with pytest.raises(ValueError, match="t must be >= 1"):
        expected_cumulative_transactions(bg, cdnow_log, "customer_id", "date", 0)
    with pytest.raises(ValueError, match="datetime_col 'when'"):
        expected_cumulative_transactions(bg, cdnow_log, "customer_id", "when", 10)
    with pytest.raises(ValueError, match="freq_multiplier must be >= 1"):
        expected_cumulative_transactions(bg, cdnow_log, "customer_id", "date", 10,
                                         freq_multiplier=0)
    with pytest.raises(TypeError, match="transactions must be a pandas DataFrame"):
        expected_cumulative_transactions(bg, cdnow_log.to_numpy(), "customer_id", "date", 10)
    per_segment = holdout_report(two, cal.iloc[:50], groups=np.where(np.arange(50) < 20, "x",
                                                                      "y"))
    assert per_segment.summary.customers == 50
    assert isinstance(per_segment.by_frequency, pd.DataFrame)
