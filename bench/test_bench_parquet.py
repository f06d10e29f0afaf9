"""Streaming Parquet scoring against pyarrow only reading the same columns (the floor of
any Parquet scorer), and its peak memory on a file far bigger than a batch.

The input holds ``customer_id`` and 16 float32 features (written once per size into a
temporary folder); crmjit reads, scores and writes ``customer_id, score``.  Peak RSS is
measured in a fresh process (Arrow's buffers are invisible to tracemalloc) and stored as
``peak_rss_mib`` in extra_info.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import crmjit
from crmjit.data_gen import customer_chunks

SIZES = {"quick": [1_000_000], "full": [1_000_000, 50_000_000]}
FEATS = [f"x{j}" for j in range(16)]
_FILES = {}


def parquet_file(n, folder):
    if n not in _FILES:
        import pyarrow as pa
        import pyarrow.parquet as pq
        path = os.path.join(folder, f"customers-{n}.parquet")
        writer = None
        for part in customer_chunks(n, n_features=16, n_periods=1, seed=0,
                                    dtype=np.float32, chunk_rows=1 << 21):
            table = pa.Table.from_pandas(part[["customer_id"] + FEATS], preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="lz4")
            writer.write_table(table)
        writer.close()
        _FILES[n] = path
    return _FILES[n]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return str(tmp_path_factory.mktemp("parquet-bench"))


def model():
    m = crmjit.LogisticRegression()
    m.coef_ = np.random.default_rng(0).standard_normal((1, 16)) * 0.3
    m.intercept_ = np.array([-1.0])
    m.classes_ = np.array([0, 1])
    m.n_features_in_ = 16
    m.n_iter_ = np.array([1], dtype=np.int32)
    m.feature_names_in_ = np.array(FEATS, dtype=object)
    return m


# VmHWM (this process's own high-water mark), not getrusage's ru_maxrss: Linux carries
# ru_maxrss across exec, so a child of a big pytest process would report the parent's peak.
PEAK_SCRIPT = r"""
import sys, crmjit
m = crmjit.load(sys.argv[2])
crmjit.score_parquet(sys.argv[1], m, sys.argv[3], id_column="customer_id", progress=False)
with open("/proc/self/status") as fh:
    print(next(line.split()[1] for line in fh if line.startswith("VmHWM:")))
"""


@pytest.mark.parametrize("impl", ["crmjit", "pyarrow-read"])
def test_score_parquet(record, benchmark, folder, impl, n):
    path = parquet_file(n, folder)
    out = os.path.join(folder, "scores.parquet")
    rounds = 2 if n > 10_000_000 else 3  # the least of 2 rounds: this machine is noisy
    if impl == "pyarrow-read":
        import pyarrow.dataset as ds

        from crmjit.parquet import READAHEAD, reader_format

        def read():  # the same reader settings as score_parquet, minus scoring and writing
            rows = 0
            for batch in ds.dataset(path, format=reader_format(ds)).to_batches(
                    columns=["customer_id"] + FEATS, batch_size=1 << 20, **READAHEAD):
                rows += batch.num_rows
            return rows
        assert record(read, work="score parquet", impl=impl, size=n, items=n,
                      rounds=rounds, setup_peak=False) == n
        return
    m = model()
    record(lambda: crmjit.score_parquet(path, m, out, id_column="customer_id",
                                        progress=False),
           work="score parquet", impl=impl, size=n, items=n, rounds=rounds, setup_peak=False)
    m.save(os.path.join(folder, "model.json"))
    done = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, path,
                           os.path.join(folder, "model.json"), out],
                          capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stderr[-2000:]
    peak_mib = int(done.stdout.strip().splitlines()[-1]) / 1024  # VmHWM is in kB
    benchmark.extra_info["peak_rss_mib"] = peak_mib
    assert peak_mib < 2048, f"peak RSS {peak_mib:.0f} MiB"
