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
    rows (one bucket of scores, one chunk of customers) that one thread reduces
    (thread-independent either way)."""
    import re
    users = []
    for path in (ROOT / "kernels").glob("*.py"):
        users += re.findall(r"@serial_reduce(?:_inline)?\ndef (\w+)", path.read_text())
    assert sorted(users) == ["_all_finite", "_below", "_bg_customer_pass", "_dot",
                             "_hess_tile", "_hess_upper", "_row_dot", "_theta_dot", "_total"]


def kernel_modules():
    """Every module of crmjit.kernels but the numba settings (found, not listed, so a new
    module cannot slip past the checks below)."""
    found = [importlib.import_module(f"crmjit.kernels.{m.name}")
             for m in pkgutil.iter_modules(kernels.__path__) if m.name != "_jit"]
    assert {m.__name__.rsplit(".", 1)[1] for m in found} >= {"segments", "checks", "value"}
    return found


def test_every_kernel_has_a_reference_twin():
    """Every kernel that computes something has a twin of the same name in the reference
    module of the same name; kernels that only allocate scratch (``SCRATCH``, tested by
    their effect on the kernels that use them) have none, and say so."""
    for module in kernel_modules():
        twins = getattr(reference, module.__name__.rsplit(".", 1)[1])
        scratch = set(getattr(module, "SCRATCH", ()))
        for name, obj in vars(module).items():
            if (isinstance(obj, numba.core.registry.CPUDispatcher)
                    and obj.py_func.__module__ == module.__name__):  # not imported ones
                assert name.startswith("_"), f"kernel {name} must be private"
                if name in scratch:
                    assert not hasattr(twins, name[1:]), f"{name}: scratch with a twin"
                    assert "scratch" in obj.py_func.__doc__.lower(), name
                    continue
                assert hasattr(twins, name[1:]), \
                    f"kernel {module.__name__}.{name} has no twin {twins.__name__}.{name[1:]}"


def test_parallel_work_goes_through_one_mechanism():
    """No kernel is a numba ``prange`` driver: heavy work runs as serial kernels over
    spans on crmjit's own threads (``crmjit._threads``), which compile once, never spin
    and are safe under concurrent calls whatever numba's threading layer."""
    for path in (ROOT / "kernels").glob("*.py"):
        if path.name != "_jit.py":
            assert "prange" not in path.read_text(), path


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


TESTS = pathlib.Path(__file__).parent


def _called_name(node):
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def _asserting_helpers(tree):
    """Module functions that assert (directly, or through another such function)."""
    funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    found = set()
    changed = True
    while changed:
        changed = False
        for name, fn in funcs.items():
            if name not in found and _asserts(fn, found):
                found.add(name)
                changed = True
    return found


def _asserts(fn, helpers):
    for node in ast.walk(fn):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            name = _called_name(node)
            if (name.startswith(("assert_", "check_")) or name in helpers
                    or name in ("raises", "warns")):  # check_*: raises on failure
                return True
    return False


def test_no_assert_helper_inside_a_boolean_expression():
    """``numpy.testing.assert_*`` returns None, so in a boolean expression of two such
    calls the right-hand one never runs."""
    found = [f"{path.name}:{sub.lineno}" for path in TESTS.glob("*.py")
             for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, (ast.BoolOp, ast.Compare))
             for sub in ast.walk(node)
             if isinstance(sub, ast.Call) and _called_name(sub).startswith("assert_")]
    assert not found, f"assert_* calls inside a boolean expression: {found}"


def test_every_test_asserts_something():
    for path in TESTS.glob("*.py"):
        tree = ast.parse(path.read_text())
        helpers = _asserting_helpers(tree)
        for fn in tree.body:
            if isinstance(fn, ast.FunctionDef) and fn.name.startswith("test_"):
                assert _asserts(fn, helpers), f"{path.name}::{fn.name} asserts nothing"


def test_the_policy_checks_catch_what_they_look_for():
    call = "assert_allclose"
    bad = ast.parse(f"def test_x():\n    {call}(a, b) {'and'} {call}(c, d)\n")
    calls = [s for n in ast.walk(bad) if isinstance(n, ast.BoolOp)
             for s in ast.walk(n) if isinstance(s, ast.Call)]
    assert [_called_name(c) for c in calls] == ["assert_allclose", "assert_allclose"]
    silent = ast.parse("def test_y():\n    f(1)\n").body[0]
    assert not _asserts(silent, set())
    assert _asserts(ast.parse("def test_z():\n    check(1)\n").body[0], {"check"})
