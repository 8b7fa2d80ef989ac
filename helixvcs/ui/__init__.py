"""``helix ui``: a local, read-only web view of iterations, DAGs, diffs and recorded reports.

This layer sits between the CLI and ``repo``: it serves what the ``Repo`` verbs return,
so the UI's API returns the CLI's ``--json`` documents (``documents``, ``version``), and
the browser draws them (``static/``: the page scripts, and cytoscape.js with its dagre
layout and Chart.js, vendored as built files; see ``static/vendor/README.md``). It is the
only code that imports the web framework (Starlette, served by uvicorn), and only when a
server starts, so importing helixvcs or running any other command never loads it.

``server`` chooses the address (loopback unless ``--host`` says otherwise) and binds it;
``app`` holds the routes and the error pages; ``pages`` the HTML shells.
"""

from __future__ import annotations

from helixvcs.ui.server import DEFAULT_PORT, Address, bind, choose_host, serve

__all__ = ["DEFAULT_PORT", "Address", "bind", "choose_host", "serve"]
