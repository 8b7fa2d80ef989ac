"""Sources' data files through a remote, for workers that cannot read the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from helixvcs.exec import shipping
from helixvcs.store.remote import Remote, RemoteSpec


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote.open(RemoteSpec("team", str(tmp_path / "remote")), create=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "data" / "sub").mkdir(parents=True)
    (root / "data" / "a.csv").write_text("x\n1\n")
    (root / "data" / "sub" / "b.csv").write_text("x\n2\n")
    return root


def test_a_folder_arrives_laid_out_as_in_the_repository(remote: Remote, repo: Path) -> None:
    files = ("data/a.csv", "data/sub/b.csv")
    digests = shipping.upload(remote, [str(repo / f) for f in files])
    assert digests == tuple(shipping.digest((repo / f).read_bytes()) for f in files)
    stored = sorted(p.name for p in (Path(remote.root) / shipping.FILES).rglob("*") if p.is_file())
    assert stored == sorted(d[2:] for d in digests)  # content-addressed

    shipped = tuple(zip(files, digests, strict=True))
    folder = shipping.fetch(remote.spec, str(repo), shipped, str(repo / "data"))
    assert isinstance(folder, str) and not folder.startswith(str(repo))
    assert (Path(folder) / "a.csv").read_text() == "x\n1\n"
    assert (Path(folder) / "sub" / "b.csv").read_text() == "x\n2\n"
    matches = shipping.fetch(remote.spec, str(repo), shipped, [str(repo / f) for f in files])
    assert [Path(p).read_text() for p in matches] == ["x\n1\n", "x\n2\n"]  # a glob's list


def test_a_damaged_file_on_the_remote_is_refused(remote: Remote, repo: Path) -> None:
    (repo / "data" / "c.csv").write_text("x\n3\n")
    [name] = shipping.upload(remote, [str(repo / "data" / "c.csv")])
    (Path(remote.root) / shipping.file_path(remote, name)).write_text("x\n4\n")
    with pytest.raises(OSError, match=r"data/c.csv from remote 'team' .* is corrupt"):
        shipping.fetch(remote.spec, str(repo), (("data/c.csv", name),), str(repo / "data"))
    (Path(remote.root) / shipping.file_path(remote, name)).unlink()
    with pytest.raises(OSError, match=r"data/c.csv is not there on remote 'team'"):
        shipping.fetch(remote.spec, str(repo), (("data/c.csv", name),), str(repo / "data"))
