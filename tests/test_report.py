import json

import pytest

from crmjit import _report, cli

MACHINE = {"cpu": "Test CPU", "cores": 2, "numba_threads": 2, "numba": "x", "numpy": "y",
           "sklearn": "z", "python": "3.11"}


def bench_json(path, times, scale=None):
    """A pytest-benchmark-shaped file: times = {(work, size, impl): seconds}."""
    benchmarks = []
    for (work, size, impl), sec in times.items():
        info = dict(work=work, size=size, impl=impl, items=size, peak_bytes=2**20, **MACHINE)
        if scale and impl in scale:
            info["scale"] = scale[impl]
        benchmarks.append({"stats": {"min": sec}, "extra_info": info})
    path.write_text(json.dumps({"benchmarks": benchmarks}))
    return str(path)


OLD = {("score", 1000, "crmjit"): 1.0, ("score", 1000, "sklearn"): 4.0,
       ("score", 1000, "floor"): 0.8, ("clv", 1000, "crmjit"): 1.0,
       ("clv", 1000, "numpy"): 10.0}


def test_table_ratios_floor_and_scaled_peers(tmp_path):
    p = bench_json(tmp_path / "a.json", {**OLD, ("fit", 10, "crmjit"): 2.0,
                                         ("fit", 10, "loop"): 1.0}, scale={"loop": 50.0})
    runs, machine = _report.load(p)
    md = _report.table(runs, machine)
    assert "Test CPU, 2 cores" in md
    assert "| score | 1,000 | 1.0000 | sklearn | 4.0000 | 4.00x |" in md
    assert "| 0.80 |" in md  # floor time / crmjit time
    assert "loop (scaled from a sample) | 50.0000 | 25.00x" in md
    assert _report.ratios(runs)[("clv", 1000, "numpy")] == 10.0


def test_write_makes_report_and_plot(tmp_path):
    p = bench_json(tmp_path / "a.json", OLD)
    _report.write(p, str(tmp_path))
    assert (tmp_path / "report.md").read_text().startswith("# crmjit benchmark report")
    png = (tmp_path / "throughput.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_compare_flags_ratio_drops_beyond_threshold(tmp_path):
    old = bench_json(tmp_path / "old.json", OLD)
    same = bench_json(tmp_path / "same.json", {**OLD, ("score", 1000, "sklearn"): 3.2})
    worse = bench_json(tmp_path / "worse.json", {**OLD, ("score", 1000, "sklearn"): 2.9})
    assert _report.compare(old, same, 0.25) == ([], 3)  # 4x -> 3.2x is a 20 % fall
    lines, n = _report.compare(old, worse, 0.25)
    assert n == 3 and len(lines) == 1 and "score n=1,000 vs sklearn: 4.00x -> 2.90x" in lines[0]
    out = tmp_path / "out"
    assert cli.main(["bench", "--json", same, "--compare", old, "--out", str(out)]) == 0
    assert cli.main(["bench", "--json", worse, "--compare", old, "--out", str(out)]) == 1
    assert cli.main(["bench", "--json", worse, "--compare", old, "--out", str(out),
                     "--threshold", "0.5"]) == 0
    assert (out / "report.md").exists() and (out / "throughput.png").exists()


@pytest.mark.parametrize("value", ["0", "1.5", "x"])
def test_bad_threshold(value, capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(["bench", "--threshold", value])
    assert err.value.code == 2 and "threshold" in capsys.readouterr().err
