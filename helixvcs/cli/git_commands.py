"""The commands that work with git itself: ``commit-and-run`` and ``hooks``.

``commands`` adds them to the ``helix`` group.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import click

from helixvcs.cli.options import Ctx, emit_json, json_option


@click.command("commit-and-run")
@click.option("-m", "--message", required=True, help="The commit message, as for git commit.")
@click.option(
    "-a", "--all", "all_", is_flag=True, help="Commit all modified and deleted tracked files."
)
@click.argument("paths", nargs=-1)
@json_option
@click.pass_obj
def commit_and_run(obj: Ctx, message: str, all_: bool, paths: tuple[str, ...]) -> None:
    """Commit exactly like `git commit`, run the new commit, compare metrics with the parent.

    Example: helix commit-and-run -a -m "C 1.0 -> 0.1"
    """
    from helixvcs.errors import WorkflowFailed

    with obj.progress() as progress:
        report = obj.repo().commit_and_run(
            message, all=all_, paths=paths, cwd=Path.cwd(), progress=progress
        )
    if report.git.stderr:
        click.echo(report.git.stderr.rstrip("\n"), err=True)
    if obj.as_json:
        if report.git.stdout:
            click.echo(report.git.stdout.rstrip("\n"), err=True)
        emit_json(report.to_json())
    else:
        click.echo(report.git.stdout.rstrip("\n"))
        _commit_run_report(report)
    if report.run.failure is not None:
        raise WorkflowFailed(report.run.failure.message, report.run.failure.traceback)


@click.group()
def hooks() -> None:
    """Git hooks: run every new commit in the background (install, uninstall, status).

    Example: helix hooks install
    """


@hooks.command()
@json_option
@click.pass_obj
def install(obj: Ctx) -> None:
    """Install the post-commit hook; a hook already there is kept and run first.

    Example: helix hooks install
    """
    _hooks_report(obj, obj.repo().hooks_install())


@hooks.command()
@json_option
@click.pass_obj
def uninstall(obj: Ctx) -> None:
    """Remove helix's post-commit hook and put back the one it chained.

    Example: helix hooks uninstall
    """
    _hooks_report(obj, obj.repo().hooks_uninstall())


@hooks.command("status")
@json_option
@click.pass_obj
def hooks_status(obj: Ctx) -> None:
    """Whether the hook is installed, where, what it chains, and what is queued.

    Example: helix hooks status
    """
    _hooks_report(obj, obj.repo().hooks_status())


@hooks.command("post-commit", hidden=True)
@click.argument("sha")
@click.pass_obj
def post_commit(obj: Ctx, sha: str) -> None:
    """What the hook starts in the background: queue SHA, run the queue."""
    with contextlib.suppress(OSError):  # OSError: already a session leader
        os.setsid()  # out of the committing terminal's session: no SIGHUP, no Ctrl-C
    obj.repo().post_commit(sha, say=lambda line: click.echo(line))


def _commit_run_report(report: Any) -> None:
    run = report.run
    click.echo(f"run {run.run_id} of {run.revision}: {run.status}, {run.summary()}")
    parent = report.parent[:7] if report.parent else None
    names = sorted(set(run.metrics) | set(report.parent_metrics))
    if not names:
        return
    header = ["metric", run.revision, f"parent {parent}" if parent else "parent"]
    rows = [[n, _value(run.metrics.get(n)), _value(report.parent_metrics.get(n))] for n in names]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _value(value: float | None) -> str:
    from helixvcs.cli.numbers import number

    return number(value)


def _hooks_report(obj: Ctx, report: Any) -> None:
    if obj.as_json:
        emit_json(report.to_json())
        return
    state = "installed" if report.installed else "not installed"
    if report.action in ("installed", "updated", "uninstalled"):
        click.echo(f"{report.action} {report.path}")
    else:
        click.echo(f"post-commit hook: {state} ({report.path})")
    if report.chained:
        click.echo(f"runs first: {report.chained}")
    if report.installed and not report.python_found:
        click.echo(f"warning: {report.python} is gone; run `helix hooks install` again", err=True)
    for sha in report.queued:
        click.echo(f"queued: {sha}")
