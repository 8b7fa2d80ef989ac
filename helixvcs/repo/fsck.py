"""``helix fsck [--repair]``: verify the store and the index; repair what can be repaired.

The store is walked by ``helixvcs.store.check`` (every object verified against its own
checksums and the one the index recorded, never decoded). The index must open as helix's
own DuckDB database; every object it records must be in the store. A repair never loses
what can still be used: a damaged object is removed (its value is computed again when a
run needs it), an index that cannot be read is moved aside (``index.duckdb.bad-<time>``,
never deleted) and a new one started, and records of objects that are gone are forgotten.
Without ``--repair`` nothing changes, and each finding names the command that repairs it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helixvcs.index.errors import IndexCorrupt, IndexUnavailable
from helixvcs.store.check import Walk, find_damage, repair
from helixvcs.store.disk import DiskObjectStore
from helixvcs.store.errors import StoreReadError

if TYPE_CHECKING:
    from helixvcs.repo import Repo

REPAIR_COMMAND = "helix fsck --repair"


@dataclass
class Finding:
    """One problem: where, what, what the repair does, and whether it was done."""

    path: str
    problem: str
    repair: str
    key: str | None = None
    repaired: bool = False
    error: str | None = None  # the repair was refused

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "key": self.key,
            "problem": self.problem,
            "repair": self.repair,
            "repaired": self.repaired,
            "error": self.error,
        }

    def line(self) -> str:
        if self.repaired:
            return f"{self.path}: {self.problem}; repaired: {self.repair}"
        if self.error is not None:
            return f"{self.path}: {self.problem}; could not {self.repair}: {self.error}"
        return f"{self.path}: {self.problem}; `{REPAIR_COMMAND}` would {self.repair}"


@dataclass
class FsckReport:
    repaired: bool  # --repair was given
    objects: int = 0
    runs: int | None = None  # in the index, when it opened
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing is left to repair."""
        return all(f.repaired for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "repair": self.repaired,
            "objects": self.objects,
            "runs": self.runs,
            "problems": [f.to_json() for f in self.findings],
        }

    def lines(self) -> list[str]:
        found = len(self.findings)
        fixed = sum(f.repaired for f in self.findings)
        summary = f"checked {self.objects} objects and the run index ({self.runs or 0} runs): "
        if not found:
            return [summary + "no problems"]
        summary += f"{found} problem{'s' if found != 1 else ''}"
        if self.repaired:
            summary += f", {fixed} repaired"
        return [*(f.line() for f in self.findings), summary]


def fsck(repo: Repo, repair_all: bool) -> FsckReport:
    report = FsckReport(repaired=repair_all)
    checksums = _check_index(repo, report, repair_all)
    store = repo.store
    assert isinstance(store, DiskObjectStore)
    walk = Walk()
    for damage in list(find_damage(store, checksums, walk)):
        finding = Finding(str(damage.path), damage.problem, damage.repair, damage.key)
        report.findings.append(finding)
        if repair_all:
            _apply(finding, partial(repair, damage))
    report.objects = walk.objects
    if repair_all and any(f.repaired for f in report.findings):  # what a repair let us see
        again = Walk()
        seen = {(f.path, f.key) for f in report.findings}
        for damage in find_damage(store, checksums, again):
            if (str(damage.path), damage.key) not in seen:
                finding = Finding(str(damage.path), damage.problem, damage.repair, damage.key)
                report.findings.append(finding)
                _apply(finding, partial(repair, damage))
        report.objects = again.objects
    _check_records(repo, report, checksums, repair_all)
    return report


def _check_index(repo: Repo, report: FsckReport, repair_all: bool) -> dict[str, str]:
    """The index's checksums by key ({} when it cannot be read), noting what is wrong."""
    index, path = repo.index, repo.layout.index
    try:
        if not path.exists():
            raise FileNotFoundError(path)
        index.ensure()  # migrates an older schema, refuses a foreign or damaged file
        report.runs = len(index.runs())
        return {k: r.checksum for k, r in index.objects().items()}
    except FileNotFoundError:
        finding = Finding(str(path), "the run index is missing", "start a new, empty index")
    except IndexCorrupt as exc:
        aside = path.with_name(f"{path.name}.bad-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        detail = str(exc).split(": ", 1)[-1].split("; move it aside")[0]
        finding = Finding(str(path), detail, f"move it aside to {aside.name} and start a new index")
        if repair_all:
            _apply(finding, lambda: _move_aside(path, aside))
    report.findings.append(finding)
    if repair_all and finding.error is None:
        _apply(finding, index.ensure)
        report.runs = len(index.runs())
    return {}


def _move_aside(path: Path, aside: Path) -> None:
    os.replace(path, aside)
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        os.replace(wal, aside.with_name(aside.name + ".wal"))


def _check_records(
    repo: Repo, report: FsckReport, checksums: dict[str, str], repair_all: bool
) -> None:
    """Objects the index records that the store no longer holds."""
    gone = sorted(k for k in checksums if _gone(repo, k))
    if not gone:
        return
    finding = Finding(
        str(repo.layout.index),
        f"records {len(gone)} stored object{'s' if len(gone) != 1 else ''} that the store "
        f"does not hold ({', '.join(k[:12] for k in gone[:3])}{', ...' if len(gone) > 3 else ''})",
        "forget those records (their values are computed again when a run needs them)",
    )
    report.findings.append(finding)
    if repair_all:
        _apply(finding, lambda: repo.index.forget_objects(gone))


def _gone(repo: Repo, key: str) -> bool:
    try:
        return not repo.store.has(key)
    except StoreReadError:  # there, but unreadable: the walk of the store reported it
        return False


def _apply(finding: Finding, action: Callable[[], object]) -> None:
    try:
        action()
    except OSError as exc:
        finding.error = exc.strerror or str(exc)
    except IndexUnavailable as exc:
        finding.error = str(exc)
    else:
        finding.repaired = True
