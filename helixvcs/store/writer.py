"""Writes that finish while the run goes on: one thread, in the process that runs the
operators.

A value that a run keeps is encoded at once (``objectfile.encode_value``: bytes of its
own, so the operators that receive the value may go on and even change it in place) and
handed to the writer, which compresses, checksums and writes it exactly as ``put``
would: a private temp file, fsync, rename. The operators below it run meanwhile, and
zstd, blake2b and the file system release the GIL, so on a second core the write costs
the run almost nothing. The run waits for its writes before it records them in the index
(``wait``): an object is named by a run record only once it is complete on disk.

A write is atomic whenever it ends; one that never ends (a kill) leaves only a temp file,
which the next store opened on the folder removes. A reader, meanwhile, finds the object
complete or absent, never torn.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

from helixvcs.store.base import ObjectInfo, ObjectStore
from helixvcs.store.objectfile import Encoded, Packed


class BackgroundWriter:
    """Writes to ``store`` on one thread of its own, in the order they were handed over."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._pool: ThreadPoolExecutor | None = None
        self._pending: dict[str, Future[ObjectInfo]] = {}
        self._lock = threading.Lock()

    def put(self, key: str, value: Encoded | Packed) -> None:
        """Start writing ``value`` under ``key``; ``take(key)`` gives its ``ObjectInfo``."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="helix-writer")
            write = self.store.put_encoded if isinstance(value, Encoded) else self.store.put_packed
            self._pending[key] = self._pool.submit(write, key, value)  # type: ignore[arg-type]

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
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=cancel)
