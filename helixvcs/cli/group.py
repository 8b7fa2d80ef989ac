"""The error boundary of the ``helix`` group: every error becomes one line and an exit code."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

__all__ = ["INTERNAL_ERROR", "HelixGroup"]

INTERNAL_ERROR = 70  # a bug in helixvcs (EX_SOFTWARE); 1 is reserved for a failed workflow


class HelixGroup(click.Group):
    """A click group that reports domain errors as one line (2 bad input, 1 workflow failed)."""

    def invoke(self, ctx: click.Context) -> Any:
        _printable_streams()
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except BrokenPipeError:  # `helix log | head`: the reader left; that is fine
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(0)
        except KeyboardInterrupt:
            click.echo("interrupted; intermediates already stored are kept", err=True)
            ctx.exit(130)
        except Exception as exc:
            debug = bool(getattr(ctx.obj, "debug", False)) or os.environ.get("HELIX_DEBUG") == "1"
            ctx.exit(_report(exc, debug))


def _printable_streams() -> None:
    """A file name that is not UTF-8 is data: print it escaped (``\\udcff``) rather than
    fail on it, whatever the locale."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", None) == "strict":
            reconfigure(errors="backslashreplace")


def _report(exc: Exception, debug: bool) -> int:
    from helixvcs.errors import HelixError, WorkflowFailed

    if debug:
        import traceback

        traceback.print_exception(exc)
    if isinstance(exc, WorkflowFailed):
        click.echo(f"error: {exc}", err=True)
        if exc.details:
            click.echo(exc.details.rstrip(), err=True)
        return exc.exit_code
    if isinstance(exc, HelixError):
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    if not debug:
        click.echo(
            f"internal error: {type(exc).__name__}: {exc} "
            "(run with --debug for the traceback, and please report it)",
            err=True,
        )
    return INTERNAL_ERROR
