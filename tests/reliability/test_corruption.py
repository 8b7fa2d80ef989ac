"""Case 3, corruption: a damaged, truncated, deleted or swapped object, a deleted index.

Each is noticed when the object (or the index) is used, reported in one line, and the run
recovers: it computes the value again, or starts a new index and reuses the store. A run
never returns a value other than the one its operators compute.
"""

from __future__ import annotations

import json

import pytest

from helixvcs.index import Index
from helixvcs.store import DiskObjectStore
from tests.integration.toy import TOTAL, computed, states
from tests.reliability.conftest import (
    check_store,
    error_line,
    object_path,
    objects_dir,
    pack_all,
    packed_entry,
    warnings,
)


def _flip(path):
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01
    path.write_bytes(bytes(data))


def _truncate(path):
    path.write_bytes(path.read_bytes()[:-10])


def _header(path):
    data = bytearray(path.read_bytes())
    data[6] ^= 0xFF  # the codec name: caught by the header checksum
    path.write_bytes(bytes(data))


def _delete(path):
    path.unlink()


def _swap(path):
    """A well-formed object of another value under the same key: verifies on its own, but
    it is not the object this repository stored."""
    scratch = DiskObjectStore(path.parents[2] / "scratch")
    key = path.parent.name + path.name
    scratch.put(key, 666.0)
    path.write_bytes(scratch.path(key).read_bytes())


DAMAGE = {
    "flip a payload byte": (_flip, "checksum mismatch"),
    "truncate": (_truncate, "truncated"),
    "damage the header": (_header, "header checksum mismatch"),
    "swap in another valid object": (_swap, "checksum does not match the run index"),
    "delete": (_delete, "is missing from the store"),
}


@pytest.mark.parametrize("case", DAMAGE)
def test_a_bad_object_is_reported_once_and_recomputed(toy, case):
    damage, reason = DAMAGE[case]
    first = toy.helix_json("run")
    key = next(n["key"] for n in first["nodes"] if n["name"] == "total")
    damage(object_path(toy, key))
    # nothing changed: the metric's object would be loaded, and must not be trusted
    result = toy.helix("run", "--json")
    doc = json.loads(result.stdout)
    assert doc["metrics"] == first["metrics"] and doc["metrics"]["total"] == TOTAL
    assert "total" in computed(doc)  # recomputed, not loaded
    noted = warnings(result.stderr)
    assert len(noted) == 1, result.stderr
    assert key[:12] in noted[0] and reason in noted[0], noted
    assert "Traceback" not in result.stderr
    values = check_store(toy)
    assert values[key] == TOTAL  # the right value is stored again
    again = toy.helix("run", "--json")
    assert states(json.loads(again.stdout))["total"] == "load" and not warnings(again.stderr)


def test_show_of_a_swapped_object_never_shows_the_wrong_value(toy):
    first = toy.helix_json("run")
    key = next(n["key"] for n in first["nodes"] if n["name"] == "total")
    _swap(object_path(toy, key))
    shown = toy.helix_json("show", "total")
    assert "666" not in str(shown)
    assert toy.helix_json("run")["metrics"]["total"] == TOTAL


def test_a_deleted_index_is_reported_and_a_new_one_started(toy):
    first = toy.helix_json("run")
    (toy.path / ".helix" / "index.duckdb").unlink()
    assert toy.helix_json("log") == []  # reading a missing index creates nothing
    result = toy.helix("run", "--json")
    noted = warnings(result.stderr)
    assert len(noted) == 1 and "index" in noted[0] and "was missing" in noted[0], result.stderr
    doc = json.loads(result.stdout)
    assert doc["metrics"] == first["metrics"]
    assert computed(doc) == set()  # the store survived: everything needed was loaded
    log = toy.helix_json("log")
    assert [e["status"] for e in log] == ["ok"]
    assert not warnings(toy.helix("run").stderr)  # reported once
    check_store(toy)


def test_an_unreadable_index_is_one_line_and_nothing_is_lost(toy):
    toy.helix_json("run")
    path = toy.path / ".helix" / "index.duckdb"
    path.write_bytes(b"this is not a duckdb file" * 100)
    for command in (["run"], ["log"], ["status"]):
        line = error_line(toy.helix(*command, code=2).stderr)
        assert "not a readable DuckDB database" in line and "mv " in line
    assert path.read_bytes().startswith(b"this is not")  # never deleted behind the user's back
    path.rename(path.with_name("index.duckdb.bad"))
    doc = toy.helix_json("run")
    assert doc["metrics"]["total"] == TOTAL and computed(doc) == set()


def test_the_index_records_the_checksum_that_loads_are_checked_against(toy):
    doc = toy.helix_json("run")
    store = DiskObjectStore(toy.path / ".helix" / "objects")
    recorded = Index(toy.path / ".helix" / "index.duckdb").objects()
    kept = [n["key"] for n in doc["nodes"] if n["materialized"]]
    assert kept and all(recorded[k].checksum == store.info(k).checksum for k in kept)


# --- the same damage to a packed object: that value is lost, not the pack --------------


def _in_pack(change):
    def damage(repo, key):
        pack, offset, length = packed_entry(repo, key)
        data = pack.read_bytes()
        new = change(data[offset : offset + length], key, repo)
        assert len(new) == length  # a pack whose bytes changed in place
        pack.write_bytes(data[:offset] + new + data[offset + length :])

    return damage


def _flip_bytes(obj, key, repo):
    data = bytearray(obj)
    data[-3] ^= 0x01
    return bytes(data)


def _header_bytes(obj, key, repo):
    data = bytearray(obj)
    data[6] ^= 0xFF
    return bytes(data)


def _frame(repo, key):
    pack, offset, _ = packed_entry(repo, key)
    data = bytearray(pack.read_bytes())
    data[offset - 10] ^= 0xFF  # the entry's frame: its key and length no longer verify
    pack.write_bytes(bytes(data))


def _swapped(obj, key, repo):
    """Another valid object of the same size: a float has one size whatever its value."""
    scratch = DiskObjectStore(objects_dir(repo).parent / "scratch", hot=False)
    scratch.put(key, 666.0)
    return scratch.path(key).read_bytes()


PACKED_DAMAGE = {
    "flip a packed payload byte": (_in_pack(_flip_bytes), "checksum mismatch"),
    "damage a packed header": (_in_pack(_header_bytes), "header checksum mismatch"),
    "damage the entry's frame": (_frame, "damaged entry frame"),
    "swap in another valid object": (_in_pack(_swapped), "checksum does not match the run index"),
}


@pytest.mark.parametrize("case", PACKED_DAMAGE)
def test_a_bad_packed_object_is_reported_once_and_the_rest_of_its_pack_loads(toy, case):
    damage, reason = PACKED_DAMAGE[case]
    first = toy.helix_json("run")
    pack_all(toy)
    keys = {n["name"]: n["key"] for n in first["nodes"]}
    damage(toy, keys["total"])
    result = toy.helix("run", "--json")
    doc = json.loads(result.stdout)
    assert doc["metrics"] == first["metrics"] and doc["metrics"]["total"] == TOTAL
    assert computed(doc) == {"total"}  # recomputed from its parents, loaded from the pack
    assert states(doc)["scaled"] == states(doc)["shifted"] == "load"
    noted = warnings(result.stderr)
    assert len(noted) == 1, result.stderr
    assert keys["total"][:12] in noted[0] and reason in noted[0], noted
    values = check_store(toy)
    assert values[keys["total"]] == TOTAL
    again = toy.helix("run", "--json")
    assert states(json.loads(again.stdout))["total"] == "load" and not warnings(again.stderr)
