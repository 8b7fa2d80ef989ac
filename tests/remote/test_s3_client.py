"""The S3 client: its service model is read once per process, its credentials never kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from helixvcs.store import s3 as s3_module
from helixvcs.store.remote import CONNECT_TIMEOUT, READ_TIMEOUT
from helixvcs.store.s3 import S3
from tests.remote.conftest import S3Server


def connect(endpoint: str) -> S3:
    return S3.connect(
        endpoint, connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT, attempts=1,
        connections=2,
    )  # fmt: skip


def access_key(client: S3) -> str:
    return str(client.client._get_credentials().access_key)


def test_clients_share_the_loaded_model_but_take_credentials_from_the_environment_of_now(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3_module.warm()  # as a warm server does before it forks its commands' processes
    loader = s3_module._session().get_component("data_loader")
    assert s3_module._session().get_component("data_loader") is loader

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "first-key")
    first = connect(s3_server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "second-key")
    second = connect(s3_server.endpoint)
    assert access_key(first) == "first-key"
    assert access_key(second) == "second-key"
    bucket = s3_server.bucket()
    for client in (first, second):  # and each one answers
        assert client.list(f"{bucket}/", delimiter="/", limit=1)["KeyCount"] == 0


def test_another_data_path_gets_a_loader_of_its_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    usual = s3_module._session().get_component("data_loader")
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    other = s3_module._session().get_component("data_loader")
    assert other is not usual
    assert str(tmp_path) in other.search_paths
