"""``crmjit clv``: a transaction log in (CSV or Parquet), one row per customer out: RFM,
P(alive), expected purchases and spend over the horizon, and CLV from a purchase model
(BG/NBD, Pareto/NBD or MBG/NBD: --model) and Gamma-Gamma fitted on the log (per segment
with --groups).  With --holdout-end the models
are first checked on the purchases after that date; --report writes plots and a summary."""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pandas as pd


def _groups_of(table, args, rfm_index):
    """Each customer's segment (a customer in two segments is an error)."""
    frame = pd.DataFrame({"id": table.column(args.customer_id).to_pandas(),
                          "g": table.column(args.groups).to_pandas()}).drop_duplicates()
    twice = frame.id[frame.id.duplicated()]
    if len(twice):
        raise ValueError(f"--groups column {args.groups!r}: customers in more than one "
                         f"segment, e.g. {twice.unique()[:5].tolist()}")
    return frame.set_index("id").g.reindex(rfm_index).to_numpy()


def _fit(rfm, groups, model, suffix=""):
    """(purchase model, Gamma-Gamma) fitted on RFM columns (frequency{suffix}, ...)."""
    from .btyd_clv import fit_pair
    return fit_pair(*(rfm[c + suffix] for c in ("frequency", "recency", "T",
                                                 "monetary_value")), groups, model)


def _values(rfm, bg, gg, groups, args):
    """The output frame: RFM, P(alive), expected purchases and spend, CLV."""
    import crmjit
    from .btyd_clv import FREQ_FACTOR
    f, r, T, m = (rfm[c] for c in ("frequency", "recency", "T", "monetary_value"))
    horizon = args.months * FREQ_FACTOR[args.freq]
    out = rfm.copy()
    out["p_alive"] = np.asarray(bg.p_alive(f, r, T, groups=groups))
    out["expected_purchases"] = np.asarray(bg.expected_purchases(horizon, f, r, T,
                                                                 groups=groups))
    out["expected_spend"] = out["expected_purchases"] * np.asarray(
        gg.expected_average_value(f, m, groups=groups))
    out["clv"] = np.asarray(crmjit.customer_lifetime_value(
        bg, gg, f, r, T, m, time=args.months, discount_rate=args.discount_rate,
        freq=args.freq, groups=groups))
    if groups is not None:
        out.insert(0, args.groups, groups)
    return out


def _write(frame, path):
    from .persist import atomic_write
    if str(path).lower().endswith(".csv"):
        atomic_write(path, lambda tmp: frame.to_csv(tmp))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq
        atomic_write(path, lambda tmp: pq.write_table(pa.Table.from_pandas(frame), tmp))


def clv_command(args, out=None):
    """Run the pipeline; prints what it did, returns 0."""
    import crmjit
    from ._progress import progress_bar
    from ._tables import read_table
    out = sys.stdout if out is None else out
    if args.report:
        _need_matplotlib()  # before any work: the report cannot be made without it
        report_dir(args.report)
    cols = [args.customer_id, args.date, args.amount] + ([args.groups] if args.groups else [])
    flags = ["--customer-id", "--date", "--amount"] + (["--groups"] if args.groups else [])
    steps = 5 if args.holdout_end else 4
    t0 = time.perf_counter()
    with progress_bar(total=steps, enabled=not args.quiet, desc="clv", unit="step") as bar:
        table = read_table(args.log, cols, flags)
        bar.update(1)
        kw = dict(freq=args.freq, monetary_value_col=args.amount)
        holdout = None
        if args.holdout_end:
            cal = crmjit.rfm_calibration_holdout(table, args.customer_id, args.date,
                                                 args.holdout_end, **kw)
            g_cal = _groups_of(table, args, cal.index) if args.groups else None
            bg_cal, gg_cal = _fit(cal, g_cal, args.model, "_cal")
            holdout = crmjit.holdout_report(bg_cal, cal, spend_model=gg_cal, groups=g_cal)
            bar.update(1)
        rfm = crmjit.rfm_summary(table, args.customer_id, args.date, args.amount,
                                 freq=args.freq)
        groups = _groups_of(table, args, rfm.index) if args.groups else None
        tracking = _tracking(table, holdout, args) if args.report else None
        n_txn = table.num_rows
        del table  # the log is summarised: its memory goes before the fits and the output
        bar.update(1)
        bg, gg = _fit(rfm, groups, args.model)
        bar.update(1)
        result = _values(rfm, bg, gg, groups, args)
        _write(result, args.output)
        bar.update(1)
    print(f"{n_txn:,} transactions, {len(result):,} customers -> {args.output} in "
          f"{time.perf_counter() - t0:.1f} s; CLV over {args.months} months: mean "
          f"{result.clv.mean():,.2f}, total {result.clv.sum():,.0f}", file=out)
    if holdout is not None:
        print(f"\nHoldout check (fitted up to {args.holdout_end}, checked on the purchases "
              f"after it):\n{holdout.to_markdown()}", file=out)
    if args.report:
        from ._clv_report import write_report
        files = write_report(args.report, result, bg, args, holdout=holdout,
                             tracking=tracking)
        print(f"report: {', '.join(files)}", file=out)
    return 0


def _tracking(table, holdout, args):
    """The calibration model's cumulative transactions over the whole log (for the report;
    None without a holdout check, or with segments)."""
    import crmjit
    if holdout is None or args.groups:
        return None
    log = table.select([args.customer_id, args.date]).to_pandas()
    days = pd.PeriodIndex(pd.to_datetime(log[args.date]), freq=args.freq)
    return crmjit.expected_cumulative_transactions(
        holdout.model, log, args.customer_id, args.date,
        int(days.max().ordinal - days.min().ordinal), freq=args.freq)


def _need_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("--report needs matplotlib: pip install 'crmjit[plot]'") from None


def report_dir(path):
    """The report folder, created; an existing path that is not a folder is an error."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"--report {path!r} exists and is not a folder")
    os.makedirs(path, exist_ok=True)
    return path
