"""Streaming Parquet scoring: files bigger than memory, batch by batch (needs pyarrow:
``pip install crmjit[parquet]``)."""

from __future__ import annotations

import contextlib
import numbers
import os
import time
import warnings

import numpy as np

from . import _threads
from ._progress import progress_bar
from ._validation import readonly
from .persist import atomic_write, load

BATCH_ROWS = 1 << 20  # rows per batch: ~128 MiB of float64 features at 16 columns
MIN_BATCHES = 8  # smaller inputs get smaller batches, so reading, scoring and writing overlap
MIN_BATCH_ROWS = 1 << 16


# Memory: pyarrow's default Parquet scan pre-buffers column chunks far ahead of the
# consumer (a 50M-row file peaked at 4-5 GiB of RSS even when only counting rows); without
# pre-buffering and with a short read-ahead it stays near a few batches (0.6 GiB), as fast.
READAHEAD = {"batch_readahead": 2, "fragment_readahead": 1}


def default_batch_rows(total):
    """Rows per batch for an input of ``total`` rows: BATCH_ROWS, or an eighth of the rows
    (at least MIN_BATCH_ROWS) when that is smaller."""
    return int(min(BATCH_ROWS, max(MIN_BATCH_ROWS, -(-total // MIN_BATCHES))))


def reader_format(ds):
    """The Parquet format options score_parquet reads with (no pre-buffering)."""
    return ds.ParquetFileFormat(
        default_fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False))


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.dataset as ds
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - the test extra installs it
        raise ImportError("score_parquet needs pyarrow: pip install 'crmjit[parquet]'") \
            from None
    return pa, ds, pq


def _resolve_model(model):
    from .batched import BatchedLogisticRegression
    from .logistic import LogisticRegression
    if isinstance(model, (str, os.PathLike)):
        model = load(model)
    if not isinstance(model, (LogisticRegression, BatchedLogisticRegression)):
        raise TypeError("model must be a fitted crmjit LogisticRegression or "
                        "BatchedLogisticRegression (or the path of one saved with .save), "
                        f"got {type(model).__name__}")
    if not hasattr(model, "coef_"):
        raise ValueError(f"the {type(model).__name__} is not fitted")
    return model, isinstance(model, BatchedLogisticRegression)


def _check_columns(schema, pa, features, groups, id_column, rfm):
    names = set(schema.names)
    wanted = list(features) + [c for c in (groups, id_column) if c is not None] + list(rfm)
    missing = [c for c in wanted if c not in names]
    if missing:
        raise ValueError(f"column(s) {missing} not in the input (it has "
                         f"{sorted(names)[:20]})")
    for c in list(features) + list(rfm):
        t = schema.field(c).type
        if not (pa.types.is_floating(t) or pa.types.is_integer(t)):
            raise TypeError(f"column {c!r} must be numeric (float or integer), got {t}")


def _features(model, features):
    names = getattr(model, "feature_names_in_", None)
    if features is None:
        if names is None:
            raise ValueError("the model was fitted without feature names: pass features= "
                             "(the input columns, in the order of the coefficients)")
        return [str(v) for v in names]
    features = [features] if isinstance(features, str) else list(features)
    if names is not None and [str(v) for v in names] != features:
        raise ValueError(f"features {features} do not match the names the model was "
                         f"fitted on {list(names)}")
    if len(features) != model.n_features_in_:
        raise ValueError(f"{len(features)} features given; the model has "
                         f"{model.n_features_in_} coefficients")
    return features


def score_parquet(source, model, output, *, features=None, groups=None, id_column=None,
                  clv=None, batch_rows=None, progress=True):
    """Score a Parquet file or dataset batch by batch and write the scores to Parquet.

    Parameters
    ----------
    source : path of a Parquet file or of a folder of them (a dataset).
    model : a fitted :class:`~crmjit.LogisticRegression` or
        :class:`~crmjit.BatchedLogisticRegression`, or the path of one saved with ``save``.
    output : path of the Parquet file to write.  Written under a temporary name and renamed
        when complete: an interrupted or failed run leaves no partial file behind.
    features : input columns in coefficient order (default: the names the model was
        fitted on; names that differ from those are an error).
    groups : column of segment labels (required for a per-segment model).
    id_column : column copied to the output beside the score (e.g. the customer id).
    clv : optional dict ``purchase_model=, spend_model=`` (fitted BG/NBD and Gamma-Gamma
        models) and optionally ``columns=(frequency, recency, T, monetary_value)``,
        ``time=12, discount_rate=0.01, freq="D"``: adds a ``clv`` column.
    batch_rows : rows per batch; peak memory is a few batches, whatever the file size.
        Default: 1,048,576, or an eighth of the rows (at least 65,536) for smaller inputs,
        so that even a small file is read, scored and written in overlapping batches (1M
        rows: 1.77x -> 1.57x the time pyarrow takes only to read them, measured).
    progress : show a progress bar with rows/s.

    Returns
    -------
    dict with ``rows``, ``seconds`` and ``rows_per_s``.

    Features may be float32 (scored in float32) or float64 or integer columns; a null in
    any used column is a ValueError naming it.
    """
    pa, ds, pq = _pyarrow()
    model, batched = _resolve_model(model)
    features = _features(model, features)
    _check_arguments(batched, groups, batch_rows)
    rfm, clv_args = _clv_request(clv)
    try:
        dataset = ds.dataset(os.fspath(source), format=reader_format(ds))
    except (FileNotFoundError, OSError, pa.ArrowInvalid) as exc:
        raise ValueError(f"cannot read Parquet from {source!r}: {exc}") from None
    _check_columns(dataset.schema, pa, features, groups, id_column, rfm)
    columns = list(dict.fromkeys(features + [c for c in (groups, id_column) if c]
                                 + list(rfm)))
    all_f32 = all(pa.types.is_float32(dataset.schema.field(c).type) for c in features)
    scorer = _Scorer(model, batched, features, groups, np.float32 if all_f32 else np.float64)
    total = dataset.count_rows()
    batch_rows = default_batch_rows(total) if batch_rows is None else int(batch_rows)
    stats = {"rows": 0}

    def write(tmp):
        t0 = time.perf_counter()
        with progress_bar(total=total, enabled=progress, desc="score", unit="rows") as bar, \
                _Writer(pq, tmp) as writer, _kernel_threads():
            for batch in dataset.to_batches(columns=columns, batch_size=batch_rows,
                                            **READAHEAD):
                m = batch.num_rows
                if m == 0:
                    continue
                for c in columns:
                    if c != id_column and batch.column(c).null_count:
                        raise ValueError(f"column {c!r} has missing values (nulls) near row "
                                         f"{stats['rows']}")
                out = {}
                if id_column is not None:
                    out[id_column] = batch.column(id_column)
                    if stats["rows"] == 0 and _sorted_integers(pa, out[id_column]):
                        writer.column_encoding = {id_column: "DELTA_BINARY_PACKED"}
                out["score"] = pa.array(scorer.score(batch, stats["rows"]))
                if clv_args is not None:
                    out["clv"] = pa.array(_clv(batch, rfm, clv_args))
                writer.put(pa.table(out))  # written by a second thread meanwhile
                stats["rows"] += m
                bar.update(m)
            if stats["rows"] == 0:  # no rows: an empty file with the right columns
                fields = ([dataset.schema.field(id_column)] if id_column else []) + [
                    pa.field("score", pa.from_numpy_dtype(scorer.dtype))]
                if clv_args is not None:
                    fields.append(pa.field("clv", pa.float64()))
                writer.put(pa.schema(fields).empty_table())
        stats["seconds"] = time.perf_counter() - t0

    atomic_write(output, write, inputs=(source,))
    stats["rows_per_s"] = stats["rows"] / stats["seconds"] if stats["seconds"] else 0.0
    return stats


def _check_arguments(batched, groups, batch_rows):
    if batched and groups is None:
        raise ValueError("a BatchedLogisticRegression needs groups= (the segment column)")
    if not batched and groups is not None:
        raise ValueError("groups= is for a BatchedLogisticRegression; this model is one "
                         "LogisticRegression")
    if batch_rows is not None and not (isinstance(batch_rows, numbers.Integral)
                                       and not isinstance(batch_rows, bool) and batch_rows >= 1):
        raise ValueError(f"batch_rows must be an integer >= 1 (or None), got {batch_rows!r}")


def _clv_request(clv):
    """(the four RFM column names, the remaining customer_lifetime_value arguments), or
    ((), None) without a clv request."""
    if clv is None:
        return (), None
    clv_args = dict(clv)
    rfm = tuple(clv_args.pop("columns", ("frequency", "recency", "T", "monetary_value")))
    if len(rfm) != 4:
        raise ValueError("clv columns= must name frequency, recency, T, monetary_value")
    for k in ("purchase_model", "spend_model"):
        if k not in clv_args:
            raise ValueError(f"clv needs {k}=")
    return rfm, clv_args


class _Scorer:
    """Scores of one batch of a Parquet file: the feature columns read in place (one
    model: the columns kernel, no matrix) or gathered into one matrix (per segment)."""

    def __init__(self, model, batched, features, groups, dtype):
        self.model, self.batched, self.features, self.groups = model, batched, features, groups
        self.dtype = dtype
        if not batched:
            self.coef = model.coef_[0].astype(dtype)
            self.intercept = dtype(model.intercept_[0])

    def score(self, batch, row0):
        """(m,) scores of the batch, whose first row is row ``row0`` of the input."""
        from .kernels.scoring import _predict_proba_columns
        cols = tuple(_readonly(batch.column(c).to_numpy(zero_copy_only=False), self.dtype)
                     for c in self.features)
        m = batch.num_rows
        if self.batched:
            X = np.empty((len(cols), m), dtype=self.dtype).T  # F order: a copy
            for j, col in enumerate(cols):
                X[:, j] = col
            g = batch.column(self.groups).to_numpy(zero_copy_only=False)
            with warnings.catch_warnings():  # names were matched above
                warnings.filterwarnings("ignore", "X does not have valid feature")
                return self.model.predict_proba(X, g)
        score = np.empty(m, dtype=self.dtype)
        if sum(_threads.over(_predict_proba_columns, m, cols, self.coef, self.intercept,
                             score)):
            bad = [c for c, col in zip(self.features, cols) if not np.isfinite(col).all()]
            if bad:
                raise ValueError(f"column(s) {bad} hold NaN or inf near row {row0}")
            raise ValueError(f"the score's linear predictor overflows {np.dtype(self.dtype)} "
                             f"near row {row0}: scale the features or the coefficients")
        return score


@contextlib.contextmanager
def _kernel_threads():
    """Score with half of numba's threads (at least one) on the calling thread: pyarrow's
    decoding threads and the writer thread already keep the cores busy, and numba's idle
    workers spin between batches.  On 2 cores, a 50M-row file took 4.0-5.7 s of CPU to
    score with both threads and 3.4-4.3 s with one, over five runs (pyarrow alone reading
    it: 2.4-3.1 s).  numba's thread count is per calling thread: other threads keep theirs."""
    import numba
    threads = numba.get_num_threads()
    numba.set_num_threads(max(1, threads // 2))  # per calling thread in numba
    try:
        yield
    finally:
        numba.set_num_threads(threads)


def _readonly(a, dtype):
    """A column as a contiguous read-only array of dtype: Arrow's zero-copy views are
    read-only, converted (e.g. integer) columns are made so, and the kernel gets one tuple
    type (numba types read-only and writable arrays apart)."""
    return readonly(np.ascontiguousarray(a, dtype=dtype))  # no copy when Arrow's fits


def _sorted_integers(pa, column):
    """Whether an Arrow column holds integers in non-decreasing order with no nulls (the
    first batch's ids decide how the id column is encoded)."""
    if not pa.types.is_integer(column.type) or column.null_count or len(column) < 2:
        return False
    a = column.to_numpy()
    return bool((a[1:] >= a[:-1]).all())


class _Writer:
    """Writes tables to one Parquet file from a background thread, so that writing a batch
    overlaps reading and scoring the next (at most two tables wait in the queue).  An error
    in the writer is raised in the caller at the next put or at exit.

    ``column_encoding`` (set before the first put) picks a column's Parquet encoding:
    sorted integer ids are written DELTA_BINARY_PACKED, half the bytes of plain and 40 %
    less of the writer's CPU on 20M sequential ids (but 60 % more on random ids, which
    stay plain; measured)."""

    def __init__(self, pq, path):
        import queue
        import threading
        self.pq, self.path = pq, path
        self.queue = queue.Queue(maxsize=2)
        self.error = None
        self.column_encoding = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        writer = None
        try:
            while (table := self.queue.get()) is not None:
                if writer is None:
                    writer = self.pq.ParquetWriter(self.path, table.schema, compression="snappy",
                                                   use_dictionary=False,  # ids: unique
                                                   column_encoding=self.column_encoding)
                writer.write_table(table)
        except BaseException as exc:  # reported to the caller
            self.error = exc
            while self.queue.get() is not None:  # drain so the caller never blocks
                pass
        finally:
            if writer is not None:
                writer.close()

    def put(self, table):
        if self.error is not None:
            raise self.error
        self.queue.put(table)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.queue.put(None)
        self.thread.join()
        if self.error is not None and exc is None:
            raise self.error
        return False


def _clv(batch, rfm, args):
    from .btyd_clv import customer_lifetime_value
    f, r, T, m = (batch.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
                  for c in rfm)
    return np.asarray(customer_lifetime_value(args["purchase_model"], args["spend_model"],
                                              f, r, T, m, time=args.get("time", 12),
                                              discount_rate=args.get("discount_rate", 0.01),
                                              freq=args.get("freq", "D")))
