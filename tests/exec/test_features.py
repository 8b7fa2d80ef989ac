"""Stacking the blocks of a feature assembly, reading an estimator's zero weights, and
casting values to float32: on real numpy, scipy, pandas, Arrow and scikit-learn values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import scipy.sparse as sp
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import Lasso, LogisticRegression

from helixvcs.exec.features import AssemblyError, assemble, placeholder, weights
from helixvcs.exec.precision import cast

ROWS = 6


def test_dense_blocks_stack_into_a_dense_array_with_their_column_ranges():
    a, b = np.ones((ROWS, 2)), np.arange(ROWS, dtype=np.int64)
    table = pa.table({"x": np.arange(ROWS) * 1.5, "y": np.arange(ROWS)})
    frame = pd.DataFrame({"p": np.zeros(ROWS), "q": np.ones(ROWS), "r": np.ones(ROWS)})
    matrix, columns = assemble("X", ("a", "b", "t", "f"), [a, b, table, frame])
    assert isinstance(matrix, np.ndarray) and matrix.shape == (ROWS, 8)
    assert columns == (("a", 0, 2), ("b", 2, 3), ("t", 3, 5), ("f", 5, 8))
    np.testing.assert_array_equal(matrix[:, 2], np.arange(ROWS))
    np.testing.assert_array_equal(matrix[:, 3], np.arange(ROWS) * 1.5)


def test_any_sparse_block_makes_the_stack_csr():
    dense, sparse = np.ones((ROWS, 2)), sp.random(ROWS, 5, density=0.3, format="coo", rng=0)
    matrix, columns = assemble("X", ("d", "s"), [dense, sparse])
    assert sp.issparse(matrix) and matrix.format == "csr" and matrix.shape == (ROWS, 7)
    assert columns == (("d", 0, 2), ("s", 2, 7))
    np.testing.assert_array_equal(matrix.toarray()[:, 2:], sparse.toarray())


def test_dropped_blocks_are_left_out_of_the_stack():
    a, b = np.ones((ROWS, 2)), np.zeros((ROWS, 3))
    matrix, columns = assemble("X", ("a", "b"), [a, placeholder(ROWS)], dropped=("b",))
    assert matrix.shape == (ROWS, 2) and columns == (("a", 0, 2),)
    assert placeholder(ROWS).shape == (ROWS, 0)
    del b


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ([np.ones((ROWS, 1)), np.ones((ROWS - 1, 1))], ["'X'", "'b'", "5 rows", "'a' has 6"]),
        ([np.ones((ROWS, 1))], ["'X'", "1 blocks", "2 block parameters", "a, b"]),
        ([np.ones((ROWS, 1)), np.array([["x"]] * ROWS)], ["'X'", "'b'", "not numeric"]),
        ([np.ones((ROWS, 1)), pd.DataFrame({"c": ["u"] * ROWS})], ["'b'", "'c'", "non-numeric"]),
        ([np.ones((ROWS, 1)), pa.table({"c": ["u"] * ROWS})], ["'b'", "'c'", "non-numeric"]),
        ([np.ones((ROWS, 1)), np.ones((ROWS, 2, 2))], ["'b'", "3 dimension"]),
        (np.ones((ROWS, 2)), ["'X'", "list"]),
    ],
    ids=["rows", "count", "strings", "frame", "arrow", "3-d", "not-a-list"],
)
def test_bad_blocks_name_the_operator_and_the_block(value, words):
    with pytest.raises(AssemblyError) as caught:
        assemble("X", ("a", "b"), value)
    assert all(word in str(caught.value) for word in words), str(caught.value)


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = np.hstack([rng.normal(size=(200, 3)), np.zeros((200, 2)), rng.normal(size=(200, 1))])
    y = (x[:, 0] + x[:, 1] - x[:, 2] > 0).astype(int)
    return x, y


def test_weights_from_coef_and_from_feature_importances():
    x, y = _data()
    l1 = LogisticRegression(penalty="l1", solver="liblinear", C=0.5).fit(x, y)
    found = weights(l1)
    assert found is not None and found.attribute == "coef_" and found.width == 6
    assert all(not (start < 5 and stop > 3) for start, stop in found.nonzero)  # 3, 4 zero
    assert found.nonzero[0][0] == 0
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    found = weights(forest)
    assert found is not None and found.attribute == "feature_importances_"
    assert all(not (start < 5 and stop > 3) for start, stop in found.nonzero)
    lasso = Lasso(alpha=0.05).fit(x, x[:, 0])
    assert weights(lasso).nonzero == ((0, 1),)


def test_values_without_weights_have_none():
    assert weights(np.ones(3)) is None
    assert weights(LogisticRegression) is None  # the class, not a fitted model
    assert weights(LogisticRegression()) is None  # not fitted


def test_float32_casts_float64_data_and_leaves_the_rest():
    frame = pd.DataFrame({"f": [1.0, 2.0], "i": [1, 2], "s": ["a", "b"]})
    table = pa.table({"f": [1.0, 2.0], "s": ["a", "b"]})
    ints = np.arange(3)
    value = {
        "a": np.ones(3),
        "t": (sp.csr_matrix(np.eye(2)), frame),
        "l": [table, ints, "x"],
    }
    out = cast(value, "float32")
    assert out["a"].dtype == np.float32 and out["t"][0].dtype == np.float32
    dtypes = out["t"][1].dtypes
    assert (str(dtypes["f"]), str(dtypes["i"]), dtypes["s"]) == ("float32", "int64", frame.s.dtype)
    assert out["l"][0].schema.field("f").type == pa.float32()
    assert out["l"][1] is ints and out["l"][2] == "x"
    model = LogisticRegression()
    assert cast(model, "float32") is model
