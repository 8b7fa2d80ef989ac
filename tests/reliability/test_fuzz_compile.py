"""Case 7, fuzzing: random workflow modules, valid and broken, through the compiler.

Hypothesis draws a module: sources, operators, metrics and outputs named ``n0``,
``n1``..., parents among earlier nodes, constants of several types, a helper function
and a module constant, and at most one fault. A valid module must compile to exactly the
drawn DAG; a broken one must raise a ``UserInputError`` (exit 2) whose message is one
line naming the problem. Anything else (any other exception, a traceback) fails.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import event, given, settings
from hypothesis import strategies as st

from helixvcs.errors import UserInputError
from helixvcs.graph import compile_workflow

FAULTS = {
    "unknown parent": "names no operator",
    "cycle": "cycle",
    "duplicate": "duplicate operator name",
    "parent constant": "has a default",
    "syntax": "syntax error",
    "no workflow": "no Workflow",
    "no outputs": "no @wf.metric or @wf.output",
    "missing package": "cannot import 'not_a_package_fz'",
}


@dataclass
class Spec:
    name: str
    kind: str
    parents: list[str]
    constants: list[tuple[str, object]] = field(default_factory=list)
    helper: bool = False


@dataclass
class Module:
    nodes: list[Spec]
    fault: str | None

    def text(self) -> str:
        head = ["import math", "", "from helixvcs import Workflow", "", "K = 3", ""]
        if self.fault == "missing package":
            head.insert(0, "import not_a_package_fz")
        if self.fault != "no workflow":
            head.append('wf = Workflow("fuzz")')
        head += ["", "def helper(x):", "    return x * K", ""]
        body = [_render(n) for n in self.nodes] if self.fault != "no workflow" else []
        if self.fault == "syntax":
            body.append("def broken(:\n    pass\n")
        return "\n".join(head + body) + "\n"


def _render(n: Spec) -> str:
    if n.kind == "source":
        return f'@wf.source("data/x.csv")\ndef {n.name}(path):\n    return path\n'
    params = [*n.parents, *(f"{c}={v!r}" for c, v in n.constants)]
    call = "helper(1)" if n.helper else "1"
    value = "1.0" if n.kind == "metric" else f"[{call}, math.pi]"
    return f"@wf.{n.kind}\ndef {n.name}({', '.join(params)}):\n    return {value}\n"


constants = st.lists(
    st.tuples(
        st.sampled_from(["c", "alpha", "depth"]),
        st.integers(-5, 5) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=4),
    ),
    unique_by=lambda t: t[0],
    max_size=2,
)


@st.composite
def modules(draw) -> Module:
    count = draw(st.integers(1, 7))
    names = [f"n{i}" for i in range(count)]
    fault = None if draw(st.booleans()) else draw(st.sampled_from(sorted(FAULTS)))
    kinds = ["source", "op", "metric", "output"] if fault != "no outputs" else ["source", "op"]
    nodes = []
    for i, name in enumerate(names):
        kind = draw(st.sampled_from(kinds if i else ["source", "op"]))
        parents = []
        if kind != "source" and i:
            parents = draw(st.lists(st.sampled_from(names[:i]), unique=True, max_size=3))
        nodes.append(Spec(name, kind, parents, draw(constants), draw(st.booleans())))
    if fault != "no outputs" and not any(n.kind in ("metric", "output") for n in nodes):
        nodes.append(Spec(f"n{count}", "metric", [names[-1]]))
    inner = [n for n in nodes if n.kind != "source"]
    if fault == "unknown parent":
        draw(st.sampled_from(inner)).parents.append("ghost")
    elif fault == "cycle":
        a, b = Spec("ca", "op", ["cb"]), Spec("cb", "op", ["ca"])
        nodes += [a, b, Spec("cm", "metric", ["ca"])]
    elif fault == "duplicate":
        nodes.append(draw(st.sampled_from(nodes)))
    elif fault == "parent constant":
        target = draw(st.sampled_from(nodes))
        nodes.append(Spec("pc", "metric", [], [(target.name, 1)]))
    return Module(nodes, fault)


@settings(max_examples=120, deadline=None)
@given(modules())
def test_compile_is_the_drawn_dag_or_one_line_exit_2(module: Module) -> None:
    event(f"fault: {module.fault}")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "data").mkdir()
        (root / "data" / "x.csv").write_text("1\n")
        (root / "workflow.py").write_text(module.text())
        try:
            dag = compile_workflow(root, root / "workflow.py")
        except UserInputError as exc:
            assert module.fault is not None, (str(exc), module.text())
            message = str(exc)
            assert exc.exit_code == 2
            assert message and "\n" not in message and "Traceback" not in message, message
            assert FAULTS[module.fault] in message, (module.fault, message)
            return
    assert module.fault is None, (module.fault, module.text())
    drawn = {n.name: tuple(n.parents) for n in module.nodes}
    assert dag.parents() == drawn
    assert {n.name for n in dag if n.is_output} == {
        n.name for n in module.nodes if n.kind in ("metric", "output")
    }
