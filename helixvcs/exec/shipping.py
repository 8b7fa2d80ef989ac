"""What workers that share no disk with ``helix`` need, sent through a remote.

A Dask run with a remote as its store (``helix run --executor dask --remote NAME``)
runs on machines that cannot read the repository. Values go to and come from the
remote's ``objects/`` (``helixvcs.store.remote_store``); the code travels in the tasks
(``helixvcs.graph.snapshot.with_tree``); and the data files that sources read go
through the remote, content-addressed::

    files/ab/cdef0123...     a data file's bytes, named by their blake2b-160 digest

The ``helix`` process uploads a source's files when it submits the source's task (once:
a file already there is not sent again); the worker downloads them into a folder of its
own, verifies each against its digest, and calls the source with the path there, laid
out as in the repository (a folder or a glob reads the same files). Files downloaded
once are kept for the worker's later tasks.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

from helixvcs.store.remote import Remote, RemoteSpec
from helixvcs.store.remote_store import RemoteObjectStore

FILES = "files"
_stores: dict[RemoteSpec, RemoteObjectStore] = {}
_lock = threading.Lock()


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def file_digest(path: str | Path) -> str:
    """``digest`` of a file's bytes, read in chunks (data files can be large)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=20)).hexdigest()


def file_path(remote: Remote, name: str) -> str:
    """Where the file of digest ``name`` is, relative to the remote's root."""
    return f"{FILES}/{name[:2]}/{name[2:]}"


def upload(remote: Remote, paths: Sequence[str]) -> tuple[str, ...]:
    """Send the files at ``paths`` that the remote lacks, each streamed and landing
    atomically; their digests, in order. ``OSError`` if one changes meanwhile (nothing
    is left under its name)."""
    names = [file_digest(path) for path in paths]
    for path, name in dict(zip(paths, names, strict=True)).items():
        target = file_path(remote, name)
        if remote.exists(target):
            continue
        remote.put_local_file(path, target)
        if file_digest(path) != name:  # written meanwhile: what went up may be neither
            remote.fs.rm_file(f"{remote.root}/{target}")
            raise OSError(f"{path} changed while it was uploaded; run again once it is written")
    return tuple(names)


def remote_store(spec: RemoteSpec) -> RemoteObjectStore:
    """The remote's store for this process (one connection per remote, reused)."""
    with _lock:
        if spec not in _stores:
            _stores[spec] = RemoteObjectStore(Remote.open(spec, check=False))
        return _stores[spec]


def fetch(
    spec: RemoteSpec, base: str, files: Sequence[tuple[str, str]], argument: str | list[str]
) -> str | list[str]:
    """The source's ``argument`` (a path under ``base`` on the ``helix`` machine, or a
    list of them) as paths to this worker's copies of ``files`` ((path under ``base``,
    digest) each), downloaded and verified unless an earlier task did it already."""
    remote = remote_store(spec).remote
    layout = digest("\0".join(f"{rel}\0{name}" for rel, name in sorted(files)).encode())
    folder = Path(tempfile.gettempdir()) / "helix-data" / layout
    for rel, name in files:
        target = folder / rel
        if not target.is_file():
            _download(remote, rel, name, target)

    def local(path: str) -> str:
        return str(folder / os.path.relpath(path, base))

    return [local(p) for p in argument] if isinstance(argument, list) else local(argument)


def _download(remote: Remote, rel: str, name: str, target: Path) -> None:
    """The file of digest ``name`` at ``target``, verified, or an ``OSError`` saying why."""
    spec = remote.spec
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        try:
            remote.fs.get_file(f"{remote.root}/{file_path(remote, name)}", str(temp))
        except Exception as exc:
            why = (
                "is not there" if isinstance(exc, FileNotFoundError) else f"cannot be read ({exc})"
            )
            raise OSError(
                f"data file {rel} {why} on remote '{spec.name}' ({spec.url}); run again to "
                "upload it"
            ) from None
        if file_digest(temp) != name:
            raise OSError(
                f"data file {rel} from remote '{spec.name}' ({spec.url}) is corrupt "
                f"(checksum mismatch); delete {file_path(remote, name)} there and run again"
            )
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
