"""Running a plan: the generic driver loop, executors, and the progress display.

The driver owns the policy (what to load, compute, keep) and every store write
decision; an executor only says how one operator's function is called. Nothing here
writes the index: the driver returns records and the repo layer writes them.
"""

from __future__ import annotations

from helixvcs.exec.driver import ExecResult, NodeOutcome, OperatorFailure, RunSettings, execute
from helixvcs.exec.executor import Executor, LocalExecutor, get_executor
from helixvcs.exec.progress import Progress, make_progress

__all__ = [
    "ExecResult",
    "Executor",
    "LocalExecutor",
    "NodeOutcome",
    "OperatorFailure",
    "Progress",
    "RunSettings",
    "execute",
    "get_executor",
    "make_progress",
]
