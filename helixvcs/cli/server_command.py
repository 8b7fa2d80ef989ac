"""``helix server start|stop|status``: a warm interpreter for this repository's commands.

``commands`` adds it to the ``helix`` group. The server and its client live in
``helixvcs.cli.warm``.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from helixvcs.cli.options import Ctx, emit_json, json_option


@click.group()
def server() -> None:
    """A warm helix process for this repository: commands start in milliseconds.

    \b
    The server imports helixvcs and the libraries your workflow imports (scikit-learn,
    pandas, ...) once; each later helix command in this repository is run by a fork of
    it, with your arguments, folder, environment and terminal. Your workflow's own
    modules are imported afresh by every command. A command from another environment
    (another PYTHONPATH, another variable) runs in its own process as usual.

    \b
    helix server start     # start it (stops after --idle without a command)
    helix server status    # is it running, how many commands has it served
    helix server stop
    HELIX_SERVER=0 helix run         # bypass it once
    HELIX_SERVER=explain helix run   # say whether the server ran the command
    """


def _root(obj: Ctx) -> Path:
    from helixvcs.vcs import find_root

    return find_root(Path(obj.repo_path))


@server.command()
@click.option(
    "--idle", default="30m", metavar="DURATION", show_default=True,
    help="Stop after this long without a command (90s, 30m, 2h).",
)  # fmt: skip
@json_option
@click.pass_obj
def start(obj: Ctx, idle: str) -> None:
    """Start the server for this repository (nothing happens if one is running).

    Example: helix server start --idle 2h
    """
    from helixvcs.cli.warm import control
    from helixvcs.repo.feedback.explorer import parse_duration

    seconds = parse_duration(idle)
    root = _root(obj)
    began = time.monotonic()
    state, started = control.start(root, seconds)
    if obj.as_json:
        emit_json({"running": True, "started": started, **state})
    elif started:
        click.echo(
            f"helix server ready in {time.monotonic() - began:.1f} s (process {state['pid']}, "
            f"{state['modules']} modules loaded); it stops after {idle} without a command"
        )
    else:
        click.echo(f"helix server already running (process {state['pid']})")


@server.command()
@json_option
@click.pass_obj
def stop(obj: Ctx) -> None:
    """Stop this repository's server; commands it is running finish first.

    Example: helix server stop
    """
    from helixvcs.cli.warm import control

    state = control.stop(_root(obj))
    if obj.as_json:
        emit_json({"stopped": state is not None, **(state or {})})
    elif state is None:
        click.echo("no helix server is running for this repository")
    else:
        click.echo(f"helix server stopped (process {state['pid']}, {state['served']} served)")


@server.command(name="status")
@json_option
@click.pass_obj
def server_status(obj: Ctx) -> None:
    """Whether a server runs for this repository, and what it has done.

    Example: helix server status --json
    """
    from helixvcs.cli.warm import control

    state = control.status(_root(obj))
    if obj.as_json:
        emit_json({"running": state is not None, **(state or {})})
    elif state is None:
        click.echo("no helix server is running for this repository")
    else:
        up = time.time() - float(state["started_at"])
        click.echo(
            f"helix server running: process {state['pid']}, up {up:.0f} s, "
            f"{state['served']} commands served, {state['declined']} declined, "
            f"{state['commands_running']} running now"
        )
        if state.get("last_declined"):
            click.echo(f"last declined because of {state['last_declined']}")
