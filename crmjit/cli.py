"""The ``crmjit`` command line: ``crmjit demo`` and friends."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

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


def _table(rows, headers):
    """Plain-text table with right-aligned columns."""
    cells = [headers] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                     for i, (h, w) in enumerate(zip(headers, widths))), line]
    for r in cells[1:]:
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(out)


class _Timer:
    def __init__(self):
        self.rows = []
        self.seconds = 0.0

    def run(self, name, n, func):
        t0 = time.perf_counter()
        result = func()
        dt = time.perf_counter() - t0
        self.seconds = dt
        self.rows.append([name, f"{n:,}", f"{dt:.3f}", f"{n / dt / 1e6:.1f}" if dt else "-"])
        return result


def demo(args, out=None):
    """Generate customers, value them, summarise per channel, check against the twins."""
    out = sys.stdout if out is None else out
    import crmjit
    from crmjit import reference
    from crmjit.data_gen import make_customers

    n = args.customers
    print(f"crmjit {__version__} demo: {n:,} synthetic customers, seed {args.seed}", file=out)
    t0 = time.perf_counter()
    small = make_customers(64, n_segments=args.segments, seed=args.seed)
    crmjit.clv(small.cash_flows, small.rate, small.lifespan)
    crmjit.channel_summary(small.channel, small.rate, small.spend + 1, small.new_customers + 1)
    crmjit.LogisticRegression().fit(small.X, np.arange(64) % 2)
    crmjit.predict_proba(small.X, small.coef[0], 0.0)
    _warm_up(args.segments)
    print(f"JIT warm-up (compile or load from cache): {time.perf_counter() - t0:.2f} s",
          file=out)

    timer = _Timer()
    cust = timer.run("generate customers", n, lambda: make_customers(
        n, n_segments=args.segments, seed=args.seed, progress=not args.quiet))
    values = timer.run("CLV (per-customer rate, lifespan)", n,
                       lambda: crmjit.clv(cust.cash_flows, cust.rate, cust.lifespan))
    summary = timer.run("channel summary", n, lambda: crmjit.channel_summary(
        cust.channel, values, cust.spend, cust.new_customers, zero_division="nan"))

    # Propensity: one model on the largest segment (segment 0: its own true model), fitted
    # on 80 % of its customers and judged on the other 20 %; then every customer is scored.
    seg0 = np.flatnonzero(cust.segment == 0)
    cut = int(0.8 * seg0.size)
    train, test = seg0[:cut], seg0[cut:]
    model = None
    if train.size and np.unique(cust.y[train]).size == 2:
        Xtr, ytr = cust.X[train], cust.y[train]
        model = timer.run("fit propensity (segment 0, 80 %)", train.size,
                          lambda: crmjit.LogisticRegression().fit(Xtr, ytr))
        scores = timer.run("score propensity (all customers)", n, lambda: crmjit.predict_proba(
            cust.X, model.coef_[0], model.intercept_[0]))

    # One model per segment, every segment in one call.
    batched, batched_seconds, skipped = None, 0.0, ""
    try:
        batched = timer.run(f"fit one model per segment ({args.segments} segments)", n,
                            lambda: crmjit.BatchedLogisticRegression(invalid="flag").fit(
                                cust.X, cust.y, cust.segment))
        batched_seconds = timer.seconds
    except ValueError as exc:  # too few customers: no segment has both classes
        skipped = str(exc)

    # Probabilistic CLV from a transaction log: RFM -> BG/NBD + Gamma-Gamma -> 12 months.
    btyd = _btyd_steps(n, args, timer)

    k = min(n, args.sample)
    rows = np.random.default_rng(args.seed).choice(n, size=k, replace=False) if k else []
    rows = np.sort(rows)
    expected = reference.clv_matrix(cust.cash_flows[rows].tolist(), cust.rate[rows].tolist(),
                                    cust.lifespan[rows].tolist())
    diff = float(np.max(np.abs(values[rows] - np.asarray(expected)))) if k else 0.0
    scale = float(np.max(np.abs(expected))) if k else 1.0

    print("\nTimings", file=out)
    print(_table(timer.rows, ["step", "customers", "seconds", "M customers/s"]), file=out)
    print(f"\nCLV vs pure-Python reference on {k:,} sampled customers: largest difference "
          f"{diff:.3g} (largest CLV {scale:,.2f})", file=out)

    if model is not None:
        from sklearn.metrics import roc_auc_score

        true_w, true_b = cust.coef[0], cust.intercept[0]
        coef_err = float(np.max(np.abs(model.coef_[0] - true_w)))
        print(f"\nPropensity (segment 0): {model.n_iter_[0]} Newton iterations; largest "
              f"|fitted - true| coefficient {coef_err:.3f} (true coefficients up to "
              f"{np.max(np.abs(true_w)):.2f}); intercept {model.intercept_[0]:.3f} vs true "
              f"{true_b:.3f}", file=out)
        if test.size and np.unique(cust.y[test]).size == 2:
            auc = roc_auc_score(cust.y[test], scores[test])
            true_p = crmjit.predict_proba(cust.X[test], true_w, true_b)
            best = roc_auc_score(cust.y[test], true_p)
            print(f"Held-out AUC {auc:.4f} on {test.size:,} customers (the true model "
                  f"scores {best:.4f})", file=out)
        ref_p = reference.predict_proba(cust.X[rows].tolist(), [0], [model.coef_[0].tolist()],
                                        [float(model.intercept_[0])])
        pdiff = float(np.max(np.abs(scores[rows] - np.asarray(ref_p)))) if k else 0.0
        print(f"Scores vs pure-Python reference on {k:,} sampled customers: largest "
              f"difference {pdiff:.3g}", file=out)

    if batched is not None:
        _report_batched(cust, batched, batched_seconds, out)
    else:
        print(f"\nOne model per segment: skipped ({skipped})", file=out)

    _report_btyd(btyd, out)

    print("\nPer channel", file=out)
    body = [[ch, f"{int(r.customers):,}", f"{r.clv_mean:,.2f}", f"{r.clv_total:,.0f}",
             f"{r.cac:,.2f}", f"{r.clv_to_cac:.2f}"] for ch, r in summary.iterrows()]
    print(_table(body, ["channel", "customers", "mean CLV", "total CLV", "CAC", "CLV:CAC"]),
          file=out)
    return 0


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
               f"--benchmark-json={new_json}", "--benchmark-disable-gc"]
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


def _warm_up(segments):
    """Compile (or load from the cache) the batched and probabilistic-CLV kernels on tiny
    inputs, so that the timings below measure the work, not the JIT."""
    import warnings

    import crmjit
    from crmjit.data_gen import make_customers, make_rfm, make_transactions

    small = make_customers(4000, n_features=3, n_segments=2, seed=1)
    crmjit.BatchedLogisticRegression(invalid="flag").fit(small.X, small.y, small.segment)
    log, _ = make_transactions(50, seed=1)
    crmjit.rfm_summary(log, "customer_id", "date", "amount", freq="h")
    rfm = make_rfm(3000, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bg = crmjit.BetaGeoModel(max_iter=3).fit(rfm.frequency, rfm.recency, rfm["T"])
        gg = crmjit.GammaGammaModel(max_iter=3).fit(rfm.frequency, rfm.monetary_value)
    bg._params[:] = [[0.243, 30.9, 0.793, 2.426]]  # a valid model whatever 3 steps gave
    gg._params[:] = [[6.25, 3.74, 15.4]]
    crmjit.customer_lifetime_value(bg, gg, rfm.frequency, rfm.recency, rfm["T"],
                                   rfm.monetary_value, freq="H")


def _btyd_steps(n, args, timer):
    """Simulate a transaction log from known BG/NBD + Gamma-Gamma parameters, summarise,
    fit both models and value every customer; returns what the report needs (or the
    reason it was skipped)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    import crmjit
    from crmjit.data_gen import make_transactions

    log, truth = timer.run("simulate transaction log (BG/NBD)", n, lambda: make_transactions(
        n, seed=args.seed, progress=not args.quiet))
    rfm = timer.run(f"RFM summary ({len(log):,} transactions)", len(log),
                    lambda: crmjit.rfm_summary(log, "customer_id", "date", "amount",
                                               freq="h"))
    f, r, T, m = rfm["frequency"], rfm["recency"], rfm["T"], rfm["monetary_value"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            bg = timer.run("fit BG/NBD", len(rfm), lambda: crmjit.BetaGeoModel().fit(f, r, T))
            gg = timer.run("fit Gamma-Gamma", len(rfm),
                           lambda: crmjit.GammaGammaModel().fit(f, m))
    except (ValueError, ConvergenceWarning) as exc:  # a handful of customers: no MLE
        return str(exc)
    value = timer.run("12-month CLV (BG/NBD + Gamma-Gamma)", len(rfm), lambda: (
        crmjit.customer_lifetime_value(bg, gg, f, r, T, m, time=12, discount_rate=0.01,
                                       freq="H")))
    return bg, gg, value, truth


def _report_btyd(btyd, out):
    if isinstance(btyd, str):
        print(f"\nProbabilistic CLV: skipped ({btyd})", file=out)
        return
    from crmjit.data_gen import BTYD_TRUTH

    bg, gg, value, truth = btyd
    rows = []
    for model in (bg, gg):
        for name, est in model.params_.items():
            se = model.standard_errors_[name]
            if name == "alpha":  # fitted in hours, the truth is in days
                est, se = est / 24.0, se / 24.0
            rows.append([name, f"{BTYD_TRUTH[name]:.4g}", f"{est:.4g}", f"{se:.2g}",
                         f"{(est - BTYD_TRUTH[name]) / se:+.1f}"])
    print("\nProbabilistic CLV: parameters recovered from the hourly RFM summary of the "
          "simulated log (alpha in days; a daily summary, where purchases on the same day "
          "count once, biases r and alpha by a few standard errors)", file=out)
    print(_table(rows, ["parameter", "true", "fitted", "std. error", "(fitted - true) / se"]),
          file=out)
    print(f"12-month CLV: mean {float(np.mean(value)):,.2f}, total {float(np.sum(value)):,.0f}"
          f" over {len(value):,} customers; {int(truth['frequency'].gt(0).sum()):,} bought "
          "more than once", file=out)


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), got {value}")
    return value


def _sklearn_loop_seconds(cust, labels, max_rows=2_000_000, sample=5):
    """Seconds for scikit-learn's LogisticRegression() fitted segment by segment: timed
    on every segment up to max_rows customers, else on `sample` segments scaled by rows."""
    import warnings

    from sklearn.linear_model import LogisticRegression as SkLogReg

    n = cust.y.shape[0]
    order = np.argsort(cust.segment, kind="stable")
    bounds = np.searchsorted(cust.segment[order], np.arange(cust.coef.shape[0] + 1))
    chosen = list(labels) if n <= max_rows else list(labels[:: max(1, len(labels) // sample)])
    rows = 0
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for g in chosen:
            idx = order[bounds[g]:bounds[g + 1]]
            SkLogReg().fit(cust.X[idx], cust.y[idx])
            rows += idx.size
    elapsed = time.perf_counter() - t0
    if n <= max_rows:
        return elapsed, "timed on every segment"
    return elapsed * n / max(rows, 1), f"estimated from {len(chosen)} segments, scaled by rows"


def _report_batched(cust, model, ours, out):
    valid = model.valid_
    labels = model.groups_[valid]
    sk, how = _sklearn_loop_seconds(cust, labels)
    err = np.max(np.abs(model.coef_[valid] - cust.coef[labels]), axis=1)
    sizes = np.bincount(cust.segment, minlength=cust.coef.shape[0])[labels]
    worst = int(np.argmax(err))
    print(f"\nOne model per segment: {valid.sum()} of {valid.size} segments fitted "
          f"({(~valid).sum()} flagged: one class only) in {ours:.2f} s; scikit-learn "
          f"looping over segments: {sk:.2f} s ({how}), {sk / ours:.1f}x slower", file=out)
    print(f"Recovery of the true per-segment coefficients: median over segments of the "
          f"largest |fitted - true| {np.median(err):.3f}; worst {err[worst]:.3f} (segment "
          f"{labels[worst]}, {sizes[worst]:,} customers)", file=out)


def _columns(text):
    return [c.strip() for c in text.split(",") if c.strip()]


def _match_features(patterns, names):
    """Column names matching comma-separated names or glob patterns (x*), in file order."""
    import fnmatch
    chosen = []
    for pat in patterns:
        hits = [c for c in names if fnmatch.fnmatchcase(c, pat)]
        if not hits:
            shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
            raise ValueError(f"--features {pat!r} matches no column of the input (columns: "
                             f"{shown})")
        chosen += [c for c in hits if c not in chosen]
    return chosen


def _pipeline_errors(func):
    """Report bad data or a failed run as one line on stderr and exit status 1 (no
    traceback); argparse keeps status 2 for usage errors."""
    def run(args, out=None):
        try:
            return func(args, out)
        except (ValueError, TypeError, OSError, ImportError) as exc:
            print(f"crmjit {args.command}: error: {exc}", file=sys.stderr)
            return 1
    return run


@_pipeline_errors
def generate(args, out=None):
    """Write a synthetic customer base to Parquet, chunk by chunk."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .data_gen import customer_chunks
    from .persist import atomic_write

    out = sys.stdout if out is None else out
    chunks = customer_chunks(args.customers, n_features=args.features,
                             n_segments=args.segments, n_periods=args.periods,
                             seed=args.seed, dtype=np.float32 if args.float32 else np.float64,
                             chunk_rows=args.chunk_rows)
    t0 = time.perf_counter()

    def write(tmp):
        from ._progress import progress_bar
        writer = None
        with progress_bar(total=args.customers, enabled=not args.quiet, desc="generate",
                          unit="rows") as bar:
            for part in chunks:
                table = pa.Table.from_pandas(part, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
                bar.update(len(part))
        if writer is not None:
            writer.close()
    atomic_write(args.output, write)
    print(f"wrote {args.customers:,} customers to {args.output} in "
          f"{time.perf_counter() - t0:.1f} s", file=out)
    return 0


@_pipeline_errors
def score(args, out=None):
    """Score a Parquet file with a saved model."""
    from .parquet import score_parquet

    out = sys.stdout if out is None else out
    from .parquet import _resolve_model
    if _resolve_model(args.model)[1] and not args.groups:
        raise ValueError(f"{args.model} is a per-segment model: pass --groups (the segment "
                         f"column)")
    stats = score_parquet(args.input, args.model, args.output,
                          features=_columns(args.features) if args.features else None,
                          groups=args.groups, id_column=args.id_column,
                          batch_rows=args.batch_rows, progress=not args.quiet)
    print(f"scored {stats['rows']:,} rows in {stats['seconds']:.2f} s "
          f"({stats['rows_per_s'] / 1e6:.1f} M rows/s) -> {args.output}", file=out)
    return 0


def pa_numeric(t):
    """Whether an Arrow type holds numbers (integers, floats, booleans)."""
    import pyarrow as pa
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)


@_pipeline_errors
def fit(args, out=None):
    """Fit a propensity model (one, or one per segment) on Parquet columns and save it."""
    import pandas as pd
    import pyarrow.dataset as ds

    import crmjit

    out = sys.stdout if out is None else out
    try:
        dataset = ds.dataset(args.input, format="parquet")
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read Parquet from {args.input!r}: {exc}") from None
    names = dataset.schema.names
    features = _match_features(_columns(args.features), names)
    for c, flag in ((args.target, "--target"), (args.groups, "--groups")):
        if c in features:
            raise ValueError(f"--features {args.features!r} includes the {flag} column {c!r}")
    for c, flag in [(args.target, "--target")] + ([(args.groups, "--groups")]
                                                  if args.groups else []):
        if c not in names:
            shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
            raise ValueError(f"{flag} {c!r} is not a column of {args.input} (columns: "
                             f"{shown})")
    table = dataset.to_table(columns=features + [args.target]
                             + ([args.groups] if args.groups else []))
    for c in table.column_names:
        if table.column(c).null_count:
            raise ValueError(f"column {c!r} has missing values (nulls)")
    text = [c for c in features if not pa_numeric(table.column(c).type)]
    if text:
        raise ValueError(f"--features: column(s) {text} of {args.input} are not numeric")
    X = pd.DataFrame({c: table.column(c).to_numpy() for c in features})
    y = table.column(args.target).to_numpy()
    t0 = time.perf_counter()
    if args.groups:
        model = crmjit.BatchedLogisticRegression(C=args.C, max_iter=args.max_iter,
                                                 invalid="flag")
        model.fit(X, y, table.column(args.groups).to_numpy())
        what = f"{len(model.groups_):,} segment models"
    else:
        model = crmjit.LogisticRegression(C=args.C, max_iter=args.max_iter).fit(X, y)
        what = "one model"
    seconds = time.perf_counter() - t0
    model.save(args.model)
    print(f"fitted {what} on {len(y):,} rows x {len(features)} features in {seconds:.2f} s "
          f"-> {args.model}", file=out)
    return 0


def threading_main():
    import threading
    return threading.current_thread() is threading.main_thread()


def build_parser():
    parser = argparse.ArgumentParser(
        prog="crmjit",
        description="Numba-JIT customer analytics: CLV, CAC, propensity, synthetic customers.")
    parser.add_argument("--version", action="version", version=f"crmjit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
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
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=score)

    c = sub.add_parser("compile", help="compile every kernel into the cache ahead of time",
                       description="Compile every kernel signature the public API uses "
                       "into the cache, so that no later process compiles (a Docker image "
                       "build step, a CI cache). Prints the cache folder: set "
                       "CRMJIT_CACHE_DIR to choose it.")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=compile_kernels)
    return parser


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
