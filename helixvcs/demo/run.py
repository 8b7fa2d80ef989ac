"""``helix demo``: the census example as four iterations in a scratch git repository."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helixvcs.errors import UserInputError
from helixvcs.exec import Progress
from helixvcs.repo import LogEntry, Repo, RunReport


@dataclass(frozen=True)
class DemoReport:
    path: Path
    runs: list[RunReport]
    log: list[LogEntry]

    def to_json(self) -> dict[str, Any]:
        """The demo repository, the run document of each commit, and the log document."""
        return {
            "path": str(self.path),
            "runs": [r.to_json() for r in self.runs],
            "log": [e.to_json() for e in self.log],
        }


def run_demo(
    directory: Path | None, progress: Callable[[], Progress], say: Callable[[str], None]
) -> DemoReport:
    """Create the repo, commit and run the initial workflow and each iteration."""
    from helixvcs.demo.scenario import ITERATIONS, create_repo
    from helixvcs.vcs import commit_all

    dest = _destination(directory)
    say(f"creating a census-income workflow repository in {dest}")
    create_repo(dest)
    repo = Repo.init(dest)
    runs = [_run(repo, "Census income workflow", progress, say)]
    for it in ITERATIONS:
        it.apply(dest)
        commit_all(dest, it.message)
        runs.append(_run(repo, f"{it.message}  [{it.kind}]", progress, say))
    return DemoReport(path=dest, runs=runs, log=repo.log())


def _destination(directory: Path | None) -> Path:
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="helix-demo-"))
    if directory.exists() and any(directory.iterdir()):
        raise UserInputError(
            f"{directory} is not empty; give a new or empty directory for the demo"
        )
    directory.mkdir(parents=True, exist_ok=True)
    return directory.resolve()


def _run(
    repo: Repo, title: str, progress: Callable[[], Progress], say: Callable[[str], None]
) -> RunReport:
    say(f"\n== commit: {title}")
    with progress() as shown:
        report = repo.run(progress=shown)
    metrics = "  ".join(f"{k}={float(v)!r}" for k, v in sorted(report.metrics.items()))
    say(f"   {report.summary()}  {metrics}")
    return report
