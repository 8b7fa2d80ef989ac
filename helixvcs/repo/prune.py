"""``helix prune``: which operators a pruned run would leave out, and what they cost.

Nothing runs: the version is compiled (with the sample and precision asked for, whose
keys the recorded weights must match) and ``zero_weight`` reads the weights the index
recorded for the estimators trained on its feature assemblies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from helixvcs.repo.context import compile_version
from helixvcs.repo.zero_weight import ZeroWeight, find

if TYPE_CHECKING:
    from helixvcs.repo import Repo
    from helixvcs.repo.run import RunOptions


@dataclass
class PruneReport:
    revision: str
    zero: ZeroWeight

    def to_json(self) -> dict[str, Any]:
        return {"revision": self.revision, **self.zero.to_json()}


def prune(repo: Repo, options: RunOptions) -> PruneReport:
    variant = options.variant()
    dag, version = compile_version(repo.layout, variant.rev, reuse=True)
    return PruneReport(version.revision, find(repo.index, variant.dag(dag)))
