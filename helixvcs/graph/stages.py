"""Which stage of a workflow an operator belongs to: pre-processing, learning, evaluation.

``helix plot`` colours each iteration by the kind of change it made. The stage of an
operator comes from its position relative to the workflow's *model node*:

* the model node is the operator nearest the metrics (latest in topological order) among
  the non-source, non-output ancestors of the metrics whose name says it learns
  (``model``, ``fit``, ``train``, ``learn``, ``clf``, ``classifier``, ``regressor``,
  ``estimator``, ``predictor``); failing that, the latest operator that every metric
  depends on; failing that, there is none;
* **learning**: the model node, and the non-output operators that depend on it
  (inference: scores, predictions fed to the metrics);
* **pre-processing**: the ancestors of the model node (sources, cleaning, features);
* **evaluation**: everything else: metrics and outputs, and the operators that feed
  only them (a threshold, the held-out labels).

Without a model node, outputs are evaluation and every other operator is pre-processing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

PRE_PROCESSING, LEARNING, EVALUATION = "pre-processing", "learning", "evaluation"
STAGES = (PRE_PROCESSING, LEARNING, EVALUATION)
_LEARNS = re.compile(
    r"model|fit|train|learn|clf|classifier|regressor|estimator|predictor", re.IGNORECASE
)
_OUTPUTS = frozenset({"metric", "output"})


def model_node(
    parents: Mapping[str, Sequence[str]], kinds: Mapping[str, str], order: Sequence[str]
) -> str | None:
    """The operator that learns, by the rule of the module docstring; ``order`` is
    topological."""
    metrics = [n for n in order if kinds[n] == "metric"] or [
        n for n in order if kinds[n] in _OUTPUTS
    ]
    feeding = [_ancestors(parents, m) for m in metrics]
    candidates = [
        n
        for n in order
        if kinds[n] not in _OUTPUTS and kinds[n] != "source" and any(n in f for f in feeding)
    ]
    named = [n for n in candidates if _LEARNS.search(n)]
    if named:
        return named[-1]
    shared = [n for n in candidates if feeding and all(n in f for f in feeding)]
    return shared[-1] if shared else None


def stages(
    parents: Mapping[str, Sequence[str]], kinds: Mapping[str, str], order: Sequence[str]
) -> dict[str, str]:
    """The stage of every operator."""
    model = model_node(parents, kinds, order)
    if model is None:
        return {n: EVALUATION if kinds[n] in _OUTPUTS else PRE_PROCESSING for n in order}
    upstream = _ancestors(parents, model)
    result = {}
    for n in order:
        if n in upstream:
            result[n] = PRE_PROCESSING
        elif n == model or (kinds[n] not in _OUTPUTS and model in _ancestors(parents, n)):
            result[n] = LEARNING
        else:
            result[n] = EVALUATION
    return result


def change_kind(stages_of_edits: Iterable[str]) -> str:
    """One word for a set of edits: their stage, ``mixed`` for several, ``none`` for none."""
    found = set(stages_of_edits)
    if not found:
        return "none"
    return found.pop() if len(found) == 1 else "mixed"


def _ancestors(parents: Mapping[str, Sequence[str]], name: str) -> set[str]:
    seen: set[str] = set()
    stack = list(parents.get(name, ()))
    while stack:
        p = stack.pop()
        if p not in seen:
            seen.add(p)
            stack.extend(parents.get(p, ()))
    return seen
