"""Concurrent calls from Python threads, under every numba threading layer this machine
has: crmjit runs its parallel work on threads of its own, so no layer's limits apply (the
workqueue layer aborts the process on concurrent launches of numba parallel kernels)."""

import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import threading
import numpy as np
import crmjit
rng = np.random.default_rng(0)
X = rng.standard_normal((500_000, 16))
w = rng.standard_normal(16)
want = crmjit.predict_proba(X, w, 0.1)
c = crmjit.data_gen.make_customers(60_000, n_features=4, n_segments=30, seed=2)
m_want = crmjit.BatchedLogisticRegression().fit(c.X, c.y, c.segment).coef_
got, errors = {}, []
def work(i):
    try:
        got[i] = (crmjit.predict_proba(X, w, 0.1),
                  crmjit.BatchedLogisticRegression().fit(c.X, c.y, c.segment).coef_)
    except Exception as exc:  # reported below
        errors.append(repr(exc))
threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert not errors, errors
for p, coef in got.values():
    assert np.array_equal(p, want) and np.array_equal(coef, m_want)
import numba
print("LAYER", numba.config.THREADING_LAYER, len(got))
"""


def available_layers():
    layers = ["workqueue"]
    for name, module in (("omp", "numba.np.ufunc.omppool"), ("tbb", "numba.np.ufunc.tbbpool")):
        try:
            __import__(module)
            layers.append(name)
        except Exception:  # this layer's library is not installed
            continue
    return layers


@pytest.mark.parametrize("layer", available_layers())
def test_concurrent_calls_under_every_layer(layer):
    env = {**os.environ, "NUMBA_THREADING_LAYER": layer}  # the session's kernel cache
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"LAYER {layer} 4" in done.stdout
