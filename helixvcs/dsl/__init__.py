"""The workflow DSL: ``Workflow`` and its decorators. Declarative, no I/O.

A workflow module builds one ``Workflow`` and registers plain functions on it::

    wf = Workflow("census")

    @wf.source("data/adult.csv")
    def raw(path): ...

    @wf.op
    def rows(raw): ...

    @wf.metric
    def accuracy(rows, threshold=0.5): ...

Parents are the parameters that name other operators; parameters with defaults that
name no operator are constants. Resolving names into edges is the graph layer's job,
so operators may be declared in any order.
"""

from __future__ import annotations

from helixvcs.dsl.workflow import KINDS, NodeSpec, Workflow

__all__ = ["KINDS", "NodeSpec", "Workflow"]
