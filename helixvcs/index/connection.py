"""The short DuckDB session each index operation runs in, and DuckDB error triage.

Opening a DuckDB database costs about 25 ms, nearly all of it building the catalog of
built-in functions; attaching a file to a DuckDB that is already open costs 2-6 ms. So
each process keeps one private in-memory DuckDB (the "engine", which holds no file), and
each operation ATTACHes ``index.duckdb``, works, and DETACHes it: DuckDB's own lock on
the file lives exactly as long as the operation, and detaching checkpoints the WAL into
the file. Callers hold the locks of ``locking.hold`` around ``attach``.

DuckDB errors are sorted here into: a foreign lock on the file (retry, then
``IndexBusy``), damage (``IndexCorrupt``), anything else while opening
(``IndexUnavailable``) or while working (``IndexFailure``). After any DuckDB error the
engine is thrown away and rebuilt on next use, so that nothing a failed statement left
behind (an attached file, an aborted transaction, an invalidated database) outlives the
operation.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from helixvcs.index.errors import IndexBusy, IndexCorrupt, IndexFailure, IndexUnavailable
from helixvcs.index.locking import backoff, remaining

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

T = TypeVar("T")
ALIAS = "helix_index"
_OTHER_ERROR_ATTEMPTS = 3
_ATTACH_RETRY_CAP = 0.1  # a foreign program holding the file may keep it for a while
_CORRUPT = re.compile(
    r"not a valid duckdb database|corrupt|checksum|could not read enough bytes", re.I
)
_FOREIGN_LOCK = re.compile(r"could not set lock|conflicting lock", re.I)
_NO_ROOM = re.compile(r"no space left|file too large|disk quota|disk is full|out of disk", re.I)
_NO_ROOM_ADVICE = (
    "; free space on that file system (helix gc --max-size SIZE makes the store smaller), "
    "then run again: the runs already recorded are kept"
)

# DuckDB's default 256 KiB blocks make every checkpoint write and checksum whole quarter
# megabytes for a few rows, and a small index file several times larger. Much smaller
# blocks cost where the store is large: the objects table's primary-key index lives in
# block-sized buffers whose list DuckDB reads at every attach and writes at every
# checkpoint. Measured at 1,000,000 objects: an attach 6.8 ms with 16 KiB blocks, 1.8 ms
# with 64 KiB; a run's two writes 32 ms against 24 ms; at 1,000 objects 16 and 64 KiB
# write alike (~9 ms each). Fixed when the file is created; DuckDB before 1.2 lacks the
# option, and then the default is used.
BLOCK_SIZE = 65536
_small_blocks = True

_engine: tuple[int, DuckDBPyConnection] | None = None
_inherited: list[DuckDBPyConnection] = []


def _engine_connection() -> DuckDBPyConnection:
    """This process's in-memory DuckDB, created on first use (and again after a fork)."""
    global _engine
    if _engine is not None and _engine[0] != os.getpid():
        # A forked child must not close its parent's engine (its threads did not survive
        # the fork); keep it referenced so its destructor never runs here.
        _inherited.append(_engine[1])
        _engine = None
    if _engine is None:
        import duckdb

        # One thread: index statements are tiny, and a helix run shares this process with
        # the user's operators, which deserve the cores more than a pool of idle workers.
        _engine = (os.getpid(), duckdb.connect(":memory:", config={"threads": 1}))
    return _engine[1]


def prepare_engine() -> None:
    """Create this process's engine now, before its first operation needs it: a warm
    server's spare child does, while it waits for a command (~25 ms of every command)."""
    _engine_connection()


def reset_engine() -> None:
    """Close the engine; closing releases any file a failed operation left attached."""
    global _engine
    if _engine is not None and _engine[0] == os.getpid():
        with suppress(Exception):  # already broken; a fresh engine replaces it
            _engine[1].close()
    _engine = None


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 300 else text[:297] + "..."


def failure(error: BaseException, path: Path) -> IndexFailure:
    """``IndexFailure`` with DuckDB's reason, and what to do when the disk is full."""
    reason = one_line(error)
    return IndexFailure(path, reason + (_NO_ROOM_ADVICE if _NO_ROOM.search(reason) else ""))


def corruption(error: BaseException, path: Path) -> IndexCorrupt | None:
    """``IndexCorrupt`` when DuckDB's message says the file is damaged, else None."""
    return IndexCorrupt(path, one_line(error)) if _CORRUPT.search(str(error)) else None


@contextmanager
def attach(
    path: Path, *, read_only: bool, deadline: float, foreign_sql: bool = False
) -> Iterator[DuckDBPyConnection]:
    """A connection whose default database is the index file, detached on exit.

    ``foreign_sql``: the caller runs SQL it did not write, which may have attached files
    of its own; those are released too.
    """
    import duckdb

    con = _attach_retrying(path, read_only=read_only, deadline=deadline)
    clean = True
    try:
        yield con
    except duckdb.Error as error:
        clean = False
        raise (corruption(error, path) or failure(error, path)) from error
    except RuntimeError as error:  # DuckDB's word for Ctrl-C (or SIGINT) during a query
        clean = False
        if str(error).startswith("Query interrupted"):
            raise KeyboardInterrupt from error
        raise
    except BaseException:
        clean = False
        raise
    finally:
        _detach(con, clean=clean, foreign_sql=foreign_sql)


def in_transaction(con: DuckDBPyConnection, action: Callable[[DuckDBPyConnection], T]) -> T:
    """Run ``action`` in one transaction: all of it is committed, or none."""
    con.execute("BEGIN TRANSACTION")
    try:
        result = action(con)
    except BaseException:
        _rollback_quietly(con)
        raise
    con.execute("COMMIT")
    return result


def _rollback_quietly(con: DuckDBPyConnection) -> None:
    import duckdb

    # The original error matters more; the engine is reset on the way out anyway.
    with suppress(duckdb.Error):
        con.execute("ROLLBACK")


def _attach_sql(path: Path, read_only: bool) -> str:
    quoted = str(path).replace("'", "''")
    if read_only:
        options = " (READ_ONLY)"
    elif _small_blocks and not path.exists():
        options = f" (BLOCK_SIZE {BLOCK_SIZE})"
    else:
        options = ""
    return f"ATTACH '{quoted}' AS {ALIAS}{options}"


def _give_up_small_blocks() -> None:
    global _small_blocks
    _small_blocks = False


def _attach_retrying(path: Path, *, read_only: bool, deadline: float) -> DuckDBPyConnection:
    import duckdb

    delay, failures = 0.005, 0
    while True:
        con = _engine_connection().cursor()
        new = not read_only and not path.exists()
        try:
            con.execute(_attach_sql(path, read_only))
            con.execute(f"USE {ALIAS}")
            if new:  # DuckDB creates it by the umask; the index is the user's alone
                with suppress(OSError):
                    os.chmod(path, 0o600)
            return con
        except duckdb.Error as error:
            _detach(con, clean=True, foreign_sql=False)  # whatever half-happened
            if _small_blocks and "block_size" in str(error).lower():
                _give_up_small_blocks()
                continue
            failures += 1
            _raise_unless_retryable(error, path, failures, deadline)
        delay = backoff(delay, deadline, cap=_ATTACH_RETRY_CAP)


def _raise_unless_retryable(error: Exception, path: Path, failures: int, deadline: float) -> None:
    damaged = corruption(error, path)
    if damaged is not None:
        raise damaged from error
    if _FOREIGN_LOCK.search(str(error)):
        if remaining(deadline) <= 0:
            holder = re.search(r"PID \d+", str(error))
            who = f"another program ({holder.group(0)})" if holder else "another program"
            raise IndexBusy(path, f"{who} has the DuckDB file open without helix's lock")
        return
    if _NO_ROOM.search(str(error)):
        raise IndexUnavailable(path, one_line(error) + _NO_ROOM_ADVICE) from error
    if failures >= _OTHER_ERROR_ATTEMPTS or remaining(deadline) <= 0:
        raise IndexUnavailable(path, one_line(error)) from error


def _detach(con: DuckDBPyConnection, *, clean: bool, foreign_sql: bool) -> None:
    """Release the file: close the cursor (rolling back anything open) and DETACH."""
    import duckdb

    try:
        con.close()
        if clean:
            engine = _engine_connection()
            engine.execute(f"DETACH DATABASE IF EXISTS {ALIAS}")
            clean = not foreign_sql or _nothing_attached(engine)
    except duckdb.Error:
        clean = False
    if not clean:
        reset_engine()


def _nothing_attached(engine: DuckDBPyConnection) -> bool:
    """False if ad-hoc SQL attached files of its own (they would stay locked otherwise)."""
    row = engine.execute(
        "SELECT count(*) FROM duckdb_databases() WHERE NOT internal AND database_name <> 'memory'"
    ).fetchone()
    return row is not None and row[0] == 0
