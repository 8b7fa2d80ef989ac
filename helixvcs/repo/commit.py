"""``helix commit-and-run``: commit exactly as ``git commit`` would, then run that commit.

The commit is git's own (``vcs.git_commit``): identity, configuration, signing and hooks
are the user's. The run is of the new commit, read from git like any ``helix run REV``,
so files left out of the commit (unstaged edits, paths not named) are not in it. The
report puts the new metrics next to the parent's, taken from the parent's last good run
in the index; a parent that never ran has none (helix does not run it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helixvcs.errors import HelixError, UserInputError
from helixvcs.exec import Progress
from helixvcs.repo.records import last_ok_run
from helixvcs.repo.run import RunOptions, RunReport
from helixvcs.vcs import GitCommit, first_parent, git_commit

if TYPE_CHECKING:
    from helixvcs.repo import Repo

SKIP_ENV = "HELIX_NO_BACKGROUND_RUN"
"""Set for ``git commit`` by ``helix commit-and-run``, which runs the commit itself: the
post-commit hook (``feedback.hooks``) then starts no background run of it."""


@dataclass(frozen=True)
class CommitRunReport:
    git: GitCommit
    run: RunReport
    parent: str | None  # full sha of the first parent; None for a first commit
    parent_run: str | None  # the parent's last good run, if it ever ran
    parent_metrics: dict[str, float]

    @property
    def commit(self) -> str:
        return self.git.sha

    def to_json(self) -> dict[str, Any]:
        """The ``helix commit-and-run --json`` document."""
        return {
            "commit": self.commit,
            "run": self.run.to_json(),
            "parent": {
                "commit": self.parent,
                "run_id": self.parent_run,
                "metrics": self.parent_metrics,
            },
        }


def commit_and_run(
    repo: Repo,
    message: str,
    *,
    all: bool = False,
    paths: Sequence[str] = (),
    cwd: Path | None = None,
    progress: Progress,
) -> CommitRunReport:
    # a background hook run of the same commit would only duplicate this one
    made = git_commit(repo.root, message, all=all, paths=paths, cwd=cwd, env={SKIP_ENV: "1"})
    parent = first_parent(repo.root, made.sha)
    parent_run = last_ok_run(repo.index, parent) if parent else None
    parent_metrics = repo.index.metrics(parent_run) if parent_run else {}
    try:
        report = repo.run(RunOptions(rev=made.sha), progress)
    except HelixError as exc:
        raise UserInputError(f"committed {made.sha[:7]}, but could not run it: {exc}") from exc
    return CommitRunReport(made, report, parent, parent_run, parent_metrics)
