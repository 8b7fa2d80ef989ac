"""Reading and cleaning the UCI Adult files (see ``adult/README.md`` for provenance).

The raw files are comma-and-space separated, have no header, mark missing values with
``?`` and (in ``adult.test``) start with a comment line and end each label with ``.``.
Reading keeps every field as a string so that the raw intermediate is exactly the file;
``clean`` is where types, missing values and labels are decided.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

# The 15 columns described in adult.names, in file order ('-' spelled '_'); the last
# one, the income class, has no name there.
COLUMNS = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
)
NUMERIC = ("age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week")
MISSING = "?"
POSITIVE = ">50K"


def read_adult(path: str | Path) -> pa.Table:
    """All rows of one Adult file as strings, skipping leading ``|`` comment lines."""
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=list(COLUMNS), skip_rows=_comment_lines(path)),
        convert_options=pacsv.ConvertOptions(column_types={name: pa.string() for name in COLUMNS}),
    )


def _comment_lines(path: str | Path) -> int:
    count = 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith("|"):
                break
            count += 1
    return count


def clean(raw: pa.Table) -> pa.Table:
    """Trimmed strings, ``?`` as null, numeric columns as int64, income as a 0/1 ``label``."""
    columns: dict[str, pa.ChunkedArray] = {}
    for name in COLUMNS[:-1]:
        values = pc.utf8_trim_whitespace(raw.column(name))
        values = pc.if_else(pc.equal(values, MISSING), pa.scalar(None, pa.string()), values)
        columns[name] = pc.cast(values, pa.int64()) if name in NUMERIC else values
    income = pc.utf8_rtrim(pc.utf8_trim_whitespace(raw.column("income")), characters=".")
    columns["label"] = pc.cast(pc.equal(income, POSITIVE), pa.int8())
    return pa.table(columns)


def held_out(rows: pa.Table) -> np.ndarray:
    """Which rows came from ``adult.test``; models fit on the others only."""
    return np.asarray(rows.column("is_test").to_numpy(zero_copy_only=False), dtype=bool)


def labels(rows: pa.Table) -> np.ndarray:
    return rows.column("label").to_numpy().astype(np.int64)
