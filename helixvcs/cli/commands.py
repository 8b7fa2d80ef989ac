"""The commands. Each parses its options, calls one ``Repo`` method, prints the report."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from helixvcs.cli.main import HelixGroup

F = TypeVar("F", bound=Callable[..., Any])


class Ctx:
    def __init__(self, repo_path: str, as_json: bool, quiet: bool, debug: bool) -> None:
        self.repo_path, self.as_json, self.quiet, self.debug = repo_path, as_json, quiet, debug
        self.sample: str | None = None  # --sample FRACTION, as given
        self.seed: str | None = None  # --seed N, as given

    def sampling(self) -> tuple[float | None, int | None]:
        """``--sample`` and ``--seed`` as numbers; a bad value is one line and exit 2."""
        from helixvcs.errors import UserInputError

        sample = seed = None
        if self.sample is not None:
            try:
                sample = float(self.sample)
            except ValueError:
                raise UserInputError(
                    f"bad --sample {self.sample!r}: give a fraction between 0 and 1, e.g. 0.1"
                ) from None
        if self.seed is not None:
            try:
                seed = int(self.seed)
            except ValueError:
                raise UserInputError(f"bad --seed {self.seed!r}: give an integer, e.g. 0") from None
        return sample, seed

    def repo(self) -> Any:
        from helixvcs.repo import Repo

        return Repo(self.repo_path)

    def progress(self) -> Any:
        from helixvcs.exec import make_progress

        return make_progress(quiet=self.quiet or self.as_json)


def json_option(func: F) -> F:
    """``--json`` on a command as well as on the group: either one turns it on."""

    def set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.ensure_object(Ctx).as_json = True

    return click.option(
        "--json", "as_json", is_flag=True, expose_value=False, callback=set_json,
        help="Print one JSON document on stdout (schema in docs/json.md).",
    )(func)  # fmt: skip


def sample_options(func: F) -> F:
    """``--sample FRACTION`` and ``--seed N`` after the command name as well as before it."""

    def setter(attribute: str) -> Callable[[click.Context, click.Parameter, str | None], None]:
        def set_value(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
            if value is not None:
                setattr(ctx.ensure_object(Ctx), attribute, value)

        return set_value

    func = click.option(
        "--seed", metavar="N", expose_value=False, callback=setter("seed"),
        help="Which rows a sample keeps (default 0); the same seed keeps the same rows.",
    )(func)  # fmt: skip
    return click.option(
        "--sample", metavar="FRACTION", expose_value=False, callback=setter("sample"),
        help="Run on this fraction (0 < F < 1) of every source's rows; metrics are approximate.",
    )(func)  # fmt: skip


def emit_json(doc: Any) -> None:
    """One JSON document; NaN and infinities (not JSON) become null."""
    click.echo(json.dumps(_finite(doc), indent=2, default=str, allow_nan=False))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


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


@cli.command()
@click.pass_obj
def init(obj: Ctx) -> None:
    """Create .helix/ in the repository and add it to .gitignore.

    Example: cd my-model && helix init
    """
    from helixvcs.repo import Repo

    repo = Repo.init(obj.repo_path)
    click.echo(f"initialized helixvcs in {repo.layout.helix}")


@cli.command()
@click.argument("rev", required=False)
@click.option(
    "--materialize",
    type=click.Choice(["helix", "all", "none"]),
    help="Which intermediates to keep.",
)
@click.option("--budget", metavar="SIZE", help="Store budget for this run, e.g. 500MB, 2GiB.")
@click.option(
    "--executor",
    metavar="NAME",
    help="How operators run: local (default), threads, or dask (docs/execution.md).",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Dask scheduler to run on, e.g. tcp://host:8786 (implies --executor dask).",
)
@sample_options
@json_option
@click.pass_obj
def run(
    obj: Ctx,
    rev: str | None,
    materialize: str | None,
    budget: str | None,
    executor: str | None,
    scheduler: str | None,
) -> None:
    """Run the workflow: compute what changed, load or prune the rest, record the run.

    Example: helix run --json
    Example: helix run --sample 0.1 --seed 0
    Example: helix run --executor dask --scheduler tcp://10.0.0.5:8786
    """
    from helixvcs.cli import render
    from helixvcs.errors import WorkflowFailed
    from helixvcs.repo import RunOptions, parse_size

    sample, seed = obj.sampling()
    options = RunOptions(
        rev=rev,
        materialize=materialize,
        budget=parse_size(budget) if budget else None,
        executor=executor,
        scheduler=scheduler or None,
        sample=sample,
        seed=seed,
    )
    options.sample_spec()  # a bad --sample is exit 2 before anything else
    with obj.progress() as progress:
        report = obj.repo().run(options, progress)
    if obj.as_json:
        emit_json(report.to_json())
    else:
        render.run_report(report)
    if report.failure is not None:
        raise WorkflowFailed(report.failure.message, report.failure.traceback)


@cli.command()
@click.argument("rev", required=False)
@sample_options
@json_option
@click.pass_obj
def plan(obj: Ctx, rev: str | None) -> None:
    """Show what a run would do per operator (compute / load / prune), why, and at what cost.

    Example: helix plan
    """
    from helixvcs.cli import render
    from helixvcs.repo import RunOptions

    sample, seed = obj.sampling()
    spec = RunOptions(sample=sample, seed=seed).sample_spec()
    report = obj.repo().plan(rev, sample=spec)
    emit_json(report.to_json()) if obj.as_json else render.plan_report(report)


@cli.command()
@json_option
@click.pass_obj
def status(obj: Ctx) -> None:
    """Which operators changed since the last run, and what a run would recompute.

    Example: helix status
    """
    from helixvcs.cli import render

    report = obj.repo().status()
    emit_json(report.to_json()) if obj.as_json else render.status_report(report)


@cli.command()
@click.option("--metric", "-m", metavar="NAME", help="Show only this metric.")
@click.option("--limit", "-n", type=click.IntRange(min=1), help="At most this many runs.")
@json_option
@click.pass_obj
def log(obj: Ctx, metric: str | None, limit: int | None) -> None:
    """Runs, newest first: revision, metrics, wall time, computed / loaded / pruned, time saved.

    Example: helix log --metric accuracy
    """
    from helixvcs.cli import render

    entries = obj.repo().log(limit=limit, metric=metric)
    if obj.as_json:
        emit_json([e.to_json() for e in entries])
    else:
        render.log_entries(entries)


@cli.command()
@click.argument("node")
@click.argument("rev", required=False)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Export to a file (.parquet, .csv, .arrow, .npy, .pkl).",
)
@json_option
@click.pass_obj
def show(obj: Ctx, node: str, rev: str | None, output: Path | None) -> None:
    """Preview (or export) the value of one operator: first rows of a table, repr of a model.

    Example: helix show rows
    """
    from helixvcs.cli import render

    with obj.progress() as progress:
        report = obj.repo().show(node, rev, output=output, progress=progress)
    emit_json(report.to_json()) if obj.as_json else render.show_report(report)


@cli.command()
@click.option("--max-size", metavar="SIZE", help="Target store size (default: the budget).")
@click.option("--dry-run", is_flag=True, help="Say what would be dropped; drop nothing.")
@json_option
@click.pass_obj
def gc(obj: Ctx, max_size: str | None, dry_run: bool) -> None:
    """Drop the stored intermediates least likely to pay off until the store fits a size.

    Example: helix gc --max-size 500MB --dry-run
    """
    from helixvcs.cli import render
    from helixvcs.repo import parse_size

    limit = parse_size(max_size) if max_size else None
    report = obj.repo().gc(limit, dry_run=dry_run)
    emit_json(report.to_json()) if obj.as_json else render.gc_report(report)


@cli.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
def demo(obj: Ctx, directory: Path | None) -> None:
    """Build a scratch git repo with the census example and three iterations; run each.

    Example: helix demo /tmp/helix-demo
    """
    from helixvcs.cli import render
    from helixvcs.demo.run import run_demo

    report = run_demo(directory, obj.progress, say=lambda line: click.echo(line))
    click.echo("\nhelix log:")
    render.log_entries(report.log)
    click.echo(f"\nthe demo repository is {report.path}; try there:")
    click.echo("  helix status    helix plan    helix log    helix show rows")


# commit-and-run and hooks, the history commands (diff, blame-metric, bisect, explain,
# plot, dag), ui and server live in their own modules and register themselves on `cli`
from helixvcs.cli import (  # noqa: E402, F401
    explore_commands,
    git_commands,
    history_commands,
    server_command,
    ui_command,
)
