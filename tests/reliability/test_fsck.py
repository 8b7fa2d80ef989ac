"""The corruption matrix of ``helix fsck``: each damage is recovered by a run, or reported
with the command that repairs it; after ``helix fsck --repair`` the store verifies, the
index opens, and a run gives the reference metrics.

helix runs here as a real process. When the suite runs as root, the process is started
without the capabilities that let root read any file (``setpriv``), so that "cannot be
read" means what it means for everyone else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.integration.toy import FILES, TOTAL
from tests.reliability.conftest import (
    check_index,
    check_store,
    object_path,
    objects_dir,
    pack_all,
    packed_entry,
)

_NO_OVERRIDE = "-dac_override,-dac_read_search"
_DROP = ["setpriv", f"--inh-caps={_NO_OVERRIDE}", f"--bounding-set={_NO_OVERRIDE}"]


def helix(repo, *args: str) -> subprocess.CompletedProcess[str]:
    prefix = _DROP if os.geteuid() == 0 and shutil.which("setpriv") else []
    env = {k: v for k, v in os.environ.items() if k != "HELIX_DEBUG"}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "helixvcs", "--repo", str(repo.path), *args],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip(path):
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))


def _foreign(path):
    import duckdb

    path.unlink()
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE runs (id INTEGER, note VARCHAR)")
        con.execute("INSERT INTO runs VALUES (1, 'not helix')")


def _folder(path):
    path.unlink()
    (path / "inside").mkdir(parents=True)


def _fanout_file(path):
    shutil.rmtree(path.parent)
    path.parent.write_bytes(b"not a folder")


def _emptied_fanout(path):
    for entry in path.parent.iterdir():
        entry.unlink()


OBJECT = {
    "truncated": _truncate,
    "byte-flipped": _flip,
    "emptied": lambda p: p.write_bytes(b""),
    "deleted": lambda p: p.unlink(),
    "unreadable": lambda p: p.chmod(0),
    "replaced by a folder": _folder,
    "fan-out deleted": lambda p: shutil.rmtree(p.parent),
    "fan-out replaced by a file": _fanout_file,
    "fan-out unreadable": lambda p: p.parent.chmod(0),
    "fan-out emptied": _emptied_fanout,
}


def _flip_packed(pack, offset, length):
    data = bytearray(pack.read_bytes())
    data[offset + length - 5] ^= 0xFF
    pack.write_bytes(bytes(data))


def _flip_pack_index(pack, offset, length):
    index = pack.with_suffix(".idx")
    data = bytearray(index.read_bytes())
    data[len(data) // 2] ^= 0xFF  # somewhere in its entries
    index.write_bytes(bytes(data))


#: Damage to the pack that holds the metric's object (``helix gc`` packed the store).
PACKED = {
    "packed object byte-flipped": _flip_packed,
    "pack truncated": lambda pack, offset, length: _truncate(pack),
    "pack emptied": lambda pack, offset, length: pack.write_bytes(b""),
    "pack deleted": lambda pack, offset, length: pack.unlink(),
    "pack unreadable": lambda pack, offset, length: pack.chmod(0),
    "pack index byte-flipped": _flip_pack_index,
    "pack index deleted": lambda pack, offset, length: pack.with_suffix(".idx").unlink(),
    "pack index unreadable": lambda pack, offset, length: pack.with_suffix(".idx").chmod(0),
}
INDEX = {
    "index truncated": _truncate,
    "index emptied": lambda p: p.write_bytes(b""),
    "index foreign": _foreign,
    "index garbage": lambda p: p.write_bytes(os.urandom(4096)),
}
CASES = [*OBJECT, *PACKED, *INDEX]


@pytest.mark.parametrize("case", CASES)
def test_each_damage_is_recovered_or_reported_with_its_repair(git_repo, case):
    git_repo.gen(FILES, commit="toy")
    git_repo.helix("init")
    first = git_repo.helix_json("run", "--materialize", "all")
    key = next(n["key"] for n in first["nodes"] if n["name"] == "total")
    if case in OBJECT:
        OBJECT[case](object_path(git_repo, key))
    elif case in PACKED:
        pack_all(git_repo)
        PACKED[case](*packed_entry(git_repo, key))
    else:
        INDEX[case](git_repo.path / ".helix" / "index.duckdb")

    checked = helix(git_repo, "fsck")
    assert checked.returncode in (0, 2) and "Traceback" not in checked.stderr, checked
    if checked.returncode == 2:
        assert "helix fsck --repair" in checked.stdout, checked.stdout
    doc = json.loads(helix(git_repo, "fsck", "--json").stdout)
    assert doc["ok"] == (checked.returncode == 0)

    ran = helix(git_repo, "run", "--json")
    assert ran.returncode in (0, 2) and "Traceback" not in ran.stderr, ran
    if ran.returncode == 0:  # recovered by itself
        assert json.loads(ran.stdout)["metrics"]["total"] == TOTAL
    else:  # one line that names the repair
        errors = [line for line in ran.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and "helix fsck --repair" in errors[0], ran.stderr

    repaired = helix(git_repo, "fsck", "--repair")
    assert repaired.returncode == 0, repaired
    again = helix(git_repo, "fsck", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["problems"] == [], again.stdout
    after = helix(git_repo, "run", "--json")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["metrics"]["total"] == TOTAL
    check_store(git_repo)
    check_index(git_repo)
    if case in INDEX and case != "index emptied":  # moved aside, never deleted
        assert list((git_repo.path / ".helix").glob("index.duckdb.bad-*")), case


def test_fsck_without_repair_changes_nothing(git_repo):
    git_repo.gen(FILES, commit="toy")
    git_repo.helix("init")
    first = git_repo.helix_json("run", "--materialize", "all")
    key = next(n["key"] for n in first["nodes"] if n["name"] == "total")
    _flip(object_path(git_repo, key))
    before = {p: p.read_bytes() for p in objects_dir(git_repo).rglob("*") if p.is_file()}
    result = helix(git_repo, "fsck", "--json")
    assert result.returncode == 2
    doc = json.loads(result.stdout)
    assert [p["key"] for p in doc["problems"]] == [key]
    assert doc["problems"][0]["problem"] == "a damaged object (checksum mismatch)"
    assert doc["problems"][0]["repaired"] is False
    after = {p: p.read_bytes() for p in objects_dir(git_repo).rglob("*") if p.is_file()}
    assert after == before


def test_fsck_needs_an_initialized_repository(git_repo):
    git_repo.gen(FILES, commit="toy")
    result = helix(git_repo, "fsck")
    assert result.returncode == 2 and "helix init" in result.stderr
