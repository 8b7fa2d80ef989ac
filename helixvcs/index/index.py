"""``Index``: the run history of one repository, one short locked transaction per call."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from helixvcs.index import exchange, features, reads, writes
from helixvcs.index.connection import attach, corruption, in_transaction, one_line
from helixvcs.index.errors import BadQuery, IndexUnavailable
from helixvcs.index.locking import hold
from helixvcs.index.records import (
    NODE_STATES,
    BlockRecord,
    NodeRecord,
    ObjectRecord,
    OperatorIdentity,
    OperatorRecord,
    RunRecord,
    StoreTotals,
    WeightsRecord,
)
from helixvcs.index.schema import check_not_too_new, current_version, latest_version, migrate

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

T = TypeVar("T")
Action = Callable[["DuckDBPyConnection"], T]


@dataclass(frozen=True)
class _Shared:
    """One attach under the shared lock, read by the thread that opened it (``reading``)."""

    con: DuckDBPyConnection
    stack: ExitStack
    thread: int


class Index:
    """The DuckDB run index at ``path`` (normally ``REPO/.helix/index.duckdb``).

    Holds no connection between calls (except within a short ``reading`` block), so it is
    cheap to create, safe to share between threads, and never keeps another ``helix``
    process waiting for longer than one call (or block).
    Reads of a file that does not exist return empty results and create nothing; writes
    create the file and migrate it as needed.
    """

    def __init__(self, path: Path, *, lock_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self._shared: _Shared | None = None

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Let the reads of this block share one shared lock and one attach of the file,
        for a command that asks several questions before it starts its work (each read
        on its own pays for an attach, a schema check and a detach: ~8 ms).

        The block must be short: other processes' writes wait for it. A write inside it
        ends the sharing first (it needs the lock exclusively); so does an error of a
        read. Reads from other threads do not share it; blocks do not nest.
        """
        if self._shared is not None or not self._has_data():
            yield
            return
        self._shared = self._open_shared()
        try:
            yield
        finally:
            self._end_shared()

    def __repr__(self) -> str:
        return f"Index({str(self.path)!r})"

    # ---- writes -------------------------------------------------------------------------

    def ensure(self) -> bool:
        """Create the file if needed and migrate it to the current schema; True when the
        file was created (for a repository set up by ``helix init``: it had been deleted)."""
        existed = self._has_data()
        if existed and self._read_once(lambda con: True, False, False) == (False, True):
            return False  # there, and current: nothing to write (a read is 3x cheaper)
        self._write(lambda con: None)
        return not existed

    def begin_run(self, run: RunRecord, operators: Sequence[OperatorRecord]) -> None:
        """Record a run as started, with the operator set of the version it runs."""
        self._write(lambda con: writes.begin_run(con, run, operators))

    def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        finished: datetime,
        wall_seconds: float,
        saved_seconds: float,
        nodes: Sequence[NodeRecord],
        metrics: Mapping[str, float],
        error: str | None = None,
        intervals: Mapping[str, tuple[float, float]] | None = None,
        objects: Sequence[ObjectRecord] = (),
        loads: Mapping[str, float] | None = None,
        forget: Sequence[str] = (),
    ) -> None:
        """Record how a run ended, with its node records and metrics (and the confidence
        intervals of some of them), all at once: in the same transaction, the records of
        the objects it stored (``objects``) and evicted (``forget``), and how long its
        loads from the store took (``loads``), so the end of a run is one write of the
        file, not four, and its objects are recorded exactly when it is."""

        def finish(con: DuckDBPyConnection) -> None:
            if forget:
                writes.forget_objects(con, forget)
            if objects:
                writes.record_objects(con, objects)
            if loads:
                writes.record_loads(con, loads, datetime.now(UTC))
            writes.finish_run(
                con,
                run_id,
                status=status,
                finished=finished,
                wall_seconds=wall_seconds,
                saved_seconds=saved_seconds,
                nodes=nodes,
                metrics=metrics,
                error=error,
                intervals=intervals,
            )

        self._write(finish)

    def record_objects(self, objects: Sequence[ObjectRecord]) -> None:
        """Insert or replace stored-object records (by key)."""
        if objects:
            self._write(lambda con: writes.record_objects(con, objects))

    def touch_objects(self, keys: Sequence[str], when: datetime) -> None:
        """Set ``last_used`` of the given objects, for garbage collection by recency."""
        if keys:
            self._update(lambda con: writes.touch_objects(con, keys, when), None)

    def record_load(self, key: str, load_seconds: float) -> None:
        """Remember how long loading an object took; the cost model prefers it to a guess."""
        self._update(lambda con: writes.record_load(con, key, load_seconds), None)

    def record_loads(self, loads: Mapping[str, float]) -> None:
        """``record_load`` for many objects in one transaction."""
        if loads:
            when = datetime.now(UTC)
            self._update(lambda con: writes.record_loads(con, loads, when), None)

    def resize_objects(self, sizes: Mapping[str, int]) -> None:
        """Set the recorded bytes of objects the store moved (packed), and the totals (a
        moved object without a record keeps its old size in them until they are
        reconciled)."""
        if sizes:
            self._update(lambda con: writes.resize_objects(con, sizes), None)

    def forget_objects(self, keys: Sequence[str]) -> None:
        """Drop object records (after the store deleted the objects)."""
        if keys:
            self._update(lambda con: writes.forget_objects(con, keys), None)

    def record_features(
        self, run_id: str, blocks: Sequence[BlockRecord], weights: Sequence[WeightsRecord]
    ) -> None:
        """Record a run's column provenance of feature assemblies and estimator weights."""
        if blocks or weights:
            self._write(lambda con: features.record(con, run_id, blocks, weights))

    def mark_store_unreconciled(self) -> None:
        """A run ended without recording the objects it may have written."""
        self._update(writes.mark_store_unreconciled, None)

    def reconcile_store(self, missing: Sequence[str], unrecorded: Mapping[str, int]) -> StoreTotals:
        """Forget the records of ``missing`` objects (gone from the store) and set the
        totals to the records left plus the ``unrecorded`` objects' bytes (found in the
        store without a record)."""

        def action(con: DuckDBPyConnection) -> StoreTotals:
            return StoreTotals(*writes.reconcile_store(con, missing, unrecorded), stale=False)

        return self._write(action)

    def mark_interrupted(self) -> int:
        """Mark this host's 'running' runs whose process is gone; returns how many.
        Looks first, under the shared lock: most commands find nothing to mark."""
        none: list[str] = []
        if not self._read(writes.dead_runs, none):
            return 0
        return self._update(writes.mark_interrupted, 0)

    def merge_run(self, run_id: str, files: Mapping[str, Path]) -> bool:
        """Merge a run's records from a Parquet segment (``exchange``); False when the
        index has that run already, so merging twice changes nothing."""
        return self._write(lambda con: exchange.merge_run(con, run_id, files))

    # ---- reads --------------------------------------------------------------------------

    def runs(self, *, limit: int | None = None, status: str | None = None) -> list[RunRecord]:
        """Runs, newest first."""
        return self._read(lambda con: reads.runs(con, limit, status), [])

    def run(self, run_id_or_prefix: str) -> RunRecord | None:
        """The run with this id or unique id prefix; ``AmbiguousRun`` if several match."""
        if not run_id_or_prefix:
            return None
        return self._read(lambda con: reads.run(con, run_id_or_prefix), None)

    def last_run(self, *, status: str = "ok", workflow: str | None = None) -> RunRecord | None:
        """The newest run of a version with this status (of this workflow, if given);
        never a sampled run or an explored variant."""
        return self._read(lambda con: reads.last_run(con, status, workflow), None)

    def operators(self, run_id: str) -> list[OperatorRecord]:
        """The operator set of the version a run ran, in workflow order."""
        return self._read(lambda con: reads.operators(con, run_id), [])

    def operators_for(
        self, run_ids: Sequence[str], *, with_source: bool = True
    ) -> dict[str, list[OperatorRecord]]:
        """``operators`` of several runs in one query (``source`` left empty unless
        ``with_source``); each asked-for id is a key."""
        empty: dict[str, list[OperatorRecord]] = {run_id: [] for run_id in run_ids}
        if not run_ids:
            return empty
        return self._read(lambda con: reads.operators_for(con, run_ids, with_source), empty)

    def operator_sets(
        self, run_ids: Sequence[str]
    ) -> tuple[list[OperatorIdentity], dict[str, list[int]]]:
        """The operators of several runs, each distinct one once (name, kind, key, parents,
        parts), and per run the indexes of its own in that list, in workflow order; each
        asked-for id is a key. What ``helix explain`` compares thousands of versions by."""
        empty: tuple[list[OperatorIdentity], dict[str, list[int]]] = (
            [],
            {run_id: [] for run_id in run_ids},
        )
        if not run_ids:
            return empty
        return self._read(lambda con: reads.operator_sets(con, run_ids), empty)

    def nodes(self, run_id: str) -> list[NodeRecord]:
        """What each operator did in a run, in workflow order."""
        return self._read(lambda con: reads.nodes(con, run_id), [])

    def metrics(self, run_id: str) -> dict[str, float]:
        return self._read(lambda con: reads.metrics(con, run_id), {})

    def metrics_for(self, run_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """Metrics of several runs in one query; each asked-for id is a key."""
        empty: dict[str, dict[str, float]] = {run_id: {} for run_id in run_ids}
        if not run_ids:
            return empty
        return self._read(lambda con: reads.metrics_for(con, run_ids), empty)

    def intervals_for(self, run_ids: Sequence[str]) -> dict[str, dict[str, tuple[float, float]]]:
        """``{metric: (lo, hi)}`` per run, for the metrics that have a confidence interval."""
        empty: dict[str, dict[str, tuple[float, float]]] = {run_id: {} for run_id in run_ids}
        if not run_ids:
            return empty
        return self._read(lambda con: reads.intervals_for(con, run_ids), empty)

    def counts_for(self, run_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """``{"compute": n, "load": n, "prune": n}`` per run, in one query."""
        empty = {run_id: dict.fromkeys(NODE_STATES, 0) for run_id in run_ids}
        if not run_ids:
            return empty
        return self._read(lambda con: reads.counts_for(con, run_ids), empty)

    def feature_blocks(self, assembly_key: str) -> list[BlockRecord]:
        """Which columns came from which block, as last recorded for an assembly's key."""
        return self._read(lambda con: features.blocks_of(con, assembly_key), [])

    def estimator_weights(self, assembly_key: str) -> list[WeightsRecord]:
        """Non-zero weights of estimators trained on an assembly's key, newest first."""
        return self._read(lambda con: features.weights_on(con, assembly_key), [])

    def objects(self, keys: Sequence[str] | None = None) -> dict[str, ObjectRecord]:
        """Stored-object records by key: all of them, or those of ``keys`` that exist."""
        if keys is not None and not keys:
            return {}
        return self._read(lambda con: reads.objects(con, keys), {})

    def computed_by_ok_runs(self, keys: Sequence[str]) -> dict[str, float]:
        """Latest compute seconds of the keys that runs which ended ``ok`` computed."""
        if not keys:
            return {}
        return self._read(lambda con: reads.computed_by_ok_runs(con, keys), {})

    def object_sizes(self) -> dict[str, int]:
        """Bytes of every recorded object, by key (lighter than ``objects()``)."""
        return self._read(reads.object_sizes, {})

    def object_values(self) -> dict[str, tuple[str, int, float]]:
        """``(name, bytes, recompute seconds)`` of every recorded object, by key."""
        return self._read(reads.object_values, {})

    def store_totals(self) -> StoreTotals:
        """The store's size as recorded, without a scan; ``stale`` when it needs a
        reconciliation (a missing index is stale: it knows nothing of the store)."""
        return self._read(reads.store_totals, StoreTotals(0, 0, 0, stale=True))

    def compute_seconds(
        self, keys: Sequence[str], names: Sequence[str]
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Latest measured compute seconds by key, and by operator name, for the cost model."""
        empty: tuple[dict[str, float], dict[str, float]] = ({}, {})
        if not keys and not names:
            return empty
        return self._read(lambda con: reads.compute_seconds(con, keys, names), empty)

    def key_history(self, workflow: str, limit: int = 200) -> list[dict[str, str]]:
        """``{operator: key}`` of the last ``limit`` ok runs of ``workflow``, oldest first."""
        return self._read(lambda con: reads.key_history(con, workflow, limit), [])

    def running_keys(self) -> set[str]:
        """Keys of every operator of the runs in progress (not to be evicted)."""
        return self._read(reads.running_keys, set())

    def load_throughput(self, minimum: int = 3, raw: bool = False) -> float | None:
        """Measured store load throughput in bytes/s, once ``minimum`` loads are recorded:
        stored bytes per second, or with ``raw`` decoded (in-memory) bytes per second."""
        return self._read(lambda con: reads.load_throughput(con, minimum, raw), None)

    def export_run(self, run_id: str, folder: Path) -> dict[str, Path]:
        """Write a run's records as a Parquet segment in ``folder`` (``exchange``)."""
        return self._read(lambda con: exchange.export_run(con, run_id, folder), {})

    def runs_present(self, run_ids: Sequence[str]) -> set[str]:
        """Which of ``run_ids`` the index holds."""
        if not run_ids:
            return set()
        return self._read(lambda con: exchange.run_ids_present(con, run_ids), set())

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        """Run read-only SQL against the index (timestamps are naive UTC); ``[]`` if none."""

        def run(con: DuckDBPyConnection) -> list[tuple]:
            import duckdb

            try:
                return con.execute(sql, list(params)).fetchall()
            except duckdb.Error as error:
                if corruption(error, self.path) is not None:
                    raise
                raise BadQuery(sql, one_line(error)) from error

        return self._read(run, [], foreign_sql=True)

    def select(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        """Run helixvcs's own read-only SQL (never the user's: that is ``query``), within
        a ``reading`` block's attach when there is one; ``[]`` if there is no index."""
        return self._read(lambda con: con.execute(sql, list(params)).fetchall(), [])

    # ---- plumbing -----------------------------------------------------------------------

    def _deadline(self) -> float:
        return time.monotonic() + max(0.0, self.lock_timeout)

    def _has_data(self) -> bool:
        """Whether there is a database to read: a missing or empty file holds no runs."""
        try:
            return self.path.stat().st_size > 0
        except OSError:
            return False

    def _update(self, action: Action[T], missing: T) -> T:
        """A write that only changes existing rows: on a missing file there is nothing to
        change, so return ``missing`` rather than create an index to change nothing in."""
        return self._write(action) if self._has_data() else missing

    def _write(self, action: Action[T]) -> T:
        """Run ``action`` in one transaction under the exclusive lock, migrating first."""
        self._end_shared()
        if not self.path.parent.is_dir():
            raise IndexUnavailable(self.path, f"{self.path.parent} does not exist; run helix init")
        deadline = self._deadline()
        with hold(self.path, exclusive=True, deadline=deadline):
            self._drop_empty_file()
            with attach(self.path, read_only=False, deadline=deadline) as con:
                migrate(con, self.path)
                return in_transaction(con, action)

    def _drop_empty_file(self) -> None:
        """A zero-byte file is a creation that died before DuckDB wrote a header: start over."""
        if self.path.exists() and not self._has_data():
            self.path.unlink()
            self.path.with_name(self.path.name + ".wal").unlink(missing_ok=True)

    def _read(self, action: Action[T], empty: T, *, foreign_sql: bool = False) -> T:
        """Run ``action`` under the shared lock; upgrade an older schema first."""
        stale, result = self._read_once(action, empty, foreign_sql)
        if stale:
            self.ensure()
            stale, result = self._read_once(action, empty, foreign_sql)
        return result

    def _open_shared(self) -> _Shared | None:
        """An attach under the shared lock, for ``reading``; None when the file is gone
        or needs a migration (then each read goes its own way, as outside a block)."""
        stack = ExitStack()
        try:
            deadline = self._deadline()
            stack.enter_context(hold(self.path, exclusive=False, deadline=deadline))
            if not self._has_data():
                stack.close()
                return None
            con = stack.enter_context(attach(self.path, read_only=True, deadline=deadline))
            version = current_version(con)
            check_not_too_new(version, self.path)
            if version < latest_version():
                stack.close()
                return None
        except BaseException:
            stack.__exit__(*sys.exc_info())
            raise
        return _Shared(con, stack, threading.get_ident())

    def _end_shared(self) -> None:
        """End this thread's ``reading`` block early (another thread's goes on: its
        lock keeps this thread's next call waiting until it ends)."""
        shared = self._shared
        if shared is not None and shared.thread == threading.get_ident():
            self._shared = None
            shared.stack.close()

    def _read_shared(self, shared: _Shared, action: Action[T]) -> T:
        try:
            return action(shared.con)
        except BaseException:
            self._shared = None
            shared.stack.__exit__(*sys.exc_info())  # DuckDB errors become IndexFailure there
            raise

    def _read_once(self, action: Action[T], empty: T, foreign_sql: bool) -> tuple[bool, T]:
        """``(stale, result)``: stale when the file needs a migration before reading."""
        shared = self._shared
        if shared is not None and shared.thread == threading.get_ident():
            if not foreign_sql:
                return False, self._read_shared(shared, action)
            self._end_shared()  # SQL of the user's own may attach files: a connection of its own
        if not self._has_data():
            return False, empty
        deadline = self._deadline()
        with hold(self.path, exclusive=False, deadline=deadline):
            if not self._has_data():
                return False, empty
            with attach(
                self.path, read_only=True, deadline=deadline, foreign_sql=foreign_sql
            ) as con:
                version = current_version(con)
                check_not_too_new(version, self.path)
                if version < latest_version():
                    return version > 0, empty
                return False, action(con)
