"""``helix push`` and ``helix pull``: share run records and values through a remote.

A push uploads, for each run it sends, the objects of the run's operators that the
remote lacks and, meanwhile, the run's records as a Parquet segment, then the run's
manifest (``helixvcs.store.remote``): last, so a manifest on the remote always finds
what it names, whenever a push stops. A pull merges the segments of runs this clone does
not have (``helixvcs.index.exchange``: pulling twice changes nothing) and, with
``objects``, downloads their values meanwhile, each verified against the checksum its
manifest recorded before it reaches the local store.

Both start connecting to the remote (a tenth of a second or two: the client's library
imported, a client made, a first request answered) while they read git and the index.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helixvcs.errors import UserInputError
from helixvcs.index import ObjectRecord
from helixvcs.repo.remotes import put_manifest, put_segment, read_remotes, remember_throughput
from helixvcs.store import CorruptObject, ObjectInfo
from helixvcs.store.base import STREAM_PIECE
from helixvcs.store.remote import (
    Reader,
    Remote,
    RemoteObjectRefused,
    RemoteSpec,
    held_whole,
    receive,
)
from helixvcs.vcs import resolve

if TYPE_CHECKING:
    from helixvcs.exec import Progress
    from helixvcs.repo import Repo

_LATEST_CLEAN_RUN = """
SELECT run_id FROM runs WHERE status = 'ok' AND kind = 'commit' AND "commit" = ?
  AND fingerprint IS NULL AND sample IS NULL
ORDER BY started DESC, run_id DESC LIMIT 1
"""


@dataclass
class SyncReport:
    """What a push or a pull did."""

    action: str  # push | pull
    remote: RemoteSpec
    runs: list[str] = field(default_factory=list)  # sent or merged
    runs_skipped: list[str] = field(default_factory=list)  # the other side had them
    objects: int = 0  # transferred
    bytes: int = 0
    objects_skipped: int = 0  # the other side had them
    refused: list[dict[str, str]] = field(default_factory=list)  # corrupt, untrusted pickle
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "remote": self.remote.name,
            "url": self.remote.url,
            "runs": self.runs,
            "runs_skipped": self.runs_skipped,
            "objects": self.objects,
            "bytes": self.bytes,
            "objects_skipped": self.objects_skipped,
            "refused": self.refused,
            "seconds": round(self.seconds, 6),
        }

    def summary(self) -> str:
        verb = "pushed to" if self.action == "push" else "pulled from"
        mb = self.bytes / 1e6
        return (
            f"{verb} '{self.remote.name}' ({self.remote.url}): {len(self.runs)} runs "
            f"({len(self.runs_skipped)} already there), {self.objects} objects, {mb:.1f} MB "
            f"({self.objects_skipped} already there) in {self.seconds:.2f} s"
        )


# -- push ---------------------------------------------------------------------------------


def push(repo: Repo, remote: str | None, revs: Sequence[str], progress: Progress) -> SyncReport:
    """Upload the latest successful run of each of ``revs`` (default: HEAD) with its values."""
    started = time.perf_counter()
    spec = read_remotes(repo.layout).get(remote)
    report = SyncReport("push", spec)
    with ThreadPoolExecutor(max_workers=1) as aside:
        # connecting (the protocol's package imported, a new client, its first answer)
        # takes a few tenths of a second: the index is read meanwhile
        opening = aside.submit(Remote.open, spec, create=True, runs=True)
        run_ids = [_run_of(repo, rev) for rev in (revs or ["HEAD"])]
        target = opening.result()
        on_remote = set(target.list_manifests())
        for run_id in dict.fromkeys(run_ids):
            if run_id in on_remote:
                report.runs_skipped.append(run_id)
                continue
            # nothing names the segment until the manifest does: it goes up meanwhile
            segment = aside.submit(put_segment, repo.index, target, run_id)
            objects = _push_objects(repo, target, run_id, report, progress)
            put_manifest(repo.index, target, run_id, segment.result(), objects)
            report.runs.append(run_id)
    report.seconds = time.perf_counter() - started
    return report


def _run_of(repo: Repo, rev: str) -> str:
    version = resolve(repo.root, rev)
    rows = repo.index.select(_LATEST_CLEAN_RUN, [version.commit])
    if not rows:
        raise UserInputError(
            f"no successful run of {rev} ({version.revision}) to push; run `helix run {rev}` first"
        )
    return str(rows[0][0])


def _push_objects(
    repo: Repo, target: Remote, run_id: str, report: SyncReport, progress: Progress
) -> dict[str, dict[str, Any]]:
    """Upload the run's stored values the remote lacks; their manifest entries."""
    store, index = repo.store, repo.index
    nodes = [n for n in index.nodes(run_id) if store.has(n.key)]
    records = index.objects([n.key for n in nodes])
    entries: dict[str, dict[str, Any]] = {}
    for node in nodes:
        try:
            info = store.info(node.key)
        except CorruptObject as exc:
            progress.warn(str(exc))
            continue
        if info is None:
            continue
        rec = records.get(node.key)
        entries[node.key] = {
            "name": node.name,
            "bytes": info.bytes,
            "codec": info.codec,
            "checksum": info.checksum,
            "compute_seconds": rec.compute_seconds if rec is not None else node.seconds,
        }
    there = target.object_sizes(entries)
    report.objects_skipped += len(there)
    missing = {k: int(e["bytes"]) for k, e in entries.items() if k not in there}
    moved = target.upload_objects(store, missing, missing)
    for unread in moved.unread:  # damaged or gone meanwhile: not sent, so not named
        progress.warn(str(unread))
        entries.pop(unread.key, None)
    report.objects += moved.count
    report.bytes += moved.bytes
    return entries


# -- pull ---------------------------------------------------------------------------------


def pull(
    repo: Repo, remote: str | None, revs: Sequence[str], objects: bool, progress: Progress
) -> SyncReport:
    """Merge the remote's runs (of ``revs``' commits, or all); with ``objects``, their values."""
    started = time.perf_counter()
    spec = read_remotes(repo.layout).get(remote)
    report = SyncReport("pull", spec)
    with ThreadPoolExecutor(max_workers=1) as aside:
        # connecting takes a few tenths of a second: git and the index are read meanwhile
        opening = aside.submit(Remote.open, spec, runs=True)
        commits = {resolve(repo.root, rev).commit for rev in revs}
        repo.index.ensure()
        source = opening.result()
        listed = source.list_manifests()
        present = repo.index.runs_present(listed)
        wanted = [r for r in listed if objects or r not in present]
        manifests = {
            run_id: manifest
            for run_id, manifest in source.read_manifests(wanted).items()
            if not commits or manifest.get("commit") in commits
        }
        # the records merge while the values download: neither waits for the other
        new = {run_id: m for run_id, m in manifests.items() if run_id not in present}
        merging = aside.submit(_merge_all, repo, source, new)
        if objects:
            moving = time.perf_counter()
            _pull_objects(repo, source, manifests.values(), report, progress)
            if report.objects:
                moved = report.bytes / max(time.perf_counter() - moving, 1e-9)
                remember_throughput(repo.layout, spec.name, moved)
        merged = merging.result()
    for run_id in listed:
        if run_id in merged:
            report.runs.append(run_id)
        elif run_id in present or run_id in manifests:  # had it, or another pull merged it
            report.runs_skipped.append(run_id)
    report.seconds = time.perf_counter() - started
    return report


def _merge_all(repo: Repo, source: Remote, manifests: dict[str, dict[str, Any]]) -> set[str]:
    """Merge the segment of each manifest (by run id); the runs that were new to the index."""
    return {run_id for run_id, manifest in manifests.items() if _merge(repo, source, manifest)}


def _merge(repo: Repo, source: Remote, manifest: dict[str, Any]) -> bool:
    run_id = str(manifest["run_id"])
    segment = manifest.get("segment")
    if not isinstance(segment, dict):
        raise UserInputError(f"remote '{source.spec.name}': runs/{run_id}.json names no segment")
    fetched = source.read_files(str(name) for name in segment.values())
    with tempfile.TemporaryDirectory(prefix="helix-pull-") as folder:
        files = {}
        for table, name in segment.items():
            path = Path(folder) / f"{table}.parquet"
            path.write_bytes(fetched[str(name)])
            files[str(table)] = path
        return repo.index.merge_run(run_id, files)


def _pull_objects(
    repo: Repo,
    source: Remote,
    manifests: Iterable[dict[str, Any]],
    report: SyncReport,
    progress: Progress,
) -> None:
    store, spec = repo.store, source.spec
    wanted: dict[str, dict[str, Any]] = {}
    for manifest in manifests:
        for key, entry in (manifest.get("objects") or {}).items():
            if store.has(key):
                report.objects_skipped += 1
            elif key not in wanted:
                wanted[key] = entry
    now = datetime.now(UTC).replace(tzinfo=None)
    kept = []

    def admitted(key: str, read: Reader) -> ObjectInfo | str:
        try:
            return receive(store, key, read, wanted[key].get("checksum"), spec)
        except RemoteObjectRefused as exc:
            return exc.reason

    # each object is written by the worker that downloads it, verified as it arrives,
    # while the others download; small ones go into packs, fsynced once a batch:
    # recorded only after it ends
    sizes = {key: _size(entry) for key, entry in wanted.items()}
    held = {key: _held(sizes[key], entry, spec) for key, entry in wanted.items()}
    with store.batch():
        for key, outcome in source.download(wanted, sizes, admitted, held=held):
            if isinstance(outcome, Exception):
                outcome = f"cannot be read ({outcome})"
            if isinstance(outcome, str):
                _refuse(report, progress, key, wanted[key], spec, outcome)
                continue
            report.objects += 1
            report.bytes += outcome.bytes
            kept.append(_object_record(key, wanted[key], outcome, now))
    repo.index.record_objects(kept)


def _size(entry: dict[str, Any]) -> int:
    """The size a manifest gives an object (to start the largest first, and to bound
    the bytes in flight)."""
    try:
        return max(int(entry.get("bytes") or 0), 0)
    except (TypeError, ValueError):
        return 0


def _held(size: int, entry: dict[str, Any], spec: RemoteSpec) -> int:
    """What of an object its download holds in memory: the whole of one checked whole,
    a piece of one written as it arrives."""
    return size if held_whole(size, str(entry.get("codec", "")), spec) else STREAM_PIECE


def _refuse(
    report: SyncReport,
    progress: Progress,
    key: str,
    entry: dict[str, Any],
    spec: RemoteSpec,
    why: str,
) -> None:
    name = str(entry.get("name", "?"))
    report.refused.append({"key": key, "name": name, "reason": why})
    progress.warn(
        f"object {key[:12]} of operator '{name}' on remote '{spec.name}' {why}; "
        "not pulled, it will be computed when needed"
    )


def _object_record(key: str, entry: dict[str, Any], info: Any, now: datetime) -> ObjectRecord:
    return ObjectRecord(
        key=key,
        name=str(entry.get("name", "")),
        bytes=info.bytes,
        raw_bytes=info.raw_bytes,
        codec=info.codec,
        checksum=info.checksum,
        compute_seconds=float(entry.get("compute_seconds") or 0.0),
        load_seconds=None,
        created=now,
        last_used=now,
        recompute_seconds=None,
    )
