"""Remotes against real endpoints: moto's S3 server on a free loopback port (a real S3
HTTP endpoint, started as its own process) and a local folder.

``remote`` is parametrized over both; a test that needs S3 itself asks for ``s3``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import GitRepo

# Credentials come from the environment, as they would for a user (moto accepts any).
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}

WORKFLOW = """\
import time

import numpy as np

from helixvcs import Workflow

wf = Workflow("shared")


@wf.source("data/values.txt")
def raw(path):
    time.sleep(0.3)
    with open(path) as f:
        return np.array([float(x) for x in f.read().split()])


@wf.op
def doubled(raw):
    time.sleep(0.3)
    return raw * 2.0


@wf.op
def squared(doubled):
    time.sleep(0.3)
    return doubled**2


@wf.metric
def total(squared):
    return float(squared.sum())
"""

FILES = {"workflow.py": WORKFLOW, "data/values.txt": "1 2 3 4\n"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class S3Server:
    endpoint: str

    def bucket(self) -> str:
        """A new, empty bucket on the server."""
        import boto3

        name = f"helix-{uuid.uuid4().hex[:12]}"
        client = boto3.client("s3", endpoint_url=self.endpoint, **_boto_credentials())
        client.create_bucket(Bucket=name)
        return name

    def client(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, **_boto_credentials())


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": S3_ENV["AWS_DEFAULT_REGION"],
    }


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("moto's S3 server did not start") from None
            time.sleep(0.1)
    try:
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(autouse=True)
def s3_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    # no profile of the machine's user may answer instead of the environment
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@dataclass
class RemoteUrl:
    kind: str  # s3 | folder
    url: str
    endpoint: str | None
    root: Path | None = None  # the folder, for a folder remote

    def add_args(self) -> list[str]:
        extra = ["--endpoint-url", self.endpoint] if self.endpoint else []
        return [self.url, *extra]


@pytest.fixture(params=["s3", "folder"])
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> RemoteUrl:
    if request.param == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        return RemoteUrl("s3", f"s3://{server.bucket()}/team", server.endpoint)
    folder = tmp_path / "shared-remote"
    return RemoteUrl("folder", str(folder), None, folder)


@pytest.fixture
def s3_or_none(remote: RemoteUrl, request: pytest.FixtureRequest) -> S3Server | None:
    """The S3 server behind ``remote``, or None for a folder remote."""
    return request.getfixturevalue("s3_server") if remote.kind == "s3" else None


@pytest.fixture
def s3(s3_server: S3Server) -> RemoteUrl:
    return RemoteUrl("s3", f"s3://{s3_server.bucket()}/team", s3_server.endpoint)


def make_clone(source: GitRepo, path: Path) -> GitRepo:
    """A teammate's clone of ``source`` (git clone), with ``helix init``."""
    subprocess.run(["git", "clone", "-q", str(source.path), str(path)], check=True)
    clone = GitRepo(path)
    clone.helix("init")
    return clone


@pytest.fixture
def team(git_repo: GitRepo, remote: RemoteUrl, tmp_path: Path) -> tuple[GitRepo, RemoteUrl]:
    """Clone A: the shared workflow committed, with ``remote`` added as origin."""
    git_repo.gen(FILES, commit="shared workflow")
    git_repo.helix("init")
    git_repo.helix("remote", "add", "origin", *remote.add_args())
    git_repo.commit("remotes, ignore .helix/")
    return git_repo, remote


def env_without_server() -> dict[str, str]:
    return {**os.environ, "HELIX_SERVER": "0"}
