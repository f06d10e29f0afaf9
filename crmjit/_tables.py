"""Reading the command line's input files: named columns of a Parquet file or folder, or
of a CSV file (by its .csv extension), as a pyarrow Table.  A missing column or a null is a
ValueError naming the file, the column and its flag."""

from __future__ import annotations

import os


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.csv as pcsv
        import pyarrow.dataset as ds
    except ImportError:
        raise ImportError("reading files needs pyarrow: pip install 'crmjit[parquet]'") \
            from None
    return pa, pcsv, ds


def _open(path):
    """(column names, a function reading named columns as a pyarrow Table)."""
    pa, pcsv, ds = _pyarrow()
    path = os.fspath(path)
    csv = path.lower().endswith(".csv")
    try:
        if csv:
            names = pcsv.open_csv(path).schema.names  # the header only
        else:
            dataset = ds.dataset(path, format="parquet")
            names = dataset.schema.names
    except (OSError, ValueError, pa.ArrowInvalid) as exc:
        raise ValueError(f"cannot read {'CSV' if csv else 'Parquet'} from {path!r}: {exc}") \
            from None

    def read(columns):
        try:
            return (pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(
                include_columns=columns)) if csv else dataset.to_table(columns=columns))
        except (OSError, ValueError, pa.ArrowInvalid) as exc:
            raise ValueError(f"cannot read {path!r}: {exc}") from None
    return list(names), read


def column_names(path):
    """The column names of a Parquet file or folder, or of a CSV file."""
    return _open(path)[0]


def read_table(path, columns, flags):
    """pyarrow Table of ``columns`` (flags: how the command line names each)."""
    names, read = _open(path)
    for c, flag in zip(columns, flags):
        if c not in names:
            shown = ", ".join(map(str, names[:20])) + (", ..." if len(names) > 20 else "")
            raise ValueError(f"{flag} {c!r} is not a column of {os.fspath(path)} (columns: "
                             f"{shown})")
    table = read(list(dict.fromkeys(columns)))
    for c, flag in zip(columns, flags):
        nulls = table.column(c).null_count
        if nulls:
            raise ValueError(f"{flag} column {c!r} of {os.fspath(path)} has {nulls:,} missing "
                             f"values")
    return table
