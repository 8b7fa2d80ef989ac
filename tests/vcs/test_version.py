"""working_version: commit, label, branch and metadata; dirtiness and its fingerprint."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from helixvcs.vcs import Version, working_version

TOOLS = ["git", "dulwich"]


@pytest.mark.parametrize("tool", TOOLS)
def test_clean_repository(scm_gen, git, tool: str) -> None:
    root = scm_gen({"workflow.py": "x = 1\n"}, commit="Census workflow\n\nbody", tool=tool)
    version = working_version(root)
    sha = git(root, "rev-parse", "HEAD").strip()
    assert version == Version(
        commit=sha,
        revision=sha[:7],
        dirty=False,
        fingerprint=None,
        branch="main",
        subject="Census workflow",
        author="A U Thor <author@example.com>",
        time=version.time,
    )
    assert isinstance(version.time, datetime)
    assert int(version.time.timestamp()) == int(git(root, "log", "-1", "--format=%ct"))
    assert version.time.utcoffset() is not None


@pytest.mark.parametrize("tool", TOOLS)
def test_no_commits_yet(scm_gen, tool: str) -> None:
    root = scm_gen({}, tool=tool)
    empty = working_version(root)
    assert empty == Version(None, "worktree", False, None, "main", None, None, None)

    scm_gen({"workflow.py": "x = 1\n"}, tool=tool)
    with_file = working_version(root)
    assert with_file.revision == "worktree"
    assert with_file.commit is None
    assert with_file.dirty
    assert with_file.fingerprint is not None


def test_detached_head(scm_gen, git) -> None:
    root = scm_gen({"a.txt": "1"}, commit="one")
    first = git(root, "rev-parse", "HEAD").strip()
    scm_gen({"a.txt": "2"}, commit="two")
    git(root, "checkout", "-q", "--detach", first)
    version = working_version(root)
    assert version.branch is None
    assert version.commit == first
    assert version.subject == "one"
    assert not version.dirty


def test_other_branch(scm_gen, git) -> None:
    root = scm_gen({"a.txt": "1"}, commit="one")
    git(root, "checkout", "-q", "-b", "experiment/c-sweep")
    assert working_version(root).branch == "experiment/c-sweep"


def test_modified_file_is_dirty_until_reverted(scm_gen) -> None:
    root = scm_gen({"workflow.py": "x = 1\n"}, commit="init")
    clean = working_version(root)
    (root / "workflow.py").write_text("x = 2\n")
    dirty = working_version(root)
    assert dirty.dirty
    assert dirty.commit == clean.commit
    assert dirty.revision == f"{clean.revision}+dirty"
    assert dirty.fingerprint is not None and len(dirty.fingerprint) == 40
    assert dirty.subject == clean.subject

    (root / "workflow.py").write_text("x = 1\n")
    assert working_version(root) == clean


def test_fingerprint_is_stable_and_follows_content(scm_gen) -> None:
    root = scm_gen({"workflow.py": "x = 1\n", "lib/m.py": "y = 1\n"}, commit="init")
    (root / "workflow.py").write_text("x = 2\n")
    first = working_version(root).fingerprint
    assert working_version(root).fingerprint == first

    (root / "workflow.py").write_text("x = 3\n")
    other = working_version(root).fingerprint
    assert other != first

    (root / "workflow.py").write_text("x = 2\n")  # back to the first edit
    assert working_version(root).fingerprint == first

    (root / "lib" / "m.py").write_text("y = 2\n")  # a second changed file
    assert working_version(root).fingerprint not in {first, other}


def test_fingerprint_does_not_depend_on_staging(scm_gen, git) -> None:
    root = scm_gen({"workflow.py": "x = 1\n"}, commit="init")
    scm_gen({"workflow.py": "x = 2\n", "new.py": "z = 1\n"})
    unstaged = working_version(root).fingerprint
    git(root, "add", "-A")
    assert working_version(root).fingerprint == unstaged


def test_same_edit_in_two_clones_has_the_same_fingerprint(scm_gen, git, tmp_path: Path) -> None:
    root = scm_gen({"workflow.py": "x = 1\n"}, commit="init")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(root), str(clone))
    for repo in (root, clone):
        (repo / "workflow.py").write_text("x = 2\n")
    assert working_version(root).fingerprint == working_version(clone).fingerprint


def test_deletion_is_dirty(scm_gen) -> None:
    root = scm_gen({"workflow.py": "x = 1\n", "old.py": "o = 1\n"}, commit="init")
    (root / "old.py").unlink()
    deleted = working_version(root)
    assert deleted.dirty
    (root / "old.py").write_text("")
    emptied = working_version(root)
    assert emptied.dirty
    assert emptied.fingerprint != deleted.fingerprint


def test_untracked_file_is_dirty_but_ignored_files_are_not(scm_gen) -> None:
    root = scm_gen(
        {"workflow.py": "x = 1\n", ".gitignore": ".helix/\n*.log\n__pycache__/\n"},
        commit="init",
    )
    scm_gen(
        {
            ".helix/objects/ab/cdef": b"\x00" * 64,
            "run.log": "noise",
            "lib/__pycache__/m.cpython-311.pyc": b"\x00",
        }
    )
    assert not working_version(root).dirty

    scm_gen({"lib/new.py": "n = 1\n"})
    untracked = working_version(root)
    assert untracked.dirty
    scm_gen({"lib/new.py": "n = 2\n"})
    assert working_version(root).fingerprint != untracked.fingerprint


def test_tracked_file_under_an_ignore_pattern_still_counts(scm_gen, git) -> None:
    root = scm_gen({"config.log": "v1", "workflow.py": "x = 1\n"}, commit="init")
    scm_gen({".gitignore": "*.log\n"}, commit="ignore logs")
    assert not working_version(root).dirty
    (root / "config.log").write_text("v2")
    assert working_version(root).dirty


def test_symlink_is_fingerprinted_by_target(scm_gen) -> None:
    root = scm_gen({"a.txt": "a", "b.txt": "b"}, commit="init")
    (root / "link").symlink_to("a.txt")
    to_a = working_version(root).fingerprint
    (root / "link").unlink()
    (root / "link").symlink_to("b.txt")
    assert working_version(root).fingerprint != to_a


def test_a_stat_cache_gives_the_same_fingerprint_without_rereading(scm_gen, tmp_path) -> None:
    from helixvcs.hashing import StatCache

    root = scm_gen({"workflow.py": "x = 1\n"}, commit="init")
    (root / "workflow.py").write_text("x = 2\n")
    (root / "big.csv").write_bytes(b"1,2\n" * 100_000)  # untracked, not ignored
    cache = StatCache(tmp_path / "statcache.json")
    plain = working_version(root).fingerprint
    assert working_version(root, cache.file_digest).fingerprint == plain
    assert len(cache) == 2  # both changed files went through the cache
    (root / "big.csv").write_bytes(b"1,3\n" * 100_000)
    assert working_version(root, cache.file_digest).fingerprint == working_version(root).fingerprint
    assert working_version(root).fingerprint != plain
