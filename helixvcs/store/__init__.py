"""The content-addressed store of intermediates (``.helix/objects``).

This layer owns how a computed value is kept between runs: codecs that turn tables,
frames, arrays, sparse matrices and other objects into bytes (``codecs``), the verified,
zstd-compressed object file (``objectfile``), and the ``ObjectStore`` interface with a
disk and an in-memory backend (and ``remote_store``: a remote as a store, what Dask
workers that share no disk with ``helix`` use). Keys come from the hashing layer; this
layer only checks that they look like keys. It is a leaf: it imports nothing from
helixvcs except ``helixvcs.errors``, and loads pyarrow, numpy, pandas, scipy and
zstandard only when a value needs them, so importing it is cheap.

Glossary: *raw* bytes are a codec's output, the *payload* is the compressed raw bytes,
and an *object* is header plus payload as stored under a key.
"""

from __future__ import annotations

from helixvcs.store.base import KEY_RE, ObjectInfo, ObjectStore, check_key
from helixvcs.store.codecs import CODECS, decode, encode, estimate_size
from helixvcs.store.disk import DiskObjectStore
from helixvcs.store.errors import (
    CorruptObject,
    InvalidKey,
    MissingObject,
    StoreReadError,
    StoreUnavailable,
    StoreWriteError,
    UnstorableValue,
)
from helixvcs.store.memory import MemoryObjectStore
from helixvcs.store.objectfile import Packed

__all__ = [
    "CODECS",
    "KEY_RE",
    "CorruptObject",
    "DiskObjectStore",
    "InvalidKey",
    "MemoryObjectStore",
    "MissingObject",
    "ObjectInfo",
    "ObjectStore",
    "Packed",
    "StoreReadError",
    "StoreUnavailable",
    "StoreWriteError",
    "UnstorableValue",
    "check_key",
    "decode",
    "encode",
    "estimate_size",
]
