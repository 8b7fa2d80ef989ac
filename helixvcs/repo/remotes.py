"""Remotes of a repository: their configuration, and loading values from them on demand.

Remotes are kept in ``.helixremotes`` at the repository root, a TOML file meant to be
committed (a clone gets its team's remotes, as git's ``.gitmodules``)::

    default = "origin"

    [remote.origin]
    url = "s3://team-bucket/helix"
    endpoint_url = "http://127.0.0.1:9000"   # S3-compatible servers only

Credentials are never written there: fsspec, s3fs and botocore read them from the
environment and the usual profiles. Whether a remote may run code on this machine
(unpickle) is a local decision, in the uncommitted ``.helix/config.toml``::

    [remote.origin]
    trusted = true
"""

from __future__ import annotations

import dataclasses
import json
import re
import tempfile
import time
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helixvcs.errors import UserInputError
from helixvcs.plan import CostModel
from helixvcs.plan.costs import StoredObject
from helixvcs.repo.layout import Layout
from helixvcs.store import ObjectStore
from helixvcs.store.remote import FetchingStore, Remote, RemoteError, RemoteSpec, check_url

if TYPE_CHECKING:
    from helixvcs.exec import Progress
    from helixvcs.graph import Dag
    from helixvcs.index import Index

REMOTES_FILE = ".helixremotes"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: Until a remote's throughput is measured: bytes/s, and seconds per object (a request).
DEFAULT_REMOTE_THROUGHPUT = 20e6
REMOTE_LATENCY_SECONDS = 0.05
#: A process that found the default remote unreachable runs locally this long without
#: asking again (background exploration runs many variants in one process).
RETRY_UNREACHABLE_SECONDS = 60.0
_unreachable: dict[str, float] = {}
_HEADER = (
    "# helixvcs remotes of this repository (committed: clones share them).\n"
    "# Credentials never go here: the environment or your profiles provide them.\n"
)


@dataclass(frozen=True)
class Remotes:
    """The configured remotes, in the order they were added, and the default one."""

    specs: tuple[RemoteSpec, ...]
    default: str | None

    def get(self, name: str | None) -> RemoteSpec:
        """The remote called ``name`` (the default one for None); exit 2 when unknown."""
        wanted = name or self.default
        if wanted is None:
            raise UserInputError(
                "no remote is configured; add one with `helix remote add NAME URL`"
            )
        for spec in self.specs:
            if spec.name == wanted:
                return spec
        known = ", ".join(s.name for s in self.specs) or "none"
        raise UserInputError(
            f"no remote named '{wanted}' (remotes: {known}); see `helix remote list`"
        )

    def names(self) -> set[str]:
        return {s.name for s in self.specs}


def remotes_file(layout: Layout) -> Path:
    return layout.root / REMOTES_FILE


def read_remotes(layout: Layout) -> Remotes:
    """The committed remotes, with the trust this clone gives them."""
    path = remotes_file(layout)
    data = _load_toml(path)
    trusted = _trusted(layout)
    section = data.get("remote", {})
    if not isinstance(section, dict):
        raise UserInputError(f"{path}: [remote] must hold one table per remote; fix or delete it")
    specs = []
    for name, entry in section.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise UserInputError(f'{path}: [remote.{name}] needs url = "..."; fix or remove it')
        endpoint = entry.get("endpoint_url")
        specs.append(
            RemoteSpec(name, entry["url"], str(endpoint) if endpoint else None, name in trusted)
        )
    default = data.get("default")
    if default is not None and default not in {s.name for s in specs}:
        default = None
    if default is None and specs:
        default = specs[0].name
    return Remotes(tuple(specs), default)


def add_remote(layout: Layout, name: str, url: str, endpoint_url: str | None) -> RemoteSpec:
    """Add a remote to ``.helixremotes``; the first one added is the default."""
    if not _NAME_RE.fullmatch(name):
        raise UserInputError(
            f"bad remote name {name!r}: use letters, digits, '.', '_' and '-' (e.g. origin)"
        )
    check_url(name, url)
    if endpoint_url is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", endpoint_url):
        raise RemoteError(
            name, url, f"bad --endpoint-url {endpoint_url!r}", "use http(s)://host:port"
        )
    remotes = read_remotes(layout)
    if name in remotes.names():
        raise UserInputError(
            f"remote '{name}' exists already; `helix remote remove {name}` first to change it"
        )
    spec = RemoteSpec(name, url, endpoint_url)
    _write(layout, Remotes((*remotes.specs, spec), remotes.default or name))
    return spec


def remove_remote(layout: Layout, name: str) -> RemoteSpec:
    remotes = read_remotes(layout)
    spec = remotes.get(name)
    rest = tuple(s for s in remotes.specs if s.name != name)
    default = remotes.default if remotes.default != name else (rest[0].name if rest else None)
    _write(layout, Remotes(rest, default))
    return spec


def _write(layout: Layout, remotes: Remotes) -> None:
    lines = [_HEADER.rstrip("\n")]
    if remotes.default is not None:
        lines += [f"default = {json.dumps(remotes.default)}"]
    for spec in remotes.specs:
        lines += ["", f"[remote.{json.dumps(spec.name)}]", f"url = {json.dumps(spec.url)}"]
        if spec.endpoint_url:
            lines.append(f"endpoint_url = {json.dumps(spec.endpoint_url)}")
    path = remotes_file(layout)
    temp = path.with_name(path.name + ".tmp")
    temp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    temp.replace(path)


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(f"cannot read {path}: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserInputError(f"{path}: cannot parse ({exc}); fix it") from None


def _trusted(layout: Layout) -> set[str]:
    """Remotes this clone trusts to unpickle: ``[remote.NAME] trusted = true`` in the
    local, uncommitted ``.helix/config.toml``."""
    section = _load_toml(layout.config).get("remote", {})
    if not isinstance(section, dict):
        return set()
    return {n for n, e in section.items() if isinstance(e, dict) and e.get("trusted") is True}


# -- throughput ---------------------------------------------------------------------------


def _throughput_file(layout: Layout) -> Path:
    return layout.helix / "remotes.json"


def remote_throughput(layout: Layout, name: str) -> float:
    """Bytes/s that loads from ``name`` measured last, else a guess."""
    try:
        data = json.loads(_throughput_file(layout).read_text(encoding="utf-8"))
        value = float(data[name]["bytes_per_second"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_REMOTE_THROUGHPUT
    return value if value > 0 else DEFAULT_REMOTE_THROUGHPUT


def remember_throughput(layout: Layout, name: str, bytes_per_second: float | None) -> None:
    """Keep a transfer's measured speed (a running mean) to price the next remote load."""
    if not bytes_per_second or not layout.exists():
        return
    path = _throughput_file(layout)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    old = data.get(name, {}).get("bytes_per_second") if isinstance(data.get(name), dict) else None
    value = bytes_per_second if not old else (float(old) + bytes_per_second) / 2
    data[name] = {"bytes_per_second": value}
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps(data), encoding="utf-8")
    temp.replace(path)


# -- loads on demand ----------------------------------------------------------------------


@dataclass
class RemoteOffer:
    """What the default remote holds of the values a run would compute."""

    store: FetchingStore
    model: CostModel


def offer_remote(
    layout: Layout,
    dag: Dag,
    model: CostModel,
    computed: list[str],
    store: ObjectStore,
    checksums: dict[str, str],
    progress: Progress,
) -> RemoteOffer | None:
    """The default remote's copies of the ``computed`` keys, priced by its measured
    throughput, when it has any; None without a remote, or when it is unreachable (one
    warning line, and the run stays local). Called only when the run has something to
    compute, so a run whose values are all local never touches the remote."""
    if not computed:
        return None
    remotes = read_remotes(layout)
    if remotes.default is None:
        return None
    spec = remotes.get(None)
    if time.monotonic() < _unreachable.get(repr(spec), 0.0):  # exploration runs many variants
        return None
    try:
        sizes = Remote.open(spec, quick=True).object_sizes(computed)
        remote = Remote.open(spec, check=False)  # loads wait as long as any transfer
    except RemoteError as exc:
        progress.warn(f"{exc}; running locally")
        if exc.error.startswith("unreachable"):
            _unreachable[repr(spec)] = time.monotonic() + RETRY_UNREACHABLE_SECONDS
        return None
    if not sizes:
        return None
    stored = {**model.stored, **priced(layout, spec, model, sizes)}
    fetching = FetchingStore(store, remote, frozenset(sizes), checksums)
    return RemoteOffer(fetching, dataclasses.replace(model, stored=stored))


def priced(
    layout: Layout, spec: RemoteSpec, model: CostModel, sizes: dict[str, int]
) -> dict[str, StoredObject]:
    """The remote's objects of ``sizes`` as the planner sees them: a request, the
    transfer at the throughput measured last, and decoding."""
    throughput = remote_throughput(layout, spec.name)
    return {
        key: StoredObject(
            bytes=size,
            load_seconds=REMOTE_LATENCY_SECONDS + size / throughput + size / model.throughput,
        )
        for key, size in sizes.items()
    }


def keys_to_compute(dag: Dag, states: dict[str, str]) -> list[str]:
    """Keys of the operators a plan computes."""
    return [dag[name].key for name, state in states.items() if state == "compute"]


# -- run records ---------------------------------------------------------------------------

MANIFEST_FORMAT = 1


def push_records(
    index: Index, target: Remote, run_id: str, objects: dict[str, dict[str, Any]]
) -> None:
    """The run's segment, then its manifest: the manifest makes the push visible."""
    put_manifest(index, target, run_id, put_segment(index, target, run_id), objects)


def put_segment(index: Index, target: Remote, run_id: str) -> dict[str, str]:
    """Upload the run's records as a Parquet segment; ``{table: path on the remote}``.
    Nothing names a segment until its manifest does, so it may go up before the run's
    objects, or while they do."""
    with tempfile.TemporaryDirectory(prefix="helix-push-") as folder:
        files = index.export_run(run_id, Path(folder))
        segment = {t: f"runs/{run_id}/{t}.parquet" for t in files}
        target.put_files(
            {f"{target.root}/{segment[t]}": path.read_bytes() for t, path in files.items()}
        )
    return segment


def put_manifest(
    index: Index,
    target: Remote,
    run_id: str,
    segment: dict[str, str],
    objects: dict[str, dict[str, Any]],
) -> None:
    """Upload the run's manifest, which makes the run visible: only once its segment and
    every object it names are on the remote."""
    run = index.run(run_id)
    assert run is not None
    manifest = {
        "format": MANIFEST_FORMAT,
        "run_id": run_id,
        "commit": run.commit,
        "revision": run.revision,
        "workflow": run.workflow,
        "subject": run.subject,
        "pushed": datetime.now(UTC).isoformat(timespec="seconds"),
        "segment": segment,
        "objects": objects,
    }
    data = json.dumps(manifest, sort_keys=True, indent=1).encode()
    target.put_files({f"{target.root}/runs/{run_id}.json": data})
