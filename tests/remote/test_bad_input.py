"""Bad remotes: one line naming the remote, its URL and the error, exit 2, nothing
half-written locally; an unreachable default remote leaves `helix run` local and quick."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import GitRepo
from tests.remote.conftest import FILES, S3Server, free_port


@pytest.fixture
def a(git_repo: GitRepo) -> GitRepo:
    git_repo.gen(FILES, commit="shared workflow")
    git_repo.helix("init")
    git_repo.commit("ignore .helix/")
    return git_repo


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("foo://bucket/x", "unknown protocol 'foo'"),
        ("s3:///prefix", "no bucket"),
        ("relative/folder", "absolute path"),
        ("", "malformed URL"),
    ],
)
def test_malformed_urls_are_refused_when_added(a: GitRepo, url: str, says: str) -> None:
    result = a.helix("remote", "add", "origin", url, code=2)
    line = one_error_line(result.stderr)
    assert f"remote 'origin' ({url})" in line and says in line
    assert not (a.path / ".helixremotes").exists()


def test_add_list_remove(a: GitRepo, tmp_path: Path) -> None:
    a.helix("remote", "add", "origin", str(tmp_path / "r1"))
    a.helix("remote", "add", "s3", "s3://bucket/p", "--endpoint-url", "http://127.0.0.1:9000")
    listed = a.helix_json("remote", "list")
    assert [(r["name"], r["default"]) for r in listed] == [("origin", True), ("s3", False)]
    assert listed[1]["endpoint_url"] == "http://127.0.0.1:9000"
    assert "origin" in (a.path / ".helixremotes").read_text()  # the committed file
    dup = a.helix("remote", "add", "origin", "/elsewhere", code=2)
    assert "exists already" in one_error_line(dup.stderr)
    a.helix("remote", "remove", "origin")
    listed = a.helix_json("remote", "list")
    assert [(r["name"], r["default"]) for r in listed] == [("s3", True)]
    gone = a.helix("remote", "remove", "origin", code=2)
    assert "no remote named 'origin'" in one_error_line(gone.stderr)


def test_trust_is_local(a: GitRepo, tmp_path: Path) -> None:
    a.helix("remote", "add", "origin", str(tmp_path / "r"))
    assert a.helix_json("remote", "list")[0]["trusted"] is False
    with open(a.path / ".helix" / "config.toml", "a", encoding="utf-8") as f:
        f.write("\n[remote.origin]\ntrusted = true\n")
    assert a.helix_json("remote", "list")[0]["trusted"] is True
    assert "trusted" not in (a.path / ".helixremotes").read_text()


def test_push_without_a_remote(a: GitRepo) -> None:
    a.helix("run")
    result = a.helix("push", code=2)
    assert "helix remote add" in one_error_line(result.stderr)


def test_unreachable_endpoint_is_exit_2_quickly(a: GitRepo) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    a.helix("remote", "add", "origin", "s3://team/helix", "--endpoint-url", dead)
    a.commit("remotes")
    a.helix("run")
    before = a.helix_json("log")
    started = time.monotonic()
    for command in (["push"], ["pull"], ["pull", "--objects"]):
        result = a.helix(*command, code=2)
        line = one_error_line(result.stderr)
        assert "remote 'origin' (s3://team/helix)" in line and "unreachable" in line
    assert time.monotonic() - started < 15
    assert a.helix_json("log") == before  # nothing half-written locally


def test_missing_bucket(a: GitRepo, s3_server: S3Server) -> None:
    a.helix(
        "remote", "add", "origin", "s3://no-such-bucket/x", "--endpoint-url", s3_server.endpoint
    )
    a.commit("remotes")
    a.helix("run")
    line = one_error_line(a.helix("push", code=2).stderr)
    assert "remote 'origin' (s3://no-such-bucket/x)" in line and "not found" in line


def test_missing_credentials(
    a: GitRepo, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = s3_server.bucket()
    a.helix("remote", "add", "origin", f"s3://{bucket}/x", "--endpoint-url", s3_server.endpoint)
    a.commit("remotes")
    a.helix("run")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    line = one_error_line(a.helix("push", code=2).stderr)
    assert f"remote 'origin' (s3://{bucket}/x)" in line and "credentials" in line


def test_missing_folder_is_exit_2_on_pull(a: GitRepo, tmp_path: Path) -> None:
    folder = tmp_path / "nowhere"
    a.helix("remote", "add", "origin", str(folder))
    line = one_error_line(a.helix("pull", code=2).stderr)
    assert f"remote 'origin' ({folder})" in line and "not found" in line
    assert not folder.exists()


def test_run_with_unreachable_default_remote_stays_local(a: GitRepo) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    a.helix("remote", "add", "origin", "s3://team/helix", "--endpoint-url", dead)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "helixvcs", "--repo", str(a.path), "run"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started < 30  # the run itself; the probe is timed below
    notes = [line for line in proc.stderr.splitlines() if "remote 'origin'" in line]
    assert len(notes) == 1 and "unreachable" in notes[0] and "running locally" in notes[0]


def test_a_run_with_everything_local_never_touches_the_remote(a: GitRepo) -> None:
    a.helix("run")
    dead = f"http://127.0.0.1:{free_port()}"
    a.helix("remote", "add", "origin", "s3://team/helix", "--endpoint-url", dead)
    result = a.helix("run")
    assert "remote" not in result.stderr  # not even tried


def test_run_with_a_remote_that_never_answers_stays_local(a: GitRepo) -> None:
    import socket

    silent = socket.socket()  # accepts connections (the kernel does) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        a.helix("remote", "add", "origin", "s3://team/helix", "--endpoint-url", endpoint)
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "helixvcs", "--repo", str(a.path), "run"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if "remote 'origin'" in line]
    assert len(notes) == 1 and "running locally" in notes[0], proc.stderr
    assert elapsed < 60, elapsed


@pytest.mark.parametrize("server", ["closed port", "never answers"])
def test_a_run_gives_up_on_a_dead_remote_within_seconds(server: str) -> None:
    import socket

    from helixvcs.store.remote import Remote, RemoteError, RemoteSpec

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    if server == "never answers":
        listener.listen(8)
    else:
        listener.close()
    spec = RemoteSpec("origin", "s3://team/helix", f"http://127.0.0.1:{port}")
    started = time.monotonic()
    try:
        with pytest.raises(RemoteError, match="remote 'origin'"):
            Remote.open(spec, quick=True)  # what `helix run` asks the default remote
    finally:
        listener.close()
    assert time.monotonic() - started < 5
