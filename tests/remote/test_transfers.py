"""How objects travel: a push sends only what the remote lacks, a small S3 remote says
what it holds in one listing, transfers keep their bytes in flight bounded and start in
order, and a pull killed mid-way leaves no torn object behind."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from pathlib import Path

import pytest

from helixvcs.store import DiskObjectStore
from helixvcs.store import remote as remote_module
from helixvcs.store.objectfile import verify
from helixvcs.store.remote import Remote, RemoteSpec
from tests.conftest import GitRepo
from tests.remote.conftest import RemoteUrl, S3Server, make_clone
from tests.remote.test_integrity import (
    check_remote_valid,
    remote_files,
    run_big_with_remote,
    write_remote_file,
)


def remove_remote_file(remote: RemoteUrl, s3: S3Server | None, rel: str) -> None:
    if remote.kind == "folder":
        assert remote.root is not None
        (remote.root / rel).unlink()
        return
    assert s3 is not None
    bucket, _, prefix = remote.url[len("s3://") :].partition("/")
    s3.client().delete_object(Bucket=bucket, Key=f"{prefix}/{rel}")


def test_a_push_sends_nothing_the_remote_has(
    team: tuple[GitRepo, RemoteUrl], s3_or_none: S3Server | None
) -> None:
    a, remote = team
    ran = a.helix_json("run")
    first = a.helix_json("push")
    assert first["objects"] == 4
    before = remote_files(remote, s3_or_none)
    manifest = f"runs/{ran['run_id']}.json"
    remove_remote_file(remote, s3_or_none, manifest)  # the run is not there: pushed again
    objects = sorted(p for p in before if p.startswith("objects/"))
    marked = objects[0]  # a push that sent it again would overwrite the mark
    write_remote_file(remote, s3_or_none, marked, b"not sent again")

    again = a.helix_json("push")
    assert again["runs"] == [ran["run_id"]]
    assert again["objects"] == 0 and again["objects_skipped"] == 4 and again["bytes"] == 0
    after = remote_files(remote, s3_or_none)
    assert after[marked] == b"not sent again"
    assert all(after[p] == before[p] for p in objects if p != marked)
    assert manifest in after


def _count_requests(remote: Remote) -> list[str]:
    """The S3 operations ``remote``'s client calls from now on (botocore's own events)."""
    calls: list[str] = []

    def seen(event_name: str, **_: object) -> None:
        calls.append(event_name.rsplit(".", 1)[-1])

    assert remote.s3 is not None
    remote.s3.client.meta.events.register("before-call.s3", seen)
    return calls


def test_a_small_s3_remote_says_what_it_holds_in_one_listing(
    s3: RemoteUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = Remote.open(RemoteSpec("origin", s3.url, s3.endpoint))
    held = {uuid.uuid4().hex + "0" * 8: bytes(100 + i) for i in range(5)}
    remote.put_files({remote.object_path(k): data for k, data in held.items()})
    absent = [uuid.uuid4().hex + "1" * 8 for _ in range(2)]
    asked = [*list(held)[:3], *absent]
    expected = {k: len(held[k]) for k in list(held)[:3]}
    calls = _count_requests(remote)

    assert remote.object_sizes(asked) == expected
    assert calls == ["ListObjectsV2"]

    calls.clear()  # a remote larger than one listing is asked key by key
    monkeypatch.setattr(remote_module, "LISTING_PAGE", 2)
    assert remote.object_sizes(asked) == expected
    assert sorted(calls) == ["HeadObject"] * len(asked) + ["ListObjectsV2"]


def test_the_check_of_an_s3_remote_is_the_listing_of_its_runs(s3: RemoteUrl) -> None:
    remote = Remote.open(RemoteSpec("origin", s3.url, s3.endpoint), runs=True)
    run_id = uuid.uuid4().hex
    remote.put_files({f"{remote.root}/runs/{run_id}.json": b"{}"})  # after the check
    calls = _count_requests(remote)
    assert remote.list_manifests() == []  # what the check listed: no request
    assert calls == []
    assert remote.list_manifests() == [run_id]  # asked again: listed again
    assert calls == ["ListObjectsV2"]


def test_transfers_keep_the_budget_and_start_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote_module, "IN_FLIGHT_BYTES", 100)
    sizes = {"a": 60, "b": 50, "c": 30, "d": 30, "e": 150, "f": 10, "g": 10}
    keys = list(sizes)
    changed = threading.Condition()
    flying: dict[str, int] = {}
    seen: list[dict[str, int]] = []  # what was in flight each time one more started
    entered: set[str] = set()
    overtook: list[str] = []

    def work(key: str) -> str:
        with changed:
            flying[key] = sizes[key]
            seen.append(dict(flying))
            entered.add(key)
            changed.notify_all()
            earlier = set(keys[: keys.index(key)])  # let in before it, so they come
            if not changed.wait_for(lambda: entered >= earlier, timeout=10):
                overtook.append(key)
        time.sleep(0.05)
        with changed:
            del flying[key]
        return key.upper()

    done = list(remote_module._concurrently(keys, work, sizes))
    assert done == [(k, k.upper()) for k in keys]
    assert overtook == []  # a large one waits for room; the smaller ones behind it wait too
    for snapshot in seen:  # within the budget, or alone when larger than the budget
        assert sum(snapshot.values()) <= 100 or len(snapshot) == 1
    assert max(len(s) for s in seen) >= 2  # and concurrently


def test_a_killed_pull_leaves_no_torn_object(
    git_repo: GitRepo, remote: RemoteUrl, s3_or_none: S3Server | None, tmp_path: Path
) -> None:
    ran = run_big_with_remote(git_repo, remote)
    pushed = git_repo.helix_json("push")
    assert len(check_remote_valid(remote, s3_or_none)) == 1

    for attempt in range(5):  # a pull may finish before the kill lands: start again
        b = make_clone(git_repo, tmp_path / f"b{attempt}")
        objects = b.path / ".helix" / "objects"
        proc = b.helix_proc("pull", "--objects")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(objects.glob("??/*")):
            time.sleep(0.002)  # kill as soon as the first object is in place
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        if proc.returncode == -signal.SIGKILL:
            break
    assert proc.returncode == -signal.SIGKILL, "every pull finished before it was killed"

    for path in objects.rglob("*"):  # objects in place, packs, or writes in progress
        where = path.relative_to(objects).parts[0]
        assert path.is_dir() or where in ("pack", "tmp") or len(path.name) == 38, path
    assert all(p.suffix == ".part" for p in (objects / "tmp").iterdir())
    store = DiskObjectStore(objects, hot=False)
    landed = list(store.keys())
    assert landed  # something arrived, and all of it is whole
    for key in landed:
        verify(store.read_object(key))

    done = b.helix_json("pull", "--objects")  # the next pull completes it
    assert done["objects"] + done["objects_skipped"] == pushed["objects"]
    assert done["refused"] == []
    mine = b.helix_json("run")
    assert [n["name"] for n in mine["nodes"] if n["state"] == "compute"] == []
    assert mine["metrics"] == ran["metrics"]
