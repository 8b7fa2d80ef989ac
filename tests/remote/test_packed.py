"""Remotes with a packed local store: objects travel out of packs and into packs, and the
remote keeps each object as a loose file, byte for byte."""

from __future__ import annotations

from pathlib import Path

from helixvcs.store import DiskObjectStore
from tests.conftest import GitRepo
from tests.remote.conftest import RemoteUrl, make_clone


def store_of(repo: GitRepo) -> DiskObjectStore:
    return DiskObjectStore(repo.path / ".helix" / "objects", hot=False)


def loose_files(store: DiskObjectStore) -> list[Path]:
    return [p for p in store.root.glob("??/*") if p.is_file()]


def test_push_and_pull_with_packed_stores(team: tuple[GitRepo, RemoteUrl], tmp_path: Path) -> None:
    a, remote = team
    ran = a.helix_json("run")
    a.helix_json("gc", "--max-size", "1TB")  # A's small objects go into a pack
    mine = store_of(a)
    assert loose_files(mine) == [] and len(mine.packs.indexes()) == 1
    kept = {n["key"] for n in ran["nodes"] if n["materialized"]}
    assert len(kept) == 4

    pushed = a.helix_json("push")
    assert pushed["objects"] == 4
    if remote.root is not None:  # the remote keeps loose objects, as the store wrote them
        for key in kept:
            assert (remote.root / "objects" / key[:2] / key[2:]).read_bytes() == (
                mine.read_object(key)
            )

    b = make_clone(a, tmp_path / "b")
    pulled = b.helix_json("pull", "--objects")
    assert pulled["objects"] == 4
    theirs = store_of(b)
    assert loose_files(theirs) == []  # a pull writes its small objects as one pack
    assert len(theirs.packs.indexes()) == 1 and set(theirs.keys()) == kept
    mine_run = b.helix_json("run", "HEAD")
    assert [n["name"] for n in mine_run["nodes"] if n["state"] == "compute"] == []
    assert mine_run["metrics"] == ran["metrics"]
    assert b.helix_json("fsck")["ok"]
