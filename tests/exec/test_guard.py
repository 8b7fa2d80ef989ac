"""Shared inputs are fingerprinted to catch an operator changing them in place.

``fingerprint`` on its own (what it sees and what it leaves unchecked), then
``run_task`` and a whole run with real tasks, results and stores: a change is named,
an unchanged value passes, and the "before" is taken once per value.
"""

from __future__ import annotations

import io
import threading
import zlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import scipy.sparse as sps
from sklearn.linear_model import LogisticRegression

from helixvcs.exec import Progress, RunSettings, execute, get_executor
from helixvcs.exec.guard import WATCH_LIMIT, fingerprint, frozen_copy, immutable
from helixvcs.exec.task import (
    Keep,
    Task,
    TaskMeta,
    TaskResult,
    _mutation_message,
    in_process,
    run_task,
)
from helixvcs.graph import compile_workflow
from helixvcs.hashing import StatCache
from helixvcs.plan import COMPUTE, MaterializePolicy
from helixvcs.store import MemoryObjectStore
from helixvcs.store.objectfile import encode_value
from helixvcs.store.writer import BackgroundWriter


def fitted() -> LogisticRegression:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(100, 3))
    return LogisticRegression().fit(features, (features[:, 0] > 0).astype(int))


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"x": np.arange(5.0), "s": list("abcde"), "c": pd.Categorical(list("ababa"))},
        index=pd.Index(range(10, 15), name="id"),
    )


def matrices() -> tuple[Any, Any]:
    return sps.random(50, 8, 0.2, "csr", rng=1), sps.random(50, 8, 0.2, "coo", rng=2)


def _set_cell(f: pd.DataFrame) -> None:
    f.iloc[2, 0] = -1.0


def _set_item(d: dict[str, Any]) -> None:
    d["extra"] = 1


def _sort(a: np.ndarray) -> None:
    a.sort()


def _sum_duplicates(pair: tuple[Any, Any]) -> None:
    pair[1].sum_duplicates()


# (make a value, change it in place)
CHANGES: dict[str, tuple[Callable[[], Any], Callable[[Any], None]]] = {
    "array-element": (lambda: np.arange(10.0), lambda a: a.__setitem__(3, -1)),
    "array-sorted": (lambda: np.arange(10.0)[::-1].copy(), _sort),
    "array-reshaped": (lambda: np.arange(12.0), lambda a: setattr(a, "shape", (3, 4))),
    "fortran-array": (lambda: np.asfortranarray(np.eye(4)), lambda a: a.__setitem__((0, 1), 2)),
    "strided-view": (lambda: np.arange(20.0)[::3], lambda a: a.__setitem__(1, 0)),
    "datetimes": (
        lambda: np.array(["2024-01-01", "2024-06-01"], dtype="datetime64[s]"),
        lambda a: a.__setitem__(0, np.datetime64("2025-01-01")),
    ),
    "frame-cell": (frame, _set_cell),
    "frame-new-column": (frame, lambda f: f.insert(0, "y", 1)),
    "frame-index-name": (frame, lambda f: setattr(f.index, "name", "row")),
    "frame-attrs": (frame, lambda f: f.attrs.update(source="x")),
    "sparse-in-tuple": (matrices, lambda t: t[0].data.__setitem__(0, 9.0)),
    "sparse-coo-coords": (matrices, lambda t: t[1].coords[0].__setitem__(0, 49)),
    "sparse-canonical": (
        lambda: (sps.csr_matrix(np.eye(3)), sps.coo_matrix(([1.0, 2.0], ([0, 0], [1, 1])))),
        _sum_duplicates,
    ),
    "array-in-dict": (
        lambda: {"X": np.ones((4, 2)), "y": np.zeros(4)},
        lambda d: d["y"].__setitem__(2, 1),
    ),
    "frame-in-dict": (lambda: {"train": frame(), "n": 5}, lambda d: _set_cell(d["train"])),
    "dict-key-added": (lambda: {"X": np.ones(3)}, _set_item),
    "list-appended": (lambda: [np.ones(3)], lambda xs: xs.append(np.ones(3))),
    "nested-tuple": (
        lambda: ((np.ones(3), np.zeros(3)), (np.ones(2), np.zeros(2))),
        lambda t: t[1][1].__setitem__(0, 5),
    ),
    "arrow-table-in-list": (
        lambda: [pa.table({"a": np.arange(4)}), np.arange(4)],
        lambda xs: xs.__setitem__(0, xs[0].slice(1)),
    ),
    "estimator-coef": (fitted, lambda m: m.coef_.__setitem__((0, 0), 0.0)),
    "estimator-param": (fitted, lambda m: m.set_params(C=5.0)),
    "estimator-refit": (
        fitted,
        lambda m: m.fit(np.eye(4)[:, :3], np.array([0, 1, 0, 1])),
    ),
    "plain-list": (lambda: [(1.0, 2.0)] * 3, lambda xs: xs.append((0.0, 0.0))),
}


@pytest.mark.parametrize("case", sorted(CHANGES))
def test_a_fingerprint_sees_every_change_in_place(case: str) -> None:
    make, change = CHANGES[case]
    value = make()
    before = fingerprint(value)
    assert before is not None and len(before) == 20
    assert fingerprint(value) == before  # stable while nothing changes
    assert fingerprint(make()) == before  # and the same for an equal value
    change(value)
    assert fingerprint(value) != before


def test_values_that_do_not_pickle_and_hold_no_buffers_stay_unchecked() -> None:
    assert fingerprint(threading.Lock()) is None
    assert fingerprint((threading.Lock(),)) is None


def test_a_container_with_one_unpicklable_element_is_checked_for_the_rest() -> None:
    value = {"lock": threading.Lock(), "X": np.ones(4), "n": [1, 2]}
    before = fingerprint(value)
    assert before is not None
    value["X"][0] = 0
    assert fingerprint(value) != before
    value["X"][0], value["n"] = 1, [1, 3]
    assert fingerprint(value) != before


def test_values_over_the_limit_are_not_checked_whole_or_in_a_container() -> None:
    array = np.zeros(1000)
    assert fingerprint(array, limit=array.nbytes) is not None
    assert fingerprint(array, limit=array.nbytes - 1) is None
    assert fingerprint((array, array), limit=array.nbytes) is None
    assert fingerprint({"m": fitted()}, limit=100) is None
    assert WATCH_LIMIT >= 2**30  # 1 GiB: what a tuple of census matrices is, many times over


def test_long_and_deep_containers_are_pickled_whole_and_still_checked() -> None:
    long = [np.ones(2) for _ in range(5000)]
    deep: Any = np.ones(3)
    for _ in range(6):
        deep = [deep]
    for value, inner in ((long, long[4321]), (deep, deep[0][0][0][0][0][0])):
        before = fingerprint(value)
        assert before is not None
        inner[1] = 7
        assert fingerprint(value) != before


def test_only_values_nothing_can_change_in_place_count_as_immutable() -> None:
    class Number(int):  # a subclass may carry mutable state of its own
        pass

    for value in (None, True, 3, 2.5, 1j, "s", b"b", (1, ("a", None)), frozenset({1, "x"})):
        assert immutable(value), value
    nested = (1,)
    for _ in range(5):
        nested = (nested,)
    for value in (
        [1], {"a": 1}, {1}, bytearray(b"b"), (1, [2]), Number(3), np.float64(1.0),
        np.arange(3), nested, tuple(range(5000)),
    ):  # fmt: skip
        assert not immutable(value), value


# -- in tasks ---------------------------------------------------------------------------

RUN = "guard-test"


def consumer(name: str, watch: bool = True) -> Task:
    return Task(
        name=name,
        key="c" * 40,
        kind="op",
        state=COMPUTE,
        run=RUN,
        store_root=None,
        code=None,
        params=("shared",),
        watch=("shared",) if watch else (),
    )


def big_sparse_pair() -> tuple[Any, Any]:
    """Two CSR matrices of 20 MB each: over the old 32 MiB limit together."""
    rng = np.random.default_rng(3)
    nnz = 1_700_000
    pair = []
    for _ in range(2):
        rows, cols = np.sort(rng.integers(0, 300_000, nnz)), rng.integers(0, 100, nnz)
        pair.append(sps.csr_matrix((rng.random(nnz), (rows, cols)), shape=(300_000, 100)))
    return pair[0], pair[1]


def run(functions: dict[str, Callable[..., Any]], *tasks: Task, value: Any) -> list[TaskMeta]:
    parent = TaskResult(value, TaskMeta("shared", COMPUTE))
    with in_process(RUN, functions, MemoryObjectStore()):
        return [run_task(task, parent).meta for task in tasks]


def test_changing_one_matrix_inside_a_big_tuple_fails_the_operator_naming_it() -> None:
    pair = big_sparse_pair()
    assert sum(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes for m in pair) > 32 * 2**20

    def scale(shared: tuple[Any, Any]) -> int:
        shared[1].data *= 2
        return 0

    reader, scaler = run(
        {"reader": lambda shared: shared[0].nnz, "scale": scale},
        consumer("reader"),
        consumer("scale"),
        value=pair,
    )
    assert reader.failure is None
    assert scaler.failure is not None
    assert scaler.failure.message == _mutation_message("scale", "shared")


def test_an_array_over_the_old_32_mib_limit_is_checked() -> None:
    array = np.zeros(5 * 2**20)  # 40 MiB

    def clip(shared: np.ndarray) -> None:
        shared[-1] = 1.0

    (meta,) = run({"clip": clip}, consumer("clip"), value=array)
    assert meta.failure is not None
    assert meta.failure.message == _mutation_message("clip", "shared")


def test_a_large_buffer_checksummed_on_two_threads_gives_zlibs_checksum() -> None:
    """Buffers of 32 MiB and more are checksummed in two halves on two threads: the
    fingerprint is the one the encoding's ``zlib.crc32`` gives, and a change in either
    half shows."""
    array = np.arange(6 * 2**20, dtype=np.float64)  # 48 MiB
    taken = fingerprint(array)
    assert taken == fingerprint(array, known=[(array, zlib.crc32(array))])
    for where in (0, array.size // 2 - 1, array.size // 2, array.size - 1):
        array[where] += 1.0
        assert fingerprint(array) != taken
        array[where] -= 1.0
    assert fingerprint(array) == taken


def test_a_fitted_estimator_refit_by_a_child_is_caught() -> None:
    model = fitted()

    def refit(shared: LogisticRegression) -> float:
        shared.fit(np.eye(4)[:, :3], np.array([0, 1, 0, 1]))
        return 0.0

    (meta,) = run({"refit": refit}, consumer("refit"), value=model)
    assert meta.failure is not None and "changed its input 'shared'" in meta.failure.message


def test_the_before_fingerprint_is_taken_once_and_kept_on_the_result() -> None:
    value = {"X": np.arange(6.0), "y": np.ones(6)}
    parent = TaskResult(value, TaskMeta("shared", COMPUTE))
    functions = {name: lambda shared: 1 for name in ("a", "b", "c")}
    with in_process(RUN, functions, MemoryObjectStore()):
        run_task(consumer("a"), parent)
        seal = parent._seal
        assert seal is not None and seal[0] is value and seal[1] == fingerprint(value)
        value["X"][0] = 99  # behind every child's back: the next checked child is blamed
        meta = run_task(consumer("b"), parent).meta
        assert meta.failure is not None and "'b' changed its input" in meta.failure.message
        run_task(consumer("c", watch=False), parent)  # unchecked: may change it
        assert parent._seal is None
        assert run_task(consumer("a"), parent).meta.failure is None


def test_an_immutable_shared_value_is_not_fingerprinted_and_a_list_in_a_tuple_is() -> None:
    touched = []

    def append(shared: tuple[int, list[int]]) -> int:
        shared[1].append(1)
        touched.append(1)
        return 0

    (plain,) = run({"read": lambda shared: shared[0]}, consumer("read"), value=(1, "a"))
    assert plain.failure is None
    (meta,) = run({"append": append}, consumer("append"), value=(1, [2]))
    assert touched and meta.failure is not None
    assert meta.failure.message == _mutation_message("append", "shared")


def test_an_immutable_parent_leaves_no_seal() -> None:
    parent = TaskResult((1, "a", 2.5), TaskMeta("shared", COMPUTE))
    with in_process(RUN, {"a": lambda shared: 1}, MemoryObjectStore()):
        assert run_task(consumer("a"), parent).meta.failure is None
    assert parent._seal is None


def _read_back(table: pa.Table) -> pa.Table:
    """``table`` as a load from the store gives it: read from its IPC stream."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return pa.ipc.open_stream(sink.getvalue()).read_all()


def test_arrow_values_count_as_immutable_only_over_immutable_buffers() -> None:
    numbers = np.arange(6.0)
    over_numpy = pa.table({"x": numbers, "s": list("abcdef")})  # "x" shares numbers' memory
    loaded = _read_back(over_numpy)
    words = pa.array(["a", "b", "a"]).dictionary_encode()
    for value in (
        loaded, loaded.column("x"), loaded.column("x").chunk(0), loaded.to_batches()[0],
        (loaded, 1), _read_back(pa.table({"w": words})),
    ):  # fmt: skip
        assert immutable(value), value
    mutable_words = pa.DictionaryArray.from_arrays(  # frozen indices, a writable dictionary
        _read_back(pa.table({"i": pa.array([0, 1, 0], pa.int32())})).column("i").chunk(0),
        pa.array(np.array([1.0, 2.0])),
    )
    for value in (
        over_numpy, pa.array(numbers), pa.py_buffer(bytearray(8)), mutable_words,
        (loaded, [1]),
    ):  # fmt: skip
        assert not immutable(value), value


def test_a_table_over_memory_a_child_can_write_is_still_checked() -> None:
    numbers = np.arange(4.0)
    table = pa.table({"x": numbers})

    def poke(shared: pa.Table) -> int:
        numbers[0] = 99.0  # the memory the table was made over, zero-copy
        return shared.num_rows

    (meta,) = run({"poke": poke}, consumer("poke"), value=table)
    assert meta.failure is not None and "changed its input 'shared'" in meta.failure.message


def test_a_loaded_table_is_shared_without_a_fingerprint() -> None:
    parent = TaskResult(_read_back(pa.table({"x": np.arange(4.0)})), TaskMeta("shared", COMPUTE))
    with in_process(RUN, {"a": lambda shared: shared.num_rows}, MemoryObjectStore()):
        assert run_task(consumer("a"), parent).meta.failure is None
    assert parent._seal is None  # never fingerprinted: nothing to keep


def test_a_child_that_fails_halfway_through_a_change_leaves_no_blame_behind() -> None:
    value = [np.arange(4.0)]

    def half(shared: list[np.ndarray]) -> None:
        shared[0][0] = -1
        raise RuntimeError("stopped")

    metas = run(
        {"half": half, "next": lambda shared: 1}, consumer("half"), consumer("next"), value=value
    )
    assert metas[0].failure is not None and "RuntimeError: stopped" in metas[0].failure.message
    assert metas[1].failure is None


WORKFLOW = """\
import numpy as np
import scipy.sparse as sps

from helixvcs import Workflow

wf = Workflow("guard")


@wf.op
def design():
    rng = np.random.default_rng(0)
    nnz = 1_700_000
    rows, cols = np.sort(rng.integers(0, 300_000, nnz)), rng.integers(0, 100, nnz)
    train = sps.csr_matrix((rng.random(nnz), (rows, cols)), shape=(300_000, 100))
    return train, train.copy()


@wf.op
def shifted(design):
    design[0].data += 1.0
    return design[0].nnz


@wf.metric
def total(design, shifted):
    return float(design[1].sum() + shifted)
"""


def execute_workflow(tmp_path: Path, text: str, settings: RunSettings) -> tuple[Any, Any]:
    """Compile ``text`` as a workflow and run every operator in this process: (dag, result)."""
    (tmp_path / "workflow.py").write_text(text, encoding="utf-8")
    dag = compile_workflow(tmp_path, tmp_path / "workflow.py", StatCache(None))
    result = execute(
        dag,
        dict.fromkeys(dag.nodes, COMPUTE),
        store=MemoryObjectStore(),
        executor=get_executor("local"),
        replan=lambda held, lost: {},
        compute_estimates={},
        settings=settings,
        progress=Progress(io.StringIO()),
    )
    return dag, result


def test_a_run_fails_when_an_operator_changes_a_matrix_inside_a_shared_tuple(tmp_path):
    _, result = execute_workflow(tmp_path, WORKFLOW, RunSettings())
    assert result.failure is not None
    assert result.failure.message == _mutation_message("shifted", "design")


SHARED_TABLE = """\
import numpy as np
import pyarrow as pa

from helixvcs import Workflow

wf = Workflow("shared-table")
SEEN = {}


def frozen(table):
    return all(
        b is None or not b.is_mutable
        for column in table.columns for chunk in column.chunks for b in chunk.buffers()
    )


@wf.op
def table():
    return pa.table({"x": np.arange(1000, dtype=np.float64)})  # over numpy's memory


@wf.op
def pair():
    return pa.table({"y": np.arange(10, dtype=np.float64)})


READERS


@wf.metric
def total(a, b, c, p, q):
    return float(a + b + c + p + q)
"""
READERS = "\n".join(
    f"@wf.op\ndef {name}({parent}):\n"
    f"    SEEN[{name!r}] = (id({parent}), frozen({parent}))\n"
    f"    return float(pa.compute.sum({parent}.column(0)).as_py())\n"
    for name, parent in zip("abcpq", ["table"] * 3 + ["pair"] * 2, strict=True)
)


def test_a_table_three_children_would_check_is_handed_on_as_an_immutable_copy(tmp_path):
    text = SHARED_TABLE.replace("READERS", READERS)
    # nothing kept: no write whose bytes the children could share
    dag, result = execute_workflow(tmp_path, text, RunSettings(policy=MaterializePolicy.NONE))
    assert result.failure is None
    assert result.metrics == {"total": 3 * 499500.0 + 2 * 45.0}
    seen = dag["a"].spec.func.__globals__["SEEN"]
    # three children: one copy into immutable memory, the same object for all three
    assert seen["a"][1] and seen["a"] == seen["b"] == seen["c"]
    # two children: handed on as it is (fingerprinted before and after each)
    assert not seen["p"][1] and seen["p"] == seen["q"]


def test_a_frozen_copy_is_equal_and_leaves_other_values_alone() -> None:
    table = pa.table({"x": np.arange(5.0), "s": list("abcde")})
    copy = frozen_copy(table)
    assert copy is not table and copy.equals(table) and immutable(copy)
    assert frozen_copy(copy) is copy  # immutable already: no second copy
    for value in (np.arange(3), [1, 2], pa.array([1, 2]), None):
        assert frozen_copy(value) is value


@pytest.mark.parametrize("kind", ["csr", "csc", "csr_array"])
def test_checksums_taken_by_the_encoding_give_the_fingerprint_taken_afresh(kind: str) -> None:
    matrix = sps.random(200, 30, 0.1, "csr", rng=6)
    matrix = {"csr": matrix, "csc": matrix.tocsc(), "csr_array": sps.csr_array(matrix)}[kind]
    known = encode_value(matrix).checksums
    assert len(known) == 3
    assert fingerprint(matrix, known=known) == fingerprint(matrix)
    wrong = tuple((array, crc ^ 1) for array, crc in known)
    assert fingerprint(matrix, known=wrong) != fingerprint(matrix)  # they are what is used


def test_a_known_checksum_of_an_array_not_in_c_order_is_not_used() -> None:
    fortran = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    assert fingerprint(fortran, known=[(fortran, 0)]) == fingerprint(fortran)


KEPT_MATRIX = """\
import numpy as np
import scipy.sparse as sps

from helixvcs import Workflow

wf = Workflow("kept-matrix")


@wf.op
def design():
    return sps.random(20_000, 50, 0.05, "csr", rng=np.random.default_rng(0))


@wf.op
def first(design):
    CHANGE
    return float(design.sum())


@wf.op
def second(design):
    return float(design.data.max())


@wf.metric
def total(first, second):
    return first + second
"""


def test_a_kept_matrix_is_checked_from_its_encoding_checksums(tmp_path):
    settings = RunSettings(policy=MaterializePolicy.ALL)  # kept: encoded as it is computed
    (tmp_path / "reads").mkdir()
    (tmp_path / "changes").mkdir()
    text = KEPT_MATRIX.replace("CHANGE", "pass")
    _, result = execute_workflow(tmp_path / "reads", text, settings)
    assert result.failure is None
    design = sps.random(20_000, 50, 0.05, "csr", rng=np.random.default_rng(0))
    assert result.metrics == {"total": float(design.sum()) + float(design.data.max())}
    text = KEPT_MATRIX.replace("CHANGE", "design.data *= 2.0")
    _, result = execute_workflow(tmp_path / "changes", text, settings)
    assert result.failure is not None
    assert result.failure.message == _mutation_message("first", "design")


def test_a_kept_matrix_leaves_a_seal_from_its_encoding() -> None:
    matrix = sps.random(300, 20, 0.1, "csr", rng=7)
    store = MemoryObjectStore()
    writer = BackgroundWriter(store)
    keep = Keep(MaterializePolicy.ALL, 1.0, 1.0, is_output=False)
    task = replace(consumer("design"), params=(), checked_by=2, keep=keep)
    try:
        with in_process(RUN, {"design": lambda: matrix}, store, writer):
            result = run_task(task)
    finally:
        writer.close()
    assert result.meta.writing and result._seal is not None and result._seal[0] is matrix
    assert result._seal[1] == fingerprint(matrix)
