"""Turn a pytest-benchmark JSON into the table README shows: crmjit beside each peer.

    python bench/report.py bench.json
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def rows(path):
    with open(path) as fh:
        doc = json.load(fh)
    runs = defaultdict(dict)
    machine = None
    for b in doc["benchmarks"]:
        info = b["extra_info"]
        runs[(info["work"], info["size"])][info["impl"]] = (b["stats"]["min"], info)
        machine = {k: info[k] for k in ("cpu", "cores", "numba_threads", "numba", "numpy",
                                        "sklearn", "python")}
    return runs, machine


def table(path):
    runs, machine = rows(path)
    out = [f"Machine: {machine['cpu']}, {machine['cores']} cores, numba threads "
           f"{machine['numba_threads']}; numba {machine['numba']}, numpy {machine['numpy']}, "
           f"scikit-learn {machine['sklearn']}, Python {machine['python']}", "",
           "| work | size | crmjit s | peer | peer s | speed-up | crmjit M items/s | "
           "floor / crmjit |",
           "|---|---|---|---|---|---|---|---|"]
    for (work, size), impls in sorted(runs.items()):
        if "crmjit" not in impls:
            continue
        t, info = impls["crmjit"]
        floor = impls.get("floor")
        frac = f"{floor[0] / t:.2f}" if floor else "-"
        for peer, (tp, _) in sorted(impls.items()):
            if peer == "crmjit":
                continue
            out.append(f"| {work} | {size:,} | {t:.4f} | {peer} | {tp:.4f} | {tp / t:.1f}x | "
                       f"{info['items'] / t / 1e6:.1f} | {frac} |")
    return "\n".join(out)


if __name__ == "__main__":
    print(table(sys.argv[1]))
