"""Decorator options: ``explore={...}`` and ``per_row=True`` are checked where declared."""

from __future__ import annotations

import pytest

from helixvcs import Workflow
from helixvcs.errors import CompileError


def test_explore_and_per_row_are_recorded() -> None:
    wf = Workflow("w")

    @wf.op(explore={"C": [0.1, 1.0]})
    def model(rows, C=1.0):
        return C

    @wf.metric(per_row=True)
    def accuracy(model):
        return [1.0]

    assert wf.nodes["model"].options["explore"] == {"C": [0.1, 1.0]}
    assert wf.nodes["accuracy"].options["per_row"] is True


@pytest.mark.parametrize(
    ("decorate", "message"),
    [
        (lambda wf: wf.op(explore={"D": [1]}), "not a parameter with a default"),
        (lambda wf: wf.op(explore={"C": []}), "non-empty list"),
        (lambda wf: wf.op(explore={"C": "abc"}), "non-empty list"),
        (lambda wf: wf.op(explore=[1, 2]), "must be a dict"),
        (lambda wf: wf.op(per_row=True), "@wf.metric only"),
        (lambda wf: wf.metric(per_row="yes"), "True or False"),
    ],
)
def test_bad_options_are_compile_errors_at_the_operator(decorate, message) -> None:
    wf = Workflow("w")
    with pytest.raises(CompileError, match=message) as info:

        @decorate(wf)
        def model(rows, C=1.0):
            return C

    assert info.value.operator == "model"
