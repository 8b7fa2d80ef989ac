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
    modules are imported afresh by every command. The first command of an environment
    (another PYTHONPATH, another variable, a git hook) starts one of its own in the
    background (server = "auto", the default; "off" in .helix/config.toml turns it off).

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
    state, started = control.start(root, control.here(), seconds)
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
    """Stop this repository's servers (one per environment); commands they are running
    finish first.

    Example: helix server stop
    """
    from helixvcs.cli.warm import control

    root = _root(obj)
    mine = control.here()
    states = control.stop_all(root)
    state = next((s for s in states if s.get("environment") == mine), None)
    state = state or (states[0] if states else None)
    if obj.as_json:
        emit_json({"stopped": state is not None, **(state or {}), "servers": len(states)})
    elif not states:
        click.echo("no helix server is running for this repository")
    else:
        for each in states:
            click.echo(f"helix server stopped (process {each['pid']}, {each['served']} served)")


@server.command(name="status")
@json_option
@click.pass_obj
def server_status(obj: Ctx) -> None:
    """Whether a server runs for this repository, and what it has done.

    Example: helix server status --json
    """
    from helixvcs.cli.warm import control

    root, mine = _root(obj), control.here()
    state = control.status(root, mine)
    others = control.others(root, mine)
    if obj.as_json:
        emit_json({"running": state is not None, **(state or {}), "others": others})
        return
    if state is None:
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
    if others:
        pids = ", ".join(str(o["pid"]) for o in others)
        click.echo(f"{len(others)} more for other environments (process {pids})")
