"""Shared fixtures: real git repositories in temporary directories, and the CLI.

``git_repo.gen({...}, commit="msg")`` writes files and commits them with the git binary,
in one line (after DVC's ``tmp_dir.scm_gen``). ``git_repo.helix(...)`` runs the CLI
in-process with click's runner; ``git_repo.helix_proc(...)`` runs it as a real process.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from helixvcs.cli import cli

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada Tester",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Tester",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@dataclass
class GitRepo:
    path: Path

    def git(self, *args: str) -> str:
        env = {**os.environ, **GIT_ENV, "HOME": str(self.path.parent)}
        out = subprocess.run(
            ["git", *args], cwd=self.path, env=env, check=True, capture_output=True, text=True
        )
        return out.stdout.strip()

    def write(self, files: dict[str, str | bytes]) -> None:
        for rel, content in files.items():
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(textwrap.dedent(content), encoding="utf-8")

    def gen(self, files: dict[str, str | bytes], commit: str | None = None) -> str | None:
        self.write(files)
        return self.commit(commit) if commit else None

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def edit(self, rel: str, old: str, new: str) -> None:
        path = self.path / rel
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {rel}"
        path.write_text(text.replace(old, new), encoding="utf-8")

    def helix(self, *args: str, code: int | None = 0) -> Result:
        result = CliRunner().invoke(cli, ["--repo", str(self.path), *args], catch_exceptions=False)
        if code is not None:
            assert result.exit_code == code, (
                f"exit {result.exit_code} != {code}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def helix_json(self, *args: str, code: int | None = 0) -> Any:
        return json.loads(self.helix(*args, "--json", code=code).stdout)

    def helix_proc(self, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "helixvcs", "--repo", str(self.path), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **kwargs,
        )


# A warm server's socket lives in its repository (``.helix/server/ENV/sock``), and a Unix
# socket's path has at most 107 bytes: pytest's own temporary folders, with a worker's
# ``popen-gwN/`` added by pytest-xdist, leave too little. The session's folder is a short
# one of its own instead (its workers' folders go inside it), removed after a session
# that passed and kept for a look after one that failed.
_SHORT_BASETEMP = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        config.option.basetemp = tempfile.mkdtemp(prefix="hx-")
        config.stash[_SHORT_BASETEMP] = config.option.basetemp


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    folder = session.config.stash.get(_SHORT_BASETEMP, None)
    if folder is not None and exitstatus == 0:
        shutil.rmtree(folder, ignore_errors=True)


# helix starts a warm server by itself (server = "auto"); the suite's hundreds of
# repositories would start hundreds. Commands run in their own process unless a test of
# the server asks for one (HELIX_SERVER=explain), and every server the suite starts is
# registered in a folder of its own and stopped at the end.
os.environ["HELIX_SERVER"] = "0"


@pytest.fixture(scope="session", autouse=True)
def server_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("runtime")
    folder.chmod(0o700)
    before = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = str(folder)
    try:
        yield folder
    finally:
        from helixvcs import servers as registry

        for entry in registry.running():
            with contextlib.suppress(OSError):
                os.kill(entry.pid, signal.SIGTERM)
        if before is None:
            os.environ.pop("XDG_RUNTIME_DIR", None)
        else:
            os.environ["XDG_RUNTIME_DIR"] = before


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepo:
    path = tmp_path / "repo"
    path.mkdir()
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    return repo


@pytest.fixture
def isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's git configuration (signing, hooks, identity) out of the tests."""
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith("GIT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def toy(git_repo: GitRepo) -> GitRepo:
    """The toy workflow of ``tests/integration/toy.py``, committed, with ``.helix/``
    initialized and ignored. Modules that need another start define their own ``toy``."""
    from tests.integration.toy import FILES

    git_repo.gen(FILES, commit="toy workflow")
    git_repo.helix("init")
    git_repo.commit("ignore .helix/")
    return git_repo
