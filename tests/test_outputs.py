"""Writing output never destroys anything: only regular files are replaced, an input is
never overwritten, files get the umask's permissions, and no partial file survives a
crash (a killed writer's temporary file is removed by the next write in its folder)."""

import os
import pathlib
import signal
import stat
import subprocess
import sys

import numpy as np
import pytest

import crmjit
from crmjit.persist import atomic_write


@pytest.fixture
def model():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 2))
    return crmjit.LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))


def test_only_regular_files_are_replaced(tmp_path, model):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    target = tmp_path / "precious"
    target.write_text("keep")
    link = tmp_path / "link"
    link.symlink_to(target)
    (tmp_path / "folder").mkdir()
    for path, kind in ((fifo, "not a regular file"), (link, "a symbolic link"),
                       (tmp_path / "folder", "a folder"), ("/dev/null", "not a regular")):
        with pytest.raises(ValueError, match=f"cannot write {path}: it is {kind}"):
            model.save(path)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.path.islink(link)
    assert target.read_text() == "keep"
    assert not list(tmp_path.glob(".crmjit-*"))


def test_read_only_files_and_missing_folders_are_refused(tmp_path, model):
    ro = tmp_path / "ro.json"
    ro.write_text("old")
    ro.chmod(0o444)
    with pytest.raises(ValueError, match="read-only"):
        model.save(ro)
    assert ro.read_text() == "old"
    with pytest.raises(ValueError, match=r"the folder .*nope does not exist"):
        model.save(tmp_path / "nope" / "m.json")


def test_output_equal_to_input_is_refused(tmp_path, model):
    import pyarrow as pa
    import pyarrow.parquet as pq
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"a": [1.0, 2.0], "b": [3.0, 4.0]}), src)
    before = src.read_bytes()
    with pytest.raises(ValueError, match="it is the input"):
        crmjit.score_parquet(src, model, src, features=["a", "b"], progress=False)
    assert src.read_bytes() == before


def test_files_get_the_umask_permissions(tmp_path):
    code = ("import os; os.umask(0o027); from crmjit.persist import atomic_write; "
            f"atomic_write({str(tmp_path / 'out')!r}, lambda t: open(t, 'w').write('x'))")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert stat.S_IMODE(os.stat(tmp_path / "out").st_mode) == 0o640


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_no_partial_file_survives_a_killed_writer(tmp_path, how):
    code = ("import time, crmjit.cli\nfrom crmjit.persist import atomic_write\n"
            "def slow(tmp):\n    open(tmp, 'w').write('partial')\n    print('writing', "
            "flush=True)\n    time.sleep(120)\n"
            "import signal, sys\n"
            "signal.signal(signal.SIGTERM, lambda s, f: sys.exit(128 + s))\n"
            f"atomic_write({str(tmp_path / 'big.out')!r}, slow)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "writing"
    child.send_signal(how)
    child.wait(timeout=60)
    child.stdout.close()
    parts = list(tmp_path.glob(".crmjit-*.part"))
    assert not (tmp_path / "big.out").exists()
    if how == signal.SIGTERM:  # unwinds: removed at once
        assert parts == []
        return
    assert len(parts) == 1  # kill -9 leaves it ...
    atomic_write(tmp_path / "next.out", lambda t: pathlib.Path(t).write_text("y"))
    assert not list(tmp_path.glob(".crmjit-*.part"))  # ... until the next write here
    assert (tmp_path / "next.out").read_text() == "y"
