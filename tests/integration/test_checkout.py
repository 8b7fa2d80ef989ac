"""A run of a commit sees what a checkout of that commit would: LFS data through the
repository's filter or its LFS store, line endings as core.autocrlf writes them,
submodules at their pinned commits, and history that shallow and partial clones have.

Every repository here is real: filters configured in it, clones made with ``git clone``
from ``file://`` remotes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helixvcs.vcs import working_version
from tests.conftest import GitRepo
from tests.integration.toy import FILES, TOTAL, computed

# A stand-in for git-lfs: `clean` stores the content under .git/lfs/objects and prints a
# pointer; `smudge` prints the object a pointer names, and fails when it is not there.
FAKE_LFS = r"""
import hashlib, pathlib, sys
mode, store = sys.argv[1], pathlib.Path(sys.argv[2])
data = sys.stdin.buffer.read()
spec = b"version https://git-lfs.github.com/spec/v1\n"
if mode == "clean":
    if data.startswith(spec):
        sys.stdout.buffer.write(data)
        sys.exit(0)
    oid = hashlib.sha256(data).hexdigest()
    path = store / oid[:2] / oid[2:4] / oid
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    sys.stdout.buffer.write(spec + b"oid sha256:%s\nsize %d\n" % (oid.encode(), len(data)))
else:
    if not data.startswith(spec):
        sys.stdout.buffer.write(data)
        sys.exit(0)
    oid = data.split(b"oid sha256:")[1].split(b"\n")[0].decode()
    path = store / oid[:2] / oid[2:4] / oid
    if not path.exists():
        sys.stderr.write(f"object {oid} not found\n")
        sys.exit(2)
    sys.stdout.buffer.write(path.read_bytes())
"""

WORDS = """\
from helixvcs import Workflow

wf = Workflow("words")


@wf.source("data/corpus.txt")
def text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


@wf.metric
def words(text):
    return float(len(text.split()))
"""
CORPUS = "the quick brown fox jumps over the lazy dog again and again\n" * 3  # 36 words


def _lfs_filter(repo: GitRepo, script: Path) -> None:
    store = repo.path / ".git" / "lfs" / "objects"
    for mode in ("clean", "smudge"):
        repo.git("config", f"filter.lfs.{mode}", f"{sys.executable} {script} {mode} {store}")
    repo.git("config", "filter.lfs.required", "true")


@pytest.fixture
def lfs(git_repo: GitRepo, tmp_path: Path) -> GitRepo:
    script = tmp_path / "fake_lfs.py"
    script.write_text(FAKE_LFS)
    _lfs_filter(git_repo, script)
    git_repo.gen(
        {
            ".gitattributes": "data/*.txt filter=lfs diff=lfs merge=lfs -text\n",
            "workflow.py": WORDS,
            "data/corpus.txt": CORPUS,
        },
        commit="words",
    )
    git_repo.helix("init")
    git_repo.commit("ignore .helix/")
    blob = git_repo.git("cat-file", "-p", "HEAD:data/corpus.txt")
    assert blob.startswith("version https://git-lfs.github.com/spec/v1")  # LFS is at work
    return git_repo


def _unset_lfs_filter(repo: GitRepo) -> None:
    repo.git("config", "--remove-section", "filter.lfs")


def test_an_lfs_file_is_smudged_and_keyed_as_in_the_working_tree(lfs: GitRepo) -> None:
    tree = lfs.helix_json("run")
    assert tree["revision"] == lfs.git("rev-parse", "--short=7", "HEAD")  # clean, not +dirty
    assert tree["metrics"] == {"words": 36.0}
    commit = lfs.helix_json("run", "HEAD")
    assert commit["metrics"] == {"words": 36.0}
    assert [n["key"] for n in commit["nodes"]] == [n["key"] for n in tree["nodes"]]


def test_without_the_filter_lfs_data_comes_from_the_lfs_store(lfs: GitRepo) -> None:
    _unset_lfs_filter(lfs)  # as where git-lfs is not installed
    assert lfs.helix_json("run", "HEAD")["metrics"] == {"words": 36.0}


@pytest.mark.parametrize("installed", [True, False], ids=["filter", "no-filter"])
def test_missing_lfs_data_names_the_file_and_git_lfs_pull(lfs: GitRepo, installed: bool) -> None:
    shutil.rmtree(lfs.path / ".git" / "lfs")
    if not installed:
        _unset_lfs_filter(lfs)
    error = lfs.helix("run", "HEAD", code=2).stderr
    assert "data/corpus.txt" in error and "git lfs pull" in error
    assert len(error.strip().splitlines()) == 1
    assert not list((lfs.path / ".helix" / "trees").glob("*/data"))  # no half tree kept


def _autocrlf_clone(git_repo: GitRepo, tmp_path: Path) -> GitRepo:
    git_repo.gen({**FILES, ".gitignore": ".helix/\n"}, commit="toy")
    clone = GitRepo(tmp_path / "crlf")
    subprocess.run(
        ["git", "-c", "core.autocrlf=true", "clone", "-q", str(git_repo.path), str(clone.path)],
        check=True,
    )
    clone.git("config", "core.autocrlf", "true")
    assert (clone.path / "data" / "points.csv").read_bytes() == FILES["data/points.csv"].replace(
        "\n", "\r\n"
    ).encode()
    clone.helix("init")
    return clone


def test_autocrlf_checkout_and_commit_have_the_same_keys(git_repo, tmp_path) -> None:
    clone = _autocrlf_clone(git_repo, tmp_path)
    tree = clone.helix_json("run")
    assert tree["commit"] is not None  # the CRLF checkout is its commit, not a dirty tree
    commit = clone.helix_json("run", "HEAD")
    assert commit["metrics"]["total"] == TOTAL
    assert {n["name"]: n["key"] for n in commit["nodes"]} == {
        n["name"]: n["key"] for n in tree["nodes"]
    }
    assert computed(commit) == set()
    diff = clone.helix_json("diff", "HEAD")
    assert diff["changed"] == [] and diff["added"] == [] and diff["removed"] == []


FEATLIB = """\
def weight():
    return 3.0
"""
USES_FEATLIB = """\
from featlib import weight
from helixvcs import Workflow

wf = Workflow("sub")


@wf.op
def w():
    return weight()


@wf.metric
def m(w):
    return 2 * w
"""


def _with_submodule(git_repo: GitRepo, tmp_path: Path) -> GitRepo:
    lib = GitRepo(tmp_path / "featlib")
    lib.path.mkdir()
    lib.git("init", "-q", "-b", "main")
    lib.gen({"__init__.py": FEATLIB}, commit="weight 3")
    git_repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib.path))
    git_repo.gen({"workflow.py": USES_FEATLIB, ".gitignore": ".helix/\n"}, commit="use featlib")
    git_repo.helix("init")
    return git_repo


def test_a_submodule_is_checked_out_at_its_pinned_commit(git_repo, tmp_path) -> None:
    repo = _with_submodule(git_repo, tmp_path)
    sub = GitRepo(repo.path / "featlib")
    sub.edit("__init__.py", "3.0", "4.0")
    sub.commit("weight 4")  # the working tree's submodule moves on; the commit pins 3
    assert repo.helix_json("run", "HEAD")["metrics"] == {"m": 6.0}
    assert repo.helix_json("run")["metrics"] == {"m": 8.0}


def test_a_submodule_that_is_not_initialized_is_named(git_repo, tmp_path) -> None:
    _with_submodule(git_repo, tmp_path)
    clone = GitRepo(tmp_path / "clone")
    subprocess.run(["git", "clone", "-q", str(git_repo.path), str(clone.path)], check=True)
    clone.helix("init")
    error = clone.helix("run", "HEAD", code=2).stderr
    assert "submodule 'featlib'" in error and "git submodule update --init" in error


def test_submodule_states_are_versions_and_its_code_is_keyed_by_ast(git_repo, tmp_path) -> None:
    repo = _with_submodule(git_repo, tmp_path)
    sub = GitRepo(repo.path / "featlib")
    pinned = repo.helix_json("run")
    assert pinned["commit"] is not None and working_version(repo.path).fingerprint is None

    sub.edit("__init__.py", "    return 3.0", "    # a comment\n    return 3.0")
    commented = repo.helix_json("run")
    assert commented["revision"].endswith("+dirty")  # an uncommitted edit in the submodule
    keys = {n["name"]: n["key"] for n in pinned["nodes"]}
    assert {n["name"]: n["key"] for n in commented["nodes"]} == keys  # a comment is no change
    first = working_version(repo.path).fingerprint

    sub.commit("a comment")  # the submodule is at another commit now, and clean
    second = working_version(repo.path).fingerprint
    sub.edit("__init__.py", "3.0", "5.0")
    third = working_version(repo.path).fingerprint
    assert len({first, second, third} - {None}) == 3
    assert repo.helix_json("run")["metrics"] == {"m": 10.0}

    sub.git("checkout", "-q", "--", ".")
    sub.git("checkout", "-q", "HEAD~1")  # back at the pinned commit: the clean version again
    assert working_version(repo.path).fingerprint is None


def _origin(git_repo: GitRepo) -> list[str]:
    """The toy workflow over four commits, each moving ``total``; their shas, oldest first."""
    git_repo.git("config", "uploadpack.allowFilter", "true")
    shas = [git_repo.gen({**FILES, ".gitignore": ".helix/\n"}, commit="toy")]
    for shift in ("2.0", "3.0", "4.0"):
        git_repo.write({"toylib.py": FILES["toylib.py"].replace("1.0", shift)})
        shas.append(git_repo.commit(f"shift {shift}"))
    return [s for s in shas if s]


def _clone(origin: GitRepo, tmp_path: Path, *flags: str) -> GitRepo:
    clone = GitRepo(tmp_path / "clone")
    subprocess.run(
        ["git", "clone", "-q", *flags, f"file://{origin.path}", str(clone.path)], check=True
    )
    clone.helix("init")
    return clone


SHALLOW = "not in this shallow clone"


def test_a_shallow_clone_stops_history_at_its_boundary(git_repo, tmp_path) -> None:
    shas = _origin(git_repo)
    clone = _clone(git_repo, tmp_path, "--depth", "2")
    for args in (
        ("run", "HEAD~2"),
        ("plan", "HEAD~3"),
        ("diff", "HEAD~2", "HEAD"),
        ("bisect", "total", "--good", "HEAD~3", "--bad", "HEAD"),
        ("explain", "total", "HEAD~2", "HEAD"),
    ):
        error = clone.helix(*args, code=2).stderr
        assert SHALLOW in error and "git fetch --unshallow" in error, args
    assert "git fetch --unshallow" in clone.helix("run", shas[0], code=2).stderr

    blame = clone.helix("blame-metric", "total").stdout
    assert f"history stops at {shas[2][:7]}" in blame and SHALLOW in blame
    assert clone.helix_json("blame-metric", "total")["walked"] == 2
    plot = clone.helix("plot", "total", "-o", str(tmp_path / "p.png")).stdout
    assert SHALLOW in plot


def test_a_partial_clone_fetches_blobs_as_git_does(git_repo, tmp_path) -> None:
    _origin(git_repo)
    clone = _clone(git_repo, tmp_path, "--filter=blob:none")
    assert clone.helix_json("run", "HEAD~2")["metrics"]["total"] == TOTAL + 3  # SHIFT 2.0

    git_repo.path.rename(git_repo.path.with_name("gone"))  # the promisor is unreachable now
    error = clone.helix("run", "HEAD~3", code=2).stderr
    assert "partial clone" in error and "'origin'" in error
    missing = clone.git("rev-parse", "HEAD~3:toylib.py")
    assert missing in error


def test_exported_files_are_those_of_a_real_checkout(git_repo, tmp_path) -> None:
    """Checked against ``git worktree add``: git's own checkout of the same commit."""
    git_repo.gen(
        {
            ".gitattributes": "*.txt text eol=crlf\n*.bin binary\n",
            "a.txt": "one\ntwo\n",
            "b.bin": b"\x00\r\n\x01",
            "tool.sh": "#!/bin/sh\n",
            "workflow.py": "x = 1\n",
        },
        commit="files",
    )
    (git_repo.path / "tool.sh").chmod(0o755)
    sha = git_repo.commit("executable")
    from helixvcs.vcs import export_tree

    exported = export_tree(git_repo.path, sha, tmp_path / "trees")
    git_repo.git("worktree", "add", "-q", "--detach", str(tmp_path / "real"), sha)
    real = tmp_path / "real"
    for name in ("a.txt", "b.bin", "tool.sh", "workflow.py"):
        assert (exported / name).read_bytes() == (real / name).read_bytes(), name
    assert (exported / "a.txt").read_bytes() == b"one\r\ntwo\r\n"
    assert (exported / "tool.sh").stat().st_mode & 0o100
    assert export_tree(git_repo.path, sha, tmp_path / "trees") == exported  # reused
    git_repo.git("config", "core.autocrlf", "true")  # other checkout rules: another tree
    assert export_tree(git_repo.path, sha, tmp_path / "trees") != exported


def test_a_mode_change_alone_is_not_a_change(git_repo: GitRepo) -> None:
    git_repo.gen({"workflow.py": "x = 1\n"}, commit="one")
    (git_repo.path / "workflow.py").chmod(0o755)
    assert not working_version(git_repo.path).dirty
    git_repo.git("add", "workflow.py")
    assert not working_version(git_repo.path).dirty
    (git_repo.path / "workflow.py").write_text("x = 2\n")
    assert working_version(git_repo.path).dirty
