"""Human-readable output of the reports. Plain text: it pipes and greps well."""

from __future__ import annotations

from typing import Any

import click


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for r in rows:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _metrics(metrics: dict[str, float]) -> str:
    return "  ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items()))


def run_report(report: Any) -> None:
    click.echo(f"run {report.run_id} of {report.revision}: {report.status}, {report.summary()}")
    for name, value in sorted(report.metrics.items()):
        click.echo(f"  {name:<24} {value:.6g}")


def plan_report(report: Any) -> None:
    for note in report.warnings:
        click.echo(f"warning: {note}", err=True)
    click.echo(f"plan for {report.revision}: estimated {report.plan.estimated_seconds:.2f} s")
    rows = [
        [p.name, p.state, _secs(p.compute_cost), _secs(p.load_cost), p.reason]
        for p in report.plan.nodes.values()
    ]
    _table(rows, ["operator", "state", "compute", "load", "reason"])


def status_report(report: Any) -> None:
    if report.last_run is None:
        click.echo("no run yet; `helix run` computes everything")
    else:
        click.echo(f"since run {report.last_run} ({report.last_revision}):")
        if not report.changed and not report.removed:
            click.echo("  nothing changed")
        for name, why in report.changed.items():
            click.echo(f"  {name:<24} {why}")
        for name in report.removed:
            click.echo(f"  {name:<24} removed")
    click.echo(
        f"a run would compute {len(report.compute)}, load {len(report.load)}: "
        + (", ".join(report.compute) or "nothing to compute")
    )
    for run_id in report.running:
        click.echo(f"run {run_id} is in progress")


def log_entries(entries: list[Any]) -> None:
    for q in getattr(entries, "queued", ()):  # commits the post-commit hook has yet to run
        click.echo(f"queued: {q.sha[:7]}  {q.subject or ''}".rstrip())
    if not entries:
        click.echo("no runs yet; `helix run` records one")
        return
    rows = []
    for e in entries:
        c = e.counts
        rows.append([
            e.run_id, e.revision, e.status, _secs(e.wall_seconds), _secs(e.saved_seconds),
            f"{c['compute']}/{c['load']}/{c['prune']}", _metrics(e.metrics), (e.subject or "")[:40],
        ])  # fmt: skip
    _table(rows, ["run", "revision", "status", "wall", "saved", "c/l/p", "metrics", "subject"])


def show_report(report: Any) -> None:
    click.echo(f"{report.name}  {report.type}  (key {report.key[:12]}, from {report.source})")
    click.echo(report.preview)
    if report.exported:
        click.echo(f"exported to {report.exported}")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def gc_report(report: Any) -> None:
    verb = "would drop" if report.dry_run else "dropped"
    click.echo(
        f"{verb} {len(report.dropped)} objects, {_size(report.freed_bytes)}: "
        f"store {_size(report.before_bytes)} -> {_size(report.after_bytes)} "
        f"(target {_size(report.target_bytes)})"
    )
    for d in report.dropped[:20]:
        click.echo(f"  {d['name']:<24} {d['key'][:12]}  {_size(d['bytes'])}")
    if len(report.dropped) > 20:
        click.echo(f"  ... and {len(report.dropped) - 20} more")
    if report.trees_removed:
        click.echo(f"removed {report.trees_removed} scratch trees of commits")
