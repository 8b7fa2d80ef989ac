"""The commands that look across versions: diff, blame-metric, bisect, explain, plot, dag.

``commands`` adds them to the ``helix`` group; ``history_render`` prints their reports
as text.
"""

from __future__ import annotations

from pathlib import Path

import click

from helixvcs.cli.options import Ctx, emit_json, json_option

_OUTPUT = click.Path(dir_okay=False, path_type=Path)


@click.command()
@click.argument("a", default="HEAD", required=False)
@click.argument("b", required=False)
@json_option
@click.pass_obj
def diff(obj: Ctx, a: str, b: str | None) -> None:
    """Logical diff of two versions: operators, their source, edges, metrics.

    As git diff: A defaults to HEAD, B to the working tree (also: WORKTREE).

    Example: helix diff                 # HEAD against the working tree
    Example: helix diff HEAD~1 HEAD
    """
    from helixvcs.cli import history_render

    report = obj.repo().diff(a, b)
    emit_json(report.to_json()) if obj.as_json else history_render.diff_report(report)


@click.command("blame-metric")
@click.argument("metric")
@click.argument("range_", metavar="[RANGE]", required=False)
@click.option("--isolate", is_flag=True, help="Replay each edit alone to separate its effect.")
@json_option
@click.pass_obj
def blame_metric(obj: Ctx, metric: str, range_: str | None, isolate: bool) -> None:
    """Attribute each change of METRIC along first-parent history to the edits behind it.

    RANGE is A..B, A.., ..B or B (default: all of HEAD's history). Commits that never ran
    are run first, reusing the store.

    Example: helix blame-metric accuracy HEAD~10.. --isolate
    """
    from helixvcs.cli import history_render

    with obj.progress() as progress:
        report = obj.repo().blame_metric(metric, range_, isolate=isolate, progress=progress)
    emit_json(report.to_json()) if obj.as_json else history_render.blame_report(report)


@click.command()
@click.argument("metric")
@click.option("--good", required=True, metavar="REV", help="A commit where METRIC was fine.")
@click.option("--bad", default="HEAD", show_default=True, metavar="REV", help="A later commit.")
@click.option(
    "--threshold", type=float, default=0.0, show_default=True, metavar="T",
    help="Bad means worse than at --good by more than T.",
)  # fmt: skip
@click.option("--rise", is_flag=True, help="Higher is worse (a loss, an error rate).")
@json_option
@click.pass_obj
def bisect(obj: Ctx, metric: str, good: str, bad: str, threshold: float, rise: bool) -> None:
    """Binary search for the first commit where METRIC dropped (or rose, with --rise).

    Example: helix bisect accuracy --good v1.0 --bad HEAD --threshold 0.01
    """
    from helixvcs.cli import history_render

    with obj.progress() as progress:
        report = obj.repo().bisect(
            metric, good=good, bad=bad, threshold=threshold, rise=rise, progress=progress
        )
    emit_json(report.to_json()) if obj.as_json else history_render.bisect_report(report)


@click.command()
@click.argument("metric")
@click.argument("a")
@click.argument("b")
@json_option
@click.pass_obj
def explain(obj: Ctx, metric: str, a: str, b: str) -> None:
    """A path through recorded versions from A to B, each step with its edits and delta.

    A and B are revisions (or WORKTREE) that have a recorded run.

    Example: helix explain accuracy HEAD~5 HEAD
    """
    from helixvcs.cli import history_render

    report = obj.repo().explain(metric, a, b)
    emit_json(report.to_json()) if obj.as_json else history_render.explain_report(report)


@click.command()
@click.argument("metric")
@click.argument("range_", metavar="[RANGE]", required=False)
@click.option("--output", "-o", required=True, type=_OUTPUT, help="The image: .png or .svg.")
@json_option
@click.pass_obj
def plot(obj: Ctx, metric: str, range_: str | None, output: Path) -> None:
    """Plot METRIC across first-parent iterations, coloured by the kind of change.

    Example: helix plot accuracy -o accuracy.png
    """
    from helixvcs.cli import history_render

    report = obj.repo().plot(metric, range_, output)
    emit_json(report.to_json()) if obj.as_json else history_render.plot_report(report)


@click.command()
@click.argument("rev", required=False)
@click.option(
    "--output", "-o", required=True, type=_OUTPUT, help="The file: .svg, .png, .html or .dot."
)
@json_option
@click.pass_obj
def dag(obj: Ctx, rev: str | None, output: Path) -> None:
    """Draw the workflow's DAG, each operator coloured by its last state.

    Example: helix dag -o dag.svg
    """
    from helixvcs.cli import history_render

    report = obj.repo().dag(rev, output)
    emit_json(report.to_json()) if obj.as_json else history_render.dag_report(report)
