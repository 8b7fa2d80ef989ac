"""The ``Repo`` facade: one method per verb, each implemented in its own module.

``Repo`` wires the leaves together (the store, the index, git) for the verbs; the CLI
only parses arguments, calls a method and prints the report it gets back. The verbs live
in three rooms below the facade: ``history`` (looking back: diff, blame, bisect, explain,
log, plot, dag), ``feedback`` (think time: explore, suggest, hooks and their queue), and
the modules of this package (one iteration: run, status, plan, show, gc, commit).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helixvcs.errors import NotInitialized
from helixvcs.hashing.files import remove_abandoned_temp_files
from helixvcs.index import Index
from helixvcs.repo.layout import Layout, parse_size
from helixvcs.store import DiskObjectStore, ObjectStore
from helixvcs.vcs import ensure_gitignore, find_root

if TYPE_CHECKING:
    from helixvcs.exec import Progress
    from helixvcs.hashing import SampleSpec
    from helixvcs.repo.commit import CommitRunReport
    from helixvcs.repo.feedback.explore import ExploreReport
    from helixvcs.repo.feedback.hooks import HooksReport
    from helixvcs.repo.feedback.suggest import SuggestReport
    from helixvcs.repo.fsck import FsckReport
    from helixvcs.repo.gc import GcReport
    from helixvcs.repo.history.bisect import BisectReport
    from helixvcs.repo.history.blame import BlameReport
    from helixvcs.repo.history.dag import DagReport
    from helixvcs.repo.history.diff import DiffReport
    from helixvcs.repo.history.explain import ExplainReport
    from helixvcs.repo.history.log import LogEntries, LogEntry
    from helixvcs.repo.history.plot import PlotReport
    from helixvcs.repo.plan import PlanReport
    from helixvcs.repo.prune import PruneReport
    from helixvcs.repo.run import RunOptions, RunReport
    from helixvcs.repo.show import ShowReport
    from helixvcs.repo.status import StatusReport
    from helixvcs.repo.sync import SyncReport

# Each verb's module is imported when the verb is called, so that ``helix status`` does
# not pay for the executors (and the libraries they use) that only ``helix run`` needs.
_LAZY = {
    "CommitRunReport": "commit",
    "ExploreReport": "feedback.explore",
    "GcReport": "gc",
    "HooksReport": "feedback.hooks",
    "LogEntries": "history.log",
    "LogEntry": "history.log",
    "PlanReport": "plan",
    "RunOptions": "run",
    "RunReport": "run",
    "ShowReport": "show",
    "StatusReport": "status",
    "SuggestReport": "feedback.suggest",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"helixvcs.repo.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'helixvcs.repo' has no attribute {name!r}")


__all__ = [
    "CommitRunReport",
    "ExploreReport",
    "GcReport",
    "HooksReport",
    "LogEntries",
    "LogEntry",
    "PlanReport",
    "Repo",
    "RunOptions",
    "RunReport",
    "ShowReport",
    "StatusReport",
    "SuggestReport",
    "parse_size",
]


class Repo:
    """A git repository with helixvcs state in ``.helix/``."""

    def __init__(self, path: str | Path = ".") -> None:
        self.root = find_root(Path(path).absolute())
        self.layout = Layout(self.root)
        remove_abandoned_temp_files(self.layout.helix)  # of writers killed mid-write

    def __repr__(self) -> str:
        return f"Repo({str(self.root)!r})"

    @classmethod
    def init(cls, path: str | Path = ".") -> Repo:
        """Create ``.helix/`` (store, index, config) and ignore it in git. A repository
        that has ``.helix/`` already is left as it is (``Repo.initialized`` tells)."""
        repo = cls(path)
        if repo.complete:
            return repo
        repo.layout.create()
        repo.index.ensure()
        ensure_gitignore(repo.root, ".helix/")
        return repo

    @property
    def initialized(self) -> bool:
        return self.layout.exists()

    @property
    def complete(self) -> bool:
        """``.helix/`` has everything ``init`` makes (an interrupted init has not)."""
        layout = self.layout
        return all(p.exists() for p in (layout.objects, layout.logs, layout.config, layout.index))

    def _require(self) -> None:
        if not self.initialized:
            raise NotInitialized(f"{self.root} has no .helix/ yet; run `helix init` first")

    @cached_property
    def index(self) -> Index:
        return Index(self.layout.index)

    @cached_property
    def store(self) -> ObjectStore:
        self._require()
        return DiskObjectStore(self.layout.objects)

    # -- verbs ------------------------------------------------------------------------

    def run(self, options: RunOptions | None = None, progress: Progress | None = None) -> RunReport:
        """Run a version; a background exploration stops first (the user wants the CPU)."""
        from helixvcs.repo.feedback.explorer import stop_background
        from helixvcs.repo.run import run

        self._require()
        stop_background(self)
        return run(self, options or _run_options(), progress or _progress())

    def explore(
        self,
        options: RunOptions | None = None,
        progress: Progress | None = None,
        *,
        metric: str | None = None,
        minimize: bool | None = None,
        budget: float | None = None,
        background: bool = False,
    ) -> ExploreReport:
        """Run the variants the workflow declares with ``explore={...}`` (docs/explore.md).

        ``background``: at low priority, stopping when a commit is queued or another run
        starts; nothing happens if another exploration is going on."""
        from helixvcs.repo.feedback import explorer
        from helixvcs.repo.feedback.explore import explore

        self._require()
        mode = explorer.BACKGROUND if background else explorer.FOREGROUND
        with explorer.exploring(self, mode) as alone:
            if not alone:
                raise explorer.ExplorationBusy(explorer.folder(self))
            if background:
                explorer.lower_priority()
            return explore(
                self,
                options or _run_options(),
                progress or _progress(),
                metric=metric,
                minimize=minimize,
                budget=budget,
                interrupt=explorer.interrupting(self) if background else lambda: None,
            )

    def suggest(
        self, metric: str | None = None, *, minimize: bool | None = None, limit: int = 3
    ) -> SuggestReport:
        """The best explored variants of the working tree's version, with patches, and
        the operators whose edits moved the metric most."""
        from helixvcs.repo.feedback.suggest import suggest

        self._require()
        return suggest(self, metric, minimize, limit)

    def prune(self, options: RunOptions | None = None) -> PruneReport:
        """The operators that zero-weight feature blocks let a run prune (docs/pruning.md)."""
        from helixvcs.repo.prune import prune

        self._require()
        return prune(self, options or _run_options())

    def plan(self, rev: str | None = None, sample: SampleSpec | None = None) -> PlanReport:
        from helixvcs.repo.plan import plan

        self._require()
        return plan(self, rev, sample)

    def status(self) -> StatusReport:
        from helixvcs.repo.status import status

        self._require()
        return status(self)

    def log(
        self, *, limit: int | None = None, metric: str | None = None, variants: bool = False
    ) -> LogEntries:
        """Runs, newest first: ``limit`` iterations and the variants explored from them;
        ``variants``: ``limit`` counts explored variants too."""
        from helixvcs.repo.history.log import log

        self._require()
        return log(self, limit=limit, metric=metric, variants=variants)

    def gc(self, max_size: int | None = None, dry_run: bool = False) -> GcReport:
        """Drop the least valuable stored intermediates until the store fits ``max_size``."""
        from helixvcs.repo.gc import gc

        self._require()
        return gc(self, max_size, dry_run)

    def fsck(self, repair: bool = False) -> FsckReport:
        """Verify the store and the index; with ``repair``, fix what can be fixed."""
        from helixvcs.repo.fsck import fsck

        self._require()
        return fsck(self, repair)

    def show(
        self,
        name: str,
        rev: str | None = None,
        output: Path | None = None,
        progress: Progress | None = None,
    ) -> ShowReport:
        from helixvcs.repo.show import show

        self._require()
        return show(self, name, progress or _progress(), output, rev)

    def value(self, name: str, rev: str | None = "HEAD", progress: Progress | None = None) -> Any:
        """Operator ``name``'s value at revision ``rev`` (a sha, branch, tag, ``HEAD~2``;
        None: the working tree). Loaded when stored, else computed by the cheapest plan
        for it alone, loading what is stored upstream; a commit is read from git into a
        scratch tree, never checked out. Nothing is recorded. An unknown operator or
        revision, or a revision that does not compile, is a ``UserInputError``."""
        from helixvcs.repo.show import value

        self._require()
        return value(self, name, rev, progress or _progress())

    def commit_and_run(
        self,
        message: str,
        *,
        all: bool = False,
        paths: Sequence[str] = (),
        cwd: Path | None = None,
        progress: Progress | None = None,
    ) -> CommitRunReport:
        """``git commit -m MESSAGE [-a] [-- PATHS]`` (run in ``cwd`` if inside the repo),
        then run the new commit and compare its metrics with its parent's."""
        from helixvcs.repo.commit import commit_and_run

        self._require()
        return commit_and_run(
            self, message, all=all, paths=paths, cwd=cwd, progress=progress or _progress()
        )

    def hooks_install(self) -> HooksReport:
        """Install helix's post-commit hook, chaining a hook already in place."""
        from helixvcs.repo.feedback import hooks

        self._require()
        return hooks.install(self)

    def hooks_uninstall(self) -> HooksReport:
        """Remove helix's post-commit hook and restore the chained one."""
        from helixvcs.repo.feedback import hooks

        return hooks.uninstall(self)

    def hooks_status(self) -> HooksReport:
        from helixvcs.repo.feedback import hooks

        return hooks.status(self)

    def post_commit(self, sha: str, say: Callable[[str], None]) -> None:
        """What the hook starts in the background: queue ``sha`` and run the queue."""
        from helixvcs.repo.feedback import hooks

        self._require()
        hooks.post_commit(self, sha, say)

    # -- across versions (docs/history.md) --------------------------------------------

    def diff(self, a: str = "HEAD", b: str | None = None) -> DiffReport:
        """Logical diff of revision ``a`` (default HEAD) and ``b`` (None or ``WORKTREE``:
        the working tree), as ``git diff [A [B]]``."""
        from helixvcs.repo.history.diff import diff

        self._require()
        return diff(self, a, b)

    def blame_metric(
        self,
        metric: str,
        range: str | None = None,
        *,
        isolate: bool = False,
        progress: Progress | None = None,
    ) -> BlameReport:
        """Attribute each change of ``metric`` along first-parent history to its edits."""
        from helixvcs.repo.history.blame import blame_metric

        self._require()
        return blame_metric(self, metric, range, isolate, progress or _progress())

    def bisect(
        self,
        metric: str,
        *,
        good: str,
        bad: str = "HEAD",
        threshold: float = 0.0,
        rise: bool = False,
        progress: Progress | None = None,
    ) -> BisectReport:
        """The first commit after ``good`` where ``metric`` is worse by more than ``threshold``."""
        from helixvcs.repo.history.bisect import bisect

        self._require()
        return bisect(self, metric, good, bad, threshold, rise, progress or _progress())

    def explain(self, metric: str, a: str, b: str) -> ExplainReport:
        """The path through recorded versions that accounts for ``metric``'s gap."""
        from helixvcs.repo.history.explain import explain

        self._require()
        return explain(self, metric, a, b)

    def plot(self, metric: str, range: str | None, output: Path) -> PlotReport:
        """``metric`` across first-parent iterations, as a PNG or SVG file."""
        from helixvcs.repo.history.plot import plot

        self._require()
        return plot(self, metric, range, Path(output))

    def dag(self, rev: str | None, output: Path) -> DagReport:
        """The DAG of ``rev`` (or the working tree), coloured by last state, to a file."""
        from helixvcs.repo.history.dag import dag

        self._require()
        return dag(self, rev, Path(output))

    def remotes(self) -> Any:
        """The remotes in ``.helixremotes`` (``repo.remotes``), with this clone's trust."""
        from helixvcs.repo.remotes import read_remotes

        return read_remotes(self.layout)

    def remote_add(self, name: str, url: str, endpoint_url: str | None = None) -> Any:
        """Add a remote to the committed ``.helixremotes``; the first is the default."""
        from helixvcs.repo.remotes import add_remote

        return add_remote(self.layout, name, url, endpoint_url)

    def remote_remove(self, name: str) -> Any:
        from helixvcs.repo.remotes import remove_remote

        return remove_remote(self.layout, name)

    def push(
        self, remote: str | None = None, revs: Sequence[str] = (), progress: Progress | None = None
    ) -> SyncReport:
        """Upload the runs of ``revs`` (default: HEAD's latest) and their values."""
        from helixvcs.repo.sync import push

        self._require()
        return push(self, remote, revs, progress or _progress())

    def pull(
        self,
        remote: str | None = None,
        revs: Sequence[str] = (),
        objects: bool = False,
        progress: Progress | None = None,
    ) -> SyncReport:
        """Merge a remote's run records (of ``revs``' commits, or all); ``objects`` too."""
        from helixvcs.repo.sync import pull

        self._require()
        return pull(self, remote, revs, objects, progress or _progress())


def _progress() -> Progress:
    from helixvcs.exec import Progress

    return Progress()


def _run_options() -> RunOptions:
    from helixvcs.repo.run import RunOptions

    return RunOptions()
