"""``helix show NODE``: preview or export the value of one operator in the working tree,
and ``Repo.value``: that value itself, for Python code (a notebook).

A stored value is loaded. A value that is not stored (pruned, or judged cheaper to
recompute than to keep) is produced by the cheapest plan for that one node, without
recording a run. A commit is read from git's object database into a scratch tree; the
working tree is never checked out or written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helixvcs.errors import CompileError, UserInputError
from helixvcs.exec import Progress, RunSettings, execute, get_executor
from helixvcs.plan import MaterializePolicy, make_plan
from helixvcs.plan.costs import replanned
from helixvcs.repo.context import compile_version, cost_model
from helixvcs.repo.preview import describe, export
from helixvcs.store import CorruptObject, MissingObject

if TYPE_CHECKING:
    from helixvcs.repo import Repo


@dataclass(frozen=True)
class ShowReport:
    name: str
    key: str
    type: str
    preview: str
    source: str  # "store" or "computed"
    exported: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "key": self.key,
            "type": self.type,
            "source": self.source,
            "preview": self.preview,
            "exported": self.exported,
        }


def show(
    repo: Repo, name: str, progress: Progress, output: Path | None = None, rev: str | None = None
) -> ShowReport:
    dag, _ = compile_version(repo.layout, rev)
    value, origin = _value(repo, dag, name, progress)
    label, text = describe(value)
    if output is not None:
        export(value, output)
    return ShowReport(name, dag[name].key, label, text, origin, str(output) if output else None)


def value(repo: Repo, name: str, rev: str | None, progress: Progress) -> Any:
    """Operator ``name``'s value at revision ``rev`` (None: the working tree)."""
    try:
        dag, _ = compile_version(repo.layout, rev)
    except CompileError as exc:
        if rev is None:
            raise
        raise UserInputError(
            f"revision {rev} does not compile, so it has no values: {exc}; "
            "give a revision that does (`helix log` lists those that ran)"
        ) from None
    return _value(repo, dag, name, progress)[0]


def _value(repo: Repo, dag: Any, name: str, progress: Progress) -> tuple[Any, str]:
    if name not in dag.nodes:
        known = ", ".join(dag.nodes)
        raise UserInputError(
            f"no operator named {name!r} in workflow {dag.workflow!r}; known: {known}"
        )
    node, store = dag[name], repo.store
    value, origin = None, "computed"
    try:
        recorded = repo.index.objects([node.key]).get(node.key)  # refuse a swapped object
        checksum = recorded.checksum if recorded is not None else None
        value, origin = store.get(node.key, checksum=checksum), "store"
    except CorruptObject as exc:
        progress.warn(str(exc))
    except MissingObject:
        pass
    if origin == "computed":  # outside the handler: the user's traceback is theirs alone
        value = _compute(repo, dag, name, progress)
    return value, origin


def _compute(repo: Repo, dag: Any, name: str, progress: Progress) -> Any:
    from helixvcs.errors import WorkflowFailed

    model = cost_model(dag, repo.index, repo.store)
    plan = make_plan(dag, model, outputs=[name])
    progress.warn(f"{name} is not stored; computing it (nothing is recorded)")
    result = execute(
        dag,
        plan.states(),
        store=repo.store,
        executor=get_executor("local"),
        replan=lambda held, lost: make_plan(
            dag, replanned(model, held, lost), outputs=[name]
        ).states(),
        compute_estimates={n: p.compute_cost for n, p in plan.nodes.items()},
        settings=RunSettings(policy=MaterializePolicy.NONE),
        progress=progress,
        targets=[name],
    )
    if result.failure is not None:
        raise WorkflowFailed(result.failure.message, result.failure.traceback)
    return result.outputs[name]
