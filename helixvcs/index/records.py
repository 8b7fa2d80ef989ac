"""The rows of the index as frozen values, and their conversion to and from SQL rows.

Every datetime a record holds is timezone-aware UTC. The database stores naive UTC
``TIMESTAMP`` values (so that SQL sorts and compares them without a session time zone);
records convert on the way in and out. A naive datetime handed to a record is taken as
local time, as Python's own ``datetime.astimezone`` does, so ``datetime.now()`` and
``datetime.now(UTC)`` both mean "now".
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

RUN_STATUSES = ("running", "ok", "failed", "interrupted")
RUN_KINDS = ("commit", "sampled", "explored", "precision", "pruned")
FINISHED_STATUSES = ("ok", "failed", "interrupted")
NODE_STATES = ("compute", "load", "prune")
NODE_STATUSES = ("ok", "failed", "skipped")


def to_utc(value: datetime) -> datetime:
    """Aware UTC, whatever the caller passed (naive means local time)."""
    return value.astimezone(UTC)


def to_db_time(value: datetime | None) -> datetime | None:
    """The naive-UTC form stored in ``TIMESTAMP`` columns."""
    return None if value is None else to_utc(value).replace(tzinfo=None)


def from_db_time(value: datetime | None) -> datetime | None:
    """Stored naive UTC back to aware UTC (never reinterpreted as local time)."""
    return None if value is None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RunRecord:
    """One execution of one workflow version: what ran, where, and how it ended."""

    run_id: str
    started: datetime
    finished: datetime | None
    status: str  # 'running' | 'ok' | 'failed' | 'interrupted'
    revision: str  # what the user asked for: a commit-ish or "WORKTREE"
    commit: str | None  # the resolved commit, None for an uncommitted working tree
    fingerprint: str | None  # hash of the operator set, to group identical versions
    branch: str | None
    subject: str | None
    author: str | None
    workflow: str
    sample: float | None
    materialize: str
    executor: str
    pid: int
    host: str
    wall_seconds: float | None = None
    saved_seconds: float | None = None
    error: str | None = None
    kind: str = "commit"  # 'commit' | 'sampled' | 'explored' (schema v3)
    seed: int | None = None  # the sample's seed, with ``sample``
    base_run: str | None = None  # explored: the run of the version it was derived from
    variant: str | None = None  # explored: JSON {operator: {constant: value}}
    precision: str | None = None  # a low-precision run: 'float32' (schema v4)
    pruned: str | None = None  # a pruned run: JSON {assembly: [block, ...]} (schema v4)

    def __post_init__(self) -> None:
        object.__setattr__(self, "started", to_utc(self.started))
        if self.finished is not None:
            object.__setattr__(self, "finished", to_utc(self.finished))


@dataclass(frozen=True)
class OperatorRecord:
    """One operator of the version that ran, with the parts its cache key was built from."""

    name: str
    kind: str
    key: str
    code_hash: str
    parents: tuple[str, ...]
    position: int
    file: str
    line: int
    source: str
    parts: Mapping[str, str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "parents", tuple(self.parents))
        object.__setattr__(self, "parts", MappingProxyType(dict(self.parts)))


@dataclass(frozen=True)
class OperatorIdentity:
    """What comparing two versions needs of one of their operators: its name, kind, key,
    parents and key parts (``Index.operator_sets``); ``source`` is always empty."""

    name: str
    kind: str
    key: str
    parents: tuple[str, ...]
    parts: Mapping[str, str]
    source: str = ""


@dataclass(frozen=True)
class NodeRecord:
    """What happened to one operator in one run: computed, loaded or pruned, and its cost."""

    name: str
    key: str
    state: str  # 'compute' | 'load' | 'prune'
    seconds: float
    load_seconds: float | None
    bytes: int | None
    materialized: bool
    status: str  # 'ok' | 'failed' | 'skipped'


@dataclass(frozen=True)
class ObjectRecord:
    """A stored intermediate: its size, codec, and what it cost to compute and to load."""

    key: str
    name: str
    bytes: int
    raw_bytes: int
    codec: str
    checksum: str
    compute_seconds: float
    load_seconds: float | None
    created: datetime
    last_used: datetime
    recompute_seconds: float | None = None  # compute seconds of it and of the ancestors
    # that would be recomputed without it, when it was kept (schema v2)

    def __post_init__(self) -> None:
        object.__setattr__(self, "created", to_utc(self.created))
        object.__setattr__(self, "last_used", to_utc(self.last_used))


@dataclass(frozen=True)
class BlockRecord:
    """Which columns ``[start, stop)`` of a feature assembly came from which block."""

    assembly: str
    assembly_key: str
    position: int
    block: str
    start: int
    stop: int


@dataclass(frozen=True)
class WeightsRecord:
    """The columns of an assembly that an estimator gives a non-zero weight."""

    name: str  # the estimator's operator
    key: str
    assembly: str
    assembly_key: str
    attribute: str  # coef_ | feature_importances_
    width: int  # n_features_in_
    nonzero: tuple[tuple[int, int], ...]  # column ranges [start, stop)
    run_id: str = ""  # the run that recorded it (filled in on reads)


@dataclass(frozen=True)
class StoreTotals:
    """The store's size as the index knows it, without looking at the store (schema v5)."""

    objects: int  # recorded objects
    bytes: int  # their bytes
    unrecorded_bytes: int  # in the store without a record, at the last reconciliation
    stale: bool  # a run ended since without recording what it wrote: reconcile first

    @property
    def used(self) -> int:
        return self.bytes + self.unrecorded_bytes


def columns(record_type: type) -> tuple[str, ...]:
    """Column names of a record's table, in field order (tables mirror the records)."""
    return tuple(f.name for f in fields(record_type))


RUN_COLUMNS = columns(RunRecord)
OPERATOR_COLUMNS = columns(OperatorRecord)
NODE_COLUMNS = columns(NodeRecord)
OBJECT_COLUMNS = columns(ObjectRecord)


_RUN_TIMES = (RUN_COLUMNS.index("started"), RUN_COLUMNS.index("finished"))
_OBJECT_TIMES = (OBJECT_COLUMNS.index("created"), OBJECT_COLUMNS.index("last_used"))
_PARENTS = OPERATOR_COLUMNS.index("parents")
_PARTS = OPERATOR_COLUMNS.index("parts")


def run_to_row(run: RunRecord) -> list[Any]:
    values = list(astuple(run))
    for i in _RUN_TIMES:
        values[i] = to_db_time(values[i])
    return values


def run_from_row(row: Sequence[Any]) -> RunRecord:
    values = list(row)
    for i in _RUN_TIMES:
        values[i] = from_db_time(values[i])
    return RunRecord(*values)


def operator_to_row(op: OperatorRecord) -> list[Any]:
    values = [getattr(op, name) for name in OPERATOR_COLUMNS]
    values[_PARENTS] = list(op.parents)
    values[_PARTS] = json.dumps(_escaped(dict(op.parts)), sort_keys=True)
    return values


def operator_from_row(row: Sequence[Any]) -> OperatorRecord:
    values = list(row)
    values[_PARENTS] = tuple(values[_PARENTS] or ())
    values[_PARTS] = _unescaped(json.loads(values[_PARTS])) if values[_PARTS] else {}
    return OperatorRecord(*values)


def identity_from_row(row: Sequence[Any]) -> OperatorIdentity:
    """An ``OperatorIdentity`` from (name, kind, key, parents, parts) as stored."""
    name, kind, key, parents, parts = row
    return OperatorIdentity(
        name, kind, key, tuple(parents or ()), _unescaped(json.loads(parts)) if parts else {}
    )


# A file name that is not UTF-8 reaches Python as a string with lone surrogates (PEP 383,
# U+DC80..U+DCFF), which DuckDB's JSON and VARCHAR refuse. In the parts of an operator,
# they are kept as the last 128 code points of plane 16 (private use), and turned back on
# the way out, so a record compares equal to the compiled operator it was made from.
_SHIFT = 0x10FF80 - 0xDC80


_RANGES = {low: re.compile(f"[{chr(low)}-{chr(low + 127)}]") for low in (0xDC80, 0x10FF80)}


def _shift(text: str, low: int, shift: int) -> str:
    if _RANGES[low].search(text) is None:  # nearly always: one scan in C
        return text
    return "".join(chr(ord(c) + shift) if low <= ord(c) < low + 128 else c for c in text)


def _escaped(parts: dict[str, str]) -> dict[str, str]:
    return {_shift(k, 0xDC80, _SHIFT): _shift(v, 0xDC80, _SHIFT) for k, v in parts.items()}


def _unescaped(parts: dict[str, str]) -> dict[str, str]:
    return {_shift(k, 0x10FF80, -_SHIFT): _shift(v, 0x10FF80, -_SHIFT) for k, v in parts.items()}


def node_to_row(node: NodeRecord) -> list[Any]:
    return list(astuple(node))


def node_from_row(row: Sequence[Any]) -> NodeRecord:
    return NodeRecord(*row)


def object_to_row(obj: ObjectRecord) -> list[Any]:
    values = list(astuple(obj))
    for i in _OBJECT_TIMES:
        values[i] = to_db_time(values[i])
    return values


def object_from_row(row: Sequence[Any]) -> ObjectRecord:
    values = list(row)
    for i in _OBJECT_TIMES:
        values[i] = from_db_time(values[i])
    return ObjectRecord(*values)
