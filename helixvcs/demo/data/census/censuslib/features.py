"""Feature helpers: bucketing, crosses, log amounts, country regions, matrix assembly.

Every helper returns new arrays and leaves its inputs alone, so the operators that call
them stay pure. Categorical features are string columns with no nulls (``missing`` is
a category of its own); numeric features are float64 columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse
from sklearn.preprocessing import OneHotEncoder

MISSING = "missing"

# Lower bounds of the age buckets after the first; "<25", "25-34", ..., "65+".
AGE_BOUNDS = (25, 35, 45, 55, 65)

# Native countries grouped into regions: the raw column has 41 values, most of them rare.
COUNTRY_REGIONS = {
    "United-States": "united-states",
    "Outlying-US(Guam-USVI-etc)": "united-states",
    "Mexico": "mexico",
    "Canada": "north-america",
    "Puerto-Rico": "caribbean",
    "Cuba": "caribbean",
    "Jamaica": "caribbean",
    "Dominican-Republic": "caribbean",
    "Haiti": "caribbean",
    "Trinadad&Tobago": "caribbean",
    "El-Salvador": "latin-america",
    "Guatemala": "latin-america",
    "Honduras": "latin-america",
    "Nicaragua": "latin-america",
    "Columbia": "latin-america",
    "Ecuador": "latin-america",
    "Peru": "latin-america",
    "England": "europe",
    "Scotland": "europe",
    "Ireland": "europe",
    "Germany": "europe",
    "France": "europe",
    "Holand-Netherlands": "europe",
    "Italy": "europe",
    "Portugal": "europe",
    "Greece": "europe",
    "Poland": "europe",
    "Hungary": "europe",
    "Yugoslavia": "europe",
    "India": "asia",
    "Iran": "asia",
    "China": "asia",
    "Hong": "asia",
    "Taiwan": "asia",
    "Japan": "asia",
    "South": "asia",
    "Philippines": "asia",
    "Vietnam": "asia",
    "Cambodia": "asia",
    "Laos": "asia",
    "Thailand": "asia",
}


def categorical(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """A string column with nulls replaced by the ``missing`` category."""
    return pc.fill_null(values, MISSING)


def bucket_labels(values: pa.ChunkedArray, bounds: Sequence[int]) -> pa.Array:
    """Label each value with the half-open interval of ``bounds`` it falls in."""
    edges = list(bounds)
    names = [f"<{edges[0]}"]
    names += [f"{lo}-{hi - 1}" for lo, hi in pairwise(edges)]
    names.append(f"{edges[-1]}+")
    index = np.digitize(values.to_numpy(), edges)
    return pa.array(np.asarray(names, dtype=object)[index], type=pa.string())


def age_buckets(age: pa.ChunkedArray) -> pa.Array:
    return bucket_labels(age, AGE_BOUNDS)


def cross(left: pa.ChunkedArray, right: pa.ChunkedArray) -> pa.ChunkedArray:
    """The interaction of two categorical columns as one categorical column."""
    return pc.binary_join_element_wise(categorical(left), categorical(right), " x ")


def log_amount(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """log(1 + amount): capital gains and losses are zero for most people and huge for a few."""
    return pc.ln(pc.add(pc.cast(pc.fill_null(values, 0), pa.float64()), 1.0))


def country_regions(country: pa.ChunkedArray) -> pa.Array:
    names = country.to_pylist()
    return pa.array([COUNTRY_REGIONS.get(n, "other") if n else MISSING for n in names])


def assemble(blocks: Sequence[pa.Table], train: np.ndarray) -> sparse.csr_matrix:
    """One sparse design matrix over all rows; encoders and scales are fit on ``train`` only.

    String columns become one-hot blocks (categories unseen in training are ignored),
    numeric columns are standardized.
    """
    parts = []
    for block in blocks:
        for name in block.column_names:
            column = block.column(name)
            if pa.types.is_string(column.type):
                values = categorical(column).to_numpy(zero_copy_only=False).reshape(-1, 1)
                encoder = OneHotEncoder(handle_unknown="ignore").fit(values[train])
                parts.append(encoder.transform(values))
            else:
                values = column.to_numpy().astype(np.float64).reshape(-1, 1)
                scale = values[train].std() or 1.0
                parts.append(sparse.csr_matrix((values - values[train].mean()) / scale))
    return sparse.hstack(parts, format="csr", dtype=np.float64)
