"""``helix ui``: serve the read-only web view of this repository.

``commands`` adds it to the ``helix`` group; the web framework is imported only when
the command runs.
"""

from __future__ import annotations

import click

from helixvcs.cli.options import Ctx


@click.command()
@click.option(
    "--port", type=int, metavar="N", help="Port to serve on (default: 8421; 0: any free port)."
)
@click.option(
    "--host", metavar="ADDRESS",
    help="Serve on this address instead of 127.0.0.1 (with a warning if it is not loopback).",
)  # fmt: skip
@click.option(
    "--allow-host", "allowed_hosts", multiple=True, metavar="NAME",
    help="Also answer requests for this host name (repeatable), e.g. the machine's DNS name.",
)  # fmt: skip
@click.option("--open", "open_browser", is_flag=True, help="Open the UI in a web browser.")
@click.pass_obj
def ui(
    obj: Ctx, port: int | None, host: str | None, allowed_hosts: tuple[str, ...], open_browser: bool
) -> None:
    """Serve a web view: iterations, each version's DAG, comparisons, reports.

    It listens on 127.0.0.1 only, unless --host names another address; then every request
    needs the token in the URL it prints. Compare and Explain import the workflow code of
    the versions they compare (in a temporary folder, removed afterwards).

    Example: helix ui --open
    """
    from helixvcs.ui import DEFAULT_PORT, bind, choose_host, serve

    repo = obj.repo()
    address, loopback = choose_host(host)
    sock, bound = bind(address, DEFAULT_PORT if port is None else port)
    if not loopback:
        click.echo(
            f"warning: serving on {address}, not only on this machine: anyone who can reach "
            f"port {bound.port} with the printed token can read this repository's runs, "
            "metrics and operator source",
            err=True,
        )
    serve(
        repo,
        sock,
        bound,
        allowed_hosts=allowed_hosts,
        open_browser=open_browser,
        say=lambda line: click.echo(line),
    )
