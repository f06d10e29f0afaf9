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


def test_readme_command_line_block_runs(tmp_path):
    """The shell lines of README's "Command line" section, run as written in a folder."""
    import shlex
    import subprocess
    import sys

    text = (ROOT / "README.md").read_text()
    block = text.split("## Command line", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = [ln.split("#", 1)[0].strip() for ln in block.splitlines()]
    lines = [ln for ln in lines if ln.startswith("crmjit ")]
    assert len(lines) >= 4
    exe = pathlib.Path(sys.executable).parent / "crmjit"
    for line in lines:
        argv = [str(exe)] + shlex.split(line)[1:]
        if argv[1] in ("generate", "score", "compile"):
            argv.append("--quiet")
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (line, done.stderr[-2000:])
    assert (tmp_path / "scores.parquet").exists() and (tmp_path / "model.json").exists()
