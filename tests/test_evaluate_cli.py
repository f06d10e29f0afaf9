"""``crmjit score --target`` and ``crmjit evaluate``: what they print and write is
crmjit.metrics' on the same rows; files follow the umask; errors name file, column, flag."""

import json
import os
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crmjit import cli, metrics


@pytest.fixture
def scored(tmp_path, rng):
    n = 3000
    X = rng.standard_normal((n, 3))
    y = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0]))).astype(np.int64)
    seg = np.where(np.arange(n) < 10, "tiny", rng.choice(["a", "b"], n))
    y[:10] = 1  # segment "tiny": one class only
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"x0": X[:, 0], "x1": X[:, 1], "x2": X[:, 2], "y": y, "seg": seg,
                             "id": np.arange(n)}), path)
    assert cli.main(["fit", str(path), str(tmp_path / "m.json"), "--target", "y",
                     "--features", "x*"]) == 0
    return path, y, seg


def test_score_with_target_prints_and_writes_the_metrics(tmp_path, scored, capsys):
    path, y, _ = scored
    capsys.readouterr()
    old = os.umask(0o027)
    try:
        assert cli.main(["score", "--model", str(tmp_path / "m.json"), "--quiet", "--target",
                         "y", "--id-column", "id", str(path), str(tmp_path / "s.parquet")]) == 0
    finally:
        os.umask(old)
    text = capsys.readouterr().out
    p = pq.read_table(tmp_path / "s.parquet").column("score").to_numpy()
    auc = metrics.roc_auc_score(y, p)
    assert f"ROC AUC {auc:.6f}" in text and f"log loss {metrics.log_loss(y, p):.6f}" in text
    summary = json.loads((tmp_path / "s.metrics.json").read_text())
    assert summary["roc_auc"] == auc and summary["rows"] == 3000
    assert summary["brier_score"] == metrics.brier_score(y, p)
    gains = pd.read_csv(tmp_path / "s.gains.csv")
    pd.testing.assert_frame_equal(gains, metrics.gains_table(y, p), check_exact=False,
                                  rtol=1e-12, check_dtype=False)
    for name in ("s.metrics.json", "s.gains.csv"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o640
    assert len(re.findall(r"^\s+\d+\s+300\s", text, flags=re.M)) == 10  # the ten deciles


def test_evaluate_a_csv_per_segment(tmp_path, scored, capsys):
    path, y, seg = scored
    assert cli.main(["score", "--model", str(tmp_path / "m.json"), "--quiet", str(path),
                     str(tmp_path / "s.parquet")]) == 0
    p = pq.read_table(tmp_path / "s.parquet").column("score").to_numpy()
    pd.DataFrame({"bought": y, "p": p, "seg": seg}).to_csv(tmp_path / "e.csv", index=False)
    capsys.readouterr()
    assert cli.main(["evaluate", str(tmp_path / "e.csv"), "--target", "bought", "--score", "p",
                     "--groups", "seg", "--bins", "4", "--report",
                     str(tmp_path / "out" )]) == 0
    text = capsys.readouterr().out
    assert "3 segments (1 with one class only: no AUC)" in text
    table = pd.read_csv(tmp_path / "out.segments.csv")
    want = metrics.roc_auc_score(y, p, groups=seg, zero_division="nan")
    assert list(table.group) == ["a", "b", "tiny"]
    np.testing.assert_allclose(table.roc_auc, want.to_numpy(), rtol=1e-12)
    assert list(table.rows) == [int((seg == g).sum()) for g in ("a", "b", "tiny")]
    assert len(pd.read_csv(tmp_path / "out.gains.csv")) == 4


def test_evaluate_logits_leaves_out_the_probability_metrics(tmp_path, rng, capsys):
    z = rng.normal(0, 2, 500)
    y = (rng.random(500) < 1 / (1 + np.exp(-z))).astype(int)
    pq.write_table(pa.table({"z": z, "y": y}), tmp_path / "z.parquet")
    assert cli.main(["evaluate", str(tmp_path / "z.parquet"), "--target", "y", "--score",
                     "z"]) == 0
    assert "log loss n/a (scores are not probabilities)" in capsys.readouterr().out
    summary = json.loads((tmp_path / "z.metrics.json").read_text())
    assert summary["log_loss"] is None and summary["roc_auc"] == metrics.roc_auc_score(y, z)


def test_evaluate_errors_name_the_file_the_column_and_the_flag(tmp_path, capsys):
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"y": [0, 1, 2], "s": [0.1, np.nan, 0.3]}), path)
    assert cli.main(["evaluate", str(path), "--target", "y", "--score", "nope"]) == 1
    assert f"--score 'nope' is not a column of {path}" in capsys.readouterr().err
    assert cli.main(["evaluate", str(path), "--target", "y", "--score", "s"]) == 1
    assert f"--target column 'y' of {path} must hold only 0 and 1" in capsys.readouterr().err
    pq.write_table(pa.table({"y": [0, 1, 1], "s": [0.1, np.nan, 0.3]}), path)
    assert cli.main(["evaluate", str(path), "--target", "y", "--score", "s"]) == 1
    assert f"--score column 's' of {path} contains NaN" in capsys.readouterr().err
    assert not list(tmp_path.glob("bad.*.json"))
