"""The data commands of the ``crmjit`` command line: ``generate``, ``fit`` and ``score``
(Parquet in, Parquet or a saved model out).  Bad data is one line on stderr and exit
status 1."""

from __future__ import annotations

import sys
import time

import numpy as np


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
    if args.target:
        from ._evaluate import evaluate, read_columns, report_base
        y = read_columns(args.input, [args.target], ["--target"])[args.target]
        scores = read_columns(args.output, ["score"], ["score"])["score"]
        evaluate(y, scores, base=report_base(args.output),
                 names=(f"--target column {args.target!r} of {args.input}", "score"), out=out)
    return 0


@_pipeline_errors
def evaluate(args, out=None):
    """Evaluate a scored file (``crmjit._evaluate``)."""
    from ._evaluate import evaluate_command
    return evaluate_command(args, out)


def pa_numeric(t):
    """Whether an Arrow type holds numbers (integers, floats, booleans)."""
    import pyarrow as pa
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)


@_pipeline_errors
def fit(args, out=None):
    """Fit a propensity model (one, or one per segment) on Parquet columns and save it."""
    import pandas as pd

    import crmjit

    from ._tables import column_names, read_table
    out = sys.stdout if out is None else out
    features = _match_features(_columns(args.features), column_names(args.input))
    for c, flag in ((args.target, "--target"), (args.groups, "--groups")):
        if c in features:
            raise ValueError(f"--features {args.features!r} includes the {flag} column {c!r}")
    extra = [(args.target, "--target")] + ([(args.groups, "--groups")] if args.groups else [])
    table = read_table(args.input, features + [c for c, _ in extra],
                       ["--features"] * len(features) + [f for _, f in extra])
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


@_pipeline_errors
def clv(args, out=None):
    """The transaction log to CLV pipeline (``crmjit._clv_cli``)."""
    from ._clv_cli import clv_command
    return clv_command(args, out)
