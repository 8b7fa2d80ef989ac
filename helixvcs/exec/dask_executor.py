"""The Dask executor: operators run on a ``distributed`` cluster. The only module importing dask.

``helix run --executor dask --scheduler tcp://HOST:8786`` uses an existing cluster;
``--executor dask`` alone starts a ``LocalCluster`` of one single-threaded worker process
per CPU for the run. Each task is one Dask task whose dependencies are its parents'
tasks, so values move between workers, never through the driver; the driver gathers only
a small meta per task, and the targets' values at the end.

Workers read and write the store themselves, so the repository and its ``.helix/`` must
be on a file system that every worker mounts at the same path; ``open`` checks that
before anything runs. Or the store is a remote (``remote``): then workers share no disk
with the driver and need none; they load and keep values on the remote, read the
sources' data files from it (``shipping``: this module uploads a source's files when it
submits its task), and import the repository's modules from the tasks' snapshot; ``open``
checks that every worker reaches the remote.

A task whose worker dies is run again on another worker (the scheduler's
``allowed-failures``; 1 for the ``LocalCluster``); when that one dies too, the operator
fails and the run fails as it would locally, keeping what finished.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

import dask
from distributed import Client, Future, LocalCluster
from distributed.comm.addressing import get_address_host_port, parse_address
from distributed.comm.registry import get_backend
from distributed.scheduler import KilledWorker

from helixvcs.errors import UserInputError
from helixvcs.exec import shipping
from helixvcs.exec.executor import Done, Executor
from helixvcs.exec.task import (
    OperatorFailure,
    Task,
    TaskMeta,
    TaskResult,
    moved_input,
    run_task,
    task_meta,
)
from helixvcs.store import DiskObjectStore, ObjectStore
from helixvcs.store.remote import Remote, RemoteError, RemoteSpec
from helixvcs.store.remote_store import RemoteObjectStore

CONNECT_TIMEOUT = "3s"
WORKER_WAIT_SECONDS = 10.0
LOCAL_ALLOWED_FAILURES = 1  # a task is tried on two workers before its operator fails


class SchedulerUnreachable(UserInputError):
    """No Dask scheduler answers at the address given."""


class StoreNotShared(UserInputError):
    """A worker cannot see the store: the repository is not on a shared file system."""


class DaskExecutor(Executor):
    name = "dask"
    in_process = False

    def __init__(
        self,
        scheduler: str | None = None,
        workers: int | None = None,
        remote: RemoteSpec | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.workers = workers or os.cpu_count() or 1
        self.remote = remote  # the workers' store, when they share no disk with the driver
        self.client: Client | None = None
        self.cluster: LocalCluster | None = None
        self._store: RemoteObjectStore | None = None
        self._metas: list[Future] = []  # referenced until closed, so callbacks fire
        self._lock = threading.Lock()

    def open(self, store: ObjectStore) -> None:
        if self.client is not None:
            return
        if self.remote is not None:
            if not isinstance(store, RemoteObjectStore) or store.remote.spec != self.remote:
                raise UserInputError(f"the dask executor needs remote '{self.remote.name}'")
            self._store = store
        elif not isinstance(store, DiskObjectStore):
            raise UserInputError("the dask executor needs the store on disk (.helix/objects)")
        root = None if isinstance(store, RemoteObjectStore) else str(store.root)
        self.client = self._connect()
        try:
            self._check_workers(root)
        except BaseException:
            self.close()
            raise

    def _connect(self) -> Client:
        if self.scheduler is None:
            with dask.config.set(
                {"distributed.scheduler.allowed-failures": LOCAL_ALLOWED_FAILURES}
            ):
                self.cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                )
            return Client(self.cluster, set_as_default=False)
        try:
            scheme = parse_address(self.scheduler)[0]  # a bad address fails before any Client
            get_backend(scheme)
            if scheme != "inproc":  # a scheduler in this process has no port
                get_address_host_port(self.scheduler)
        except ValueError as exc:
            raise SchedulerUnreachable(
                f"bad Dask scheduler address {self.scheduler!r} ({exc}); use tcp://HOST:8786"
            ) from None
        try:
            return Client(self.scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SchedulerUnreachable(
                f"cannot reach a Dask scheduler at {self.scheduler} ({reason}); check the "
                "address (tcp://HOST:8786) and that `dask scheduler` is running there"
            ) from None

    def _check_workers(self, root: str | None) -> None:
        """Fail now, with one line, when a worker cannot see the store (the folder
        ``root``, or the remote) or import helixvcs."""
        assert self.client is not None
        where = self.scheduler or "the local cluster"
        try:
            self.client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
        except TimeoutError:
            raise UserInputError(
                f"no Dask worker joined {where} within {WORKER_WAIT_SECONDS:.0f} s; "
                "start some with `dask worker ADDRESS`"
            ) from None
        if root is None:  # workers share no disk with the driver: they need the remote
            assert self.remote is not None
            refused = self._ask_workers(_remote_refusal, self.remote)
            failing = sorted((w, why) for w, why in refused.items() if why is not None)
            if failing:
                raise UserInputError(f"Dask worker {failing[0][0]}: {failing[0][1]}")
            return
        seen = self._ask_workers(_store_visible, root)
        blind = sorted(worker for worker, ok in seen.items() if not ok)
        if blind:
            raise StoreNotShared(
                f"Dask worker {blind[0]} cannot see the store at {root}"
                + (f" (nor can {len(blind) - 1} more)" if len(blind) > 1 else "")
                + "; put the repository on a file system every worker mounts at the same path"
            )

    def _ask_workers(self, question: Any, *args: Any) -> dict[str, Any]:
        """Every worker's answer to ``question(*args)``; exit 2 when they cannot run it."""
        assert self.client is not None
        try:
            return dict(self.client.run(question, *args))
        except Exception as exc:
            where = self.scheduler or "the local cluster"
            raise UserInputError(
                f"Dask workers of {where} cannot run helixvcs tasks ({type(exc).__name__}: "
                f"{exc}); install helixvcs, the same version, on every worker"
            ) from None

    def submit(self, task: Task, parents: Sequence[Any], done: Done) -> Any:
        assert self.client is not None, "open() first"
        if task.data is not None and self._store is not None:
            shipped = _ship(task, self._store)
            if isinstance(shipped, OperatorFailure):
                done(task, TaskMeta(task.name, task.state, failure=shipped))
                return None  # failed: no child or result will ask for it
            task = shipped
        # the part before the first "-" is what Dask learns durations by: one per operator
        tail = f"{task.run}-{task.key[:12]}"
        key = f"helix_{task.state}_{task.name}-{tail}"
        future = self.client.submit(run_task, task, *parents, key=key, pure=False, retries=1)
        meta = self.client.submit(task_meta, future, key=f"helix_meta-{task.state}-{tail}")
        with self._lock:
            self._metas.append(meta)
        meta.add_done_callback(partial(_report, task, done))
        return future

    def results(self, handles: Mapping[str, Any]) -> dict[str, TaskResult]:
        if not handles:
            return {}
        assert self.client is not None
        values = self.client.gather(list(handles.values()))
        return dict(zip(handles, values, strict=True))

    def close(self) -> None:
        with self._lock:
            self._metas.clear()
        client, cluster, self.client, self.cluster = self.client, self.cluster, None, None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def _report(task: Task, done: Done, meta: Future) -> None:
    """In Dask's callback thread: hand the driver the task's meta, or why there is none."""
    try:
        outcome: TaskMeta | BaseException = meta.result()
    except KilledWorker as exc:
        deaths = exc.allowed_failures + 1
        times = "twice" if deaths == 2 else f"{deaths} times"
        # queued on a worker counts as running there: Dask gives up on both alike
        message = f"operator '{task.name}' failed: its worker died {times}"
        outcome = TaskMeta(task.name, task.state, failure=OperatorFailure(task.name, message, ""))
    except BaseException as exc:
        outcome = exc
    done(task, outcome)


def _ship(task: Task, store: RemoteObjectStore) -> Task | OperatorFailure:
    """Upload a source's data files to the remote, checked against what its key saw."""
    assert task.data is not None
    base, files = task.data
    moved = moved_input(task)  # checked before and after the read, as a worker would
    if moved is not None:
        return moved
    try:
        digests = shipping.upload(store.remote, [os.path.join(base, f) for f in files])
    except OSError as exc:  # a file that cannot be read, or changed as it was sent
        return moved_input(task) or OperatorFailure(task.name, f"source '{task.name}': {exc}", "")
    moved = moved_input(task)
    if moved is not None:
        return moved
    return replace(task, shipped=tuple(zip(files, digests, strict=True)), inputs_seen=())


def _remote_refusal(spec: RemoteSpec) -> str | None:
    """On a worker: why it cannot use the remote ``spec`` (one line), or None."""
    try:
        Remote.open(spec)
    except RemoteError as exc:
        return str(exc)
    return None


def _store_visible(root: str) -> bool:
    """On a worker: whether the store is there (and, by running at all, helixvcs too)."""
    return os.path.isdir(root)
