"""Benchmark report: pytest-benchmark JSON -> a Markdown table, a throughput plot, and a
ratio comparison between two runs.

Everything is reported as ratios against peers measured in the same run (crmjit time vs
scikit-learn / NumPy / lifetimes time on the same data and machine), because CI machines
are shared and noisy: absolute times move with the neighbours, ratios much less.
"""

from __future__ import annotations

import json
from collections import defaultdict

FLOOR = "floor"
#: rows that are times of single calls, not throughput: in the table, not the plot
NOT_THROUGHPUT = ("first call", "p99 latency", "GridSearchCV")
MACHINE_KEYS = ("cpu", "cores", "numba_threads", "numba", "numpy", "sklearn", "python")


def load(path):
    """{(work, size): {impl: record}} and the machine, from a pytest-benchmark JSON file.

    A record's ``seconds`` is the fastest round, multiplied by ``extra_info["scale"]`` when
    the benchmark timed a sample (the scikit-learn loop over segments) and scaled it up.
    """
    with open(path) as fh:
        doc = json.load(fh)
    runs = defaultdict(dict)
    machine = {}
    for b in doc.get("benchmarks", []):
        info = b.get("extra_info", {})
        if "work" not in info:
            continue
        scale = float(info.get("scale", 1.0))
        runs[(info["work"], int(info["size"]))][info["impl"]] = {
            # a row measured outside pytest-benchmark (a fresh process) states its seconds
            "seconds": float(info.get("seconds", b["stats"]["min"])) * scale,
            "items": int(info["items"] * scale),
            # tracemalloc's peak, or a whole process's peak RSS where Arrow allocates
            "peak_bytes": (info.get("peak_bytes") if "peak_rss_mib" not in info
                           else info["peak_rss_mib"] * 2**20),
            "scaled": scale != 1.0,
        }
        for peer, sec in info.get("peers", {}).items():  # peers timed in the same test
            runs[(info["work"], int(info["size"]))][peer] = {
                "seconds": float(sec), "items": int(info["items"]), "peak_bytes": None,
                "scaled": False}
        machine = {k: info.get(k) for k in MACHINE_KEYS}
    return dict(runs), machine


def ratios(runs):
    """{(work, size, peer): peer seconds / crmjit seconds} (> 1: crmjit is faster)."""
    out = {}
    for (work, size), impls in runs.items():
        if "crmjit" not in impls:
            continue
        base = impls["crmjit"]["seconds"]
        for peer, rec in impls.items():
            if peer != "crmjit" and base > 0:
                out[(work, size, peer)] = rec["seconds"] / base
    return out


def machine_line(machine):
    return (f"{machine.get('cpu')}, {machine.get('cores')} cores, numba threads "
            f"{machine.get('numba_threads')}; numba {machine.get('numba')}, numpy "
            f"{machine.get('numpy')}, scikit-learn {machine.get('sklearn')}, Python "
            f"{machine.get('python')}")


def table(runs, machine):
    """Markdown: work, size, crmjit time, each peer's time, ratio, throughput, floor."""
    lines = [f"Machine: {machine_line(machine)}", "",
             "| work | size | crmjit s | peer | peer s | peer / crmjit | crmjit items/s | "
             "floor s / crmjit s | crmjit peak MiB |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|"]
    for (work, size), impls in sorted(runs.items()):
        if "crmjit" not in impls:
            continue
        me = impls["crmjit"]
        floor = impls.get(FLOOR)
        frac = f"{floor['seconds'] / me['seconds']:.2f}" if floor else "-"
        peak = f"{me['peak_bytes'] / 2**20:.0f}" if me.get("peak_bytes") is not None else "-"
        peers = sorted((p, r) for p, r in impls.items() if p != "crmjit")
        if not peers:  # a size only crmjit runs (e.g. 100M transactions)
            lines.append(f"| {work} | {size:,} | {me['seconds']:.4f} | - | - | - | "
                         f"{me['items'] / me['seconds']:.3g} | {frac} | {peak} |")
        for peer, rec in peers:
            note = " (scaled from a sample)" if rec["scaled"] else ""
            lines.append(f"| {work} | {size:,} | {me['seconds']:.4f} | {peer}{note} | "
                         f"{rec['seconds']:.4f} | {rec['seconds'] / me['seconds']:.2f}x | "
                         f"{me['items'] / me['seconds']:.3g} | {frac} | {peak} |")
    return "\n".join(lines) + "\n"


def plot(runs, path):
    """throughput (items/s) against size, log axes, one panel per kind of work."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    works = sorted({w for w, _ in runs if not w.startswith(NOT_THROUGHPUT)})
    cols = min(3, max(1, len(works)))
    rows = -(-len(works) // cols) if works else 1
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    for ax, work in zip(axes.flat, works):
        series = defaultdict(list)
        for (w, size), impls in sorted(runs.items()):
            if w == work:
                for impl, rec in impls.items():
                    series[impl].append((size, rec["items"] / rec["seconds"]))
        for impl, pts in sorted(series.items()):
            xs, ys = zip(*sorted(pts))
            ax.plot(xs, ys, marker="o", lw=2.5 if impl == "crmjit" else 1.2, label=impl)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(work, fontsize=10)
        ax.set_xlabel("size (customers / rows)")
        ax.set_ylabel("items per second")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(works):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def compare(old_path, new_path, threshold=0.25):
    """Lines describing every crmjit-to-peer ratio that fell by more than ``threshold``
    (a fraction) from the old run to the new one; empty when none did."""
    old, _ = load(old_path)
    new, _ = load(new_path)
    r_old, r_new = ratios(old), ratios(new)
    worse = []
    for key in sorted(set(r_old) & set(r_new)):
        if r_new[key] < r_old[key] * (1.0 - threshold):
            work, size, peer = key
            worse.append(f"{work} n={size:,} vs {peer}: {r_old[key]:.2f}x -> "
                         f"{r_new[key]:.2f}x ({r_new[key] / r_old[key] - 1:+.0%})")
    return worse, len(set(r_old) & set(r_new))


def write(json_path, out_dir):
    """report.md and throughput.png in out_dir from a benchmark JSON; returns the table."""
    import os

    runs, machine = load(json_path)
    md = table(runs, machine)
    with open(os.path.join(out_dir, "report.md"), "w") as fh:
        fh.write("# crmjit benchmark report\n\nRatios are peer time / crmjit time measured in "
                 "the same run (> 1: crmjit is faster).\n\n" + md)
    plot(runs, os.path.join(out_dir, "throughput.png"))
    return md
