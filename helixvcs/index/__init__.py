"""The run index: every run, its operators, node outcomes and metrics, in DuckDB.

This layer owns ``REPO/.helix/index.duckdb`` and is the only code that imports duckdb
(lazily, so importing helixvcs stays cheap). It imports nothing from helixvcs but
``helixvcs.errors``. History questions become SQL: see ``docs/index-schema.md`` for the
tables and example queries, and ``Index.query`` to run your own.

Concurrency design
------------------
DuckDB lets one process hold a file read-write, and a read-only open fails while another
process has it read-write. A ``helix run`` lasts minutes, yet ``helix log`` must work
meanwhile and two runs may overlap. So:

* **No connection outlives a call.** Each ``Index`` method opens the file, runs one short
  transaction (a few milliseconds) and closes it. To make that cheap, each process keeps
  one private in-memory DuckDB and ATTACHes/DETACHes the file per call (2-6 ms) instead of
  opening a new database (25 ms); see ``connection``.
* **Every call holds a lock file around the DuckDB work**: ``flock`` on
  ``.helix/index.lock``, ``LOCK_SH`` for reads and ``LOCK_EX`` for writes. Readers share;
  a writer waits for readers to leave. A second file, ``.helix/index.gate``, queues
  callers so that a stream of readers cannot starve a writer (flock is not fair); see
  ``locking``.
* **Within a process** a ``threading.RLock`` serializes calls, and each call opens its own
  lock descriptors (flock belongs to an open file description, not to a process).
  Calls do not nest.
* **Timeouts, not hangs.** A contended lock is waited for (woken by the kernel, not
  polled) up to ``lock_timeout`` (60 s by default), then ``IndexBusy``. A DuckDB lock
  error while we hold our lock means a program outside helix has the file open; it is
  retried with backoff until the same deadline.
* **Readers never create.** Reading a missing (or empty) file returns empty results.
  Writes create the file and apply migrations in the same locked session; a reader that
  finds an older schema upgrades it under the write lock, then reads. A file from a newer
  helixvcs raises ``IndexTooNew``; a damaged one ``IndexCorrupt``.

Glossary: a *run* is one execution of one workflow version; its *operators* are that
version's operator set; its *nodes* record what each operator did (compute, load, prune);
*objects* are the intermediates in the store, with their sizes and costs.
"""

from __future__ import annotations

from helixvcs.index.connection import prepare_engine
from helixvcs.index.errors import (
    AmbiguousRun,
    BadQuery,
    IndexBusy,
    IndexCorrupt,
    IndexFailure,
    IndexTooNew,
    IndexUnavailable,
    RunExists,
    UnknownRun,
)
from helixvcs.index.index import Index
from helixvcs.index.records import (
    NODE_STATES,
    NODE_STATUSES,
    RUN_STATUSES,
    BlockRecord,
    NodeRecord,
    ObjectRecord,
    OperatorIdentity,
    OperatorRecord,
    RunRecord,
    StoreTotals,
    WeightsRecord,
)

__all__ = [
    "NODE_STATES",
    "NODE_STATUSES",
    "RUN_STATUSES",
    "AmbiguousRun",
    "BadQuery",
    "BlockRecord",
    "Index",
    "IndexBusy",
    "IndexCorrupt",
    "IndexFailure",
    "IndexTooNew",
    "IndexUnavailable",
    "NodeRecord",
    "ObjectRecord",
    "OperatorIdentity",
    "OperatorRecord",
    "RunExists",
    "RunRecord",
    "StoreTotals",
    "UnknownRun",
    "WeightsRecord",
    "prepare_engine",
]
