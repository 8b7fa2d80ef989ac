"""Running a plan: the generic driver loop, the tasks it hands out, executors, progress.

The driver owns the policy (what to load, compute, keep within the budget, and what to
do when an operator fails or a stored object is bad); ``run_task`` does one operator's
work wherever an executor runs it (``local``, ``threads``, ``dask``). Nothing here
writes the index: the driver returns records and the repo layer writes them. Only
``helixvcs.exec.dask_executor`` imports dask, and only when that executor is chosen.
"""

from __future__ import annotations

from helixvcs.exec.driver import ExecResult, NodeOutcome, OperatorFailure, RunSettings, execute
from helixvcs.exec.executor import Executor, LocalExecutor, ThreadsExecutor
from helixvcs.exec.executors import EXECUTORS, get_executor
from helixvcs.exec.progress import Progress, make_progress
from helixvcs.exec.task import Task, TaskMeta, TaskResult, run_task

__all__ = [
    "EXECUTORS",
    "ExecResult",
    "Executor",
    "LocalExecutor",
    "NodeOutcome",
    "OperatorFailure",
    "Progress",
    "RunSettings",
    "Task",
    "TaskMeta",
    "TaskResult",
    "ThreadsExecutor",
    "execute",
    "get_executor",
    "make_progress",
    "run_task",
]
