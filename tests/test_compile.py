"""Compiling ahead of time and the first-call helpers: ``crmjit compile`` and its
pre-warm steps leave the common calls nothing to compile, and the helper process a first
fit starts compiles exactly what that fit then loads."""

import pytest

LISTEN = """
from numba.core import event
compiled = []
class Listen(event.Listener):
    def on_start(self, ev):
        compiled.append(ev.data["dispatcher"].py_func.__qualname__)
    def on_end(self, ev):
        pass
event.register("numba:compile", Listen())
"""  # a script's prefix: the kernels it compiles, in ``compiled``

PREWARMED = LISTEN + """
import warnings
import numpy as np
import crmjit
from crmjit.data_gen import make_rfm
rfm = make_rfm(60_000, seed=2)  # above the warm start's size: its subsample pass too
f, r, T, m = rfm.frequency, rfm.recency, rfm["T"], rfm.monetary_value
w = np.random.default_rng(0).uniform(0.5, 2.0, len(rfm))
g = np.arange(len(rfm)) % 3
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    for weights in (None, w):
        for groups in (None, g):
            for cls in (crmjit.BetaGeoModel, crmjit.ModifiedBetaGeoModel,
                        crmjit.ParetoNBDModel):
                cls(max_iter=4).fit(f.to_numpy(), r, T, weights=weights, groups=groups)
            crmjit.GammaGammaModel(max_iter=4).fit(f, m, weights=weights, groups=groups)
print("COMPILED", sorted(set(compiled)))
"""


def test_prewarmed_probabilistic_fits_compile_nothing(tmp_path, run_python):
    """After the pre-warm step of ``crmjit compile`` for the probabilistic fits (part of
    its BTYD step), those fits compile nothing: with and without weights (a float or an
    array reaches the kernels), segments, the warm start's subsample, writable or
    read-only inputs."""
    env = {"CRMJIT_CACHE_DIR": str(tmp_path), "NUMBA_CACHE_DIR": str(tmp_path)}
    run_python("from crmjit._compile import _btyd_fits\n_btyd_fits()", env)
    done = run_python(PREWARMED, env)
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("COMPILED")][0]
    assert line == "COMPILED []", line


SOLVER = """
import os, numpy as np, crmjit
from crmjit.kernels.newton import _newton_directions
from crmjit.data_gen import make_rfm
d = make_rfm(500, seed=0)
crmjit.BetaGeoModel().fit(d.frequency, d.recency, d["T"])
cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
print("SOLVER", sum(_newton_directions.stats.cache_hits.values()),
      sum(_newton_directions.stats.cache_misses.values()), cores)
"""


@pytest.mark.parametrize("allowed", ["", "0"])
def test_a_first_fit_has_a_helper_compile_the_solver(tmp_path, allowed,
                                                     run_python):
    """The first fit of a fresh environment has a helper process compile the Newton
    solver's kernels into the cache while it compiles its own passes, and waits for it
    before its first Newton step: it loads them (a cache hit), where
    ``CRMJIT_COMPILE_HELPER=0`` or a single core has it compile them itself (a miss)."""
    env = {"CRMJIT_CACHE_DIR": str(tmp_path), "NUMBA_CACHE_DIR": "",
           "CRMJIT_COMPILE_HELPER": allowed}
    out = run_python(SOLVER, env).stdout.splitlines()
    line = [ln for ln in out if ln.startswith("SOLVER")][0]
    hits, misses, cores = map(int, line.split()[1:])
    helped = allowed == "" and cores >= 2
    assert (hits, misses) == ((1, 0) if helped else (0, 1)), line
    out = run_python(SOLVER, env).stdout.splitlines()
    again = [ln for ln in out if ln.startswith("SOLVER")][0]
    assert again.split()[1:3] == ["1", "0"], again  # now in the cache either way


WARMED = """
import numpy as np, crmjit
from crmjit.kernels import logloss, newton, passes
rng = np.random.default_rng(0)
X = rng.standard_normal((3000, 4))
y = (rng.random(3000) < 0.4).astype(int)
{fit}
for k in {kernels}:
    print("KERNEL", k.__name__, sum(k.stats.cache_hits.values()),
          sum(k.stats.cache_misses.values()))
"""

HELPED = {
    "warm_logistic": ("crmjit.LogisticRegression().fit(X, y)",
                      "[logloss._row_terms, logloss._hess_upper, passes._merge_parts, "
                      "newton._newton_directions, newton._accept_all, newton._converged_all]"),
    "warm_batched": ("crmjit.BatchedLogisticRegression().fit(X, y, np.arange(3000) % 5)",
                     "[logloss._row_terms, logloss._hess_upper, newton._newton_direction, "
                     "newton._accept, newton._converged, newton._lagged]"),
}


@pytest.mark.parametrize("warm", sorted(HELPED))
def test_a_first_call_helper_compiles_what_the_fit_uses(tmp_path, warm,
                                                        run_python):
    """What each first-call helper compiles (``crmjit._compile.warm_*``) is what the fit
    then uses, signature for signature: after it, the fit loads every one of those kernels
    from the cache and compiles none of them."""
    env = {"CRMJIT_CACHE_DIR": str(tmp_path), "NUMBA_CACHE_DIR": "",
           "CRMJIT_COMPILE_HELPER": "0"}
    run_python(f"from crmjit._compile import {warm}; {warm}()", env)
    fit, kernels = HELPED[warm]
    rows = [ln.split()[1:] for ln in run_python(WARMED.format(fit=fit, kernels=kernels),
                                         env).stdout.splitlines() if ln.startswith("KERNEL")]
    assert len(rows) == 6 and all(r[1:] == ["1", "0"] for r in rows), rows


AFTER_COMPILE = LISTEN + """
import numpy as np
import crmjit
from crmjit import metrics
from crmjit.data_gen import make_customers
for dtype in (np.float64, np.float32):
    c = make_customers(5000, n_features=4, n_segments=3, seed=4, dtype=dtype)
    m = crmjit.LogisticRegression().fit(c.X, c.y)
    p = m.predict_proba(c.X)[:, 1]
    crmjit.BatchedLogisticRegression().fit(c.X, c.y, c.segment).predict_proba(c.X, c.segment)
    crmjit.clv(c.cash_flows, c.rate, c.lifespan)
    metrics.roc_auc_score(c.y, p)
print("COMPILED", sorted(set(compiled)))
"""


def test_the_prewarm_steps_leave_the_common_calls_nothing_to_compile(tmp_path, run_python):
    """The steps of ``crmjit compile`` (propensity in float64 and float32, CLV, metrics)
    fill the cache: afterwards propensity fits and scores, per-segment fits, CLV and AUC
    on ``make_customers`` data, in float64 and float32, compile nothing.  (The BG/NBD
    step: ``test_prewarmed_probabilistic_fits_compile_nothing``; the command itself runs
    in ``tests/test_readme.py``.)"""
    env = {"CRMJIT_CACHE_DIR": str(tmp_path), "NUMBA_CACHE_DIR": "",
           "CRMJIT_COMPILE_HELPER": "0"}
    run_python("import numpy as np\nfrom crmjit import _compile as c\n"
               "c._propensity(np.float64); c._propensity(np.float32); c._value(); "
               "c._metrics()", env)
    line = [ln for ln in run_python(AFTER_COMPILE, env).stdout.splitlines()
            if ln.startswith("COMPILED")][0]
    assert line == "COMPILED []", line
