"""The commands that share work with other clones: remote (add, list, remove), push, pull.

Each parses its options, calls one ``Repo`` method and prints the report; ``commands``
adds them to the ``helix`` group.
"""

from __future__ import annotations

from typing import Any

import click

from helixvcs.cli.options import Ctx, emit_json, json_option


@click.group()
def remote() -> None:
    """Remotes: where push and pull send and fetch runs and values (kept in .helixremotes).

    Example: helix remote add origin s3://team-bucket/helix
    """


@remote.command("add")
@click.argument("name")
@click.argument("url")
@click.option(
    "--endpoint-url",
    metavar="URL",
    help="S3-compatible server (MinIO, Ceph, a local test server), e.g. http://host:9000.",
)
@json_option
@click.pass_obj
def remote_add(obj: Ctx, name: str, url: str, endpoint_url: str | None) -> None:
    """Add a remote: a folder (/path, file://...) or s3://bucket/prefix. The first is the default.

    Example: helix remote add origin s3://team-bucket/helix
    Example: helix remote add nas /mnt/shared/helix
    """
    spec = obj.repo().remote_add(name, url, endpoint_url)
    if obj.as_json:
        emit_json(spec.to_json())
    else:
        click.echo(f"added remote '{spec.name}' ({spec.url}) to .helixremotes; commit that file")


@remote.command("list")
@json_option
@click.pass_obj
def remote_list(obj: Ctx) -> None:
    """List the remotes; the default one is marked with *.

    Example: helix remote list
    """
    remotes = obj.repo().remotes()
    if obj.as_json:
        emit_json([dict(s.to_json(), default=s.name == remotes.default) for s in remotes.specs])
        return
    for spec in remotes.specs:
        mark = "*" if spec.name == remotes.default else " "
        extra = f" (endpoint {spec.endpoint_url})" if spec.endpoint_url else ""
        trust = " trusted" if spec.trusted else ""
        click.echo(f"{mark} {spec.name}\t{spec.url}{extra}{trust}")


@remote.command("remove")
@click.argument("name")
@json_option
@click.pass_obj
def remote_remove(obj: Ctx, name: str) -> None:
    """Remove a remote from .helixremotes (nothing on the remote is deleted).

    Example: helix remote remove origin
    """
    spec = obj.repo().remote_remove(name)
    if obj.as_json:
        emit_json(spec.to_json())
    else:
        click.echo(f"removed remote '{spec.name}' ({spec.url})")


@click.command()
@click.argument("args", nargs=-1, metavar="[REMOTE] [REV]...")
@json_option
@click.pass_obj
def push(obj: Ctx, args: tuple[str, ...]) -> None:
    """Upload the latest run of each REV (default: HEAD) with its stored values.

    Example: helix push
    Example: helix push origin main~3 main~2 main~1 main
    """
    repo = obj.repo()
    name, revs = _split(repo, args)
    with obj.progress() as progress:
        report = repo.push(name, revs, progress)
    _emit(obj, report)


@click.command()
@click.argument("args", nargs=-1, metavar="[REMOTE] [REV]...")
@click.option("--objects", is_flag=True, help="Download the values too, not only the records.")
@json_option
@click.pass_obj
def pull(obj: Ctx, args: tuple[str, ...], objects: bool) -> None:
    """Bring the remote's run records (of REV's commits, or all) and with --objects the values.

    Without --objects, `helix run` loads values from the default remote on demand.

    Example: helix pull
    Example: helix pull origin --objects
    """
    repo = obj.repo()
    name, revs = _split(repo, args)
    with obj.progress() as progress:
        report = repo.pull(name, revs, objects, progress)
    _emit(obj, report)


def _split(repo: Any, args: tuple[str, ...]) -> tuple[str | None, list[str]]:
    """``[REMOTE] [REV]...``: the first word names a remote when one is called that."""
    if args and args[0] in repo.remotes().names():
        return args[0], list(args[1:])
    return None, list(args)


def _emit(obj: Ctx, report: Any) -> None:
    if obj.as_json:
        emit_json(report.to_json())
    else:
        click.echo(report.summary())
