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
