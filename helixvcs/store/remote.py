"""Remotes: a copy of the store, and of run records, that other clones share (fsspec).

A remote is any fsspec URL: a local or mounted folder (``/path``, ``file://``), S3
(``s3://bucket/prefix``, with an endpoint for S3-compatible servers; pushes and pulls
through botocore's client, ``helixvcs.store.s3``, the rest through s3fs), and other
protocols without code of their own. Its layout::

    objects/ab/cdef0123...     objects, byte for byte as a loose local file holds them
                               (a remote never packs: a clone fetches one value a request)
    runs/<run_id>/<table>.parquet   one run's records (a segment), immutable
    runs/<run_id>.json         the run's manifest: written last, names the segment's
                               files and the objects it needs, with their checksums
    tmp/                       uploads in progress, where a put is not atomic by itself

Uploads are atomic per object: object stores (S3, GCS, Azure) show a put whole or not at
all; elsewhere a file is written under ``tmp/`` and renamed into place. A push uploads a
run's objects and its segment (which nothing reads before a manifest names it), then its
manifest, so a reader that sees a manifest finds everything it names, and an interrupted
push leaves a valid remote. Keys name computations, so two clones writing one key write
the same value: concurrent pushes lose nothing.

Objects travel ``TRANSFER_WORKERS`` at a time, each its own request, largest first and
with at most ``IN_FLIGHT_BYTES`` in memory: a worker reads and verifies an object and
uploads it, or downloads one and writes it to the local store as its bytes arrive,
while the others transfer theirs.

Every downloaded object is verified (header, size, payload checksum, and the checksum the
manifest recorded) before it reaches the local store: a large one as it arrives, into a
temp file that is named only once the object is whole and verified (``receive``).
Checksums catch damage, not tampering: a remote is trusted to run code (unpickle) only
when the local configuration says so (``FetchingStore``).

Credentials never pass through helix: fsspec and its backends read them from the
environment and the usual profiles (``AWS_ACCESS_KEY_ID``, ``~/.aws/credentials``, ...).
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from helixvcs.errors import UserInputError
from helixvcs.store.base import (
    STREAM_PIECE,
    ObjectInfo,
    ObjectStore,
    ReadFailed,
    Repacked,
    check_key,
    failing_apart,
)
from helixvcs.store.errors import CorruptObject, MissingObject, short
from helixvcs.store.objectfile import (
    HEADER_SIZE,
    Corruption,
    Encoded,
    Header,
    Packed,
    parse_header,
    unpack_raw,
)
from helixvcs.store.packfile import PACK_THRESHOLD
from helixvcs.store.s3 import S3, SINGLE_PUT_BYTES

#: Seconds to wait for a connection: an unreachable remote costs this, not minutes.
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 60.0
#: For a run that only asks a remote for what it may load: a server that accepts and
#: never answers costs this much, once, and the run goes on locally.
QUICK_READ_TIMEOUT = 1.5
#: Protocols whose single put is atomic (an object appears whole or not at all).
ATOMIC_PUT = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})
S3_PROTOCOLS = frozenset({"s3", "s3a"})
#: Objects in flight at once, each its own request and its own local read or write.
TRANSFER_WORKERS = 8
#: At most this many bytes of them in memory (an object larger than this goes alone).
IN_FLIGHT_BYTES = 128 * 2**20
#: The most names an S3 listing returns in one request.
LISTING_PAGE = 1000
#: Codecs that decode without running code; anything else needs a trusted remote.
SAFE_CODECS = frozenset({"arrow", "pandas", "numpy", "sparse", "bundle"})


Reader = Callable[[int], bytes]
"""``read(n)``: up to ``n`` more bytes of a download, ``b""`` at its end."""


class RemoteError(UserInputError):
    """A remote that cannot be used as configured: unreachable, refused, missing, bad URL."""

    def __init__(self, name: str, url: str, error: str, advice: str = "") -> None:
        self.name, self.url, self.error = name, url, error
        tail = f"; {advice}" if advice else ""
        super().__init__(f"remote '{name}' ({url}): {error}{tail}")


@dataclass(frozen=True)
class RemoteSpec:
    """A configured remote: its name, URL, S3 endpoint and whether it is trusted."""

    name: str
    url: str
    endpoint_url: str | None = None
    trusted: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "endpoint_url": self.endpoint_url,
            "trusted": self.trusted,
        }


def check_url(name: str, url: str) -> str:
    """The protocol of ``url``; ``RemoteError`` when fsspec cannot use it as a remote."""
    if not url or url != url.strip() or "\n" in url:
        raise RemoteError(name, url, "malformed URL", "give a folder or s3://bucket/prefix")
    protocol, _, rest = url.partition("://")
    if not rest:
        protocol, rest = "file", url
    if protocol not in S3_PROTOCOLS and not _fsspec_knows(protocol):
        raise RemoteError(
            name, url, f"unknown protocol {protocol!r}", "use a folder, file:// or s3://"
        )
    if protocol in S3_PROTOCOLS and not rest.split("/", 1)[0]:
        raise RemoteError(name, url, "no bucket in the URL", "write s3://bucket/prefix")
    if protocol == "file" and not rest.startswith("/"):
        raise RemoteError(name, url, "a folder remote needs an absolute path")
    return protocol


def _fsspec_knows(protocol: str) -> bool:
    """(S3 is known without asking: a push or a pull to S3 does not import fsspec.)"""
    try:
        from fsspec.registry import known_implementations, registry
    except ImportError:
        return protocol == "file"
    return protocol in known_implementations or protocol in registry


@dataclass
class Transfer:
    """What a batch of transfers moved, for throughput and reports."""

    count: int = 0
    bytes: int = 0
    seconds: float = 0.0
    unread: list[CorruptObject | MissingObject] = field(default_factory=list)
    """Objects not sent: damaged, or gone from the local store meanwhile."""

    @property
    def throughput(self) -> float | None:
        return self.bytes / self.seconds if self.seconds > 0 and self.bytes else None


class Remote:
    """An opened remote: objects and run segments under one fsspec URL."""

    def __init__(
        self,
        spec: RemoteSpec,
        fs: Any,
        root: str,
        protocol: str,
        s3: S3 | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.spec, self.root, self.protocol = spec, root.rstrip("/"), protocol
        self.s3 = s3
        """S3's own client, for the requests of pushes and pulls (``helixvcs.store.s3``)."""
        self._fs, self._options = fs, dict(options or {})
        self._fs_lock = threading.Lock()
        self._manifests: list[str] | None = None  # listed by the check, for the first ask

    @property
    def fs(self) -> Any:
        """The remote's fsspec file system; on S3, made on first use (what pushes and
        pulls ask goes through ``s3``, without importing s3fs)."""
        with self._fs_lock:
            if self._fs is None:
                self._fs = _file_system(self.spec, self.protocol, self._options)[0]
            return self._fs

    @classmethod
    def open(
        cls,
        spec: RemoteSpec,
        *,
        create: bool = False,
        quick: bool = False,
        check: bool = True,
        runs: bool = False,
    ) -> Remote:
        """Connect (seconds, not minutes) and check the remote is there; ``RemoteError``
        when it is unreachable, refuses the credentials or does not exist. ``create``
        makes a missing folder (a push to a new folder remote); ``quick`` waits at most
        ``QUICK_READ_TIMEOUT`` for each answer and never retries (what a run asks before
        it plans); ``check=False`` skips the check (a remote that has just answered);
        ``runs``: the check lists the runs' manifests, which a push or a pull reads next
        (on S3 that request is the check)."""
        protocol = check_url(spec.name, spec.url)
        if protocol in S3_PROTOCOLS:
            s3 = _s3_client(spec, quick)
            remote = cls(spec, None, _s3_root(spec), protocol, s3, _s3_options(spec, quick))
        else:
            fs, root = _file_system(spec, protocol, {})
            remote = cls(spec, fs, root, protocol)
        if check:
            remote._check(create, runs)
        return remote

    def _check(self, create: bool, runs: bool) -> None:
        try:
            if self.s3 is not None and runs:  # reachability, credentials, bucket
                self._manifests = self._s3_first_manifests()
            elif self.s3 is not None:
                self.s3.list(self.root.split("/", 1)[0] + "/", delimiter="/", limit=1)
            elif not self.fs.isdir(self.root):
                if not create:
                    raise FileNotFoundError(2, "no such folder", self.root)
                self.fs.makedirs(self.root, exist_ok=True)
        except RemoteError:
            raise
        except Exception as exc:
            raise translate(self.spec, exc) from None

    # -- objects ---------------------------------------------------------------------------

    def object_path(self, key: str) -> str:
        check_key(key)
        return f"{self.root}/objects/{key[:2]}/{key[2:]}"

    def object_sizes(self, keys: Iterable[str]) -> dict[str, int]:
        """Which of ``keys`` the remote holds, with their sizes: on S3, from one listing
        when the remote holds at most 16 objects per key asked (up to ``LISTING_PAGE``);
        else one request per key, eight at a time, or one whole listing for more than
        256 keys."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        try:
            asks = len(wanted) > 1 and self.s3 is not None
            listed = self._s3_objects(min(LISTING_PAGE, 16 * len(wanted))) if asks else None
            if listed is None and len(wanted) <= 256:
                with ThreadPoolExecutor(max_workers=8) as pool:
                    found = pool.map(lambda k: self._size(self.object_path(k)), wanted)
                    return {k: s for k, s in zip(wanted, found, strict=True) if s is not None}
            if listed is None and self.s3 is not None:
                listed = dict(self.s3.listing(f"{self.root}/objects/"))
            elif listed is None:
                listed = {
                    path: int(info.get("size") or 0)
                    for path, info in self.fs.find(f"{self.root}/objects", detail=True).items()
                }
        except RemoteError:
            raise
        except Exception as exc:
            raise translate(self.spec, exc) from None
        sizes = {self._key_of(path): size for path, size in listed.items()}
        return {k: sizes[k] for k in wanted if k in sizes}

    def _size(self, path: str) -> int | None:
        try:
            if self.s3 is not None:
                return self.s3.head(path)
            return int(self.fs.info(path).get("size") or 0)
        except FileNotFoundError:
            return None

    def _key_of(self, path: str) -> str:
        parts = path.rstrip("/").split("/")
        return parts[-2] + parts[-1] if len(parts) >= 2 else ""

    def _s3_objects(self, limit: int) -> dict[str, int] | None:
        """Every object's path and size from one listing request; None when the remote
        holds more than ``limit`` (each name listed is parsed: a remote much larger than
        the question is asked key by key instead)."""
        page = self._s3_list("objects/", delimiter="", limit=limit)
        if page.get("IsTruncated"):
            return None
        bucket = self.root.split("/", 1)[0]
        return {f"{bucket}/{o['Key']}": int(o.get("Size") or 0) for o in page.get("Contents", [])}

    def _s3_first_manifests(self) -> list[str] | None:
        """The manifests' run ids from one listing request; None when there are more.
        (An empty folder is an empty answer, where a missing bucket is an error: s3fs's
        ``ls`` takes two requests for an empty folder and cannot tell the two apart.)"""
        page = self._s3_list("runs/", delimiter="/", limit=LISTING_PAGE)
        return None if page.get("IsTruncated") else _run_ids(page)

    def _s3_manifests(self) -> list[str]:
        """Run ids whose manifest is under ``runs/``: one request per thousand names."""
        found: list[str] = []
        token = None
        while True:
            page = self._s3_list("runs/", delimiter="/", limit=LISTING_PAGE, token=token)
            found += _run_ids(page)
            if not page.get("IsTruncated"):
                return sorted(found)
            token = page["NextContinuationToken"]

    def _s3_list(self, folder: str, *, delimiter: str, limit: int, token: str | None = None) -> Any:
        assert self.s3 is not None
        return self.s3.list(f"{self.root}/{folder}", delimiter=delimiter, limit=limit, token=token)

    def upload_objects(
        self, store: ObjectStore, keys: Iterable[str], sizes: Mapping[str, int] | None = None
    ) -> Transfer:
        """Copy ``keys`` from ``store``, each verified as it is read and landing
        atomically, ``TRANSFER_WORKERS`` at a time and largest first (by ``sizes``): no
        object waits for the slowest of a batch. An object that cannot be read (damaged,
        or gone meanwhile) is not sent and is listed in ``unread``."""
        done = Transfer()
        started = time.perf_counter()
        known = sizes or {}

        def send(key: str) -> int | CorruptObject | MissingObject:
            try:
                data = store.read_object(key)
            except (CorruptObject, MissingObject) as exc:
                return exc
            self.put_files({self.object_path(key): data})
            return len(data)

        order = sorted(dict.fromkeys(keys), key=lambda k: -known.get(k, 0))
        for _, sent in _concurrently(order, send, known):
            if isinstance(sent, int):
                done.count += 1
                done.bytes += sent
            else:
                done.unread.append(sent)
        done.seconds = time.perf_counter() - started
        return done

    def download(
        self,
        keys: Iterable[str],
        sizes: Mapping[str, int] | None,
        then: Callable[[str, Reader], T],
        *,
        held: Mapping[str, int] | None = None,
    ) -> Iterator[tuple[str, T | Exception]]:
        """``(key, then(key, read))`` for each of ``keys``, where ``read(n)`` gives the
        object's next bytes as they arrive (``b""`` at its end), or ``(key, error)`` for
        one that cannot be read (gone, refused, cut off midway; ``MissingObject`` when it
        is not there). ``then`` runs in the worker that downloads the object, so reading,
        verifying and writing one overlap the others'. ``TRANSFER_WORKERS`` at a time,
        largest first (by ``sizes``) and with at most ``IN_FLIGHT_BYTES`` in memory (by
        ``held``, what ``then`` keeps of each; ``sizes`` by default), in that order. An
        error of ``then`` itself (the local store's) is raised."""
        known = sizes or {}

        def fetch(key: str) -> T | Exception:
            try:
                body = self._open_object(self.object_path(key))
            except FileNotFoundError:
                return MissingObject(key, f"remote '{self.spec.name}'")
            except Exception as exc:
                return exc
            try:
                return then(key, failing_apart(body.read))
            except ReadFailed as cut:
                return cut.error
            finally:
                with contextlib.suppress(Exception):
                    body.close()

        order = sorted(dict.fromkeys(keys), key=lambda k: -known.get(k, 0))
        yield from _concurrently(order, fetch, known if held is None else held)

    def _open_object(self, path: str) -> Any:
        """A file-like body of the object at ``path`` (``read(n)``, ``close()``)."""
        if self.s3 is not None:  # verified by its own checksum: S3's is not asked for
            return self.s3.open(path)
        return self.fs.open(path, "rb")

    # -- files: segments, manifests --------------------------------------------------------

    def put_files(self, files: Mapping[str, bytes]) -> None:
        """Write whole files, each atomically (see the module docstring)."""
        try:
            if self.s3 is not None:
                self._s3_put(files)
            elif self.protocol in ATOMIC_PUT:
                self.fs.pipe(dict(files))
            else:
                for path, data in files.items():
                    temp = f"{self.root}/tmp/{uuid.uuid4().hex}.part"
                    self.fs.makedirs(posixpath.dirname(temp), exist_ok=True)
                    self.fs.pipe_file(temp, data)
                    self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
                    self.fs.mv(temp, path)
        except RemoteError:
            raise
        except Exception as exc:
            raise translate(self.spec, exc) from None

    def _s3_put(self, files: Mapping[str, bytes]) -> None:
        assert self.s3 is not None
        s3 = self.s3

        def put(item: tuple[str, bytes]) -> None:
            path, data = item
            if len(data) > SINGLE_PUT_BYTES:  # s3fs uploads it in parts
                self.fs.pipe_file(path, data)
            else:
                s3.put(path, data)

        if len(files) == 1:
            put(next(iter(files.items())))
            return
        with ThreadPoolExecutor(max_workers=min(TRANSFER_WORKERS, len(files))) as pool:
            list(pool.map(put, files.items()))

    def put_local_file(self, local: str, path: str) -> None:
        """Upload the file at ``local`` to ``path`` (under the root) without reading it
        whole, atomically as ``put_files`` writes."""
        target = f"{self.root}/{path}"
        try:
            if self.protocol in ATOMIC_PUT:  # a multipart upload appears when complete
                self.fs.put_file(local, target)
                return
            temp = f"{self.root}/tmp/{uuid.uuid4().hex}.part"
            self.fs.makedirs(posixpath.dirname(temp), exist_ok=True)
            self.fs.put_file(local, temp)
            self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
            self.fs.mv(temp, target)
        except Exception as exc:
            raise translate(self.spec, exc) from None

    def read_file(self, path: str) -> bytes:
        return self.read_files([path])[path]

    def read_files(self, paths: Iterable[str]) -> dict[str, bytes]:
        """Several whole files at once (concurrently where the protocol allows)."""
        wanted = list(dict.fromkeys(paths))
        if self.s3 is not None:
            return self._s3_read_files(wanted)
        full = {f"{self.root}/{p}": p for p in wanted}
        try:
            got = self.fs.cat(list(full), on_error="raise") if wanted else {}
        except Exception as exc:
            raise translate(self.spec, exc) from None
        if not isinstance(got, dict):
            got = {next(iter(full)): got}
        found = {}
        for path, rel in full.items():
            value = _find(got, path)
            if isinstance(value, Exception):
                raise translate(self.spec, value)
            found[rel] = bytes(value)
        return found

    def _s3_read_files(self, wanted: list[str]) -> dict[str, bytes]:
        assert self.s3 is not None
        s3 = self.s3
        try:
            if len(wanted) == 1:
                return {wanted[0]: s3.get(f"{self.root}/{wanted[0]}")}
            with ThreadPoolExecutor(max_workers=max(1, min(TRANSFER_WORKERS, len(wanted)))) as pool:
                got = pool.map(lambda rel: s3.get(f"{self.root}/{rel}"), wanted)
                return dict(zip(wanted, got, strict=True))
        except Exception as exc:
            raise translate(self.spec, exc) from None

    def exists(self, path: str) -> bool:
        try:
            if self.s3 is not None:
                return self.s3.exists(f"{self.root}/{path}")
            return bool(self.fs.exists(f"{self.root}/{path}"))
        except Exception as exc:
            raise translate(self.spec, exc) from None

    def list_manifests(self) -> list[str]:
        """Run ids whose manifest is on the remote (complete pushes), oldest name first.
        The first call after ``open`` answers with what the check listed."""
        if self._manifests is not None:
            listed, self._manifests = self._manifests, None
            return listed
        try:
            if self.s3 is not None:
                return self._s3_manifests()
            names = self.fs.ls(f"{self.root}/runs", detail=False, refresh=True)
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise translate(self.spec, exc) from None
        found = [posixpath.basename(n.rstrip("/")) for n in names]
        return sorted(n[: -len(".json")] for n in found if n.endswith(".json"))

    def read_manifest(self, run_id: str) -> dict[str, Any]:
        return self.read_manifests([run_id])[run_id]

    def read_manifests(self, run_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The manifests of ``run_ids``, fetched concurrently."""
        wanted = list(run_ids)
        fetched = self.read_files(f"runs/{run_id}.json" for run_id in wanted)
        return {run_id: self._manifest(run_id, fetched[f"runs/{run_id}.json"]) for run_id in wanted}

    def _manifest(self, run_id: str, data: bytes) -> dict[str, Any]:
        try:
            manifest = json.loads(data)
        except ValueError as exc:
            raise RemoteError(
                self.spec.name, self.spec.url, f"manifest runs/{run_id}.json is damaged ({exc})"
            ) from None
        if not isinstance(manifest, dict):
            raise RemoteError(self.spec.name, self.spec.url, f"runs/{run_id}.json: not a manifest")
        return manifest


def _find(got: Mapping[str, Any], path: str) -> bytes | Exception:
    """fsspec may return paths with or without a protocol prefix."""
    if path in got:
        return got[path]
    for name, value in got.items():
        if name.endswith(path) or path.endswith(name.split("://", 1)[-1]):
            return value
    return FileNotFoundError(2, "not returned", path)


def _run_ids(page: Mapping[str, Any]) -> list[str]:
    """The run ids of the manifests (``runs/<run_id>.json``) in an S3 listing's page."""
    names = [posixpath.basename(item["Key"]) for item in page.get("Contents", [])]
    return sorted(n[: -len(".json")] for n in names if n.endswith(".json"))


T = TypeVar("T")


class _Budget:
    """Bytes in flight across transfer workers, let in in their order: a large object
    waits until it fits (or until nothing else is in flight: one larger than the budget
    goes alone), and the smaller ones behind it wait for it rather than starve it."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used, self.turn = limit, 0, 0
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def hold(self, turn: int, size: int) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(
                lambda: self.turn == turn and (self.used == 0 or self.used + size <= self.limit)
            )
            self.used += size
            self.turn += 1
            self._changed.notify_all()
        try:
            yield
        finally:
            with self._changed:
                self.used -= size
                self._changed.notify_all()


def _concurrently(
    keys: list[str], work: Callable[[str], T], sizes: Mapping[str, int]
) -> Iterator[tuple[str, T]]:
    """``(key, work(key))`` for each of ``keys``, in order, worked on by
    ``TRANSFER_WORKERS`` threads with at most ``IN_FLIGHT_BYTES`` (by ``sizes``) in
    flight. An error is raised when its turn comes; what has not started by then is
    dropped, what is in flight ends first."""
    if not keys:
        return
    budget = _Budget(IN_FLIGHT_BYTES)

    def bounded(turn: int, key: str) -> T:
        with budget.hold(turn, sizes.get(key, 0)):
            return work(key)

    pool = ThreadPoolExecutor(max_workers=min(TRANSFER_WORKERS, len(keys)))
    try:  # the pool starts them in order, so the turns a worker waits for have started
        futures = [pool.submit(bounded, turn, key) for turn, key in enumerate(keys)]
        for key, future in zip(keys, futures, strict=True):
            yield key, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _file_system(spec: RemoteSpec, protocol: str, options: Mapping[str, Any]) -> tuple[Any, str]:
    """fsspec's file system for ``spec`` and the root path in it; ``RemoteError`` when
    the protocol's package is missing or refuses the URL."""
    try:
        import fsspec
    except ImportError:
        raise RemoteError(
            spec.name, spec.url, "fsspec is not installed", "pip install 'helixvcs[remote]'"
        ) from None
    with _connecting(spec, f"the {protocol} file system"):
        fs, root = fsspec.url_to_fs(spec.url, skip_instance_cache=True, **options)
    if protocol in S3_PROTOCOLS:
        fs.retries = 1 if options["config_kwargs"]["read_timeout"] < READ_TIMEOUT else 2
    return fs, str(root)


def _s3_root(spec: RemoteSpec) -> str:
    """``bucket/prefix`` of an ``s3://bucket/prefix`` URL, as fsspec names paths."""
    return spec.url.partition("://")[2].strip("/")


def _s3_client(spec: RemoteSpec, quick: bool) -> S3:
    with _connecting(spec, "the s3 client"):
        return S3.connect(
            spec.endpoint_url,
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=QUICK_READ_TIMEOUT if quick else READ_TIMEOUT,
            attempts=1 if quick else 2,
            connections=TRANSFER_WORKERS + 4,
        )


@contextlib.contextmanager
def _connecting(spec: RemoteSpec, what: str) -> Iterator[None]:
    """``RemoteError`` for a library that cannot be loaded (``what``: what it provides),
    and the remote's own error (``translate``) for anything else while connecting."""
    try:
        yield
    except ImportError as exc:
        raise RemoteError(
            spec.name, spec.url, f"cannot load {what} ({exc})", "pip install 'helixvcs[remote]'"
        ) from None
    except Exception as exc:
        raise translate(spec, exc) from None


def _s3_options(spec: RemoteSpec, quick: bool) -> dict[str, Any]:
    """s3fs's options, for what goes through it (``Remote.fs``)."""
    options: dict[str, Any] = {
        "use_listings_cache": False,
        "config_kwargs": {
            "connect_timeout": CONNECT_TIMEOUT,
            "read_timeout": QUICK_READ_TIMEOUT if quick else READ_TIMEOUT,
            "retries": {"total_max_attempts": 1, "mode": "standard"},
        },
    }
    if spec.endpoint_url:
        options["endpoint_url"] = spec.endpoint_url
    return options


def translate(spec: RemoteSpec, exc: BaseException) -> RemoteError:
    """One line that names the remote, its URL and what went wrong, with what to do."""
    name = type(exc).__name__
    text = " ".join(str(exc).split()) or name
    if any(w in text for w in ("Could not connect", "Connect timeout", "Read timeout")) or any(
        w in name for w in ("ConnectTimeout", "ReadTimeout")
    ):
        return RemoteError(spec.name, spec.url, f"unreachable ({text})", _endpoint_advice(spec))
    if isinstance(exc, PermissionError) or any(
        word in text
        for word in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "Forbidden")
    ):
        return RemoteError(
            spec.name,
            spec.url,
            f"access refused ({text})",
            "check the credentials in the environment or your profile",
        )
    if isinstance(exc, FileNotFoundError) or "NoSuchBucket" in text:
        return RemoteError(
            spec.name, spec.url, f"not found ({text})", "create the bucket or folder first"
        )
    if "credentials" in text.lower():
        return RemoteError(
            spec.name,
            spec.url,
            f"no credentials ({text})",
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or a profile",
        )
    return RemoteError(spec.name, spec.url, f"{name}: {text}")


def _endpoint_advice(spec: RemoteSpec) -> str:
    if spec.endpoint_url:
        return f"check that {spec.endpoint_url} is up"
    return "check the network, or the remote's --endpoint-url"


@dataclass
class FetchingStore(ObjectStore):
    """The local store, with values the remote holds loaded on demand.

    ``remote_keys`` are the keys the plan loads from the remote. A fetched object is
    verified (against ``checksums`` too, when known), written to the local store and
    loaded from there; one that fails verification, or that needs pickle from a remote
    that is not trusted, is refused like a corrupt object, so the run recomputes it.
    """

    local: ObjectStore
    remote: Remote
    remote_keys: frozenset[str]
    checksums: Mapping[str, str] = field(default_factory=dict)
    fetched: dict[str, ObjectInfo] = field(default_factory=dict)
    transfer: Transfer = field(default_factory=Transfer)

    def __post_init__(self) -> None:
        self.level = self.local.level

    @property
    def root(self) -> Any:
        return getattr(self.local, "root", None)

    def hot_load_seconds(self, key: str) -> float | None:
        return self.local.hot_load_seconds(key)

    def has(self, key: str) -> bool:
        return self.local.has(key) or key in self.remote_keys

    def has_many(self, keys: Iterable[str]) -> set[str]:
        keys = list(keys)
        return self.local.has_many(keys) | self.remote_keys.intersection(keys)

    def get(self, key: str, *, checksum: str | None = None) -> object:
        if not self.local.has(key) and key in self.remote_keys:
            self._fetch(key, checksum or self.checksums.get(key))
        return self.local.get(key, checksum=checksum)

    def _fetch(self, key: str, checksum: str | None) -> None:
        started = time.perf_counter()
        spec = self.remote.spec

        def land(key: str, read: Reader) -> ObjectInfo:
            return receive(self.local, key, read, checksum, spec)

        [(_, info)] = list(self.remote.download([key], None, land))
        where = f"remote '{spec.name}'"
        if isinstance(info, MissingObject):
            raise MissingObject(key, where)
        if isinstance(info, Exception):
            raise RemoteObjectRefused(key, spec, f"cannot be read ({info})")
        self.fetched[key] = info
        self.transfer.count += 1
        self.transfer.bytes += info.bytes
        self.transfer.seconds += time.perf_counter() - started

    def info(self, key: str) -> ObjectInfo | None:
        return self.local.info(key)

    def pack(self, value: object) -> Packed:
        return self.local.pack(value)

    def compress(self, encoded: Encoded) -> Packed:
        return self.local.compress(encoded)

    def put_packed(self, key: str, packed: Packed) -> ObjectInfo:
        return self.local.put_packed(key, packed)

    def put_group(self, values: Sequence[tuple[str, Encoded | Packed]]) -> dict[str, ObjectInfo]:
        return self.local.put_group(values)

    def _existing_info(self, key: str) -> ObjectInfo | None:
        try:
            return self.local.info(key)
        except CorruptObject:
            return None

    def delete(self, key: str) -> bool:
        return self.local.delete(key)

    def keys(self) -> Iterator[str]:
        return self.local.keys()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        with self.local.batch():
            yield

    def loose_estimate(self) -> int:
        return self.local.loose_estimate()

    def repack(self) -> Repacked:
        return self.local.repack()

    def total_bytes(self) -> int:
        return self.local.total_bytes()

    def alias(self, key: str, existing: str) -> ObjectInfo | None:
        return self.local.alias(key, existing)

    def read_object(self, key: str) -> bytes:
        return self.local.read_object(key)

    def write_object(self, key: str, data: bytes, *, checksum: str | None = None) -> ObjectInfo:
        return self.local.write_object(key, data, checksum=checksum)

    def write_stream(
        self, key: str, head: bytes, read: Reader, *, checksum: str | None = None
    ) -> ObjectInfo:
        return self.local.write_stream(key, head, read, checksum=checksum)


class RemoteObjectRefused(CorruptObject):
    """An object from a remote that is not used: damaged, unreadable, or it needs pickle
    from a remote that is not trusted. Nothing was written locally; it is recomputed."""

    def __init__(self, key: str, spec: RemoteSpec, why: str) -> None:
        self.key, self.path, self.reason = key, None, why
        Exception.__init__(
            self,
            f"object {short(key)} from remote '{spec.name}' ({spec.url}) {why}; "
            "it was not used and will be recomputed",
        )


def admit(
    local: ObjectStore, key: str, data: bytes, checksum: str | None, spec: RemoteSpec
) -> ObjectInfo:
    """Write an object downloaded from ``spec`` to ``local`` once it is verified (against
    ``checksum`` too, when known) and allowed; ``RemoteObjectRefused`` (nothing written)
    when it is corrupt or needs code to load from a remote that is not trusted."""
    try:
        header = parse_header(data)
        if not spec.trusted and header.codec not in SAFE_CODECS:
            refusal = untrusted_refusal(data, header)
            if refusal is not None:
                raise RemoteObjectRefused(key, spec, refusal)
    except Corruption as exc:
        raise RemoteObjectRefused(key, spec, f"is corrupt ({exc.reason})") from None
    try:
        return local.write_object(key, data, checksum=checksum)
    except CorruptObject as exc:  # verified as it is written: header, size, checksum
        raise RemoteObjectRefused(key, spec, f"is corrupt ({exc.reason})") from None


def receive(
    local: ObjectStore, key: str, read: Reader, checksum: str | None, spec: RemoteSpec
) -> ObjectInfo:
    """``admit`` for an object downloaded from ``spec`` as ``read`` gives its bytes: its
    header is checked first; then, unless it must be inspected whole (a small object,
    or one that may need code to load from a remote that is not trusted), the store
    writes it as it arrives, verifying it meanwhile, and names it only once it is
    whole and verified. ``RemoteObjectRefused`` (nothing written) when it is corrupt
    or not allowed."""
    head = _read_at_least(read, HEADER_SIZE)
    try:
        header = parse_header(head)
    except Corruption as exc:
        raise RemoteObjectRefused(key, spec, f"is corrupt ({exc.reason})") from None
    if held_whole(header.total_bytes, header.codec, spec):
        return admit(local, key, head + _read_all(read), checksum, spec)
    try:
        return local.write_stream(key, head, read, checksum=checksum)
    except CorruptObject as exc:  # verified as it arrived: header, size, checksum
        raise RemoteObjectRefused(key, spec, f"is corrupt ({exc.reason})") from None


def held_whole(size: int, codec: str, spec: RemoteSpec) -> bool:
    """Whether an object of ``size`` bytes and ``codec`` from ``spec`` is checked whole,
    in memory, rather than written as it arrives: a small one (it goes into a pack), or
    one that may need code to load from a remote that is not trusted (it is inspected)."""
    return size < PACK_THRESHOLD or (not spec.trusted and codec not in SAFE_CODECS)


def _read_at_least(read: Reader, size: int) -> bytes:
    """The first ``size`` bytes (fewer only when there are no more)."""
    pieces: list[bytes] = []
    got = 0
    while got < size and (piece := read(size - got)):
        pieces.append(piece)
        got += len(piece)
    return b"".join(pieces)


def _read_all(read: Reader) -> bytes:
    pieces = []
    while piece := read(STREAM_PIECE):
        pieces.append(piece)
    return b"".join(pieces)


#: Pickle opcodes that import or call something: a pickle without them builds only
#: plain data (numbers, strings, bytes, tuples, lists, dicts, sets) and runs no code.
_CODE_OPCODES = frozenset(
    {
        "GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE", "NEWOBJ", "NEWOBJ_EX", "BUILD",
        "EXT1", "EXT2", "EXT4", "PERSID", "BINPERSID", "NEXT_BUFFER", "READONLY_BUFFER",
    }
)  # fmt: skip
#: Larger pickles from untrusted remotes are not inspected (the scan is pure Python).
PLAIN_PICKLE_LIMIT = 4 * 2**20


def untrusted_refusal(data: bytes, header: Header) -> str | None:
    """Why a verified object may not load from an untrusted remote, or None when it may:
    the codecs that cannot run code load, and so does a small pickle of plain data."""
    if header.codec in SAFE_CODECS:
        return None
    if header.codec == "skops":
        from helixvcs.store import estimators

        _, raw = unpack_raw(data)
        try:
            unsafe = estimators.untrusted_types(raw)
        except Exception as exc:  # skops missing, or not a skops file: refuse it
            return f"holds an estimator skops cannot check ({type(exc).__name__})"
        if unsafe:
            shown = ", ".join(unsafe[:3]) + (", ..." if len(unsafe) > 3 else "")
            return f"holds types skops does not trust ({shown}) and the remote is not trusted"
        return None
    if header.codec != "pickle" or header.raw_bytes > PLAIN_PICKLE_LIMIT:
        return f"needs {header.codec} to load and the remote is not trusted"
    import pickletools

    _, raw = unpack_raw(data)
    try:
        for opcode, _, _ in pickletools.genops(bytes(raw)):
            if opcode.name in _CODE_OPCODES:
                return "needs pickle (it names Python code) and the remote is not trusted"
    except Exception as exc:  # not a pickle we can read: refuse it
        return f"holds an unreadable pickle ({type(exc).__name__})"
    return None
