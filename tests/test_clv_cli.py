"""``crmjit clv``: the per-customer table equals the library's own calls on the same log;
holdout check, segments, report, output permissions and errors."""

import os

import numpy as np
import pandas as pd
import pytest

import crmjit
from crmjit import cli


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    from crmjit.data_gen import make_transactions
    folder = tmp_path_factory.mktemp("logs")
    log, _ = make_transactions(4000, seed=3)
    log["region"] = np.where(log.customer_id % 3 == 0, "north", "south")
    log.to_csv(folder / "log.csv", index=False)
    log.to_parquet(folder / "log.parquet")
    return folder, log


ARGS = ["--customer-id", "customer_id", "--date", "date", "--amount", "amount", "--quiet"]


def test_clv_table_equals_the_library(logs, tmp_path, capsys):
    folder, log = logs
    old = os.umask(0o027)
    try:
        assert cli.main(["clv", str(folder / "log.csv"), str(tmp_path / "clv.parquet"),
                         "--months", "6", "--discount-rate", "0.02", "--freq", "W"] + ARGS) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "clv.parquet").stat().st_mode & 0o777 == 0o640
    got = pd.read_parquet(tmp_path / "clv.parquet")
    rfm = crmjit.rfm_summary(log, "customer_id", "date", "amount", freq="W")
    bg = crmjit.BetaGeoModel().fit(rfm.frequency, rfm.recency, rfm["T"])
    rep = rfm[(rfm.frequency > 0) & (rfm.monetary_value > 0)]
    gg = crmjit.GammaGammaModel().fit(rep.frequency, rep.monetary_value)
    args = (rfm.frequency, rfm.recency, rfm["T"])
    want = crmjit.customer_lifetime_value(bg, gg, *args, rfm.monetary_value, time=6,
                                          discount_rate=0.02, freq="W")
    assert list(got.columns) == ["frequency", "recency", "T", "monetary_value", "p_alive",
                                 "expected_purchases", "expected_spend", "clv"]
    np.testing.assert_array_equal(got.index.to_numpy(), rfm.index.to_numpy())
    np.testing.assert_allclose(got.clv, want, rtol=1e-12)
    np.testing.assert_allclose(got.p_alive, bg.p_alive(*args), rtol=1e-12)
    np.testing.assert_allclose(got.expected_purchases,
                               bg.expected_purchases(6 * 4.345, *args), rtol=1e-12)
    spend = gg.expected_average_value(rfm.frequency, rfm.monetary_value)
    np.testing.assert_allclose(got.expected_spend, got.expected_purchases * spend, rtol=1e-12)
    assert f"CLV over 6 months: mean {want.mean():,.2f}" in capsys.readouterr().out


def test_holdout_segments_and_report(logs, tmp_path, capsys):
    folder, log = logs
    assert cli.main(["clv", str(folder / "log.parquet"), str(tmp_path / "clv.csv"),
                     "--holdout-end", "2025-10-01", "--report", str(tmp_path / "rep")]
                    + ARGS) == 0
    text = capsys.readouterr().out
    cal = crmjit.rfm_calibration_holdout(log, "customer_id", "date", "2025-10-01",
                                         monetary_value_col="amount")
    bg = crmjit.BetaGeoModel().fit(cal.frequency_cal, cal.recency_cal, cal.T_cal)
    report = crmjit.holdout_report(bg, cal)
    assert f"| predicted_total | {report.summary.predicted_total:,.6g} |" in text
    names = sorted(p.name for p in (tmp_path / "rep").iterdir())
    assert names == sorted(["calibration_vs_holdout.png", "clv_distribution.png",
                            "cumulative_transactions.png", "frequency_recency_matrix.png",
                            "incremental_transactions.png", "p_alive_matrix.png",
                            "period_transactions.png", "summary.md"])
    assert "Holdout check" in (tmp_path / "rep" / "summary.md").read_text()
    assert cli.main(["clv", str(folder / "log.parquet"), str(tmp_path / "seg.csv"),
                     "--groups", "region"] + ARGS) == 0
    seg = pd.read_csv(tmp_path / "seg.csv", index_col=0)
    assert set(seg.region) == {"north", "south"}
    rfm = crmjit.rfm_summary(log, "customer_id", "date", "amount")
    groups = np.where(rfm.index % 3 == 0, "north", "south")
    bg = crmjit.BetaGeoModel().fit(rfm.frequency, rfm.recency, rfm["T"], groups=groups)
    np.testing.assert_allclose(seg.p_alive, bg.p_alive(rfm.frequency, rfm.recency, rfm["T"],
                                                       groups=groups), rtol=1e-12)


def test_clv_errors_name_the_flag_the_file_and_the_column(logs, tmp_path, capsys):
    folder, log = logs
    src = str(folder / "log.csv")
    assert cli.main(["clv", src, str(tmp_path / "o.csv"), "--customer-id", "who", "--date",
                     "date", "--amount", "amount", "--quiet"]) == 1
    assert f"--customer-id 'who' is not a column of {src}" in capsys.readouterr().err
    bad = log.copy()
    bad.loc[5, "amount"] = np.nan
    bad.to_csv(tmp_path / "bad.csv", index=False)
    assert cli.main(["clv", str(tmp_path / "bad.csv"), str(tmp_path / "o.csv")] + ARGS) == 1
    assert "--amount column 'amount'" in capsys.readouterr().err
    twice = log.assign(region=np.where(log.index % 2 == 0, "a", "b"))
    twice.to_parquet(tmp_path / "twice.parquet")
    assert cli.main(["clv", str(tmp_path / "twice.parquet"), str(tmp_path / "o.csv"),
                     "--groups", "region"] + ARGS) == 1
    assert "customers in more than one segment" in capsys.readouterr().err
    (tmp_path / "afile").write_text("x")
    assert cli.main(["clv", src, str(tmp_path / "o.csv"), "--report",
                     str(tmp_path / "afile")] + ARGS) == 1
    assert "exists and is not a folder" in capsys.readouterr().err
    assert cli.main(["clv", str(tmp_path / "none.csv"), str(tmp_path / "o.csv")] + ARGS) == 1
    assert "cannot read CSV" in capsys.readouterr().err
    assert cli.main(["clv", src, str(tmp_path / "o.csv"), "--discount-rate", "-2"] + ARGS) == 1
    assert "discount_rate must be a finite number > -1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        cli.main(["clv", src, str(tmp_path / "o.csv"), "--months", "0"] + ARGS)
    assert exit_.value.code == 2 and "--months" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize("model, cls", [("pareto", "ParetoNBDModel"),
                                        ("mbgnbd", "ModifiedBetaGeoModel")])
def test_other_purchase_models(logs, tmp_path, capsys, model, cls):
    folder, log = logs
    assert cli.main(["clv", str(folder / "log.parquet"), str(tmp_path / "clv.csv"),
                     "--model", model, "--holdout-end", "2025-10-01", "--report",
                     str(tmp_path / "rep")] + ARGS) == 0
    text = capsys.readouterr().out
    got = pd.read_csv(tmp_path / "clv.csv", index_col=0)
    rfm = crmjit.rfm_summary(log, "customer_id", "date", "amount")
    args = (rfm.frequency, rfm.recency, rfm["T"])
    purchases = getattr(crmjit, cls)().fit(*args)
    rep = rfm[(rfm.frequency > 0) & (rfm.monetary_value > 0)]
    gg = crmjit.GammaGammaModel().fit(rep.frequency, rep.monetary_value)
    np.testing.assert_allclose(got.p_alive, purchases.p_alive(*args), rtol=1e-9)
    np.testing.assert_allclose(got.clv, crmjit.customer_lifetime_value(
        purchases, gg, *args, rfm.monetary_value), rtol=1e-9)
    cal = crmjit.rfm_calibration_holdout(log, "customer_id", "date", "2025-10-01",
                                         monetary_value_col="amount")
    report = crmjit.holdout_report(getattr(crmjit, cls)().fit(
        cal.frequency_cal, cal.recency_cal, cal.T_cal), cal)
    assert f"| predicted_total | {report.summary.predicted_total:,.6g} |" in text
    summary = (tmp_path / "rep" / "summary.md").read_text()
    assert f"{purchases.NAME} parameters" in summary
    assert (tmp_path / "rep" / "period_transactions.png").exists()
