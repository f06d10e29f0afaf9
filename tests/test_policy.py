"""Project rules that can be checked mechanically."""

import ast
import importlib
import inspect
import pathlib
import pkgutil

import numba

import crmjit
from crmjit import kernels, reference

ROOT = pathlib.Path(crmjit.__file__).parent


def test_numba_options_only_in_jit_module():
    for path in ROOT.rglob("*.py"):
        if path.name == "_jit.py":
            continue
        text = path.read_text()
        assert "fastmath" not in text, f"{path} spells its own fastmath"
        assert "njit" not in text and "numba.jit" not in text, f"{path} bypasses _jit"


def test_fastmath_keeps_nan_and_inf():
    from crmjit.kernels._jit import FASTMATH, FASTMATH_REDUCE
    assert not {"nnan", "ninf", "fast", "reassoc"} & set(FASTMATH)
    assert not {"nnan", "ninf", "fast"} & set(FASTMATH_REDUCE)


def test_reassociation_only_in_per_row_reductions():
    """serial_reduce may only decorate a reduction within one row, or within one block of
    rows that one thread reduces (thread-independent either way)."""
    import re
    users = []
    for path in (ROOT / "kernels").glob("*.py"):
        users += re.findall(r"@serial_reduce\ndef (\w+)", path.read_text())
    assert sorted(users) == ["_all_finite", "_dot", "_dot4", "_hess_tile", "_hess_upper",
                            "_row_dot", "_theta_dot", "_total"]


def kernel_modules():
    """Every module of crmjit.kernels but the numba settings (found, not listed, so a new
    module cannot slip past the checks below)."""
    found = [importlib.import_module(f"crmjit.kernels.{m.name}")
             for m in pkgutil.iter_modules(kernels.__path__) if m.name != "_jit"]
    assert {m.__name__.rsplit(".", 1)[1] for m in found} >= {"logistic", "checks", "value"}
    return found


def test_every_kernel_has_a_reference_twin():
    for module in kernel_modules():
        twins = getattr(reference, module.__name__.rsplit(".", 1)[1])
        for name, obj in vars(module).items():
            if (isinstance(obj, numba.core.registry.CPUDispatcher)
                    and obj.py_func.__module__ == module.__name__):  # not imported ones
                assert name.startswith("_"), f"kernel {name} must be private"
                assert hasattr(twins, name[1:]), \
                    f"kernel {module.__name__}.{name} has no twin {twins.__name__}.{name[1:]}"


def imported(path):
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_reference_is_pure_python():
    for path in pathlib.Path(reference.__file__).parent.glob("*.py"):
        assert not imported(path) & {"numpy", "numba", "pandas"}, path


def test_kernels_have_no_pandas():
    for path in pathlib.Path(kernels.__file__).parent.glob("*.py"):
        assert "pandas" not in imported(path), path
    assert inspect.getdoc(kernels)
