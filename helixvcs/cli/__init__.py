"""The ``helix`` command line: click commands that parse, call ``Repo``, and print.

``main`` first offers the command to the repository's warm server (``helix server``),
importing only the standard library to do so; click and the commands load only when the
command runs here. Each command imports the library when it runs, so ``helix --help``
starts fast. Domain errors become one line on stderr and an exit code (2 bad input, 1 the
workflow failed) in ``HelixGroup``, at the edge.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from helixvcs.cli.commands import cli

__all__ = ["cli", "entry", "main"]


def main() -> None:
    """``helix``: served by the repository's server when one runs, else run here."""
    from helixvcs.cli.warm.client import serve

    try:
        code = serve(sys.argv[1:])
    except KeyboardInterrupt:  # before the server said which process runs the command
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    if code is not None:
        sys.exit(code)
    from helixvcs.cli.main import main as run_here

    run_here()


def entry() -> None:
    """The ``helix`` program: ``main``, then the process ends without being torn down
    (``leave``: ~0.35 s after a run in a process of its own); an error that escapes
    ``main`` (a bug, shown with ``--debug``) ends it as the interpreter would."""
    from helixvcs.cli.leave import exit_code, leave

    try:
        main()
    except SystemExit as done:
        leave(exit_code(done.code))
    leave(0)


def __getattr__(name: str) -> Any:
    if name == "cli":
        from helixvcs.cli.commands import cli

        return cli
    raise AttributeError(f"module 'helixvcs.cli' has no attribute {name!r}")
