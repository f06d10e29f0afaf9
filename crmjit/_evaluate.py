"""How good are the scores: ``crmjit evaluate`` and ``crmjit score --target``.  Prints the
ROC AUC, log loss, Brier score and gains table of scored rows and writes them beside the
output: ``BASE.metrics.json``, ``BASE.gains.csv`` and, per segment, ``BASE.segments.csv``."""

from __future__ import annotations

import json
import os
import sys

import numpy as np


def read_columns(path, columns, flags):
    """{column: ndarray} of a Parquet file or folder, or a CSV file (``_tables``)."""
    from ._tables import read_table
    table = read_table(path, columns, flags)
    return {c: table.column(c).to_numpy() for c in columns}


def report_base(output):
    """The path an output's reports share: the output without its extension."""
    root, ext = os.path.splitext(os.fspath(output))
    return root if ext else os.fspath(output)


def evaluate(y, scores, groups=None, *, n_bins=10, base, names=("--target", "--score"),
             out=None):
    """Compute, print and write the metrics of scores (n,) against 0/1 labels y (n,),
    optionally per segment; returns the summary dict written to ``BASE.metrics.json``.
    Log loss and Brier score need probabilities: they are left out (null) when a score
    lies outside [0, 1].  ``names``: how errors name the labels and the scores."""
    from . import metrics
    from ._validation import binary_labels, check_finite
    from .persist import atomic_write

    out = sys.stdout if out is None else out
    try:
        y01 = binary_labels(y, names[0])
        scores = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{exc}") from None
    check_finite(scores, names[1])
    probabilities = bool(scores.size) and 0.0 <= scores.min() and scores.max() <= 1.0
    summary = {"rows": int(y01.shape[0]), "positives": int(y01.sum()),
               "roc_auc": metrics.roc_auc_score(y01, scores),
               "log_loss": metrics.log_loss(y01, scores) if probabilities else None,
               "brier_score": metrics.brier_score(y01, scores) if probabilities else None}
    gains = metrics.gains_table(y01, scores, n_bins)
    files = {"metrics": f"{base}.metrics.json", "gains": f"{base}.gains.csv"}
    segments = None
    if groups is not None:
        segments = _per_segment(y01, scores, groups, probabilities)
        files["segments"] = f"{base}.segments.csv"
        summary["segments"] = len(segments)
        summary["segments_without_auc"] = int(segments["roc_auc"].isna().sum())
    for key, path in files.items():
        if key == "metrics":
            text = json.dumps(summary, indent=2) + "\n"
        else:
            text = (gains if key == "gains" else segments).to_csv(index=False)
        atomic_write(path, lambda tmp, text=text: _write_text(tmp, text))
    _print(summary, gains, files, out)
    return summary


def _per_segment(y, scores, groups, probabilities):
    import pandas as pd

    from . import metrics
    kw = dict(groups=groups, zero_division="nan")
    auc = metrics.roc_auc_score(y, scores, **kw)
    frame = pd.DataFrame({"group": auc.index, "roc_auc": auc.to_numpy()})
    codes = pd.Index(auc.index).get_indexer(groups)
    frame.insert(1, "rows", np.bincount(codes, minlength=len(frame)))
    frame.insert(2, "positives", np.bincount(codes[y == 1], minlength=len(frame)))
    if probabilities:
        frame["log_loss"] = metrics.log_loss(y, scores, **kw).to_numpy()
        frame["brier_score"] = metrics.brier_score(y, scores, **kw).to_numpy()
    return frame


def _write_text(tmp, text):
    with open(tmp, "w") as fh:
        fh.write(text)


def _print(summary, gains, files, out):
    def fmt(v):
        return "n/a (scores are not probabilities)" if v is None else f"{v:.6f}"
    print(f"{summary['rows']:,} rows, {summary['positives']:,} positives: ROC AUC "
          f"{summary['roc_auc']:.6f}, log loss {fmt(summary['log_loss'])}, Brier score "
          f"{fmt(summary['brier_score'])}", file=out)
    if "segments" in summary:
        print(f"{summary['segments']:,} segments ({summary['segments_without_auc']:,} with "
              f"one class only: no AUC)", file=out)
    cols = ["bin", "customers", "positives", "response_rate", "cumulative_gain", "lift",
            "cumulative_lift"]
    shown = gains[cols].copy()
    for c in ("customers", "positives"):  # whole numbers unless weighted
        if (shown[c] == np.round(shown[c])).all():
            shown[c] = shown[c].astype(np.int64)
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"), file=out)
    print("wrote " + ", ".join(files.values()), file=out)


def evaluate_command(args, out=None):
    """``crmjit evaluate SCORES --target COL --score COL [--groups COL]``."""
    columns = [args.target, args.score] + ([args.groups] if args.groups else [])
    flags = ["--target", "--score"] + (["--groups"] if args.groups else [])
    data = read_columns(args.scores, columns, flags)
    base = args.report or report_base(args.scores)
    evaluate(data[args.target], data[args.score], data.get(args.groups), n_bins=args.bins,
             base=base, names=(f"--target column {args.target!r} of {args.scores}",
                               f"--score column {args.score!r} of {args.scores}"), out=out)
    return 0
