"""CLV with per-customer rate and lifespan against the NumPy expression a user would write,
the memory-read floor (NumPy ``.sum()`` over the same matrix) and the pure-Python
reference (small sizes only)."""

from __future__ import annotations

import numpy as np
import pytest

import crmjit
from crmjit import reference
from crmjit.data_gen import make_customers

N_PERIODS = 12
SIZES = {"quick": [100_000], "full": [10_000, 100_000, 1_000_000, 10_000_000]}


def numpy_clv(cf, rate, lifespan):
    """What a NumPy user writes: broadcast discount factors, mask past lifespan, sum."""
    t = np.arange(1, cf.shape[1] + 1)
    disc = (1.0 + rate[:, None]) ** -t
    return (cf * disc * (t <= lifespan[:, None])).sum(axis=1)


IMPLS = {
    "crmjit": lambda c: (lambda: crmjit.clv(c.cash_flows, c.rate, c.lifespan)),
    "numpy": lambda c: (lambda: numpy_clv(c.cash_flows, c.rate, c.lifespan)),
    "floor": lambda c: (lambda: c.cash_flows.sum()),
    "reference": lambda c: (lambda r=(c.cash_flows.tolist(), c.rate.tolist(),
                                      c.lifespan.tolist()): reference.clv_matrix(*r)),
}
_DATA = {}


def data(n):
    if n not in _DATA:
        _DATA.clear()
        _DATA[n] = make_customers(n, n_features=1, n_periods=N_PERIODS, seed=0)
    return _DATA[n]


@pytest.mark.parametrize("impl", list(IMPLS))
def test_clv(record, impl, n):
    if impl == "reference" and n > 100_000:
        pytest.skip("the pure-Python reference is timed up to 1e5 customers only")
    c = data(n)
    func = IMPLS[impl](c)
    rounds = 1 if impl == "reference" else None
    record(func, work="clv", impl=impl, size=n, items=n, rounds=rounds)
    if impl == "numpy":
        np.testing.assert_allclose(func(), crmjit.clv(c.cash_flows, c.rate, c.lifespan),
                                   rtol=1e-10)
