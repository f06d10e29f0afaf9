"""Synthetic customers: crmjit's counter-based parallel generator against NumPy's
``default_rng`` drawing the same number of normals (features and cash flows) serially."""

from __future__ import annotations

import numpy as np

from crmjit.data_gen import make_customers

SIZES = {"quick": [200_000], "full": [10_000, 100_000, 1_000_000, 10_000_000]}


def numpy_normals(n):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 16)), rng.standard_normal((n, 12))


def test_generate(record, n):
    record(lambda: make_customers(n, seed=0), work="generate", impl="crmjit", size=n, items=n,
           rounds=1 if n >= 1_000_000 else None)


def test_generate_numpy(record, n):
    record(lambda: numpy_normals(n), work="generate", impl="numpy-rng", size=n, items=n,
           rounds=1 if n >= 1_000_000 else None)
