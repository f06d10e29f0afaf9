"""The ``crmjit`` command line: the parser, ``bench`` and ``compile``; ``demo`` lives in
:mod:`crmjit._demo`, ``generate``/``fit``/``score`` in :mod:`crmjit._pipeline_cli`."""

from __future__ import annotations

import argparse
import sys
import time

from ._demo import demo
from ._pipeline_cli import clv, evaluate, fit, generate, score
from ._version import __version__


def _positive_int(text):
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _non_negative_int(text):
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def bench(args, out=None):
    """Run the benchmark suite (bench/ in the source tree) and write the report."""
    import os
    import pathlib
    import subprocess

    from . import _report

    try:
        import matplotlib  # noqa: F401
        import pytest_benchmark  # noqa: F401
    except ImportError as exc:
        print(f"crmjit bench: needs the bench extra ({exc.name} is missing): "
              f"pip install -e '.[bench]'", file=sys.stderr)
        return 1
    out = sys.stdout if out is None else out
    os.makedirs(args.out, exist_ok=True)
    new_json = args.json
    if new_json is None:
        suite = pathlib.Path(__file__).resolve().parent.parent / "bench"
        if not (suite / "conftest.py").exists():
            print(f"crmjit bench: the benchmark suite ships with the source tree and was "
                  f"not found at {suite}; run from a checkout (pip install -e .), or pass "
                  f"--json to report on an existing run", file=sys.stderr)
            return 2
        new_json = os.path.join(args.out, "bench.json")
        cmd = [sys.executable, "-m", "pytest", str(suite), "-q", "-p", "no:cacheprovider",
               "-n", "0", f"--benchmark-json={new_json}", "--benchmark-disable-gc"]
        if args.quick:
            cmd.append("--quick")
        print("running: " + " ".join(cmd), file=out)
        done = subprocess.run(cmd, cwd=str(suite.parent))
        if done.returncode != 0:
            print(f"crmjit bench: the suite failed (pytest exit {done.returncode})",
                  file=sys.stderr)
            return 1
    md = _report.write(new_json, args.out)
    print(md, file=out)
    print(f"wrote {os.path.join(args.out, 'report.md')}, "
          f"{os.path.join(args.out, 'throughput.png')} and {new_json}", file=out)
    if args.compare:
        worse, n = _report.compare(args.compare, new_json, args.threshold)
        if worse:
            print(f"{len(worse)} of {n} crmjit-to-peer ratios fell by more than "
                  f"{args.threshold:.0%}:", file=out)
            for line in worse:
                print("  " + line, file=out)
            return 1
        print(f"no ratio fell by more than {args.threshold:.0%} ({n} compared)", file=out)
    return 0


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), got {value}")
    return value


def threading_main():
    import threading
    return threading.current_thread() is threading.main_thread()


def build_parser():
    """The argument parser: one sub-command per ``_add_*``."""
    parser = argparse.ArgumentParser(
        prog="crmjit",
        description="Numba-JIT customer analytics: CLV, CAC, propensity, synthetic customers.")
    parser.add_argument("--version", action="version", version=f"crmjit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_demo, _add_bench, _add_generate, _add_fit, _add_score, _add_evaluate,
                _add_clv, _add_compile):
        add(sub)
    return parser


def _add_demo(sub):
    """The ``demo`` command."""
    p = sub.add_parser("demo", help="generate customers; CLV, per-channel summary and a "
                       "propensity model, with timings and checks against the reference",
                       description="Generate a synthetic customer base, compute each "
                       "customer's discounted-cash-flow CLV and the per-channel CLV:CAC "
                       "summary, fit a purchase-propensity model on the largest segment and "
                       "score every customer, and print timings, throughput, held-out AUC, "
                       "coefficient recovery and the largest difference against the "
                       "pure-Python reference on a sample.")
    p.add_argument("--customers", type=_positive_int, default=1_000_000,
                   help="customers to generate (default 1,000,000)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (default 0)")
    p.add_argument("--segments", type=_positive_int, default=20,
                   help="customer segments (default 20)")
    p.add_argument("--sample", type=_non_negative_int, default=2000,
                   help="customers checked against the pure-Python reference (default 2000)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=demo)


def _add_bench(sub):
    """The ``bench`` command."""
    b = sub.add_parser("bench", help="run the benchmark suite against its peers and write "
                       "report.md, throughput.png and the raw JSON",
                       description="Run the pytest-benchmark suite in bench/ (crmjit beside "
                       "scikit-learn, NumPy and the pure-Python reference, in the same run) "
                       "and write report.md, throughput.png and bench.json to --out. Ratios "
                       "(peer time / crmjit time), not absolute times, are what to track: "
                       "shared CI machines are noisy. With --compare OLD.json, exit 1 when "
                       "any crmjit-to-peer ratio fell by more than --threshold.")
    b.add_argument("--quick", action="store_true",
                   help="small sizes (the whole suite in under 3 minutes; what CI runs)")
    b.add_argument("--out", default="bench-out", help="output folder (default bench-out)")
    b.add_argument("--compare", metavar="OLD.json",
                   help="a previous bench.json; exit 1 when a ratio fell by > threshold")
    b.add_argument("--threshold", type=_fraction, default=0.25,
                   help="allowed fall of a ratio, as a fraction (default 0.25)")
    b.add_argument("--json", metavar="NEW.json",
                   help="report on (and compare) this existing run instead of running")
    b.set_defaults(func=bench)


def _add_generate(sub):
    """The ``generate`` command."""
    g = sub.add_parser("generate", help="write a synthetic customer base to Parquet",
                       description="Write N synthetic customers (features x0.., purchase "
                       "label y, segment, channel, rate, lifespan, cash flows cf1..) to a "
                       "Parquet file, chunk by chunk: memory stays at one chunk whatever N, "
                       "and the rows are the ones crmjit.data_gen.make_customers returns for "
                       "the same seed. Example: crmjit generate --customers 10000000 "
                       "customers.parquet")
    g.add_argument("output", metavar="OUT.parquet", help="file to write")
    g.add_argument("--customers", type=_positive_int, required=True, help="rows to write")
    g.add_argument("--features", type=_positive_int, default=16, help="features (default 16)")
    g.add_argument("--segments", type=_positive_int, default=1, help="segments (default 1)")
    g.add_argument("--periods", type=_positive_int, default=12,
                   help="cash-flow periods (default 12)")
    g.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (default 0)")
    g.add_argument("--float32", action="store_true", help="features as float32")
    g.add_argument("--chunk-rows", type=_positive_int, default=1 << 20,
                   help="rows generated and written at a time (default 1048576)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=generate)


def _add_fit(sub):
    """The ``fit`` command."""
    f = sub.add_parser("fit", help="fit a propensity model on Parquet columns and save it",
                       description="Fit crmjit.LogisticRegression (or, with --groups, one "
                       "model per segment) on columns of a Parquet file and save the model "
                       "as JSON for `crmjit score`. Example: crmjit fit customers.parquet "
                       "model.json --target y --features 'x*'")
    f.add_argument("input", metavar="INPUT.parquet", help="Parquet file or folder")
    f.add_argument("model", metavar="MODEL.json", help="where to save the fitted model")
    f.add_argument("--target", required=True, help="the 0/1 (two-class) label column")
    f.add_argument("--features", required=True,
                   help="feature columns: comma-separated names or glob patterns, e.g. "
                   "'x*' or 'age,spend,visits'")
    f.add_argument("--groups", help="segment column: fit one model per segment")
    f.add_argument("--C", type=float, default=1.0,
                   help="inverse L2 strength, as scikit-learn (default 1.0)")
    f.add_argument("--max-iter", type=_positive_int, default=100,
                   help="Newton iterations (default 100)")
    f.set_defaults(func=fit)


def _add_score(sub):
    """The ``score`` command."""
    s = sub.add_parser("score", help="score a Parquet file with a saved model",
                       description="Read INPUT batch by batch, score every row with the "
                       "model saved by `crmjit fit` (or model.save), and write OUTPUT with "
                       "the id column and a `score` column (the positive-class "
                       "probability). Memory stays at a few batches whatever the file size; "
                       "OUTPUT appears only when complete. Example: crmjit score --model "
                       "model.json --id-column customer_id customers.parquet scores.parquet")
    s.add_argument("input", metavar="INPUT.parquet", help="Parquet file or folder")
    s.add_argument("output", metavar="OUTPUT.parquet", help="file to write")
    s.add_argument("--model", required=True, metavar="MODEL.json", help="saved model")
    s.add_argument("--features", help="comma-separated feature columns (default: the names "
                   "the model was fitted on)")
    s.add_argument("--groups", help="segment column (for a per-segment model)")
    s.add_argument("--id-column", help="column copied to the output, e.g. customer_id")
    s.add_argument("--batch-rows", type=_positive_int, default=None,
                   help="rows per batch (default 1048576, or an eighth of the rows for "
                   "smaller inputs)")
    s.add_argument("--target", help="0/1 label column of INPUT: also print the ROC AUC, log "
                   "loss and gains table of the scores, and write them beside OUTPUT "
                   "(OUTPUT minus its extension + .metrics.json, .gains.csv)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=score)


def _add_evaluate(sub):
    """The ``evaluate`` command."""
    e = sub.add_parser("evaluate", help="ROC AUC, log loss, Brier score and gains table of a "
                       "scored file",
                       description="Read the label and score columns of SCORES (Parquet, or "
                       "CSV by its .csv extension), print the ROC AUC, log loss, Brier score "
                       "and gains table, and write REPORT.metrics.json, REPORT.gains.csv "
                       "and, with --groups, REPORT.segments.csv (one row per segment). "
                       "Example: crmjit evaluate scores.parquet --target bought --score "
                       "score")
    e.add_argument("scores", metavar="SCORES", help="Parquet file or folder, or a .csv file")
    e.add_argument("--target", required=True, help="the 0/1 label column")
    e.add_argument("--score", default="score", help="the score column (default score)")
    e.add_argument("--groups", help="segment column: metrics per segment as well")
    e.add_argument("--bins", type=_positive_int, default=10,
                   help="gains table bins (default 10: deciles)")
    e.add_argument("--report", metavar="REPORT",
                   help="path prefix of the files written (default: SCORES minus its "
                   "extension)")
    e.set_defaults(func=evaluate)


def _add_clv(sub):
    """The ``clv`` command."""
    c = sub.add_parser("clv", help="transaction log -> CLV per customer (BG/NBD, "
                       "Pareto/NBD or MBG/NBD + Gamma-Gamma)",
                       description="Read LOG (CSV, or Parquet file or folder), summarise "
                       "each customer (frequency, recency, T, monetary value), fit a "
                       "purchase model (--model) and Gamma-Gamma (per segment with "
                       "--groups) and write OUTPUT (.csv or Parquet): one row per "
                       "customer with p_alive, expected purchases and spend over "
                       "--months, and CLV. Example: crmjit clv log.csv "
                       "clv.parquet --customer-id customer_id --date date --amount amount "
                       "--holdout-end 2025-09-30 --report report")
    c.add_argument("log", metavar="LOG", help="transactions: a .csv file, or Parquet")
    c.add_argument("output", metavar="OUTPUT", help="file to write (.csv, else Parquet)")
    c.add_argument("--customer-id", required=True, help="customer id column")
    c.add_argument("--date", required=True, help="purchase date column")
    c.add_argument("--amount", required=True, help="purchase amount column")
    c.add_argument("--model", choices=["bgnbd", "pareto", "mbgnbd"], default="bgnbd",
                   help="purchase model: BG/NBD, Pareto/NBD or MBG/NBD (default bgnbd)")
    c.add_argument("--freq", choices=["D", "W"], default="D",
                   help="time unit: days or weeks (default D)")
    c.add_argument("--months", type=_positive_int, default=12,
                   help="CLV horizon in months (default 12)")
    c.add_argument("--discount-rate", type=float, default=0.01,
                   help="monthly discount rate (default 0.01)")
    c.add_argument("--groups", help="segment column: one set of parameters per segment")
    c.add_argument("--holdout-end", "--calibration-end", dest="holdout_end", metavar="DATE",
                   help="first fit on the purchases up to DATE and print how well that "
                   "predicts the purchases after it (the holdout), then fit on the whole log")
    c.add_argument("--report", metavar="DIR",
                   help="write plots (PNG) and summary.md into DIR (needs matplotlib)")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=clv)


def _add_compile(sub):
    """The ``compile`` command."""
    c = sub.add_parser("compile", help="compile every kernel into the cache ahead of time",
                       description="Compile every kernel signature the public API uses "
                       "into the cache, so that no later process compiles (a Docker image "
                       "build step, a CI cache). Prints the cache folder: set "
                       "CRMJIT_CACHE_DIR to choose it.")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=compile_kernels)


def compile_kernels(args, out=None):
    """``crmjit compile``: every kernel into the cache, with the seconds each step took."""
    out = sys.stdout if out is None else out
    from ._compile import compile_all
    from .kernels._jit import CACHE, cache_dir
    t0 = time.perf_counter()
    seconds = compile_all(progress=not args.quiet)
    for name, s in seconds.items():
        print(f"{name:32s} {s:6.2f} s", file=out)
    where = cache_dir() if CACHE else "nowhere (CRMJIT_NO_CACHE is set)"
    print(f"compiled in {time.perf_counter() - t0:.1f} s; cache: {where}", file=out)
    return 0


def main(argv=None):
    import signal
    if threading_main():  # SIGTERM unwinds like Ctrl-C: partial outputs are removed
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
