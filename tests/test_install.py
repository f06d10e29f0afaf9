"""README's two set-up commands, run one after the other in one folder (what a newcomer
does), in either order, leave a working ``import crmjit`` and ``crmjit`` command from any
directory; and an install whose folder is read-only still caches its kernels.

The installs run in a fresh virtual environment that sees this one's dependencies
through a ``.pth`` file (``--no-deps``: nothing is downloaded)."""

import os
import pathlib
import site
import stat
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
USE = "import crmjit, crmjit.data_gen; crmjit.clv([[1.0, 2.0]], 0.1); print(crmjit.__file__)"


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    where = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    py = where / "bin" / "python"
    inner = subprocess.run([py, "-c", "import site; print(site.getsitepackages()[0])"],
                           capture_output=True, text=True, check=True).stdout.strip()
    pathlib.Path(inner, "outer.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return where, pathlib.Path(inner)


def run(argv, cwd, home, check=True):
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "CRMJIT_CACHE_DIR", "PYTHONPATH")}
    env["XDG_CACHE_HOME"] = str(home)
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


def pip_install(venv_dir, editable, home):
    flags = ["-e"] if editable else []
    run([venv_dir / "bin" / "python", "-m", "pip", "install", "--no-deps",
         "--no-build-isolation", "--no-index", "-q", *flags, ROOT], ROOT, home)


@pytest.mark.parametrize("order", [("plain", "editable"), ("editable", "plain")])
def test_both_readme_installs_in_either_order(venv, order, tmp_path):
    where, inner = venv
    home = tmp_path / "cache"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for kind in order:
        pip_install(where, kind == "editable", home)
        out = run([where / "bin" / "python", "-c", USE], elsewhere, home)  # compiles
        path = pathlib.Path(out.stdout.strip().splitlines()[-1])
        assert path.name == "__init__.py"
        assert (path.parent == ROOT / "crmjit") == (kind == "editable")
        version = run([where / "bin" / "crmjit", "--version"], elsewhere, home)
        assert version.stdout.startswith("crmjit ")
    leftovers = [p for p in inner.glob("crmjit/**/*") if p.suffix in (".nbi", ".nbc")]
    assert not leftovers  # nothing written into site-packages
    assert list(home.glob("crmjit/*/*/*.nbi"))  # the kernels went to the user cache


def test_a_read_only_install_caches_in_the_user_folder(venv, tmp_path):
    """The kernels are cached in the user's cache folder and the install folder is never
    written (made read-only here; as root, which may write anyway, the listing is
    compared)."""
    where, inner = venv
    home = tmp_path / "cache"
    pip_install(where, False, home)
    pkg = inner / "crmjit"
    modes = {p: p.stat().st_mode for p in [pkg, *pkg.rglob("*")]}
    try:
        for p in modes:
            p.chmod(modes[p] & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        first = run([where / "bin" / "python", "-c", USE], tmp_path, home)
        again = run([where / "bin" / "python", "-c", USE], tmp_path, home)
    finally:
        for p, mode in modes.items():
            p.chmod(mode)
    assert set([pkg, *pkg.rglob("*")]) == set(modes)  # nothing added to the install
    assert list(home.glob("crmjit/*/value/*.nbi"))
    assert first.stdout == again.stdout
