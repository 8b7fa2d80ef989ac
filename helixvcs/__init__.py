"""helixvcs: version control for iterative machine-learning workflows.

Public API only. The DSL (``Workflow``) is imported eagerly because workflow modules
use it; ``Repo`` is imported lazily so that importing a workflow stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from helixvcs.dsl import Workflow
from helixvcs.errors import CompileError, HelixError, UserInputError, WorkflowFailed

if TYPE_CHECKING:
    from helixvcs.repo import Repo

__all__ = ["CompileError", "HelixError", "Repo", "UserInputError", "Workflow", "WorkflowFailed"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "Repo":
        from helixvcs.repo import Repo

        return Repo
    raise AttributeError(f"module 'helixvcs' has no attribute {name!r}")
