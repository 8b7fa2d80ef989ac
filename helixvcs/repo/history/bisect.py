"""``helix bisect M --good A --bad B``: the first commit where metric M got worse.

The candidates are the first-parent commits after A up to B. A commit is *bad* when its
value of M is worse than A's by more than the threshold T: lower than ``M(A) - T`` by
default, higher than ``M(A) + T`` with ``--rise`` (for a loss or an error rate). The search
is git's: B is taken to be bad, each step tests the candidate in the middle of what is
left, and a commit that cannot be measured (its workflow does not compile or fails, or it
lacks M) is skipped and a neighbour is tested instead. B itself is measured only if the
search ends on it, so a B that is not bad is reported, never blamed.

A commit is measured from its recorded run when it has one, and run otherwise; every run
reuses the store, so it computes only the operators no earlier version computed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from helixvcs.errors import UserInputError
from helixvcs.exec import Progress
from helixvcs.graph.diff import DagDiff, diff_operators
from helixvcs.repo.history.iterations import Measurement, measure, operators_at
from helixvcs.repo.history.metrics import check_metric
from helixvcs.repo.history.reports import record
from helixvcs.vcs import CommitInfo, first_parent, first_parent_history, resolve

if TYPE_CHECKING:
    from helixvcs.repo import Repo

GOOD, BAD, SKIP = "good", "bad", "skip"


@dataclass(frozen=True)
class Tested:
    commit: CommitInfo
    measurement: Measurement
    verdict: str  # good | bad | skip

    @property
    def nan(self) -> bool:
        """The metric is NaN here, which counts as bad."""
        return self.measurement.value is not None and math.isnan(self.measurement.value)

    def to_json(self) -> dict[str, Any]:
        m = self.measurement
        return {
            "commit": self.commit.sha,
            "subject": self.commit.subject,
            "metric": m.value,
            "verdict": self.verdict,
            "nan": self.nan,
            "ran": m.ran,
            "computed": m.computed,
            "reason": m.error if self.verdict == SKIP else None,
        }


@dataclass
class BisectReport:
    metric: str
    good: Tested
    bad: str  # sha of B
    threshold: float
    rise: bool
    candidates: int  # commits after A up to B
    tested: list[Tested] = field(default_factory=list)  # in the order tested
    first_bad: CommitInfo | None = None
    maybe: list[str] = field(default_factory=list)  # skipped commits that may be first bad
    diff: DagDiff | None = None  # the first bad commit against its parent

    @property
    def runs(self) -> int:
        return sum(t.measurement.ran for t in [self.good, *self.tested])

    @property
    def computed(self) -> int:
        return sum(t.measurement.computed for t in [self.good, *self.tested])

    @property
    def nan(self) -> list[str]:
        """Tested commits whose metric is NaN (counted as bad), in the order tested."""
        return [t.commit.sha for t in self.tested if t.nan]

    @property
    def skipped(self) -> list[Tested]:
        """Tested commits that could not be measured (no compile, failed run, no metric)."""
        return [t for t in self.tested if t.verdict == SKIP]

    @property
    def first_bad_value(self) -> float | None:
        if self.first_bad is None:
            return None
        found = [t for t in self.tested if t.commit.sha == self.first_bad.sha]
        return found[0].measurement.value if found else None

    def to_json(self) -> dict[str, Any]:
        """The ``helix bisect --json`` document (docs/history.md)."""
        return {
            "metric": self.metric,
            "good": self.good.to_json(),
            "bad": self.bad,
            "threshold": self.threshold,
            "direction": "rise" if self.rise else "drop",
            "candidates": self.candidates,
            "first_bad": self.first_bad.sha if self.first_bad else None,
            "first_bad_metric": self.first_bad_value,
            "maybe": self.maybe,
            "nan": self.nan,
            "skipped": [
                {"commit": t.commit.sha, "reason": t.measurement.error} for t in self.skipped
            ],
            "tested": [t.to_json() for t in self.tested],
            "diff": self.diff.to_json() if self.diff else None,
            "runs": self.runs,
            "computed_operators": self.computed,
        }


def bisect(
    repo: Repo,
    metric: str,
    good: str,
    bad: str,
    threshold: float,
    rise: bool,
    progress: Progress,
) -> BisectReport:
    if threshold < 0:
        raise UserInputError(f"--threshold {threshold} is negative; give 0 or more")
    good_version, bad_sha = resolve(repo.root, good), _sha(repo, bad)
    good_sha = good_version.commit
    assert good_sha is not None
    candidates = first_parent_history(repo.root, bad_sha, good_sha)
    if not candidates:
        raise UserInputError(f"--good {good} and --bad {bad} are the same commit")
    check_metric(repo, metric, [good_sha, bad_sha])
    base = measure(repo, good_sha, metric, progress)
    if base.value is None:
        raise UserInputError(f"--good {good} ({base.short}) has no value of {metric}: {base.error}")
    if math.isnan(base.value):
        raise UserInputError(
            f"--good {good} ({base.short}) has {metric} = NaN, which is never good; "
            "give a commit whose metric is a number"
        )
    good_info = CommitInfo(good_sha, good_version.subject or "", first_parent(repo.root, good_sha))
    report = BisectReport(
        metric, Tested(good_info, base, GOOD), bad_sha, threshold, rise, len(candidates)
    )
    _search(repo, report, candidates, base.value, progress)
    if report.first_bad is not None:
        report.diff = _diff(repo, report.first_bad)
    record(repo, "bisect", report.to_json())  # for `helix ui`
    return report


def _search(
    repo: Repo,
    report: BisectReport,
    candidates: list[CommitInfo],
    base: float,
    progress: Progress,
) -> None:
    """Binary search with skips; ``hi`` is the earliest commit known (or taken) to be bad."""
    lo, hi = 0, len(candidates) - 1  # every candidate before lo is good
    skipped: set[int] = set()
    while True:
        left = [i for i in range(lo, hi) if i not in skipped]
        if not left:
            break
        i = _nearest(left, (lo + hi) // 2)
        verdict = _test(repo, report, candidates[i], base, progress)
        if verdict == GOOD:
            lo = i + 1
        elif verdict == BAD:
            hi = i
        else:
            skipped.add(i)
    maybe = [candidates[i].sha for i in sorted(skipped) if lo <= i < hi]
    if hi == len(candidates) - 1:  # B was taken to be bad: check it now
        verdict = _test(repo, report, candidates[hi], base, progress)
        if verdict == GOOD:
            return  # B is not worse than A: there is no first bad commit
        if verdict == SKIP:
            report.maybe = [*maybe, candidates[hi].sha]
            return
    report.first_bad = candidates[hi]
    report.maybe = maybe


def _nearest(indices: list[int], middle: int) -> int:
    return min(indices, key=lambda i: (abs(i - middle), i))


def _test(
    repo: Repo, report: BisectReport, commit: CommitInfo, base: float, progress: Progress
) -> str:
    m = measure(repo, commit.sha, report.metric, progress)
    if m.value is None:
        verdict = SKIP
    elif math.isnan(m.value):
        verdict = BAD  # NaN < x and NaN > x are both false: it would pass as good
    else:
        worse = (
            m.value > base + report.threshold if report.rise else m.value < base - report.threshold
        )
        verdict = BAD if worse else GOOD
    report.tested.append(Tested(commit, m, verdict))
    return verdict


def _diff(repo: Repo, commit: CommitInfo) -> DagDiff | None:
    if commit.parent is None:
        return None
    before, after = operators_at(repo, commit.parent), operators_at(repo, commit.sha)
    if before is None or after is None:
        return None
    return diff_operators(before, after)


def _sha(repo: Repo, rev: str) -> str:
    commit = resolve(repo.root, rev).commit
    assert commit is not None
    return commit
