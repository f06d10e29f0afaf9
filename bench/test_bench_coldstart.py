"""First use: each public feature's first call in a fresh process with an empty cache
("crmjit", the cold time), the same with the cache that run left ("crmjit-warm"), and the
peer's first call on the same data in a fresh process (``bench/coldstart.py``).  The
report's ratio for these rows is peer / crmjit cold (below 1: the first call is slower
than the peer's, by its compile time).  The quick mode keeps a few rows, which CI tracks.
"""

from __future__ import annotations

import sys

import pytest

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import coldstart  # noqa: E402

ROWS = {"quick": list(coldstart.QUICK), "full": list(coldstart.ROWS)}
_MEASURED = {}


def _rows(config):
    return ROWS["quick" if config.getoption("--quick") else "full"]


def pytest_generate_tests(metafunc):
    if "feature" in metafunc.fixturenames:
        quick = metafunc.config.getoption("--quick")
        metafunc.parametrize("feature", ROWS["quick" if quick else "full"])


@pytest.mark.parametrize("impl", ["crmjit", "crmjit-warm", "peer"])
def test_first_call(benchmark, feature, impl):
    if feature not in _MEASURED:
        _MEASURED[feature] = coldstart.measure(feature)
    r = _MEASURED[feature]
    seconds = {"crmjit": r["cold"], "crmjit-warm": r["warm"], "peer": r["peer_s"]}[impl]
    name = r["peer"] if impl == "peer" else impl
    from conftest import MACHINE
    benchmark.group = f"first call {feature}"
    benchmark.extra_info.update(work=f"first call: {feature}", impl=name, size=1, items=1,
                                seconds=seconds, **MACHINE)
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    assert seconds > 0
