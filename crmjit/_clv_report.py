"""``crmjit clv --report DIR``: the plots of the fitted models and a Markdown summary."""

from __future__ import annotations

import os

import numpy as np


def _save(ax, folder, name, files):
    import matplotlib.pyplot as plt

    from .persist import atomic_write
    path = os.path.join(folder, f"{name}.png")
    ax.figure.tight_layout()
    atomic_write(path, lambda tmp: ax.figure.savefig(tmp, dpi=80, format="png"))
    plt.close(ax.figure)
    files.append(path)


def write_report(folder, result, bg, args, *, holdout=None, tracking=None):
    """Plots (PNG) and summary.md in ``folder``; returns the paths written.  With segments,
    the matrices show the largest segment."""
    import matplotlib

    matplotlib.use("Agg")
    from . import plotting
    from .btyd_clv import FREQ_FACTOR
    from .persist import atomic_write

    files = []
    group = None
    if args.groups:
        group = result[args.groups].value_counts().index[0]
        mine = result[result[args.groups] == group]
    else:
        mine = result
    fmax = int(min(mine.frequency.max(), 30))
    rmax = max(1, int(mine["T"].max()))
    horizon = args.months * FREQ_FACTOR[args.freq]
    _save(plotting.plot_frequency_recency_matrix(bg, fmax, rmax, t=horizon, group=group),
          folder, "frequency_recency_matrix", files)
    _save(plotting.plot_probability_alive_matrix(bg, fmax, rmax, group=group), folder,
          "p_alive_matrix", files)
    _save(plotting.plot_clv_distribution(result.clv), folder, "clv_distribution", files)
    if not args.groups:
        _save(plotting.plot_period_transactions(bg, result.frequency, result["T"]), folder,
              "period_transactions", files)
    if holdout is not None:
        _save(plotting.plot_calibration_vs_holdout(holdout), folder, "calibration_vs_holdout",
              files)
    if tracking is not None:
        _save(plotting.plot_cumulative_transactions(tracking), folder,
              "cumulative_transactions", files)
        _save(plotting.plot_incremental_transactions(tracking), folder,
              "incremental_transactions", files)
    lines = [f"# CLV report: {args.log}", "",
             f"{len(result):,} customers; CLV over {args.months} months at "
             f"{args.discount_rate:g} a month (time unit {args.freq}).", "",
             "| | mean | median | total |", "|---|---:|---:|---:|"]
    for col in ("p_alive", "expected_purchases", "expected_spend", "clv"):
        v = result[col].to_numpy()
        lines.append(f"| {col} | {np.mean(v):,.4g} | {np.median(v):,.4g} | {np.sum(v):,.6g} |")
    params = bg.params_.to_frame().T if bg.params_.ndim == 1 else bg.params_
    lines += ["", f"{bg.NAME} parameters:", "", "| segment | " + " | ".join(params.columns) + " |",
              "|---|" + "---:|" * len(params.columns)]
    lines += [f"| {label} | " + " | ".join(f"{v:.6g}" for v in row) + " |"
              for label, row in zip(params.index, params.to_numpy())]
    if holdout is not None:
        lines += ["", f"Holdout check (fitted up to {args.holdout_end}):", "",
                  holdout.to_markdown()]
    lines += ["", "Plots: " + ", ".join(f"[{os.path.basename(f)}]({os.path.basename(f)})"
                                        for f in files)]
    summary = os.path.join(folder, "summary.md")
    text = "\n".join(lines) + "\n"

    def write(tmp):
        with open(tmp, "w") as fh:
            fh.write(text)
    atomic_write(summary, write)
    return files + [summary]
