"""The ``helix`` command line, run in this process.

``helixvcs.cli:main`` falls back to it when no warm server takes the command, and each
child of ``helix server`` runs it.
"""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    from helixvcs.cli.commands import cli

    cli(prog_name="helix")
