"""crmjit.plotting: the data behind each plot is crmjit.metrics' (and lies on
scikit-learn's curves), and a missing matplotlib is a clear ImportError."""

import builtins

import matplotlib
import numpy as np
import pytest
import sklearn.metrics as skm
from numpy.testing import assert_allclose

from crmjit import metrics, plotting

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture
def data(rng):
    n = 4000
    p = np.round(rng.random(n), 2)  # ties
    y = (rng.random(n) < p).astype(int)
    return y, p


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_roc_points_lie_on_sklearns_curve(data):
    y, p = data
    ax = plotting.plot_roc(y, p, points=50)
    fpr, tpr = ax.lines[0].get_data()
    assert_allclose((fpr, tpr), plotting.roc_points(y, p, points=50))
    sk_fpr, sk_tpr, _ = skm.roc_curve(y, p, drop_intermediate=False)
    sk = set(zip(np.round(sk_fpr, 12), np.round(sk_tpr, 12)))
    assert all((round(a, 12), round(b, 12)) in sk for a, b in zip(fpr, tpr))
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
    area = np.trapezoid(tpr, fpr)
    auc = metrics.roc_auc_score(y, p)
    assert area <= auc + 1e-12 and auc - area < 0.01
    assert f"{auc:.4f}" in ax.get_legend().get_texts()[0].get_text()


def test_gains_and_lift_plot_the_gains_table(data):
    y, p = data
    table = metrics.gains_table(y, p, 8)
    _, ax = plt.subplots()
    assert plotting.plot_gains(y, p, 8, ax=ax) is ax
    x, gain = ax.lines[0].get_data()
    assert x[0] == 0 and gain[0] == 0
    assert_allclose(x[1:], table.cumulative_customers)
    assert_allclose(gain[1:], table.cumulative_gain)
    ax = plotting.plot_lift(y, p, 8)
    assert_allclose([bar.get_height() for bar in ax.patches], table.lift)
    assert_allclose(ax.lines[0].get_data()[1], table.cumulative_lift)


def test_calibration_plots_the_calibration_curve(data):
    y, p = data
    ax = plotting.plot_calibration(y, p, 7, strategy="quantile")
    prob_pred, prob_true = ax.lines[0].get_data()
    want_true, want_pred = metrics.calibration_curve(y, p, 7, strategy="quantile")
    assert_allclose(prob_true, want_true)
    assert_allclose(prob_pred, want_pred)


def test_missing_matplotlib_names_the_extra(monkeypatch, data):
    real = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib")
        return real(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r"crmjit\[plot\]"):
        plotting.plot_roc(*data)


# ------------------------------------------------------------------- probabilistic CLV
@pytest.fixture(scope="module")
def btyd():
    import crmjit
    from crmjit.data_gen import make_transactions
    log, truth = make_transactions(3000, seed=2)
    rfm = crmjit.rfm_summary(log, "customer_id", "date", "amount")
    bg = crmjit.BetaGeoModel().fit(rfm.frequency, rfm.recency, rfm["T"])
    return log, rfm, bg


def test_matrices_hold_the_models_values(btyd):
    _, _, bg = btyd
    ax = plotting.plot_frequency_recency_matrix(bg, 6, 40, t=10, T=50)
    grid = np.ma.filled(np.ma.asarray(ax.images[0].get_array(), dtype=float), np.nan)
    assert grid.shape == (7, 41) and np.isnan(grid[0, 1:]).all()
    assert grid[3, 20] == pytest.approx(bg.expected_purchases(10, [3.0], [20.0], [50.0])[0],
                                        rel=1e-12)
    ax = plotting.plot_probability_alive_matrix(bg, 6, 40)
    alive = np.ma.filled(np.ma.asarray(ax.images[0].get_array(), dtype=float), np.nan)
    assert alive[5, 40] == pytest.approx(bg.p_alive([5.0], [40.0], [40.0])[0], rel=1e-12)
    assert alive[0, 0] == pytest.approx(bg.p_alive([0.0], [0.0], [40.0])[0], rel=1e-12)
    with pytest.raises(ValueError, match="T must be >= max_recency"):
        plotting.plot_probability_alive_matrix(bg, 6, 40, T=10)


def test_period_transactions_simulate_the_customers_ages(btyd):
    import crmjit
    _, rfm, bg = btyd
    actual, simulated = plotting.period_transactions(bg, rfm.frequency, rfm["T"],
                                                     max_frequency=5)
    assert actual.sum() == simulated.sum() == len(rfm)
    assert actual[5] == (rfm.frequency >= 5).sum() and actual[0] == (rfm.frequency == 0).sum()
    share = np.abs(actual - simulated).sum() / len(rfm)
    assert share < 0.1  # the fitted model reproduces the data it was fitted on
    ax = plotting.plot_period_transactions(bg, rfm.frequency, rfm["T"], max_frequency=5)
    heights = [p.get_height() for p in ax.patches]
    assert heights == list(actual) + list(simulated)
    with pytest.raises(ValueError, match="T has 2 values but frequency has 3"):
        plotting.period_transactions(bg, [0, 1, 2], [5.0, 6.0])
    grouped = crmjit.BetaGeoModel.from_params([[0.2, 4.0, 0.8, 2.4]] * 2, ["a", "b"])
    with pytest.raises(ValueError, match="one parameter set"):
        plotting.period_transactions(grouped, [0, 1], [5.0, 6.0])
    with pytest.raises(ValueError, match="purchases is empty"):
        plotting.p_alive_history(bg, [], 10)


def test_holdout_and_tracking_plots_draw_the_reports(btyd):
    import crmjit
    log, _, _ = btyd
    cal = crmjit.rfm_calibration_holdout(log, "customer_id", "date", "2025-09-30",
                                         "2026-01-01")
    bg = crmjit.BetaGeoModel().fit(cal.frequency_cal, cal.recency_cal, cal.T_cal)
    report = crmjit.holdout_report(bg, cal)
    ax = plotting.plot_calibration_vs_holdout(report, max_frequency=4)
    x, actual = ax.lines[0].get_data()
    assert list(x) == list(report.by_frequency.index[:4])
    assert_allclose(actual, report.by_frequency.actual.iloc[:4])
    assert_allclose(ax.lines[1].get_data()[1], report.by_frequency.predicted.iloc[:4])
    tracking = crmjit.expected_cumulative_transactions(bg, log, "customer_id", "date", 300)
    ax = plotting.plot_cumulative_transactions(tracking)
    assert_allclose(ax.lines[1].get_data()[1], tracking.predicted)
    ax = plotting.plot_incremental_transactions(tracking)
    assert_allclose(np.cumsum(ax.lines[0].get_data()[1]), tracking.actual)
    assert_allclose(np.cumsum(ax.lines[1].get_data()[1]), tracking.predicted, rtol=1e-9)


def test_clv_distribution_and_alive_history(btyd, lifetimes_quiet):
    log, rfm, bg = btyd
    values = np.random.default_rng(0).gamma(2.0, 50.0, 1000)
    ax = plotting.plot_clv_distribution(values, bins=20)
    assert sum(p.get_height() for p in ax.patches) == 1000
    assert ax.lines[0].get_xdata()[0] == pytest.approx(values.mean())
    one = log[log.customer_id == rfm.frequency.idxmax()]
    history = plotting.p_alive_history(bg, one.date, 120)
    # lifetimes' calculate_alive_path (its fillna(method=) fails under pandas 3), written
    # out: day by day, one purchase a day, frequency = days with a purchase - 1, recency =
    # the last such day, T = the day; lifetimes' own P(alive) formula
    day = (one.date.dt.normalize() - one.date.min().normalize()).dt.days.to_numpy()
    bought = np.zeros(120)
    bought[np.unique(day[day < 120])] = 1
    freq = np.cumsum(bought) - 1
    recency = np.maximum.accumulate(np.where(bought > 0, np.arange(120.0), 0.0))
    with lifetimes_quiet():
        from lifetimes import BetaGeoFitter
        theirs_model = BetaGeoFitter()
        theirs_model.params_ = bg.params_.copy()
        theirs = theirs_model.conditional_probability_alive(freq, recency, np.arange(120.0))
    assert_allclose(history.to_numpy(), theirs, rtol=1e-9)
    ax = plotting.plot_history_alive(bg, one.date, 120)
    assert_allclose(ax.lines[0].get_data()[1], history.to_numpy())
