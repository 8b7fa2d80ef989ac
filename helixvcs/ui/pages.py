"""The HTML pages: one shell per page; the page's script fetches its document from the API.

The server renders no data into the pages (the API is the one source of what they show);
a shell carries only the page's name, the repository, and the colour legend shared with
``helix plot`` and ``helix dag``. Error pages are complete on their own.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from importlib.resources import files
from string import Template
from typing import Any

from helixvcs.repo.history.drawing import KIND_COLOURS, STATE_COLOURS

_VENDOR = {
    "chart": "/static/vendor/chart.js/chart.umd.min.js",
    "cytoscape": "/static/vendor/cytoscape/cytoscape.min.js",
    "dagre": "/static/vendor/cytoscape-dagre/cytoscape-dagre.min.js",
}
_GRAPH = ("cytoscape", "dagre")


@dataclass(frozen=True)
class Page:
    name: str  # also its script: static/<name>.js
    title: str
    vendor: tuple[str, ...] = ()


ITERATIONS = Page("iterations", "Iterations", ("chart",))
VERSION = Page("version", "Version", _GRAPH)
COMPARE = Page("compare", "Compare", _GRAPH)
EXPLAIN = Page("explain", "Explain")
REPORTS = Page("reports", "Bisect / blame")
ERROR = Page("error", "Error")

_TEMPLATE = Template(files("helixvcs.ui").joinpath("templates/page.html").read_text("utf-8"))


def render(page: Page, repo: str, **config: Any) -> str:
    """The shell of ``page``; ``config`` reaches its script as ``HELIX.config``."""
    scripts = [_VENDOR[v] for v in page.vendor] + ["/static/common.js", f"/static/{page.name}.js"]
    return _page(page, repo, "", config, scripts)


def error_page(status: int, message: str, repo: str) -> str:
    """A page that says what went wrong and where to go; no script, no traceback."""
    heading = {404: "Not found", 400: "Cannot show this"}.get(status, "Something went wrong")
    content = (
        f'<section class="error" data-status="{status}"><h1>{status} · {heading}</h1>'
        f'<p class="message">{html.escape(message)}</p>'
        '<p><a href="/">Back to the iterations</a></p></section>'
    )
    return _page(ERROR, repo, content, {}, [])


def _page(page: Page, repo: str, content: str, config: dict[str, Any], scripts: list[str]) -> str:
    config = {
        "page": page.name,
        "repo": repo,
        "kinds": KIND_COLOURS,
        "states": STATE_COLOURS,
        **config,
    }
    # "</" cannot end the script element early once escaped
    data = json.dumps(config).replace("</", "<\\/")
    return _TEMPLATE.substitute(
        title=html.escape(page.title),
        page=page.name,
        repo=html.escape(repo),
        content=content,
        config=data,
        scripts="\n".join(f'<script src="{src}"></script>' for src in scripts),
    )
