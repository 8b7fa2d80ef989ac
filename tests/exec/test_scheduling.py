"""The run loop submits each planned node once, after its parents, in the plan's order.

Random DAGs compiled from real workflow files, random legal plans (the optimizer's, over
random costs and a random set of stored values), run with the local and the threads
executors into a real store: every planned node runs exactly once, never before a parent
it receives, the local executor runs them in topological order (the order every other
executor must agree with), and every metric is what computing everything gives.
"""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helixvcs.exec import Progress, RunSettings, execute, get_executor
from helixvcs.graph import Dag, compile_workflow
from helixvcs.hashing import StatCache
from helixvcs.plan import COMPUTE, LOAD, PRUNE, MaterializePolicy, optimal_states
from helixvcs.store import MemoryObjectStore

_counter = itertools.count()


@st.composite
def shapes(draw: st.DrawFn) -> list[list[int]]:
    """Parents of each node of a random DAG, by index; every node's come before it."""
    n = draw(st.integers(1, 14))
    return [
        sorted(draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True))) if i else []
        for i in range(n)
    ]


def workflow_source(shape: list[list[int]]) -> str:
    """Each node adds its parents to its index and logs that it ran; nodes without
    children are metrics, so that the optimizer plans for all of them."""
    has_children = {p for parents in shape for p in parents}
    lines = ["from helixvcs import Workflow\n\nwf = Workflow('sched')\nRAN = []\n"]
    for i, parents in enumerate(shape):
        decorator = "@wf.op" if i in has_children else "@wf.metric"
        args = ", ".join(f"n{p}" for p in parents)
        body = " + ".join([str(i + 1), *(f"n{p}" for p in parents)])
        ret = f"float({body})" if i not in has_children else f"({body}) % 1000003"
        lines.append(
            f"\n{decorator}\ndef n{i}({args}):\n    RAN.append('n{i}')\n    return {ret}\n"
        )
    return "".join(lines)


def compiled(tmp: Path, shape: list[list[int]]) -> tuple[Dag, list[str]]:
    folder = tmp / f"wf{next(_counter)}"
    folder.mkdir()
    (folder / "workflow.py").write_text(workflow_source(shape), encoding="utf-8")
    dag = compile_workflow(folder, folder / "workflow.py", StatCache(None))
    ran = dag[next(iter(dag.nodes))].spec.func.__globals__["RAN"]
    return dag, ran


def expected_values(shape: list[list[int]]) -> list[int]:
    values: list[int] = []
    for i, parents in enumerate(shape):
        values.append((i + 1 + sum(values[p] for p in parents)) % 1000003)
    return values


@pytest.mark.parametrize("executor", ["local", "threads"])
@given(shape=shapes(), data=st.data())
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_every_planned_node_runs_once_after_its_parents(tmp_path, executor, shape, data):
    dag, ran = compiled(tmp_path, shape)
    names = list(dag.nodes)
    store = MemoryObjectStore()
    values = expected_values(shape)
    stored = data.draw(st.sets(st.sampled_from(names)))
    for name in stored:
        value = values[names.index(name)]
        store.put(dag[name].key, float(value) if dag[name].is_output else value)
    cost = st.sampled_from([0.25, 1.0, 4.0])
    compute = {n: data.draw(cost) for n in names}
    load = {n: data.draw(cost) if n in stored else None for n in names}
    states = optimal_states(dag.parents(), dag.outputs, compute, load)
    ran.clear()
    result = execute(
        dag,
        states,
        store=store,
        executor=get_executor(executor),
        replan=lambda held, lost: pytest.fail("nothing is lost: no replan"),
        compute_estimates=compute,
        settings=RunSettings(policy=MaterializePolicy.NONE),
        progress=Progress(io.StringIO()),
    )
    computed = [n for n in names if states[n] == COMPUTE]
    assert sorted(ran) == sorted(computed)  # each once
    if executor == "local":
        assert ran == computed  # in topological order
    for name in ran:  # a node starts once every parent it receives is done
        for parent in dag[name].parents:
            assert states[parent] in (COMPUTE, LOAD)
            if states[parent] == COMPUTE:
                assert ran.index(parent) < ran.index(name)
    for name, outcome in result.outcomes.items():
        assert outcome.state == states[name]
        assert outcome.status == ("skipped" if states[name] == PRUNE else "ok")
    assert result.metrics == {n: float(values[names.index(n)]) for n in dag.outputs}
