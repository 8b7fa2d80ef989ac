"""S3 remotes through botocore's own client, for what pushes and pulls ask of them.

s3fs runs every request on one asyncio loop, and importing it (aiohttp and aiobotocore
with it) takes about a quarter of a second, as long as a pull of a small store. botocore,
which s3fs is built on, answers the same requests with the same credentials (the
environment, the usual profiles) from plain threads: each download reads its own socket,
so several objects are read, verified and written side by side. What a remote asks
rarely (large streamed uploads, the workers' store) still goes through s3fs.

Paths are ``bucket/key``, as fsspec names them. A key that is not there is a
``FileNotFoundError``; any other failure is botocore's, which ``remote.translate`` turns
into one line.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

#: Objects larger than this are not put in one request (S3's limit is 5 GiB).
SINGLE_PUT_BYTES = 4 * 2**30
_ABSENT = frozenset({"NoSuchKey", "404", "NotFound"})

# botocore's data loader, one per data path, shared by this process's sessions: making a
# client reads and parses S3's service model and the endpoint rules (~0.1-0.15 s), which
# the loader keeps. What depends on the environment (credentials, region, profiles) is
# resolved by each session, never kept here.
_loaders: dict[object, Any] = {}
_loaders_lock = threading.Lock()


@dataclass(frozen=True)
class S3:
    """A botocore S3 client, safe to share between threads (botocore says so)."""

    client: Any

    @classmethod
    def connect(
        cls,
        endpoint_url: str | None,
        *,
        connect_timeout: float,
        read_timeout: float,
        attempts: int,
        connections: int,
    ) -> S3:
        """A client (no request yet). Responses are not checked against S3's own
        checksums unless a call asks (``get``): objects carry a stronger one of their
        own, which the reader verifies as the bytes arrive."""
        from botocore.config import Config

        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"total_max_attempts": attempts, "mode": "standard"},
            max_pool_connections=connections,
            response_checksum_validation="when_required",
        )
        return cls(_session().create_client("s3", endpoint_url=endpoint_url, config=config))

    def list(self, prefix: str, *, delimiter: str, limit: int, token: str | None = None) -> Any:
        """One page of ``list_objects_v2`` under ``prefix`` (``bucket/key-prefix``)."""
        bucket, _, start = prefix.partition("/")
        more = {"ContinuationToken": token} if token else {}
        return self.client.list_objects_v2(
            Bucket=bucket, Prefix=start, Delimiter=delimiter, MaxKeys=limit, **more
        )

    def listing(self, prefix: str) -> Iterator[tuple[str, int]]:
        """``(path, size)`` of everything under ``prefix``, a page of a thousand a request."""
        bucket = prefix.partition("/")[0]
        token = None
        while True:
            page = self.list(prefix, delimiter="", limit=1000, token=token)
            for item in page.get("Contents", []):
                yield f"{bucket}/{item['Key']}", int(item.get("Size") or 0)
            if not page.get("IsTruncated"):
                return
            token = page["NextContinuationToken"]

    def head(self, path: str) -> int | None:
        """The size of the object at ``path``; None when there is none."""
        bucket, _, key = path.partition("/")
        try:
            return int(self.client.head_object(Bucket=bucket, Key=key).get("ContentLength") or 0)
        except Exception as exc:
            if _absent(exc):
                return None
            raise

    def get(self, path: str) -> bytes:
        """The whole object, checked against S3's checksum when the server keeps one
        (manifests and run records have none of their own)."""
        with self.open(path, checked=True) as body:
            return bytes(body.read())

    def open(self, path: str, *, checked: bool = False) -> Any:
        """The object's body, to read in pieces (``read(n)``; ``close()``)."""
        bucket, _, key = path.partition("/")
        more = {"ChecksumMode": "ENABLED"} if checked else {}
        try:
            return self.client.get_object(Bucket=bucket, Key=key, **more)["Body"]
        except Exception as exc:
            if _absent(exc):
                raise FileNotFoundError(2, "no such object", path) from None
            raise

    def put(self, path: str, data: bytes) -> None:
        """One whole object, which S3 shows whole or not at all."""
        bucket, _, key = path.partition("/")
        self.client.put_object(Bucket=bucket, Key=key, Body=data)

    def exists(self, path: str) -> bool:
        """An object at ``path``, or anything under it (as a folder)."""
        if self.head(path) is not None:
            return True
        page = self.list(path.rstrip("/") + "/", delimiter="/", limit=1)
        return bool(page.get("KeyCount") or page.get("Contents") or page.get("CommonPrefixes"))


def _session() -> Any:
    """A new botocore session (credentials and settings from the environment as it is
    now) with this process's data loader for its data path."""
    import botocore.session

    session = botocore.session.get_session()
    path = session.get_config_variable("data_path")
    key = tuple(path) if isinstance(path, list) else path
    with _loaders_lock:
        loader = _loaders.get(key)
        if loader is None:
            _loaders[key] = session.get_component("data_loader")
        else:
            session.register_component("data_loader", loader)
    return session


def warm() -> None:
    """Load what making an S3 client reads (the service model, the endpoint rules) into
    this process's loader, without a request or any credentials: a warm server does, so
    that its commands' clients take milliseconds."""
    _session().create_client(
        "s3", region_name="us-east-1", aws_access_key_id="-", aws_secret_access_key="-"
    )


def _absent(exc: BaseException) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    return str(response.get("Error", {}).get("Code", "")) in _ABSENT
