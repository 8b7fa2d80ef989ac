"""The batched history reads answer what the per-commit reads answered."""

from __future__ import annotations

from helixvcs import Repo
from helixvcs.repo.history.iterations import (
    measure,
    recorded_measurements,
    recorded_operators,
    recorded_operators_for,
)
from tests.integration.toy import FILES


def test_batched_reads_match_the_per_commit_reads(git_repo):
    git_repo.gen(FILES, commit="toy")
    git_repo.helix("init")
    shas = [git_repo.commit("ignore .helix/")]
    git_repo.helix("run")
    git_repo.helix("run")  # two runs of one commit: the newest stands for it
    git_repo.edit("workflow.py", "factor=2.0", "factor=3.0")
    shas.append(git_repo.commit("factor 3"))
    git_repo.helix("run")
    git_repo.edit("workflow.py", "factor=3.0", "factor=4.0")
    shas.append(git_repo.commit("factor 4, never run"))
    repo = Repo(git_repo.path)
    never = "0" * 40

    found = recorded_measurements(repo.index, [*shas, never], "total")
    assert set(found) == set(shas[:2])
    for sha in shas[:2]:
        assert found[sha] == measure(repo, sha, "total", progress=None)  # type: ignore[arg-type]
    missing = recorded_measurements(repo.index, shas[:1], "nope")[shas[0]]
    assert missing.value is None and missing.error and "no metric nope" in missing.error

    operators = recorded_operators_for(repo.index, [*shas, never])
    assert set(operators) == set(shas[:2])
    for sha in shas[:2]:
        one_by_one = recorded_operators(repo.index, sha)
        assert one_by_one is not None
        assert [(o.name, o.key, o.parents, dict(o.parts)) for o in operators[sha]] == [
            (o.name, o.key, o.parents, dict(o.parts)) for o in one_by_one
        ]
