"""Errors the run index raises; each message is one line that says what to do.

``IndexFailure`` is the root: no DuckDB exception leaves this layer unwrapped, since no
other layer may import duckdb to catch one. ``IndexUnavailable`` and its subclasses mean
"the index cannot be used right now": a caller that can live without history
(``helix status`` printing what changed) may catch that one class and carry on.
"""

from __future__ import annotations

from pathlib import Path

from helixvcs.errors import HelixError, UserInputError


class IndexFailure(HelixError):
    """An index operation failed; the message carries DuckDB's own reason."""

    lead = "the run index {path} failed"

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{self.lead.format(path=path)}: {reason}")


class IndexUnavailable(IndexFailure):
    """The index file cannot be opened: a missing ``.helix/`` folder, permissions, ..."""

    lead = "cannot use the run index {path}"


class IndexBusy(IndexUnavailable):
    """Another process kept the index locked for longer than the lock timeout."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(path, f"{reason}; try again when it has finished")


class IndexTooNew(IndexUnavailable):
    """The file was migrated by a newer helixvcs; this one must not read or write it."""

    def __init__(self, path: Path, found: int, known: int) -> None:
        self.found = found
        self.known = known
        super().__init__(
            path,
            f"its schema version {found} is newer than this helixvcs understands ({known}); "
            "upgrade helixvcs (pip install -U helixvcs)",
        )


class IndexCorrupt(IndexUnavailable):
    """The file is not a DuckDB database, or DuckDB found it damaged."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(
            path,
            f"it is not a readable DuckDB database ({detail}); move it aside "
            f"(mv {path} {path}.bad, or helix fsck --repair) and helix will start a new index",
        )


class AmbiguousRun(UserInputError):
    """A run id prefix matches more than one run."""

    def __init__(self, prefix: str, matches: list[str]) -> None:
        self.prefix = prefix
        self.matches = matches
        shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
        super().__init__(
            f"run id prefix '{prefix}' is ambiguous (matches {shown}); give more characters"
        )


class BadQuery(UserInputError):
    """Ad-hoc SQL passed to ``Index.query`` failed (syntax, unknown column, a write, ...)."""

    def __init__(self, sql: str, detail: str) -> None:
        self.sql = sql
        super().__init__(f"index query failed: {detail}")


class UnknownRun(HelixError):
    """``finish_run`` was called for a run that ``begin_run`` never recorded."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"run {run_id} is not in the index; it must be begun before finished")


class RunExists(HelixError):
    """``begin_run`` was called twice with the same run id."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"run {run_id} is already in the index; run ids must be unique")
