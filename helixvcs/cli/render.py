"""Human-readable output of the reports. Plain text: it pipes and greps well."""

from __future__ import annotations

from typing import Any

import click

from helixvcs.cli.numbers import number, signed


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for r in rows:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _metrics(metrics: dict[str, float], approximate: bool = False) -> str:
    """``accuracy=0.8505``; ``accuracy=~0.8472`` for a sampled run's estimate."""
    mark = "~" if approximate else ""
    return "  ".join(f"{k}={mark}{number(v)}" for k, v in sorted(metrics.items()))


def _ci(ci: tuple[float, float] | None) -> str:
    return "" if ci is None else f"  (95% CI {ci[0]:.6g} .. {ci[1]:.6g})"


def run_report(report: Any) -> None:
    what = report.revision
    if report.sample is not None:
        what += f" on a {report.sample:g} sample (seed {report.seed})"
    click.echo(f"run {report.run_id} of {what}: {report.status}, {report.summary()}")
    if report.unchanged_outputs:
        reused = len(report.reused_by_cutoff)
        click.echo(
            f"unchanged output of {', '.join(report.unchanged_outputs)}: "
            f"{reused} operator{'' if reused == 1 else 's'} reused"
        )
    mark = "~" if report.approximate else ""
    for name, value in sorted(report.metrics.items()):
        click.echo(f"  {name:<24} {mark}{number(value)}{_ci(report.intervals.get(name))}")
    if report.pruning is not None:
        _pruning(report.pruning)
    if report.precision_change is not None:
        _change(
            f"{report.precision} against full-precision run", report.precision_change["run_id"],
            report.precision_change["metrics"],
        )  # fmt: skip


def _pruning(pruning: Any) -> None:
    blocks = [f"{a}: {', '.join(b)}" for a, b in pruning["blocks"].items()]
    ops = [op["name"] for op in pruning["operators"]]
    click.echo(
        f"pruned {len(ops)} operator{'' if len(ops) == 1 else 's'} "
        f"({'; '.join(blocks) or 'no zero-weight block'}): {', '.join(ops) or '-'}; "
        f"saved ~{pruning['saved_seconds']:.2f} s of recorded compute"
    )
    _change("against weights run", pruning["weights_run"], pruning["metrics"])
    if pruning["exceeded"]:
        click.echo(
            f"WARNING: {', '.join(pruning['exceeded'])} moved by more than "
            f"{pruning['tolerance']:g}: this prune changed the model",
            err=True,
        )


def _change(what: str, run_id: str | None, metrics: Any) -> None:
    if run_id is None:
        return
    for name, m in sorted(metrics.items()):
        if m["delta"] is not None:
            click.echo(f"  {name:<24} {signed(m['delta'])} {what} {run_id}")


def prune_report(report: Any) -> None:
    for note in report.zero.notes:
        click.echo(f"note: {note}", err=True)
    zero = report.zero
    if not zero.drop:
        click.echo(f"nothing to prune in {report.revision}: every feature block has a weight")
        return
    for assembly, blocks in zero.drop.items():
        click.echo(
            f"{assembly}: zero weight in {', '.join(zero.estimators[assembly])} "
            f"(run {zero.weights_run}) for {', '.join(blocks)}"
        )
    rows = [
        [op.name, _secs(op.seconds), ("-" if op.bytes is None else _size(op.bytes))]
        for op in zero.operators
    ]
    _table(rows, ["prunable operator", "compute", "stored"])
    click.echo(
        f"`helix run --prune-zero-weight` skips {len(zero.operators)} operators "
        f"(~{zero.seconds:.2f} s, {_size(zero.bytes)})"
    )


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
        of = report.baseline
        if report.behind:
            of += ", the nearest ancestor with a run; HEAD has none"
        click.echo(f"since run {report.last_run} ({report.last_revision}, {of}):")
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
        if e.kind == "explored":
            continue
        c = e.counts
        revision = e.revision + (f" ~{e.sample:g}" if e.sample is not None else "")
        revision += {"pruned": " (pruned)", "precision": " (float32)"}.get(e.kind, "")
        rows.append([
            e.run_id, revision, e.status, _secs(e.wall_seconds), _secs(e.saved_seconds),
            f"{c['compute']}/{c['load']}/{c['prune']}", _metrics(e.metrics, e.approximate),
            (e.subject or "")[:40],
        ])  # fmt: skip
    if rows:
        _table(rows, ["run", "revision", "status", "wall", "saved", "c/l/p", "metrics", "subject"])
    _explored(entries)
    _agreement(entries)


def _explored(entries: list[Any]) -> None:
    """Variants `helix explore` ran, apart from the iterations, with their base."""
    explored = [e for e in entries if e.kind == "explored"]
    if not explored:
        return
    click.echo(f"\nexplored variants ({len(explored)}; `helix suggest` ranks them):")
    rows = [
        [e.run_id, e.revision.partition("[")[0], e.revision.partition("[")[2].rstrip("]"),
         e.status, _secs(e.wall_seconds), f"{e.counts['compute']}/{e.counts['load']}",
         _metrics(e.metrics, e.approximate)]
        for e in explored
    ]  # fmt: skip
    _table(rows, ["run", "base", "variant", "status", "wall", "c/l", "metrics"])


def _agreement(entries: list[Any]) -> None:
    """How often a sampled run's change from the parent had the sign of the full change."""
    tally: dict[str, list[int]] = {}
    for e in entries:
        for name, a in e.agreement.items():
            agreed, total = tally.get(name, [0, 0])
            tally[name] = [agreed + a.agree, total + 1]
    if not tally:
        return
    click.echo("\nsampled runs predicted the direction of the full change (vs the parent commit):")
    for name, (agreed, total) in sorted(tally.items()):
        click.echo(f"  {name:<24} {agreed} of {total} commits ({100 * agreed / total:.0f}%)")


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
