"""The ``helix`` group: its options, and every command, added from one explicit list.

Command modules define commands (``click.command``) and import what they share from
``options``; none of them imports this module, and none registers itself. Importing this
module imports click and the command modules, never the library: each command imports
it when it runs, so ``helix --help`` starts fast.
"""

from __future__ import annotations

import click

from helixvcs.cli import (
    core_commands,
    explore_commands,
    fsck_command,
    git_commands,
    history_commands,
    remote_commands,
    server_command,
    ui_command,
)
from helixvcs.cli.group import HelixGroup
from helixvcs.cli.options import Ctx

COMMANDS: tuple[click.Command, ...] = (
    core_commands.init,
    core_commands.run,
    core_commands.plan,
    core_commands.status,
    core_commands.log,
    core_commands.show,
    core_commands.gc,
    core_commands.prune,
    fsck_command.fsck,
    core_commands.demo,
    git_commands.commit_and_run,
    git_commands.hooks,
    history_commands.diff,
    history_commands.blame_metric,
    history_commands.bisect,
    history_commands.explain,
    history_commands.plot,
    history_commands.dag,
    explore_commands.explore,
    explore_commands.suggest,
    remote_commands.remote,
    remote_commands.push,
    remote_commands.pull,
    ui_command.ui,
    server_command.server,
)
"""Every ``helix`` command (``helix --help`` lists them sorted by name)."""


@click.group(cls=HelixGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--repo",
    "repo_path",
    default=".",
    metavar="PATH",
    help="Repository (default: the current directory).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable output on every read command."
)
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.option(
    "--sample",
    metavar="FRACTION",
    help="run, plan, explore: use this fraction (0 < F < 1) of every source's rows.",
)
@click.option("--seed", metavar="N", help="Which rows --sample keeps (default 0).")
@click.option("--precision", metavar="DTYPE", help="run, prune: cast float64 values to float32.")
@click.option(
    "--prune-zero-weight", is_flag=True, help="run: leave out feature blocks of zero weight."
)
@click.version_option(package_name="helixvcs", prog_name="helix")
@click.pass_context
def cli(
    ctx: click.Context,
    repo_path: str,
    as_json: bool,
    quiet: bool,
    debug: bool,
    sample: str | None,
    seed: str | None,
    precision: str | None,
    prune_zero_weight: bool,
) -> None:
    """helixvcs: iterate on ML workflows; reuse what did not change; see why metrics move.

    \b
    Quick start, in a git repository with a workflow.py:
      helix init      # create .helix/ (store, index, config)
      helix run       # compute, keep useful intermediates, record metrics
      helix status    # which operators changed since the last run
      helix log       # runs with metrics and time saved
    """
    ctx.obj = Ctx(repo_path, as_json, quiet, debug)
    ctx.obj.sample, ctx.obj.seed = sample, seed
    ctx.obj.precision, ctx.obj.prune_zero_weight = precision, prune_zero_weight


for _command in COMMANDS:
    cli.add_command(_command)
