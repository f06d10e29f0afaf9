"""Shared benchmark plumbing: sizes (quick/full), machine info, per-run records.

Run:  pytest bench -n 0 --benchmark-json=bench.json [--quick]
(``-n 0``: the test configuration runs pytest in two worker processes, which would time
each benchmark beside another one; ``crmjit bench`` passes it.)
"""

from __future__ import annotations

import os
import platform
import tracemalloc

import numba
import numpy as np
import pytest
import sklearn

QUICK_ENV = "CRMJIT_BENCH_QUICK"


def pytest_configure(config):
    if getattr(config.option, "numprocesses", None):
        raise pytest.UsageError("benchmarks run in one process: pass -n 0")


def pytest_addoption(parser):
    parser.addoption("--quick", action="store_true", default=False,
                     help="small sizes only (the whole suite in well under 3 minutes)")


def quick(config) -> bool:
    return bool(config.getoption("--quick")) or os.environ.get(QUICK_ENV, "") not in ("", "0")


def pytest_generate_tests(metafunc):
    """A bench module declares ``SIZES = {"quick": [...], "full": [...]}``; tests that take
    ``n`` run over the sizes of the chosen mode."""
    table = getattr(metafunc.module, "SIZES", None)
    if table and "n" in metafunc.fixturenames:
        metafunc.parametrize("n", table["quick" if quick(metafunc.config) else "full"])


def cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


MACHINE = {
    "cpu": cpu_model(),
    "cores": os.cpu_count(),
    "numba_threads": numba.get_num_threads(),
    "numba": numba.__version__,
    "numpy": np.__version__,
    "sklearn": sklearn.__version__,
    "python": platform.python_version(),
}


def peak_bytes(func):
    """Peak bytes NumPy (and Python) allocated during one call (tracemalloc)."""
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def pytest_benchmark_update_json(config, benchmarks, output_json):
    """Store, in each crmjit benchmark's extra_info, its ratio to every peer measured in the
    same run on the same work and size: ``ratio_to[peer] = peer seconds / crmjit seconds``
    (> 1: crmjit is faster; a sampled peer's ``scale`` is applied).  Per-round timings are
    dropped to keep the JSON small (the summary statistics stay)."""
    groups = {}
    for b in output_json["benchmarks"]:
        b["stats"].pop("data", None)  # every round's time: megabytes, and unused here
        info = b.get("extra_info", {})
        if "work" in info:
            sec = float(info.get("seconds", b["stats"]["min"])) * float(info.get("scale", 1.0))
            groups.setdefault((info["work"], info["size"]), {})[info["impl"]] = (sec, info)
            for peer, psec in info.get("peers", {}).items():  # timed in the same test
                groups[(info["work"], info["size"])][peer] = (float(psec), info)
    for impls in groups.values():
        if "crmjit" in impls:
            base, info = impls["crmjit"]
            info["ratio_to"] = {peer: sec / base for peer, (sec, _) in impls.items()
                                if peer != "crmjit"}


@pytest.fixture
def record(benchmark):
    """Time ``func`` with pytest-benchmark and store work, size, impl, items/s and memory."""

    def _record(func, *, work, impl, size, items, rounds=None, warmup=True, setup_peak=True):
        if warmup:
            func()  # JIT compile / load from cache outside the timing
        benchmark.group = f"{work} n={size:,}"
        benchmark.extra_info.update(work=work, impl=impl, size=size, items=items, **MACHINE)
        if setup_peak:
            benchmark.extra_info["peak_bytes"] = peak_bytes(func)
        if rounds:
            result = benchmark.pedantic(func, rounds=rounds, iterations=1, warmup_rounds=0)
        else:
            result = benchmark(func)
        benchmark.extra_info["items_per_s"] = items / benchmark.stats.stats.min
        return result

    return _record
