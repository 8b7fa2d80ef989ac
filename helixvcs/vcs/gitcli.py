"""What helix asks of the ``git`` binary itself: commits and the hooks folder.

A commit made for the user (``helix commit-and-run``) must be exactly the commit ``git
commit`` would make: the user's identity, configuration, signing, templates and hooks
all apply. Re-implementing that with dulwich would drift from git in a hundred small
ways, so helix runs ``git commit`` and only reads the result. Likewise the folder git
runs hooks from (``core.hooksPath``, relative to the work tree, or the common git dir
of a linked worktree) is asked of git: ``git rev-parse --git-path hooks``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from helixvcs.errors import UserInputError


class GitFailed(UserInputError):
    """``git`` refused (nothing to commit, a hook said no, bad arguments) or is missing."""

    def __init__(self, message: str, stderr: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr
        self.reason = reason or message


# Where an inherited variable would point git at another repository, index or work tree
# (a hook's environment sets some of them): reads name their repository explicitly.
_LOCATION_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PREFIX", "GIT_COMMON_DIR")


@dataclass(frozen=True)
class GitCommit:
    """A commit git just made, and what git printed while making it."""

    sha: str
    stdout: str  # "[main 1a2b3c4] message" and the diffstat, as git prints them
    stderr: str  # hook output and warnings


def git_commit(
    root: Path,
    message: str,
    *,
    all: bool = False,
    paths: Sequence[str] = (),
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> GitCommit:
    """``git commit -m MESSAGE [-a] [-- PATHS]``; the full sha of the new commit.

    ``paths`` are pathspecs as the user typed them, so git runs in ``cwd`` when that is
    inside the work tree at ``root`` (as if the user had typed ``git commit`` there),
    else at ``root``. ``env`` is added to this process's environment.
    """
    args = ["commit", "-m", message, *(["-a"] if all else []), *(["--", *paths] if paths else [])]
    where = cwd if cwd is not None and _inside(cwd, root) else root
    done = _git(args, where, env)
    if done.returncode != 0:
        reason = _last_line(done.stderr) or _last_line(done.stdout) or f"exit {done.returncode}"
        raise GitFailed(f"git commit failed: {reason}")
    head = _git(["rev-parse", "--verify", "HEAD"], root, env)
    return GitCommit(sha=head.stdout.strip(), stdout=done.stdout, stderr=done.stderr)


def hooks_dir(root: Path) -> Path:
    """The folder git runs this work tree's hooks from (honours ``core.hooksPath``)."""
    done = _git(["rev-parse", "--git-path", "hooks"], root)
    if done.returncode != 0:
        raise GitFailed(
            f"git rev-parse --git-path hooks failed in {root}: {_last_line(done.stderr)}"
        )
    return Path(os.path.normpath(root / done.stdout.strip()))


def read_git(
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    umask: int = -1,
) -> str:
    """``git ARGS`` in ``cwd``, reading: its stdout, or ``GitFailed`` with git's reason.

    Inherited ``GIT_DIR``-like variables are dropped, so git finds the repository of
    ``cwd`` unless ``env`` names one; output is decoded as UTF-8 with surrogate escapes,
    so that any path git prints survives (``os.fsencode`` gives its bytes back).
    ``umask``: for git's process (what it writes), when not -1.
    """
    base = {k: v for k, v in os.environ.items() if k not in _LOCATION_ENV}
    done = _run(args, cwd, {**base, **(env or {})}, stdin=stdin, umask=umask)
    stderr = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        reason = _last_line(stderr) or f"exit {done.returncode}"
        raise GitFailed(f"git {args[0]} failed in {cwd}: {reason}", stderr, reason)
    return done.stdout.decode("utf-8", "surrogateescape")


def _git(
    args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``git ARGS`` as the user's own command: their whole environment, text output."""
    done = _run(args, cwd, {**os.environ, **env} if env else None)
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def _run(
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None,
    *,
    stdin: str | None = None,
    umask: int = -1,
) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            input=stdin.encode("utf-8", "surrogateescape") if stdin is not None else None,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            check=False,
            umask=umask,
        )
    except FileNotFoundError:
        raise GitFailed("the git command is not installed or not on PATH; install git") from None


def _inside(path: Path, root: Path) -> bool:
    return Path(path).resolve().is_relative_to(Path(root).resolve())


def _last_line(text: str) -> str:
    """git's last word on the matter, without its own ``error:`` / ``fatal:`` prefix."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    for prefix in ("error: ", "fatal: "):
        last = last.removeprefix(prefix)
    return last
