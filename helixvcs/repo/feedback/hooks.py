"""``helix hooks``: a post-commit hook that runs every new commit in the background.

The hook turns the user's think time into compute time: by the time they look, the
commit they just made has run. It must never get in the way of git, so:

* it *chains*: a post-commit hook already in place is moved beside it as
  ``post-commit.helix-chained`` and run first, with its exit status kept; uninstalling
  moves it back, byte for byte;
* it is installed where git looks (``core.hooksPath``, or the common git dir shared by
  linked worktrees), as git itself reports it;
* it returns at once: it only starts ``helix hooks post-commit SHA`` in the background
  (``nice``, its own session, output to ``.helix/logs/hooks.log``), which queues SHA and
  works through the queue (``queue``); each commit runs as ``helix run SHA`` with its own
  log, ``.helix/logs/<sha>.log``;
* it runs exactly the commit it was called for (HEAD as the hook resolves it), never
  whatever HEAD is by the time a queued run starts;
* it never fails a commit: if the Python it was installed with is gone, it warns and
  exits with the chained hook's status.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helixvcs.errors import HelixError, UserInputError
from helixvcs.repo.feedback.queue import RunQueue
from helixvcs.repo.records import last_ok_run
from helixvcs.vcs import first_parents, hooks_dir, resolve

if TYPE_CHECKING:
    from helixvcs.repo import Repo

HOOK = "post-commit"
CHAINED = HOOK + ".helix-chained"
MARKER = "# helixvcs post-commit hook"
_LOOKBACK = 100  # first-parent steps searched for an earlier queued commit
_PYTHON_LINE = re.compile(r"^helix_python=(.*)$", re.MULTILINE)
_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # sha-1 or sha-256 repositories

SCRIPT = """\
#!/bin/sh
{marker}: installed by `helix hooks install`, removed by `helix hooks uninstall`.
# Runs the post-commit hook that was here before (kept as post-commit.helix-chained), then
# starts a background, low-priority `helix run` of the commit just made. The commit never
# waits for it and never fails because of it. Logs: .helix/logs/ in the work tree.
helix_python={python}
helix_package={package}
helix_status=0
helix_chained="$(dirname "$0")/{chained}"
if [ -x "$helix_chained" ]; then
    "$helix_chained" "$@" || helix_status=$?
fi
if [ -n "${{{skip_env}:-}}" ]; then
    exit $helix_status  # `helix commit-and-run` runs this commit itself
fi
if [ ! -x "$helix_python" ] || [ ! -d "$helix_package" ]; then
    echo "helixvcs: $helix_python -m helixvcs is gone, so this commit does not run in the" \\
        "background; reinstall helixvcs and run 'helix hooks install', or remove this hook" \\
        "with 'helix hooks uninstall'" >&2
    exit $helix_status
fi
helix_root=$(git rev-parse --show-toplevel 2>/dev/null) || exit $helix_status
helix_sha=$(git rev-parse --verify --quiet HEAD) || exit $helix_status
if [ ! -d "$helix_root/.helix" ]; then
    echo "helixvcs: $helix_root has no .helix/; run 'helix init' there for background runs" >&2
    exit $helix_status
fi
mkdir -p "$helix_root/.helix/logs"
(
    # where git points its hooks, and the commit's own dates: one warm server serves
    # the background runs of every commit (docs/server.md)
    unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_PREFIX GIT_COMMON_DIR
    unset GIT_AUTHOR_DATE GIT_COMMITTER_DATE
    nice -n 10 "$helix_python" -m helixvcs --repo "$helix_root" hooks post-commit "$helix_sha" \\
        </dev/null >>"$helix_root/.helix/logs/hooks.log" 2>&1 &
)
exit $helix_status
"""


@dataclass(frozen=True)
class HooksReport:
    """Where the hook is, whether it is helix's, and what it chains to."""

    action: str  # installed | updated | uninstalled | not installed | status
    installed: bool
    path: Path
    chained: Path | None  # the user's own hook, run before helix's
    python: str | None  # the interpreter the installed hook starts
    python_found: bool
    queued: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "installed": self.installed,
            "path": str(self.path),
            "chained": str(self.chained) if self.chained else None,
            "python": self.python,
            "python_found": self.python_found,
            "queued": self.queued,
        }


def install(repo: Repo) -> HooksReport:
    """Install (or refresh) helix's post-commit hook, chaining any hook already there."""
    text = script(sys.executable)  # before anything moves: it may refuse
    folder = hooks_dir(repo.root)
    hook, chained = folder / HOOK, folder / CHAINED
    action = "updated" if _is_ours(hook) else "installed"
    if action == "installed" and os.path.lexists(hook):
        if os.path.lexists(chained):
            raise UserInputError(
                f"{hook} is not helix's hook and {chained} already exists; move one of them "
                "away, then run `helix hooks install` again"
            )
        os.rename(hook, chained)
    folder.mkdir(parents=True, exist_ok=True)
    _write_script(hook, text)
    return status(repo, action)


def uninstall(repo: Repo) -> HooksReport:
    """Remove helix's hook and put the chained user hook back where it was."""
    folder = hooks_dir(repo.root)
    hook, chained = folder / HOOK, folder / CHAINED
    if not _is_ours(hook):
        return status(repo, "not installed")
    os.unlink(hook)
    if os.path.lexists(chained):
        os.rename(chained, hook)
    return status(repo, "uninstalled")


def status(repo: Repo, action: str = "status") -> HooksReport:
    folder = hooks_dir(repo.root)
    hook, chained = folder / HOOK, folder / CHAINED
    ours = _is_ours(hook)
    python = _embedded_python(hook) if ours else None
    return HooksReport(
        action=action,
        installed=ours,
        path=hook,
        chained=chained if ours and os.path.lexists(chained) else None,
        python=python,
        python_found=python is not None and os.access(python, os.X_OK),
        queued=RunQueue(repo.layout.queue).items(),
    )


def script(python: str) -> str:
    """The hook's text, starting ``python -m helixvcs`` by absolute path."""
    if not os.path.isabs(python):
        raise UserInputError(
            f"cannot tell where this Python is ({python!r}); run helix from an installed "
            "environment to install the hook"
        )
    # imported here: commit imports the run machinery, which a hook status does not need
    from helixvcs.repo.commit import SKIP_ENV

    package = Path(__file__).resolve().parents[2]  # helixvcs/, from helixvcs/repo/feedback/
    return SCRIPT.format(
        marker=MARKER,
        python=shlex.quote(python),
        package=shlex.quote(str(package)),
        chained=CHAINED,
        skip_env=SKIP_ENV,
    )


def post_commit(repo: Repo, sha: str, say: Callable[[str], None]) -> None:
    """What the hook starts in the background: queue ``sha``, then run the queue unless
    another runner already does.

    ``sha`` must be a full commit sha, as the hook passes it (``git rev-parse HEAD`` when
    git calls it): never a name (``HEAD``, a branch) that could mean another commit by the
    time the queue reaches it, and never text that could name a path outside ``.helix/``.
    """
    if _FULL_SHA.fullmatch(sha) is None or resolve(repo.root, sha).commit != sha:
        raise UserInputError(
            f"helix hooks post-commit needs the full sha of a commit in {repo.root}, "
            f"not {sha[:80]!r}; the post-commit hook passes `git rev-parse HEAD`"
        )
    from helixvcs.repo.feedback.explorer import stop_background

    queue = RunQueue(repo.layout.queue)
    if queue.push(sha):
        say(f"{_stamp()} queued {sha}")
    stopped = stop_background(repo)  # exploring the previous commit is moot now
    if stopped is not None:
        say(f"{_stamp()} stopped the exploration in process {stopped} for {sha}")
    ran: list[str] = []

    def run_one(s: str) -> None:
        ran.append(s)
        _run_one(repo, s, say)

    if not queue.drain(run_one, lambda shas: _oldest(repo, shas)):
        say(f"{_stamp()} a runner is already at work; it will run {sha}")
        return
    if ran:  # then think time: explore the newest commit run (docs/explore.md)
        explore_in_background(repo, ran[-1], lambda line: say(f"{_stamp()} {line}"))


def explore_in_background(repo: Repo, sha: str, say: Callable[[str], None]) -> None:
    """What the post-commit runner does once the queue is empty: explore ``sha``'s
    declared alternatives in a process of its own (so that it can be stopped alone)."""
    from helixvcs.repo.context import compile_version
    from helixvcs.repo.feedback.explore import grids

    try:
        if not grids(compile_version(repo.layout, sha)[0]):
            return  # nothing declared: nothing to explore
    except HelixError:
        return  # does not compile: its run has said why
    say(f"exploring {sha}")
    log = repo.layout.logs / f"explore-{sha}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [
        *(sys.executable, "-m", "helixvcs", "--repo", str(repo.root), "--quiet"),
        *("explore", sha, "--background"),
    ]
    with log.open("ab") as out:
        code = subprocess.run(
            command, cwd=repo.root, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        ).returncode
    say(f"exploration of {sha} ended (exit {code}); see {log}")


@dataclass(frozen=True)
class QueuedCommit:
    sha: str
    subject: str | None


def waiting(repo: Repo) -> list[QueuedCommit]:
    """Commits queued for a background run whose run has not started yet, oldest first."""
    shas = RunQueue(repo.layout.queue).items()
    if not shas:
        return []
    started = {r.commit for r in repo.index.runs(status="running")}
    return [QueuedCommit(s, _subject(repo, s)) for s in shas if s not in started]


def _subject(repo: Repo, sha: str) -> str | None:
    try:
        return resolve(repo.root, sha).subject
    except UserInputError:  # rewritten away since it was queued
        return None


def _oldest(repo: Repo, shas: list[str]) -> str:
    """The first queued commit none of whose recent first-parent ancestors is queued too:
    rapid commits on one branch run in the order they were made."""
    queued = set(shas)
    for sha in shas:
        if not queued.intersection(first_parents(repo.root, sha, limit=_LOOKBACK)):
            return sha
    return shas[0]


def _run_one(repo: Repo, sha: str, say: Callable[[str], None]) -> None:
    done = last_ok_run(repo.index, sha)
    if done is not None:
        say(f"{_stamp()} skipped {sha}: run {done} of it already succeeded")
        return
    log = repo.layout.logs / f"{sha}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    say(f"{_stamp()} running {sha}; output in {log}")
    command = [sys.executable, "-m", "helixvcs", "--repo", str(repo.root), "--quiet", "run", sha]
    with log.open("ab") as out:
        code = subprocess.run(
            command, cwd=repo.root, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        ).returncode
    outcome = "ok" if code == 0 else f"the run failed (exit {code}); see {log}"
    say(f"{_stamp()} finished {sha}: {outcome}")


def _is_ours(hook: Path) -> bool:
    try:
        with hook.open("rb") as handle:
            return MARKER.encode() in handle.read(512)
    except OSError:
        return False


def _embedded_python(hook: Path) -> str | None:
    m = _PYTHON_LINE.search(hook.read_text(encoding="utf-8", errors="replace"))
    if m is None:
        return None
    words = shlex.split(m.group(1))
    return words[0] if words else None


def _write_script(hook: Path, text: str) -> None:
    """Atomically, so git never runs half a hook."""
    fd, tmp = tempfile.mkstemp(prefix=".post-commit-", dir=hook.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o755)
    os.replace(tmp, hook)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
