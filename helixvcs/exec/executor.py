"""Executors: where ``run_task`` runs. They differ only in ``submit``.

The driver hands an executor one ``Task`` at a time, once the task's parents are done,
with the handles of its parents' results; the executor starts ``run_task(task, *parent
results)`` somewhere and calls ``done(task, meta)`` when it finishes, from whatever
thread it likes. A handle is a future of the ``TaskResult`` (``.result()``), and stays
where the executor put it: the driver never needs a value except the run's targets.

* ``local``   -- in the driver's thread, one task at a time, in the plan's order (the
  default, and what every other executor must agree with);
* ``threads`` -- a thread pool in the driver's process: independent branches run at
  once, which pays for operators that release the GIL (numpy, Arrow, scikit-learn);
* ``dask``    -- a ``distributed`` cluster (``helixvcs.exec.dask_executor``, imported only
  when chosen: the core never imports dask).

This module holds the base class and the two in-process executors; ``executors`` chooses
one by name, and neither this module nor the Dask one imports it.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from helixvcs.exec.task import Task, TaskMeta, TaskResult, run_task
from helixvcs.store import ObjectStore

Done = Callable[[Task, "TaskMeta | BaseException"], None]
"""Called once per submitted task: its meta, or the exception that kept it from running."""


class Executor(ABC):
    name: str
    in_process = True
    """Whether tasks run in the driver's process, where they can use its compiled workflow;
    other processes import the workflow from the source snapshot taken at compile time."""

    def open(self, store: ObjectStore) -> None:  # noqa: B027 - optional hook
        """Get ready to run tasks on ``store``: a ``UserInputError`` now if that cannot work."""

    @abstractmethod
    def submit(self, task: Task, parents: Sequence[Any], done: Done) -> Any:
        """Start ``run_task(task, *parent results)``; return a handle (a future) to its result."""

    def results(self, handles: Mapping[str, Any]) -> dict[str, TaskResult]:
        """The results behind ``handles``, brought to the driver."""
        return {name: handle.result() for name, handle in handles.items()}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release workers, if any."""


class LocalExecutor(Executor):
    """In the driver's thread: ``submit`` returns when the task is done."""

    name = "local"

    def submit(self, task: Task, parents: Sequence[Any], done: Done) -> Any:
        try:
            result = run_task(task, *(p.result() for p in parents))
        except Exception as exc:  # a bug or a store error; KeyboardInterrupt goes through
            done(task, exc)
            return Finished(None, exc)
        done(task, result.meta)
        return Finished(result)


class Finished:
    """The handle of a task that ``submit`` ran to its end: a future that is already done,
    without the locks a ``concurrent.futures.Future`` makes for waiting on it."""

    __slots__ = ("_error", "_result")

    def __init__(self, result: TaskResult | None, error: BaseException | None = None) -> None:
        self._result, self._error = result, error

    def result(self) -> TaskResult:
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


class ThreadsExecutor(Executor):
    """A pool of ``os.cpu_count()`` threads in the driver's process."""

    name = "threads"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool: ThreadPoolExecutor | None = None

    def submit(self, task: Task, parents: Sequence[Any], done: Done) -> Any:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="helix-operator")
        future = self._pool.submit(run_task, task, *(p.result() for p in parents))
        future.add_done_callback(lambda f: done(task, _outcome(f)))
        return future

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _outcome(future: Future[TaskResult]) -> TaskMeta | BaseException:
    exc = future.exception()
    return exc if exc is not None else future.result().meta
