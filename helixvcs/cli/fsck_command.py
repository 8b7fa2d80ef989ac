"""``helix fsck [--repair]``: verify the store and the run index; repair what can be."""

from __future__ import annotations

import click

from helixvcs.cli.options import Ctx, emit_json, json_option


@click.command()
@click.option(
    "--repair", is_flag=True,
    help="Remove damaged objects, move an unreadable index aside, forget lost records.",
)  # fmt: skip
@json_option
@click.pass_context
def fsck(ctx: click.Context, repair: bool) -> None:
    """Verify every stored object and the run index; with --repair, fix what is wrong.

    Without --repair nothing is changed, and each problem names the repair. Exit 0 when
    nothing is (left) wrong, 2 otherwise.

    Example: helix fsck --repair
    """
    obj: Ctx = ctx.obj
    report = obj.repo().fsck(repair=repair)
    if obj.as_json:
        emit_json(report.to_json())
    else:
        for line in report.lines():
            click.echo(line)
    if not report.ok:
        ctx.exit(2)
