"""Text output of the history commands (diff, blame-metric, bisect, explain, plot, dag)."""

from __future__ import annotations

from typing import Any

import click

from helixvcs.cli.numbers import number as _num
from helixvcs.cli.numbers import signed as _delta

SHORT = 7


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _indent(text: str, prefix: str) -> str:
    return "".join(prefix + line for line in text.splitlines(keepends=True)).rstrip("\n")


def _table(rows: list[list[str]], indent: str = "") -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo(indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def changes(
    diff: Any,
    indent: str = "",
    sources: bool = True,
    places: dict[str, str] | None = None,
    hunks: dict[str, list[Any]] | None = None,
) -> None:
    """The edits of a ``DagDiff``: changed (with source diffs), added, removed, renamed."""
    if not diff.changed and not diff.added and not diff.removed and not diff.renamed:
        click.echo(f"{indent}no operator changed")
        return
    places = places or {}
    for change in diff.changed:
        if not change.direct:
            continue
        where = f" ({places[change.name]})" if change.name in places else ""
        click.echo(f"{indent}changed  {change.name}{where}: {', '.join(change.causes)}")
        if sources and change.diff:
            click.echo(_indent(change.diff, indent + "    "))
        for hunk in (hunks or {}).get(change.name, []) if sources else ():
            click.echo(_indent(hunk.diff, indent + "    "))
    for name in diff.added:
        click.echo(f"{indent}added    {name}")
    for name in diff.removed:
        click.echo(f"{indent}removed  {name}")
    for old, new in diff.renamed:
        click.echo(f"{indent}renamed  {old} -> {new}")
    if diff.recomputed:
        click.echo(f"{indent}upstream changed: {', '.join(diff.recomputed)}")


def diff_report(report: Any) -> None:
    a, b, diff = report.a, report.b, report.diff
    click.echo(f"diff {a.revision} -> {b.revision}")
    changes(diff, places=report.places, hunks=report.hunks)
    for parent, child in diff.edges_added:
        click.echo(f"edge     + {parent} -> {child}")
    for parent, child in diff.edges_removed:
        click.echo(f"edge     - {parent} -> {child}")
    rows = [["metric", a.revision, b.revision, "delta"]]
    for name in report.metric_names():
        va, vb = a.metrics.get(name), b.metrics.get(name)
        rows.append(
            [name, _num(va), _num(vb), _delta(None if va is None or vb is None else vb - va)]
        )
    if a.wall_seconds is not None or b.wall_seconds is not None:
        rows.append(["wall time", _secs(a.wall_seconds), _secs(b.wall_seconds), ""])
    if len(rows) > 1:
        click.echo("")
        _table(rows)
    elif a.run_id is None or b.run_id is None:
        click.echo("(no metrics: a version has no recorded run)")
    for side in (a, b) if a.revision != b.revision else (b,):
        _explored(side)


def _explored(side: Any) -> None:
    """Variants explored from one version, apart from it: the delta is against it."""
    if not side.explored:
        return
    click.echo(f"\nexplored from {side.revision} (not commits; `helix suggest` ranks them):")
    rows = []
    for variant, metrics in side.explored:
        mark = "~" if variant.sample is not None else ""
        shown = []
        for name, value in sorted(metrics.items()):
            base = side.metrics.get(name)
            delta = "" if base is None or mark else f" ({_delta(value - base)})"
            shown.append(f"{name}={mark}{_num(value)}{delta}")
        rows.append([variant.label, variant.run_id, "  ".join(shown)])
    _table(rows, "  ")


def blame_report(report: Any) -> None:
    click.echo(
        f"blame-metric {report.metric} over {report.walked} commits ({report.range}): "
        f"{len(report.commits)} moved it; {report.runs} commits run, "
        f"{report.computed} operators computed"
    )
    for c in report.commits:
        click.echo(
            f"{c.commit[:SHORT]}  {_num(c.before)} -> {_num(c.after)}  {_delta(c.delta)}  "
            f"{c.subject}"
        )
        if c.merged:
            click.echo(f"    (with the edits of {_shas(list(c.merged))}, which did not run)")
        rows = [[o.name, _delta(o.effect), _what(o), f"({o.note})"] for o in c.operators]
        if len(c.operators) != 1:
            label = "interaction" if c.isolated else "unattributed" if c.operators else "no edit"
            rows.append([label, _delta(c.remainder), "", ""])
        _table(rows, indent="    ")
    if report.operators:
        click.echo("per operator:")
        rows = [["operator", "total", "edits", "unattributed"]]
        rows += [
            [
                o.name,
                _delta(o.total),
                str(o.edits),
                _delta(o.unattributed) if o.unattributed else "",
            ]
            for o in report.operators
        ]
        _table(rows, indent="    ")
    for sha, why in report.skipped:
        click.echo(f"skipped {sha[:SHORT]}: {why}")
    if report.note:
        click.echo(report.note)


def _what(effect: Any) -> str:
    if effect.change == "changed":
        return "changed: " + ", ".join(effect.causes)
    return effect.change


def bisect_report(report: Any) -> None:
    good = report.good.measurement
    bound = good.value + report.threshold if report.rise else good.value - report.threshold
    worse = "above" if report.rise else "below"
    click.echo(
        f"bisect {report.metric}: good {good.short} = {_num(good.value)}; "
        f"bad means {worse} {_num(bound)}; {report.candidates} commits to search"
    )
    click.echo("tested:")
    for t in report.tested:
        m = t.measurement
        ran = "ran" if m.ran else "recorded"
        click.echo(f"  {m.short}  {_num(m.value):>8}  {t.verdict:<4}  {ran:<8}  {t.commit.subject}")
        if t.nan:
            click.echo(f"      bad: {report.metric} is NaN")
    if report.first_bad is None:
        if report.maybe:
            click.echo("no commit could be confirmed bad; untested: " + _shas(report.maybe))
        else:
            click.echo(f"no bad commit: {report.bad[:SHORT]} is not worse than the good commit")
    else:
        first, value = report.first_bad, report.first_bad_value
        click.echo(f"first bad commit: {first.sha[:SHORT]} {first.subject}")
        if value is not None:
            click.echo(f"  {report.metric} {_num(value)} ({_delta(value - good.value)} vs good)")
        if report.maybe:
            click.echo("  (or one of the skipped commits before it: " + _shas(report.maybe) + ")")
        if report.diff is not None:
            changes(report.diff, indent="  ")
    if report.nan:
        click.echo(f"{report.metric} is NaN (counted as bad) at: {_shas(report.nan)}")
    for t in report.skipped:
        click.echo(f"skipped {t.commit.sha[:SHORT]}: {t.measurement.error}")
    click.echo(f"{report.runs} commits run, {report.computed} operators computed")


def _shas(shas: list[str]) -> str:
    return ", ".join(s[:SHORT] for s in shas)


def explain_report(report: Any) -> None:
    a, b = report.a, report.b
    click.echo(
        f"explain {report.metric}: {a.label} ({_num(a.value)}) -> {b.label} ({_num(b.value)}), "
        f"gap {_delta(b.value - a.value)}; {len(report.steps)} steps, "
        f"{report.distance} operators edited, {report.versions} versions considered"
    )
    for step in report.steps:
        click.echo(
            f"{step.a.label} -> {step.b.label}  {_delta(step.delta)}  "
            f"({_num(step.a.value)} -> {_num(step.b.value)})  {_step_subject(step)}".rstrip()
        )
        if step.first.id != step.b.id:
            first = f"{step.first.label} {step.first.subject or ''}".rstrip()
            click.echo(f"    (operators as first in {first})")
        changes(step.diff, indent="    ", sources=False)


def _step_subject(step: Any) -> str:
    if step.backward:
        return f"undoes {step.a.label} {step.subject or ''}".rstrip()
    return step.subject or ""


def plot_report(report: Any) -> None:
    left_out = f"; {len(report.missing)} commits without a run left out" if report.missing else ""
    click.echo(
        f"wrote {report.output}: {report.metric} over {len(report.points)} iterations{left_out}"
    )
    for p in report.points:
        click.echo(f"  {p.commit[:SHORT]}  {_num(p.value)}  {p.kind:<14}  {p.subject}")
    if report.note:
        click.echo(report.note)


def dag_report(report: Any) -> None:
    source = f"states from run {report.run_id}" if report.run_id else "no run yet"
    click.echo(f"wrote {report.output}: {report.workflow} at {report.revision} ({source})")
