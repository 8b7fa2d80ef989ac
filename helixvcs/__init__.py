"""helixvcs: version control for iterative machine-learning workflows.

Public API only, imported on first use (PEP 562): a workflow module that uses
``Workflow`` loads the DSL, a script that uses ``Repo`` loads the library, and the ``helix``
command, which imports this package before it hands a command to the warm server, loads
neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from helixvcs.errors import CompileError, HelixError, UserInputError, WorkflowFailed

if TYPE_CHECKING:
    from helixvcs.dsl import Workflow
    from helixvcs.repo import Repo

__all__ = ["CompileError", "HelixError", "Repo", "UserInputError", "Workflow", "WorkflowFailed"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "Workflow":
        from helixvcs.dsl import Workflow

        return Workflow
    if name == "Repo":
        from helixvcs.repo import Repo

        return Repo
    raise AttributeError(f"module 'helixvcs' has no attribute {name!r}")
