import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from crmjit import cli


def test_console_script_help():
    beside = pathlib.Path(sys.executable).parent / "crmjit"
    exe = str(beside) if beside.exists() else shutil.which("crmjit")
    assert exe, "the crmjit console script is not installed"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "demo" in out.stdout
    out = subprocess.run([exe, "demo", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "--customers" in out.stdout and "--seed" in out.stdout


def test_demo_prints_timings_summary_and_reference_check(capsys):
    assert cli.main(["demo", "--customers", "3000", "--seed", "5", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "M customers/s" in text and "CLV:CAC" in text
    diffs = [float(v) for v in re.findall(r"largest difference (\S+)", text)]
    assert len(diffs) == 2 and max(diffs) < 1e-9
    auc, best = map(float, re.search(r"Held-out AUC (\S+) .*scores (\S+)\)", text).groups())
    assert 0.6 < auc <= best + 0.02
    assert "score propensity" in text
    ours, sk, ratio = map(float, re.search(
        r"fitted \(\d+ flagged: one class only\) in (\S+) s; scikit-learn looping over "
        r"segments: (\S+) s \(timed on every segment\), (\S+)x slower", text).groups())
    lo = (sk - 0.005) / (ours + 0.005) - 0.05  # the printed times are rounded to 0.01 s
    hi = (sk + 0.005) / max(ours - 0.005, 1e-9) + 0.05
    assert 0 < ratio and lo <= ratio <= hi  # the ratio of the two times shown
    med, worst = map(float, re.search(r"largest \|fitted - true\| (\S+); worst (\S+)",
                                      text).groups())
    assert med <= worst < 5
    for channel in ("organic", "paid_search", "display"):
        assert channel in text


def test_demo_recovers_the_btyd_parameters(capsys):
    assert cli.main(["demo", "--customers", "40000", "--seed", "3", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "RFM summary" in text and "12-month CLV" in text
    zs = {m[0]: float(m[1]) for m in re.findall(r"^(r|alpha|a|b|p|q|v) .* ([+-]\d+\.\d)$",
                                                 text, flags=re.M)}
    assert set(zs) == {"r", "alpha", "a", "b", "p", "q", "v"}
    assert max(abs(z) for z in zs.values()) < 4  # within 4 standard errors of the truth
    mean = float(re.search(r"12-month CLV: mean (\S+),", text).group(1).replace(",", ""))
    assert mean > 0
    actual, predicted = (float(v.replace(",", "")) for v in re.search(
        r"made (\S+) repeat purchases, the model predicted (\S+) ", text).groups())
    assert abs(predicted - actual) < 0.1 * actual  # the holdout check holds on its truth
    sbg = re.findall(r"(alpha|beta) (\S+) \(true (\S+), se (\S+)\)", text)
    assert [row[0] for row in sbg] == ["alpha", "beta"]
    for name, est, true, se in sbg:
        assert abs(float(est) - float(true)) < 4 * float(se), name  # sBG recovered


def test_demo_with_a_handful_of_customers(capsys):
    assert cli.main(["demo", "--customers", "7", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "Per channel" in text and "Probabilistic CLV" in text


@pytest.mark.parametrize("argv", [["demo", "--customers", "-5"], ["demo", "--customers", "x"],
                                  ["demo", "--customers", "0"],
                                  ["demo", "--segments", "0"], ["nope"]])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(argv)
    assert err.value.code == 2
    assert "error" in capsys.readouterr().err


def test_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "crmjit", "--version"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("crmjit ")


def test_cli_errors_name_the_flag_the_file_and_the_column(tmp_path, capsys):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    rng = np.random.default_rng(0)
    data = tmp_path / "d.parquet"
    cols = {f"x{j}": rng.standard_normal(300) for j in range(25)}
    pq.write_table(pa.table({**cols, "y": (cols["x0"] > 0).astype(np.int64),
                             "channel": ["paid_search"] * 300, "seg": np.arange(300) % 3}),
                   data)
    assert cli.main(["fit", str(data), str(tmp_path / "m.json"), "--target", "nope",
                     "--features", "x*"]) == 1
    err = capsys.readouterr().err
    assert f"--target 'nope' is not a column of {data}" in err and ", ...)" in err
    assert cli.main(["fit", str(data), str(tmp_path / "m.json"), "--target", "y",
                     "--features", "x0,channel"]) == 1
    assert "--features: column(s) ['channel']" in capsys.readouterr().err
    assert cli.main(["fit", str(data), str(tmp_path / "b.json"), "--target", "y",
                     "--features", "x0,x1", "--groups", "seg"]) == 0
    assert cli.main(["score", "--model", str(tmp_path / "b.json"), "--quiet", str(data),
                     str(tmp_path / "s.parquet")]) == 1
    assert "per-segment model: pass --groups" in capsys.readouterr().err


def test_bench_without_its_extra_names_the_extra(monkeypatch, capsys):
    import builtins
    real = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib":
            raise ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib")
        return real(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert cli.main(["bench", "--quick", "--out", "unused"]) == 1
    assert "pip install -e '.[bench]'" in capsys.readouterr().err
