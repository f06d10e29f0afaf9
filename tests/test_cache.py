"""The kernel cache: where it lives, that a damaged entry is recompiled with a warning
instead of failing for good, and that the plain fallbacks of the LLVM intrinsics give the
same results as the intrinsics."""

import pathlib

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


def test_cache_dir_follows_the_environment(tmp_path, run_python):
    code = "from crmjit.kernels._jit import cache_dir; print(cache_dir())"
    env = {k: "" for k in ("CRMJIT_CACHE_DIR", "NUMBA_CACHE_DIR", "CRMJIT_NO_INTRINSICS")}
    home = run_python(code, {**env, "XDG_CACHE_HOME": str(tmp_path)}).stdout.strip()
    assert pathlib.Path(home).parent == tmp_path / "crmjit"
    mine = run_python(code, {**env, "CRMJIT_CACHE_DIR": str(tmp_path / "c")}).stdout.strip()
    assert pathlib.Path(mine).parent == tmp_path / "c"
    numba_dir = run_python(code, {**env, "NUMBA_CACHE_DIR": str(tmp_path / "n")})
    numba_dir = numba_dir.stdout.strip()
    assert pathlib.Path(numba_dir).parent == tmp_path / "n"
    plain = run_python(code, {**env, "CRMJIT_CACHE_DIR": str(tmp_path / "c"),
                              "CRMJIT_NO_INTRINSICS": "1"}).stdout.strip()
    assert plain != mine and plain.endswith("-plain")


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_cache_entry_is_recompiled_with_a_warning(tmp_path, damage,
                                                            run_python):
    env = {"CRMJIT_CACHE_DIR": str(tmp_path / "cache"), "NUMBA_CACHE_DIR": ""}
    first = tmp_path / "first.npy"
    run_python(SMALL.format(out=str(first)), env)
    files = sorted((tmp_path / "cache").rglob("*.nbc"))
    assert files
    for f in files[::3]:  # every third compiled kernel, data and index alike
        data = f.read_bytes()
        f.write_bytes(data[: len(data) // 2] if damage == "truncate"
                      else data[:100] + bytes(b ^ 0xFF for b in data[100:400]) + data[400:])
    for f in sorted((tmp_path / "cache").rglob("*.nbi"))[::4]:
        f.write_bytes(f.read_bytes()[:20])
    second = tmp_path / "second.npy"
    done = run_python(SMALL.format(out=str(second)), env)
    assert "recompiled" in done.stderr and str(tmp_path / "cache") in done.stderr
    np.testing.assert_array_equal(np.load(first), np.load(second))
    third = tmp_path / "third.npy"
    healed = run_python(SMALL.format(out=str(third)), env)  # the entries were written again
    assert "recompiled" not in healed.stderr
    np.testing.assert_array_equal(np.load(first), np.load(third))


def test_plain_fallbacks_give_the_same_results(tmp_path, run_python):
    """Part of the suite with CRMJIT_NO_INTRINSICS=1: fits and scores equal to the bit
    (the session's cache for the intrinsics build; the plain build caches apart).  The
    BG/NBD passes' log takes the bits of a float, whose plain fallback is exact
    (``test_bits_from_float_fallback_encodes_every_kind_of_float``)."""
    outs = {}
    for plain in ("0", "1"):
        out = tmp_path / f"{plain}.npy"
        done = run_python(CALL.format(out=str(out)) + "from crmjit.kernels._jit import "
                          "cache_dir\nprint(cache_dir())", {"CRMJIT_NO_INTRINSICS": plain})
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


def test_results_do_not_depend_on_who_compiled(tmp_path, run_python):
    """Fits and scores equal to the bit whether a fresh environment's first fits had a
    helper process compile part of their kernels (loaded from the cache here), compiled
    everything in-process, or loaded everything from a full cache."""
    got = []
    for name, helper in (("helped", ""), ("alone", "0"), ("loaded", "0")):
        out = tmp_path / f"{name}.npy"
        cache = tmp_path / ("helped" if name == "loaded" else name)
        run_python(CALL.format(out=str(out)), {"CRMJIT_CACHE_DIR": str(cache),
                                               "NUMBA_CACHE_DIR": "",
                                               "CRMJIT_COMPILE_HELPER": helper})
        got.append(np.load(out))
    np.testing.assert_array_equal(got[0], got[1])
    np.testing.assert_array_equal(got[0], got[2])
