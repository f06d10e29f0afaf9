"""README's examples run as doctests, and its first lines are the commands CI runs."""

import doctest
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_readme_examples_run():
    result = doctest.testfile(str(ROOT / "README.md"), module_relative=False,
                              optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5 and result.failed == 0


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text().splitlines()
    test_cmd = next(line for line in readme[:8] if "pytest" in line)
    assert "crmjit demo" in readme[3]
    assert test_cmd in (ROOT / ".ci" / "run").read_text().splitlines()


def test_docstring_examples_run():
    """Every ``>>>`` example in the package's docstrings runs and prints what it shows."""
    import importlib
    import pkgutil

    import crmjit

    attempted = 0
    for info in pkgutil.walk_packages(crmjit.__path__, "crmjit."):
        if info.name == "crmjit.__main__":  # importing it runs the CLI
            continue
        module = importlib.import_module(info.name)
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0, info.name
        attempted += result.attempted
    assert attempted >= 8
