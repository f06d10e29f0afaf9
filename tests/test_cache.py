"""The kernel cache: where it lives, that a damaged entry is recompiled with a warning
instead of failing for good, and that the plain fallbacks of the LLVM intrinsics give the
same results as the intrinsics."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

CALL = """
import numpy as np, crmjit
rng = np.random.default_rng(3)
X = rng.standard_normal((3000, 6))
y = (rng.random(3000) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
m = crmjit.LogisticRegression().fit(X, y)
p = crmjit.predict_proba(X, m.coef_[0], m.intercept_[0])
b = crmjit.BatchedLogisticRegression().fit(X, y, np.arange(3000) % 7)
v = crmjit.clv(np.abs(X), 0.01)
np.save({out!r}, np.concatenate([m.coef_.ravel(), p, b.coef_.ravel(), v]))
"""

SMALL = """
import numpy as np, crmjit
rng = np.random.default_rng(3)
X = rng.standard_normal((3000, 6))
p = crmjit.predict_proba(X, X[0], 0.1)
v = crmjit.clv(np.abs(X), 0.01)
np.save({out!r}, np.concatenate([p, v]))
"""


def run(code, env, check=True):
    done = subprocess.run([sys.executable, "-W", "always", "-c", code],
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=600)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_cache_dir_follows_the_environment(tmp_path):
    code = "from crmjit.kernels._jit import cache_dir; print(cache_dir())"
    env = {k: "" for k in ("CRMJIT_CACHE_DIR", "NUMBA_CACHE_DIR", "CRMJIT_NO_INTRINSICS")}
    home = run(code, {**env, "XDG_CACHE_HOME": str(tmp_path)}).stdout.strip()
    assert pathlib.Path(home).parent == tmp_path / "crmjit"
    mine = run(code, {**env, "CRMJIT_CACHE_DIR": str(tmp_path / "c")}).stdout.strip()
    assert pathlib.Path(mine).parent == tmp_path / "c"
    numba_dir = run(code, {**env, "NUMBA_CACHE_DIR": str(tmp_path / "n")}).stdout.strip()
    assert pathlib.Path(numba_dir).parent == tmp_path / "n"
    plain = run(code, {**env, "CRMJIT_CACHE_DIR": str(tmp_path / "c"),
                       "CRMJIT_NO_INTRINSICS": "1"}).stdout.strip()
    assert plain != mine and plain.endswith("-plain")


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_cache_entry_is_recompiled_with_a_warning(tmp_path, damage):
    env = {"CRMJIT_CACHE_DIR": str(tmp_path / "cache"), "NUMBA_CACHE_DIR": ""}
    first = tmp_path / "first.npy"
    run(SMALL.format(out=str(first)), env)
    files = sorted((tmp_path / "cache").rglob("*.nbc"))
    assert files
    for f in files[::3]:  # every third compiled kernel, data and index alike
        data = f.read_bytes()
        f.write_bytes(data[: len(data) // 2] if damage == "truncate"
                      else data[:100] + bytes(b ^ 0xFF for b in data[100:400]) + data[400:])
    for f in sorted((tmp_path / "cache").rglob("*.nbi"))[::4]:
        f.write_bytes(f.read_bytes()[:20])
    second = tmp_path / "second.npy"
    done = run(SMALL.format(out=str(second)), env)
    assert "recompiled" in done.stderr and str(tmp_path / "cache") in done.stderr
    np.testing.assert_array_equal(np.load(first), np.load(second))
    third = tmp_path / "third.npy"
    healed = run(SMALL.format(out=str(third)), env)  # the entries were written again
    assert "recompiled" not in healed.stderr
    np.testing.assert_array_equal(np.load(first), np.load(third))


def test_plain_fallbacks_give_the_same_results(tmp_path):
    """Part of the suite with CRMJIT_NO_INTRINSICS=1: fits and scores equal to the bit
    (the session's cache for the intrinsics build; the plain build caches apart).  The
    BG/NBD passes' log takes the bits of a float, whose plain fallback is exact
    (``test_bits_from_float_fallback_encodes_every_kind_of_float``)."""
    outs = {}
    for plain in ("0", "1"):
        out = tmp_path / f"{plain}.npy"
        done = run(CALL.format(out=str(out)) + "from crmjit.kernels._jit import cache_dir\n"
                   "print(cache_dir())", {"CRMJIT_NO_INTRINSICS": plain})
        outs[plain] = (np.load(out), done.stdout.strip())
    np.testing.assert_array_equal(outs["0"][0], outs["1"][0])
    assert outs["1"][1].endswith("-plain") and not outs["0"][1].endswith("-plain")


def test_bits_from_float_fallback_encodes_every_kind_of_float():
    from crmjit.kernels import _jit
    values = np.array([0.0, -0.0, 1.0, -2.5, 5e-324, -5e-324, 2.2250738585072014e-308,
                       2.225073858507201e-308, 1.7976931348623157e308, np.inf, -np.inf,
                       2.0 ** -1022, 2.0 ** -1074 * 12345, 3.14159, np.nextafter(1.0, 2.0)])
    for v in values:
        assert _jit._encode(v) == np.array([v]).view(np.int64)[0], v
    assert _jit._encode(np.nan) == np.array([np.nan]).view(np.int64)[0]


def test_float_from_bits_fallback_decodes_every_kind_of_float():
    from crmjit.kernels import _jit
    import numba

    @numba.njit
    def plain64(bits):
        return _jit._decode(bits, 52, 11, np.float64)

    @numba.njit
    def plain32(bits):
        return _jit._decode(np.int64(bits), 23, 8, np.float32)

    values = np.array([0.0, -0.0, 1.0, -2.5, 5e-324, 2.2250738585072014e-308, 1.7e308,
                       np.inf, -np.inf, 2.0 ** -1022, 3.14159])
    for v in values:
        bits = np.array([v]).view(np.int64)[0]
        got = plain64(bits)
        assert got == v and np.signbit(got) == np.signbit(v)
    assert np.isnan(plain64(np.array([np.nan]).view(np.int64)[0]))
    for v in np.array([0.0, 1.0, -3.5, 1e-45, 1.1754944e-38, 3.4e38, np.inf], np.float32):
        bits = np.array([v], np.float32).view(np.int32)[0]
        assert plain32(bits) == v


PREWARMED = """
import warnings
import numpy as np
from numba.core import event
import crmjit
from crmjit.data_gen import make_rfm
compiled = []
class Listen(event.Listener):
    def on_start(self, ev):
        compiled.append(ev.data["dispatcher"].py_func.__qualname__)
    def on_end(self, ev):
        pass
event.register("numba:compile", Listen())
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


def test_prewarmed_probabilistic_fits_compile_nothing(tmp_path):
    """After the pre-warm step of ``crmjit compile`` for the probabilistic fits (part of
    its BTYD step), those fits compile nothing: with and without weights (a float or an
    array reaches the kernels), segments, the warm start's subsample, writable or
    read-only inputs."""
    env = {"CRMJIT_CACHE_DIR": str(tmp_path), "NUMBA_CACHE_DIR": str(tmp_path)}
    run("from crmjit._compile import _btyd_fits\n_btyd_fits()", env)
    done = run(PREWARMED, env)
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("COMPILED")][0]
    assert line == "COMPILED []", line


def test_cache_folder_changes_with_any_kernel_source(tmp_path):
    """A cached kernel holds its callees' code, which numba does not check: the folder is
    named by a digest of every kernel source, so an edit to a callee's file (here
    elementwise.py, whose helpers the training and BG/NBD passes inline) moves it."""
    import shutil
    from crmjit.kernels import _jit
    here = pathlib.Path(_jit.__file__).parent
    copy = tmp_path / "kernels"
    shutil.copytree(here, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert _jit._sources_digest(copy) == _jit._sources_digest()
    assert _jit._sources_digest() in _jit.cache_dir().name
    with open(copy / "elementwise.py", "a") as f:
        f.write("\n# an edit\n")
    _jit._sources_digest.cache_clear()
    assert _jit._sources_digest(copy) != _jit._sources_digest()



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
def test_a_first_fit_has_a_helper_compile_the_solver(tmp_path, allowed):
    """The first fit of a fresh environment has a helper process compile the Newton
    solver's kernels into the cache while it compiles its own passes, and waits for it
    before its first Newton step: it loads them (a cache hit), where
    ``CRMJIT_COMPILE_HELPER=0`` or a single core has it compile them itself (a miss)."""
    env = {"CRMJIT_CACHE_DIR": str(tmp_path), "NUMBA_CACHE_DIR": "",
           "CRMJIT_COMPILE_HELPER": allowed}
    line = [ln for ln in run(SOLVER, env).stdout.splitlines() if ln.startswith("SOLVER")][0]
    hits, misses, cores = map(int, line.split()[1:])
    helped = allowed == "" and cores >= 2
    assert (hits, misses) == ((1, 0) if helped else (0, 1)), line
    again = [ln for ln in run(SOLVER, env).stdout.splitlines() if ln.startswith("SOLVER")][0]
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
def test_a_first_call_helper_compiles_what_the_fit_uses(tmp_path, warm):
    """What each first-call helper compiles (``crmjit._compile.warm_*``) is what the fit
    then uses, signature for signature: after it, the fit loads every one of those kernels
    from the cache and compiles none of them."""
    env = {"CRMJIT_CACHE_DIR": str(tmp_path), "NUMBA_CACHE_DIR": "",
           "CRMJIT_COMPILE_HELPER": "0"}
    run(f"from crmjit._compile import {warm}; {warm}()", env)
    fit, kernels = HELPED[warm]
    rows = [ln.split()[1:] for ln in run(WARMED.format(fit=fit, kernels=kernels),
                                         env).stdout.splitlines() if ln.startswith("KERNEL")]
    assert len(rows) == 6 and all(r[1:] == ["1", "0"] for r in rows), rows


AFTER_COMPILE = """
import numpy as np
from numba.core import event
import crmjit
from crmjit import metrics
from crmjit.data_gen import make_customers, make_rfm
compiled = []
class Listen(event.Listener):
    def on_start(self, ev):
        compiled.append(ev.data["dispatcher"].py_func.__qualname__)
    def on_end(self, ev):
        pass
event.register("numba:compile", Listen())
for dtype in (np.float64, np.float32):
    c = make_customers(5000, n_features=4, n_segments=3, seed=4, dtype=dtype)
    m = crmjit.LogisticRegression().fit(c.X, c.y)
    p = m.predict_proba(c.X)[:, 1]
    crmjit.BatchedLogisticRegression().fit(c.X, c.y, c.segment).predict_proba(c.X, c.segment)
    crmjit.clv(c.cash_flows, c.rate, c.lifespan)
    metrics.roc_auc_score(c.y, p)
rfm = make_rfm(3000, seed=2)
crmjit.BetaGeoModel().fit(rfm.frequency, rfm.recency, rfm["T"])
print("COMPILED", sorted(set(compiled)))
"""


def test_crmjit_compile_leaves_the_common_calls_nothing_to_compile(tmp_path):
    """``crmjit compile`` (its steps split with a helper process taking them last first)
    fills the cache: afterwards propensity fits and scores, per-segment fits, CLV, AUC and
    a BG/NBD fit, in float64 and float32, compile nothing."""
    env = {"CRMJIT_CACHE_DIR": str(tmp_path), "NUMBA_CACHE_DIR": ""}
    done = subprocess.run([sys.executable, "-m", "crmjit", "compile", "--quiet"],
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    line = [ln for ln in run(AFTER_COMPILE, env).stdout.splitlines()
            if ln.startswith("COMPILED")][0]
    assert line == "COMPILED []", line
