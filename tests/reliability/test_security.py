"""Case 6, security: paths stay inside ``.helix/``, the store is private, pickles load only
when they are the object this repository recorded, hooks run only the commit just made,
and no command but ``commit-and-run`` writes to git.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import subprocess

import pytest

from helixvcs.errors import UserInputError
from helixvcs.store import DiskObjectStore
from helixvcs.store.objectfile import pack
from tests.integration.toy import FILES, TOTAL
from tests.reliability.conftest import error_line, helix_run, object_path, objects_dir, warnings

BAD_KEYS = [
    "../../../../etc/passwd",
    "ab/../../../../../tmp/x",
    "/etc/passwd",
    "0" * 39 + "\n",
    "A" * 40,
    "0" * 41,
    "..",
    "",
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_no_object_id_can_name_a_path_outside_the_store(tmp_path, key):
    store = DiskObjectStore(tmp_path / "objects")
    for use in (store.path, store.has, store.get, store.info, store.delete):
        with pytest.raises(UserInputError, match="invalid object key"):
            use(key)
    with pytest.raises(UserInputError):
        store.put(key, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["objects"]


@pytest.mark.parametrize("name", ["../../../etc/passwd", "raw/../xs", ".helix"])
def test_no_operator_name_reaches_a_path(toy, name):
    line = error_line(toy.helix("show", name, code=2).stderr)
    assert "no operator named" in line


@pytest.mark.parametrize("sha", ["HEAD", "main", "../../../../tmp/evil", "f" * 40])
def test_the_hook_entry_point_takes_only_the_full_sha_of_a_commit(toy, sha):
    line = error_line(toy.helix("hooks", "post-commit", sha, code=2).stderr)
    assert "full sha of a commit" in line or "unknown revision" in line
    assert not (toy.path / ".helix" / "queue").exists() or not any(
        (toy.path / ".helix" / "queue").read_text().strip() if p.is_file() else ""
        for p in (toy.path / ".helix" / "queue").iterdir()
    )
    assert not (toy.path.parent / "tmp").exists()


def test_the_hook_runs_the_commit_just_made_never_a_later_head(toy):
    toy.helix("hooks", "install")
    hook = (toy.path / ".git" / "hooks" / "post-commit").read_text()
    assert "rev-parse --verify --quiet HEAD" in hook  # resolved when git calls the hook
    assert '"$helix_sha"' in hook  # and passed on as a full sha, never as a name


def _tree_mode_bits(root):
    for path in [root, *root.rglob("*")]:
        yield path, stat.S_IMODE(path.lstat().st_mode)


def test_the_store_is_private_whatever_the_umask(git_repo):
    git_repo.gen(FILES, commit="toy")
    loose = {"preexec_fn": lambda: os.umask(0)}
    assert helix_run(git_repo, "init", **loose).returncode == 0
    git_repo.commit("ignore .helix/")
    assert helix_run(git_repo, "run", **loose).returncode == 0
    assert helix_run(git_repo, "run", "HEAD", **loose).returncode == 0
    helix = git_repo.path / ".helix"
    assert stat.S_IMODE(helix.stat().st_mode) == 0o700
    for sub in ("objects", "trees"):
        for path, mode in _tree_mode_bits(helix / sub):
            if path.is_dir():
                assert mode == 0o700, (path, oct(mode))
            else:  # objects, and the files of exported commits
                assert mode & 0o077 == 0, (path, oct(mode))
    assert any((helix / "objects").glob("??/*")) and any((helix / "trees").iterdir())
    # and everything else under .helix/: the index, its lock and gate, the configuration
    assert helix_run(git_repo, "log", **loose).returncode == 0
    for path, mode in _tree_mode_bits(helix):
        assert mode == 0o700 if path.is_dir() else mode & 0o077 == 0, (path, oct(mode))
    for name in ("index.duckdb", "index.lock", "index.gate", "config.toml"):
        assert stat.S_IMODE((helix / name).stat().st_mode) == 0o600, name


class _Planted:
    """Unpickling this runs code: it touches a marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_the_index_did_not_record_is_never_unpickled(toy):
    first = toy.helix_json("run")
    key = next(n["key"] for n in first["nodes"] if n["name"] == "total")
    marker = toy.path.parent / "pwned"
    planted = pack(_Planted(str(marker)), 3)
    object_path(toy, key).write_bytes(planted.header_bytes + planted.payload)
    assert pickle.loads(pickle.dumps(_Planted(str(marker)))) and marker.exists()  # it works
    marker.unlink()
    for command in (["run"], ["show", "total"]):
        object_path(toy, key).write_bytes(planted.header_bytes + planted.payload)
        result = toy.helix(*command)
        assert not marker.exists(), command
        assert any("checksum does not match the run index" in w for w in warnings(result.stderr))
    assert toy.helix_json("run")["metrics"]["total"] == TOTAL


def _git_state(repo) -> dict[str, str]:
    """Everything git keeps that helix must not touch: objects, refs, HEAD, the index
    (its bytes and its time stamp), config, and every file of the working tree."""
    state = {}
    git = repo.path / ".git"
    for path in sorted(repo.path.rglob("*")):
        rel = path.relative_to(repo.path).as_posix()
        if rel.startswith((".helix", ".git/hooks", ".git/logs")) or path.is_dir():
            continue
        if rel.startswith(".git/") and not rel.startswith(
            (".git/objects", ".git/refs", ".git/HEAD", ".git/packed-refs", ".git/index",
             ".git/config", ".git/ORIG_HEAD", ".git/FETCH_HEAD")
        ):  # fmt: skip
            continue
        state[rel] = hashlib.blake2b(path.read_bytes()).hexdigest()
    state["index mtime"] = str((git / "index").stat().st_mtime_ns)
    return state


def test_no_command_but_commit_and_run_writes_to_git(toy):
    toy.gen({"workflow.py": FILES["workflow.py"].replace("factor=2.0", "factor=3.0")}, "v2")
    toy.write({"notes.txt": "uncommitted\n"})  # a dirty working tree stays exactly so
    before = _git_state(toy)
    out = toy.path.parent
    for args in (
        ["run"],
        ["run", "HEAD~1"],
        ["plan"],
        ["plan", "HEAD~1"],
        ["status"],
        ["log"],
        ["show", "total"],
        ["show", "xs", "HEAD~1", "-o", str(out / "xs.pkl")],
        ["diff", "HEAD~1", "HEAD"],
        ["blame-metric", "total"],
        ["explain", "total", "HEAD~1", "HEAD"],
        ["dag", "-o", str(out / "dag.svg")],
        ["gc", "--max-size", "1MB"],
        ["hooks", "install"],
        ["hooks", "status"],
        ["hooks", "uninstall"],
    ):
        toy.helix(*args)  # each succeeds
        assert _git_state(toy) == before, args
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=toy.path, capture_output=True, text=True
    )
    assert status.stdout.strip() == "?? notes.txt"
    toy.write({"toylib.py": FILES["toylib.py"].replace("SHIFT = 1.0", "SHIFT = 2.0")})
    result = toy.helix("commit-and-run", "-a", "-m", "v3")  # the one command that commits
    assert _git_state(toy) != before and result.exit_code == 0
    assert objects_dir(toy).is_dir()
