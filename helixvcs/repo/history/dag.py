"""``helix dag [REV] -o FILE``: the workflow's DAG, each node coloured by its last state.

The state of an operator comes from the newest successful run of this version (the
commit, or the working tree as it is now), else from the workflow's newest successful
run: ``computed``, ``loaded`` or ``pruned`` when that run had the operator under the same
key, ``changed`` when its key differs or the run did not have it (or nothing ran yet).
Formats by suffix: ``.dot`` (Graphviz text), ``.svg`` and ``.png`` (drawn with
matplotlib; no Graphviz needed), ``.html`` (the SVG in a page, with a table).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helixvcs.index import RunRecord
from helixvcs.repo.context import compile_version
from helixvcs.repo.history.drawing import DagNode, dag_picture, dot_text, html_page
from helixvcs.repo.history.iterations import is_worktree, last_run
from helixvcs.repo.history.plot import check_format

if TYPE_CHECKING:
    from helixvcs.repo import Repo

DAG_FORMATS = ("dot", "svg", "png", "html")
_STATES = {"compute": "computed", "load": "loaded", "prune": "pruned"}


@dataclass(frozen=True)
class DagReport:
    revision: str
    workflow: str
    run_id: str | None  # the run the states come from
    output: Path
    nodes: list[DagNode]

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "workflow": self.workflow,
            "run_id": self.run_id,
            "output": str(self.output),
            "nodes": [
                {"name": n.name, "kind": n.kind, "state": n.state, "parents": list(n.parents)}
                for n in self.nodes
            ],
        }


def dag(repo: Repo, rev: str | None, output: Path) -> DagReport:
    fmt = check_format(output, DAG_FORMATS)
    worktree = is_worktree(rev)
    compiled, version = compile_version(repo.layout, None if worktree else rev)
    run = last_run(repo.index, version.commit, version.fingerprint if worktree else None)
    run = run or _workflow_run(repo, compiled.workflow)
    recorded = {n.name: n for n in repo.index.nodes(run.run_id)} if run else {}
    nodes = []
    for node in compiled:
        before = recorded.get(node.name)
        state = _STATES[before.state] if before and before.key == node.key else "changed"
        nodes.append(DagNode(node.name, node.kind, state, tuple(node.parents)))
    title = f"{compiled.workflow} at {version.revision}"
    output.parent.mkdir(parents=True, exist_ok=True)
    _write(nodes, title, output, fmt)
    return DagReport(
        version.revision, compiled.workflow, run.run_id if run else None, output, nodes
    )


def _workflow_run(repo: Repo, workflow: str) -> RunRecord | None:
    return repo.index.last_run(status="ok", workflow=workflow)


def _write(nodes: list[DagNode], title: str, output: Path, fmt: str) -> None:
    if fmt == "dot":
        output.write_text(dot_text(nodes, title), encoding="utf-8")
    elif fmt == "html":
        svg = dag_picture(nodes, title, "svg").decode("utf-8")
        page = html_page(svg, title, {n.name: n.state for n in nodes})
        output.write_text(page, encoding="utf-8")
    else:
        output.write_bytes(dag_picture(nodes, title, fmt))
