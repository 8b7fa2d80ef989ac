"""The web application: read-only routes over one repository, built with Starlette.

Pages are shells (``pages``); ``/api/...`` serves the documents of ``documents`` and
``version``, which are the CLI's ``--json`` documents. Only GET (and HEAD) exist, so the
UI cannot change anything. Errors never show a traceback: a helix error is its one line
(404 for an unknown version, 400 for other bad input), anything else a short 500 whose
traceback goes to the server's terminal. Requests whose ``Host`` is not the address the
server was started for are refused, so that a web page elsewhere cannot read the
repository through a DNS name pointed at 127.0.0.1 (DNS rebinding).

Verbs run one at a time: compiling a version imports its workflow, which is not safe
to do from two threads at once, and the UI has one user.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Collection
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from helixvcs.errors import HelixError, UserInputError
from helixvcs.repo.history.metrics import UnknownMetric
from helixvcs.repo.history.reports import jsonable
from helixvcs.ui import documents, pages
from helixvcs.ui.version import UnknownVersion, find_run, version_document

if TYPE_CHECKING:
    from helixvcs.repo import Repo

log = logging.getLogger("helixvcs.ui")


class MissingParameter(UserInputError):
    """A request to the API without the query parameters it needs."""


class JSONDocument(Response):
    """A document as ``--json`` prints it: NaN and infinities as null."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(jsonable(content), default=str, allow_nan=False).encode("utf-8")


def create_app(repo: Repo, *, hosts: Collection[str] | None = None) -> Starlette:
    """The application for ``repo``; ``hosts``: the ``Host`` names accepted (None: any)."""
    lock = threading.Lock()
    root = str(repo.root)

    def api(produce: Callable[[Request], Any]) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            try:
                with lock:
                    return JSONDocument(produce(request))
            except HelixError as exc:
                return JSONDocument({"error": str(exc)}, status_code=_status(exc))
            except Exception as exc:
                log.exception("helix ui: %s failed", request.url.path)
                return JSONDocument({"error": _internal(exc)}, status_code=500)

        return endpoint

    def page(shell: pages.Page) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            return HTMLResponse(pages.render(shell, root))

        return endpoint

    def version_page(request: Request) -> Response:
        ident = request.path_params["ident"]
        try:
            with lock:
                find_run(repo, ident)
        except HelixError as exc:
            status = _status(exc)
            return HTMLResponse(pages.error_page(status, str(exc), root), status_code=status)
        return HTMLResponse(pages.render(pages.VERSION, root, id=ident))

    def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        message = f"nothing at {request.url.path}" if status == 404 else str(exc)
        if request.url.path.startswith("/api/"):
            return JSONDocument({"error": message}, status_code=status)
        return HTMLResponse(pages.error_page(status, message, root), status_code=status)

    def server_error(request: Request, exc: Exception) -> Response:
        return HTMLResponse(pages.error_page(500, _internal(exc), root), status_code=500)

    routes = [
        Route("/", page(pages.ITERATIONS)),
        Route("/version/{ident:path}", version_page),
        Route("/compare", page(pages.COMPARE)),
        Route("/explain", page(pages.EXPLAIN)),
        Route("/reports", page(pages.REPORTS)),
        Route("/api/log", api(lambda r: documents.log_document(repo))),
        Route(
            "/api/plot/{metric:path}",
            api(lambda r: documents.plot_document(repo, r.path_params["metric"])),
        ),
        Route(
            "/api/version/{ident:path}",
            api(lambda r: version_document(repo, r.path_params["ident"])),
        ),
        Route(
            "/api/compare",
            api(lambda r: documents.compare_document(repo, *_params(r, "a", "b"))),
        ),
        Route(
            "/api/explain",
            api(lambda r: documents.explain_document(repo, *_params(r, "metric", "a", "b"))),
        ),
        Route("/api/reports", api(lambda r: documents.reports_document(repo))),
        Mount("/static", StaticFiles(directory=str(files("helixvcs.ui").joinpath("static")))),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: not_found, Exception: server_error},
    )
    if hosts is not None:
        app.add_middleware(KnownHostOnly, hosts=frozenset(hosts))
    return app


class KnownHostOnly:
    """Refuses requests whose ``Host`` header names another host (DNS rebinding)."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str]) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _host(scope) not in self.hosts:
            refusal = PlainTextResponse(
                "helix ui answers only to the address it serves on; open that address",
                status_code=400,
            )
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _host(scope: Scope) -> str:
    raw = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
    if raw.startswith("["):  # [::1]:8000
        return raw[1 : raw.find("]")] if "]" in raw else raw
    return raw.rsplit(":", 1)[0] if ":" in raw else raw


def _params(request: Request, *names: str) -> list[str]:
    missing = [n for n in names if not request.query_params.get(n)]
    if missing:
        wanted = "&".join(f"{n}=..." for n in names)
        raise MissingParameter(f"missing {', '.join(missing)}; ask for {request.url.path}?{wanted}")
    return [request.query_params[n] for n in names]


def _status(exc: HelixError) -> int:
    return 404 if isinstance(exc, UnknownVersion | UnknownMetric) else 400


def _internal(exc: Exception) -> str:
    return (
        f"internal error: {type(exc).__name__}: {exc} (the traceback is in the terminal "
        "that runs `helix ui`; please report it)"
    )
