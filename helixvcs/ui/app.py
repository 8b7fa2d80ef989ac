"""The web application: routes over one repository, built with Starlette.

Pages are shells (``pages``); ``/api/...`` serves the documents of ``documents`` and
``version``, which are the CLI's ``--json`` documents. Nothing changes the repository.
Errors never show a traceback: a helix error is its one line (404 for an unknown version,
400 for other bad input), anything else a short 500 whose traceback goes to the server's
terminal.

Who may ask what (``Guard``):

* Every request must name, in ``Host``, an address the server was started for, so that a
  web page elsewhere cannot read the repository through a DNS name pointed at it (DNS
  rebinding).
* Comparing and explaining compile versions, which imports (runs) their workflow code.
  Those endpoints are POSTs that carry the server's token (printed in the URL at start,
  like Jupyter's; opening that URL stores it in a same-site cookie) and whose ``Origin``,
  when the browser sends one, is the server itself: no other page can make them run. They
  export commits into a temporary folder that is removed when the answer is ready.
* On an address other than loopback, every request needs the token.

Verbs run one at a time: compiling a version imports its workflow, which is not safe
to do from two threads at once, and the UI has one user.
"""

from __future__ import annotations

import copy
import dataclasses
import hmac
import json
import logging
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
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


TOKEN_COOKIE = "helix_ui_token"
TOKEN_HEADER = "x-helix-token"


@dataclass(frozen=True)
class Guard:
    """``token``: the server's secret; ``hosts``: the ``Host`` names accepted;
    ``everywhere``: every request needs the token (an address other than loopback)."""

    token: str
    hosts: frozenset[str]
    everywhere: bool = False


def create_app(repo: Repo, guard: Guard) -> Starlette:
    """The application for ``repo``, answering only what ``guard`` allows."""
    lock = threading.Lock()
    root = str(repo.root)

    def runs_code(produce: Callable[[Repo, dict[str, str]], Any]) -> Callable[..., Any]:
        """A POST endpoint that may import workflow code: the token, the Origin, and a
        scratch folder for exported commits that is always removed."""

        async def endpoint(request: Request) -> Response:
            refusal = _refuse_code(request, guard)
            if refusal is not None:
                return JSONDocument({"error": refusal}, status_code=403)
            try:
                fields = await request.json()
            except ValueError:
                fields = None
            if not isinstance(fields, dict):
                return JSONDocument({"error": "send a JSON object of fields"}, status_code=400)
            return await run_in_threadpool(scratch_call, request, produce, fields)

        return endpoint

    def scratch_call(
        request: Request, produce: Callable[[Repo, dict[str, str]], Any], fields: dict[str, Any]
    ) -> Response:
        with tempfile.TemporaryDirectory(prefix="helix-ui-") as scratch:
            scoped = copy.copy(repo)
            scoped.layout = dataclasses.replace(repo.layout, scratch=Path(scratch) / "trees")
            return api(lambda r: produce(scoped, fields))(request)

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
            runs_code(lambda scoped, f: documents.compare_document(scoped, *_fields(f, "a", "b"))),
            methods=["POST"],
        ),
        Route(
            "/api/explain",
            runs_code(
                lambda scoped, f: documents.explain_document(
                    scoped, *_fields(f, "metric", "a", "b")
                )
            ),
            methods=["POST"],
        ),
        Route("/api/reports", api(lambda r: documents.reports_document(repo))),
        Mount("/static", StaticFiles(directory=str(files("helixvcs.ui").joinpath("static")))),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: not_found, Exception: server_error},
    )
    app.add_middleware(Guarded, guard=guard)
    return app


class Guarded:
    """The ``Host`` check for every request, the token where it is needed, and the cookie
    that opening the printed URL (``?token=...``) stores before it redirects to the page."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app, self.guard = app, guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        response: Response | None = None
        if _host(scope) not in self.guard.hosts:
            response = PlainTextResponse(
                "helix ui answers only to the address it serves on; open that address",
                status_code=400,
            )
        elif _matches(request.query_params.get("token"), self.guard.token):
            if request.method in ("GET", "HEAD") and not request.url.path.startswith("/api/"):
                query = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
                target = request.url.path + ("?" + _encode(query) if query else "")
                response = RedirectResponse(target, status_code=303)
                response.set_cookie(
                    TOKEN_COOKIE, self.guard.token, httponly=True, samesite="strict"
                )
        elif self.guard.everywhere and not _has_token(request, self.guard.token):
            response = PlainTextResponse(
                "helix ui on this address needs its token: open the URL it printed at start "
                "(ending in ?token=...)",
                status_code=403,
            )
        if response is not None:
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _refuse_code(request: Request, guard: Guard) -> str | None:
    """Why a request to run workflow code is refused, or None."""
    if not _has_token(request, guard.token):
        return (
            "this runs workflow code and needs the server's token: open the URL `helix ui` "
            "printed at start (ending in ?token=...), then try again"
        )
    origin = request.headers.get("origin")
    if origin is not None and origin not in _origins(request, guard):
        return f"refused a request from {origin}: only helix ui's own pages may run code"
    return None


def _origins(request: Request, guard: Guard) -> set[str]:
    host = request.headers.get("host", "")
    return (
        {f"{scheme}://{host}" for scheme in ("http", "https")}
        if _host_name(host) in (guard.hosts)
        else set()
    )


def _has_token(request: Request, token: str) -> bool:
    given = request.headers.get(TOKEN_HEADER) or request.cookies.get(TOKEN_COOKIE)
    return _matches(given or request.query_params.get("token"), token)


def _matches(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def _encode(query: list[tuple[str, str]]) -> str:
    from urllib.parse import urlencode

    return urlencode(query)


def _host(scope: Scope) -> str:
    return _host_name(dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1"))


def _host_name(raw: str) -> str:
    if raw.startswith("["):  # [::1]:8000
        return raw[1 : raw.find("]")] if "]" in raw else raw
    return raw.rsplit(":", 1)[0] if ":" in raw else raw


def _fields(fields: dict[str, Any], *names: str) -> list[str]:
    missing = [n for n in names if not isinstance(fields.get(n), str) or not fields[n]]
    if missing:
        raise MissingParameter(f"missing {', '.join(missing)}; send {{{', '.join(names)}}}")
    return [fields[n] for n in names]


def _status(exc: HelixError) -> int:
    return 404 if isinstance(exc, UnknownVersion | UnknownMetric) else 400


def _internal(exc: Exception) -> str:
    return (
        f"internal error: {type(exc).__name__}: {exc} (the traceback is in the terminal "
        "that runs `helix ui`; please report it)"
    )
