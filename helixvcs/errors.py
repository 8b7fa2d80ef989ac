"""The root of helixvcs's error hierarchy and the few errors shared across layers.

Errors that belong to one layer are defined next to the code that raises them and
derive from one of these. Every message names the thing, where it is, and what to do;
the CLI prints ``str(error)`` as one line and exits with ``error.exit_code``.
"""

from __future__ import annotations


class HelixError(Exception):
    """Anything helixvcs reports to the user instead of a traceback."""

    exit_code = 2


class UserInputError(HelixError):
    """Bad usage or bad input: a workflow that does not compile, an unknown name, a bad flag."""

    exit_code = 2


class CompileError(UserInputError):
    """The workflow module cannot be turned into a valid DAG.

    ``file``, ``line`` and ``operator`` locate the problem when they are known.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        operator: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.operator = operator
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "")
        if self.operator:
            where = (
                f"{where} (operator '{self.operator}')" if where else f"operator '{self.operator}'"
            )
        return f"{where}: {self.message}" if where else self.message


class WorkflowFailed(HelixError):
    """A user operator raised; ``details`` carries the user's own traceback."""

    exit_code = 1

    def __init__(self, message: str, details: str = "") -> None:
        self.details = details
        super().__init__(message)


class NotInitialized(UserInputError):
    """The repository has no ``.helix/`` yet."""
