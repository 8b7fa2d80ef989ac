"""The ``helix`` command line: click commands that parse, call ``Repo``, and print.

Importing this package imports only click, so ``helix --help`` starts fast; each
command imports the library when it runs. Domain errors become one line on stderr and
an exit code (2 bad input, 1 the workflow failed) in ``HelixGroup``, at the edge.
"""

from __future__ import annotations

from helixvcs.cli.commands import cli
from helixvcs.cli.main import main

__all__ = ["cli", "main"]
