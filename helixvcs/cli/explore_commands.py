"""``helix explore`` and ``helix suggest``: think time put to work (docs/explore.md)."""

from __future__ import annotations

from typing import Any

import click

from helixvcs.cli.numbers import number, signed
from helixvcs.cli.options import Ctx, emit_json, json_option, sample_options


@click.command()
@click.argument("rev", required=False)
@click.option(
    "--budget", metavar="TIME", help="Stop starting variants after this long: 90s, 5m, 1h."
)
@click.option("--metric", "-m", metavar="NAME", help="The metric to compare variants by.")
@click.option(
    "--minimize/--maximize",
    default=None,
    help="Whether lower is better (default: lower for names with loss or error in them).",
)
@click.option(
    "--materialize",
    type=click.Choice(["helix", "all", "none"]),
    help="Which intermediates the variants' runs keep.",
)
@click.option("--background", is_flag=True, help="Low priority; stop when a commit or a run comes.")
@sample_options
@json_option
@click.pass_obj
def explore(
    obj: Ctx,
    rev: str | None,
    budget: str | None,
    metric: str | None,
    minimize: bool | None,
    materialize: str | None,
    background: bool,
) -> None:
    """Run the alternatives operators declare with explore={...}, one constant at a time,
    then the best combination; record each variant (never in git).

    Example: helix explore --budget 5m --metric accuracy
    """
    from helixvcs.repo import RunOptions
    from helixvcs.repo.feedback.explorer import ExplorationBusy, parse_duration

    sample, seed = obj.sampling()
    options = RunOptions(rev=rev, materialize=materialize, sample=sample, seed=seed)
    options.sample_spec()
    seconds = parse_duration(budget) if budget else None
    try:
        with obj.progress() as progress:
            report = obj.repo().explore(
                options,
                progress,
                metric=metric,
                minimize=minimize,
                budget=seconds,
                background=background,
            )
    except ExplorationBusy as exc:
        if not background:
            raise
        click.echo(f"not exploring: {exc}")
        return
    if obj.as_json:
        emit_json(report.to_json())
    else:
        _explore_report(report)


def _explore_report(report: Any) -> None:
    mark = "~" if report.sample is not None else ""
    base = "-" if report.base_value is None else f"{mark}{number(report.base_value)}"
    how = "ran it" if report.ran_base else "recorded"
    direction = "lower is better" if report.minimize else "higher is better"
    click.echo(
        f"explore {report.revision}: {report.metric} ({direction}), "
        f"base {base} (run {report.base_run}, {how})"
    )
    for v in report.variants:
        value = "-" if v.value is None else f"{mark}{number(v.value)}"
        gain = report.gain(v.value)
        delta = "" if gain is None else f"  {signed(gain)}"
        what = "known" if v.status == "known" else f"{v.status}, computed {len(v.computed)}"
        tag = "  (best combination)" if v.combined else ""
        click.echo(f"  {v.label:<32} {value:<12}{delta:<12} {what}{tag}")
    if report.stopped:
        click.echo(f"{report.stopped}; {report.skipped} variants not run")
    best = report.best()
    if best is not None and (report.gain(best.value) or 0) > 0:
        click.echo(f"best: {best.label}; `helix suggest` prints the edit that applies it")
    else:
        click.echo("no variant beat the base")


@click.command()
@click.option("--metric", "-m", metavar="NAME", help="The metric to rank by.")
@click.option(
    "--minimize/--maximize", default=None, help="Whether lower is better (default: by name)."
)
@click.option("--limit", "-n", type=click.IntRange(min=1), default=3, help="Variants to show.")
@json_option
@click.pass_obj
def suggest(obj: Ctx, metric: str | None, minimize: bool | None, limit: int) -> None:
    """What to try next: the best explored variants, each with a patch for `git apply`,
    and the operators whose edits moved the metric most so far.

    Example: helix suggest --metric accuracy > try.patch && git apply try.patch
    """
    report = obj.repo().suggest(metric, minimize=minimize, limit=limit)
    if obj.as_json:
        emit_json(report.to_json())
        return
    click.echo(f"suggest for {report.revision}: {report.metric}", err=True)
    if not report.suggestions:
        hint = "run `helix explore`" if not report.explored else "none beat it"
        click.echo(f"no explored variant of {report.revision} to suggest ({hint})", err=True)
    for s in report.suggestions:
        mark = "~" if s.approximate else ""
        click.echo(
            f"# {s.label}: {report.metric} {mark}{number(s.base_value)} -> {mark}{number(s.value)} "
            f"(gain {signed(s.gain)}; run {s.run_id})"
        )
        click.echo(s.patch if s.patch else f"# {s.note}", nl=not s.patch)
    if report.prune is not None:
        ops = ", ".join(op.name for op in report.prune.operators)
        click.echo(
            f"prune: {ops} feed only zero-weight features (~{report.prune.seconds:.2f} s "
            "per run); try `helix run --prune-zero-weight`",
            err=True,
        )
    if report.movers:
        click.echo(
            f"operators whose edits moved {report.metric} most "
            f"({report.commits} recorded commit steps):",
            err=True,
        )
        for m in report.movers[:5]:
            shared = f", {m.shared} shared" if m.shared else ""
            click.echo(
                f"  {m.name:<24} moved {m.moved:.4g}  net {m.net:+.4g}  ({m.edits} edits{shared})",
                err=True,
            )
