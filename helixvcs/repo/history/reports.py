"""Recorded results of ``helix bisect`` and ``helix blame-metric``, for ``helix ui``.

A bisection or a blame can take many runs; its answer is worth keeping. Each time one
finishes, its ``--json`` document is written to ``.helix/reports/<verb>-<time>-<id>.json``
inside an envelope that says which verb made it, when, and with which options. The index
records runs, not these answers, so they live next to it as plain files: written
atomically (a temporary file renamed into place), never edited, and only the newest
``KEEP`` of each verb are kept.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from helixvcs.repo import Repo

VERBS = ("bisect", "blame-metric")
KEEP = 50  # reports kept per verb


@dataclass(frozen=True)
class RecordedReport:
    verb: str  # bisect | blame-metric
    recorded: str  # ISO 8601, UTC, seconds
    options: dict[str, Any]  # the options that are not in the document itself
    document: dict[str, Any]  # exactly what ``helix VERB --json`` printed

    def to_json(self) -> dict[str, Any]:
        return {
            "verb": self.verb,
            "recorded": self.recorded,
            "options": self.options,
            "document": self.document,
        }


def reports_dir(repo: Repo) -> Path:
    return repo.layout.helix / "reports"


def jsonable(value: Any) -> Any:
    """``value`` with NaN and infinities (not JSON) as None, as ``--json`` prints them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def record(repo: Repo, verb: str, document: dict[str, Any], **options: Any) -> Path | None:
    """Keep one finished report; a report that cannot be written is not an error of the verb."""
    now = datetime.now(UTC)
    entry = RecordedReport(verb, now.isoformat(timespec="seconds"), options, document)
    folder = reports_dir(repo)
    name = f"{verb}-{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(jsonable(entry.to_json()), indent=2, default=str, allow_nan=False)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, folder / name)
        _prune(folder, verb)
    except OSError:
        return None
    return folder / name


def recorded(repo: Repo) -> list[RecordedReport]:
    """Every kept report, newest first; unreadable files are left out."""
    folder = reports_dir(repo)
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.json"), reverse=True):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            found.append(
                RecordedReport(raw["verb"], raw["recorded"], raw["options"], raw["document"])
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue
    found.sort(key=lambda r: r.recorded, reverse=True)  # stable: same second, by name
    return found


def _prune(folder: Path, verb: str) -> None:
    mine = sorted(p for p in folder.glob(f"{verb}-*.json") if p.name[len(verb) + 1].isdigit())
    for old in mine[:-KEEP]:
        old.unlink(missing_ok=True)
