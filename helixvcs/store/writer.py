"""Writes that finish while the run goes on: one thread, in the process that runs the
operators.

A value that a run keeps is encoded at once (``objectfile.encode_value``: bytes of its
own, so the operators that receive the value may go on and even change it in place) and
handed to the writer, which compresses, checksums and writes it exactly as ``put``
would: a private temp file, fsync, rename. The operators below it run meanwhile, and
zstd, blake2b and the file system release the GIL, so on a second core the write costs
the run almost nothing. The run waits for its writes before it records them in the index
(``wait``): an object is named by a run record only once it is complete on disk.

Group commit. A loose write costs two fsyncs (the file, its folder: ~7 ms on the project
machine), so a run whose operators keep small values faster than that ends waiting for
a backlog of them (10,000 operators keeping ~150 values: 0.4 s and more). So once a run
has handed over ``GROUP_AFTER`` values, the writer takes the small values waiting behind
the oldest together (``ObjectStore.put_group``: the disk store writes them as one pack,
fsynced once), and each of their writes is done when the whole group is on disk. A run
that keeps fewer values writes each one loose, as before, whatever the timing: what a
small workflow leaves in the store does not depend on how fast the disk was.

A write is atomic whenever it ends; one that never ends (a kill) leaves only temp files,
which the next store opened on the folder removes (or a pack without its index, which
``repack`` indexes again). A reader, meanwhile, finds the object complete or absent,
never torn.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future

from helixvcs.store import estimators
from helixvcs.store.base import ObjectInfo, ObjectStore
from helixvcs.store.objectfile import Encoded, Packed
from helixvcs.store.packfile import PACK_THRESHOLD

#: A run groups its writes once it has handed over this many values (fewer: all loose).
GROUP_AFTER = 16
#: A group holds at most this many bytes of encoded values.
GROUP_BYTES = 16 * 2**20

_Write = tuple[str, Encoded | Packed, "Future[ObjectInfo]"]


class BackgroundWriter:
    """Writes to ``store`` on one thread of its own, in the order they were handed over."""

    def __init__(self, store: ObjectStore, *, group_after: int = GROUP_AFTER) -> None:
        self.store = store
        self.group_after = group_after
        self._queue: deque[_Write] = deque()  # handed over, not started
        self._pending: dict[str, Future[ObjectInfo]] = {}
        self._handed = 0
        self.settled = 0
        """How many writes have ended (written or failed): a cheap "anything new?"."""
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._closed = False

    def put(self, key: str, value: Encoded | Packed) -> None:
        """Start writing ``value`` under ``key``; ``take(key)`` gives its ``ObjectInfo``."""
        future: Future[ObjectInfo] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the writer is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="helix-writer", daemon=True)
                self._thread.start()
                estimators.warm_up()  # a fitted estimator, if one comes, needs skops
            self._pending[key] = future
            self._queue.append((key, value, future))
            self._handed += 1
            self._wake.notify()

    def peek(self, key: str) -> Future[ObjectInfo] | None:
        """The write of ``key`` in progress or done, if not taken yet."""
        with self._lock:
            return self._pending.get(key)

    def take(self, key: str) -> Future[ObjectInfo]:
        """The write of ``key`` (handed over once): its result is the object written, or
        the error the store raised (``StoreWriteError`` on a full disk)."""
        with self._lock:
            return self._pending.pop(key)

    def close(self, *, cancel: bool = False) -> None:
        """Wait for the writes in progress; with ``cancel``, drop those not started yet
        (an interrupted run: what was not written is computed again when needed)."""
        with self._lock:
            self._closed = True
            if cancel:
                while self._queue:
                    self._queue.popleft()[2].cancel()
            thread, self._thread = self._thread, None
            self._wake.notify()
        if thread is not None:
            thread.join()

    # -- the writer's thread ---------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if not self._queue:
                    return
                group = self._next()
            self._write([w for w in group if w[2].set_running_or_notify_cancel()])

    def _next(self) -> list[_Write]:
        """The oldest write; once the run has handed over ``group_after`` values, with
        the small ones waiting right behind it (the order of the writes is kept)."""
        group = [self._queue.popleft()]
        if self._handed < self.group_after or not _small(group[0][1]):
            return group
        size = _encoded_bytes(group[0][1])
        while self._queue and _small(self._queue[0][1]):
            size += _encoded_bytes(self._queue[0][1])
            if size > GROUP_BYTES:
                break
            group.append(self._queue.popleft())
        return group

    def _write(self, group: list[_Write]) -> None:
        """Write ``group`` and settle each write: its ``ObjectInfo``, or the error that
        stopped the group (each then counts as not written)."""
        if not group:
            return
        try:
            if len(group) == 1:
                key, value, _ = group[0]
                infos = {key: _put_one(self.store, key, value)}
            else:
                infos = self.store.put_group([(key, value) for key, value, _ in group])
        except BaseException as exc:  # the driver raises it when it takes the write
            for _, _, future in group:
                future.set_exception(exc)
        else:
            for key, _, future in group:
                future.set_result(infos[key])
        self.settled += len(group)


def _put_one(store: ObjectStore, key: str, value: Encoded | Packed) -> ObjectInfo:
    if isinstance(value, Encoded):
        return store.put_encoded(key, value)
    return store.put_packed(key, value)


def _encoded_bytes(value: Encoded | Packed) -> int:
    return value.raw.nbytes if isinstance(value, Encoded) else value.header.total_bytes


def _small(value: Encoded | Packed) -> bool:
    """Small enough to be packed, most likely (the store decides once it is compressed)."""
    return _encoded_bytes(value) < PACK_THRESHOLD
