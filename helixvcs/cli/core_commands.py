"""The commands of one iteration: init, run, plan, status, log, show, gc, and demo.

Each parses its options, calls one ``Repo`` method and prints the report; ``commands``
adds them to the ``helix`` group.
"""

from __future__ import annotations

from pathlib import Path

import click

from helixvcs.cli.options import Ctx, emit_json, json_option, reduced_options, sample_options


@click.command()
@click.pass_obj
def init(obj: Ctx) -> None:
    """Create .helix/ in the repository and add it to .gitignore.

    Example: cd my-model && helix init
    """
    from helixvcs.repo import Repo

    repo = Repo(obj.repo_path)
    if repo.complete:
        click.echo(f"helixvcs is already initialized in {repo.layout.helix}; nothing changed")
        return
    Repo.init(repo.root)
    click.echo(f"initialized helixvcs in {repo.layout.helix}")


@click.command()
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
@click.option(
    "--remote",
    metavar="NAME",
    help="With dask: workers load and keep values on this remote; they need no shared disk.",
)
@click.option(
    "--prune-tolerance",
    metavar="T",
    type=float,
    help="With --prune-zero-weight: warn when a metric moves by more than T (default 1e-3).",
)
@sample_options
@reduced_options
@json_option
@click.pass_obj
def run(
    obj: Ctx,
    rev: str | None,
    materialize: str | None,
    budget: str | None,
    executor: str | None,
    scheduler: str | None,
    remote: str | None,
    prune_tolerance: float | None,
) -> None:
    """Run the workflow: compute what changed, load or prune the rest, record the run.

    Example: helix run --json
    Example: helix run --sample 0.1 --seed 0
    Example: helix run --prune-zero-weight --json
    Example: helix run --precision float32
    Example: helix run --executor dask --scheduler tcp://10.0.0.5:8786
    Example: helix run --executor dask --scheduler tcp://10.0.0.5:8786 --remote origin
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
        remote=remote,
        sample=sample,
        seed=seed,
        precision=obj.precision,
        prune_zero_weight=obj.prune_zero_weight,
        prune_tolerance=prune_tolerance,
    )
    options.sample_spec()  # a bad --sample is exit 2 before anything else
    options.precision_spec()
    with obj.progress() as progress:
        report = obj.repo().run(options, progress)
    if obj.as_json:
        emit_json(report.to_json())
    else:
        render.run_report(report)
    if report.failure is not None:
        raise WorkflowFailed(report.failure.message, report.failure.traceback)


@click.command()
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


@click.command()
@click.argument("rev", required=False)
@sample_options
@reduced_options
@json_option
@click.pass_obj
def prune(obj: Ctx, rev: str | None) -> None:
    """Which operators a run could prune: feature blocks the recorded model gave zero weight.

    Reads the weights recorded for the estimators trained on each @wf.features assembly
    and lists the operators that only zero-weight blocks need, with the compute time and
    store bytes they cost. Nothing runs; `helix run --prune-zero-weight` prunes them.

    Example: helix prune --json
    """
    from helixvcs.cli import render
    from helixvcs.repo import RunOptions

    sample, seed = obj.sampling()
    options = RunOptions(rev=rev, sample=sample, seed=seed, precision=obj.precision)
    report = obj.repo().prune(options)
    emit_json(report.to_json()) if obj.as_json else render.prune_report(report)


@click.command()
@json_option
@click.pass_obj
def status(obj: Ctx) -> None:
    """Which operators changed since the last run, and what a run would recompute.

    Example: helix status
    """
    from helixvcs.cli import render

    report = obj.repo().status()
    emit_json(report.to_json()) if obj.as_json else render.status_report(report)


@click.command()
@click.option("--metric", "-m", metavar="NAME", help="Show only this metric.")
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(min=1),
    help="At most this many iterations (and their variants).",
)
@click.option(
    "--variants", is_flag=True, help="Count explored variants as runs of their own with -n."
)
@json_option
@click.pass_obj
def log(obj: Ctx, metric: str | None, limit: int | None, variants: bool) -> None:
    """Runs, newest first: revision, metrics, wall time, computed / loaded / pruned, time saved.

    Example: helix log --metric accuracy
    """
    from helixvcs.cli import render

    entries = obj.repo().log(limit=limit, metric=metric, variants=variants)
    if obj.as_json:
        emit_json(entries.to_json())
    else:
        render.log_entries(entries)


@click.command()
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


@click.command()
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


@click.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
def demo(obj: Ctx, directory: Path | None) -> None:
    """Build a scratch git repo with the census example in four commits; run each.

    Example: helix demo /tmp/helix-demo
    """
    from helixvcs.cli import render
    from helixvcs.demo.run import run_demo

    report = run_demo(directory, obj.progress, say=lambda line: click.echo(line))
    click.echo("\nhelix log:")
    render.log_entries(report.log)
    click.echo(f"\nthe demo repository is {report.path}; try there:")
    click.echo("  helix status    helix plan    helix log    helix show rows")
