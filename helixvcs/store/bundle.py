"""The ``bundle`` codec: tuples, lists and dicts of arrays, matrices, tables and frames.

ML operators often return a few arrays together: ``(X_train, X_test)``, a dict of
feature matrices, ``{"X": ..., "y": ..., "n_rows": 299000}``. Pickled as one object,
such a container is copied out of the decompressed payload element by element and
runs the unpickler on every load. A bundle instead stores each element in its own
native encoding, one after the other, with a small JSON manifest in front:

* numpy arrays (no objects) as ``.npy``, Arrow tables as an IPC stream and pandas frames
  through Arrow when the round trip is exact: the ``numpy``, ``arrow`` and ``pandas``
  codecs' own encodings;
* scipy sparse CSR, CSC, BSR, DIA and COO matrices (and arrays) as their index and data
  arrays, each a ``.npy``, rebuilt as ``scipy.sparse.load_npz`` rebuilds them (an ``.npz``
  is the same arrays in a zip file; without the zip they load as views, uncopied);
* ``None``, ``bool``, ``int``, ``float`` and ``str`` in the manifest itself, ``bytes``
  and numpy scalars as hex there: small plain values mixed with the arrays.

A container qualifies when its keys are all ``str`` (for a dict), it nests at most one
level (a tuple of tuples of arrays), holds at least one array, matrix, table or frame,
and everything in it is one of the above; anything else returns ``None`` and is
pickled, as before. The round trip is exact: a tuple comes back a tuple, dict keys keep
their order, and elements keep what their own codecs keep.

Each element starts at a multiple of 64 bytes, so a numpy array decoded from a
``bytearray`` is an aligned, writable view of it. Nothing in a bundle is unpickled.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Mapping
from typing import Any

Chunks = list[bytes | memoryview]
Encoder = Callable[[object], "tuple[str, Chunks] | None"]
Decoder = Callable[[Any], object]

#: Codecs whose payloads a bundle may hold, each decoded by that codec's decoder.
ELEMENT_CODECS = frozenset({"numpy", "arrow", "pandas"})
_VERSION = 1
_ALIGN = 64
_LENGTH = struct.Struct("<Q")
#: Containers, plain values and elements in one bundle at most; larger ones are pickled.
MAX_NODES = 1024
#: The manifest's size at most (long strings, many keys): past it, pickle does better.
MAX_MANIFEST = 1 << 20
_PLAIN = (type(None), bool, int, float, str)
#: Longer ints are pickled: Python reads at most 4,300 decimal digits back by default.
_MAX_INT_BITS = 4096
_SPARSE_PARTS = {
    "csr": ("data", "indices", "indptr"),
    "csc": ("data", "indices", "indptr"),
    "bsr": ("data", "indices", "indptr"),
    "dia": ("data", "offsets"),
    "coo": ("data",),  # and one array per axis: "coords"
}


class _Refused(Exception):
    """The value is not a bundle; the caller pickles it."""


def encode(value: object, element: Encoder) -> memoryview | None:
    """The bundle payload of ``value``, or ``None`` when it does not qualify.

    ``element(v)`` is the codec layer's native encoding of one array, table or frame:
    ``(codec, payload in pieces)``, or ``None`` when ``v`` would have to be pickled. The
    pieces are copied once, into the bundle.
    """
    if type(value) not in (tuple, list, dict):
        return None
    writer = _Writer(element)
    try:
        root = writer.node(value, 0)
    except _Refused:
        return None
    if not writer.blobs:
        return None  # plain data: pickle is smaller and as fast
    text = json.dumps({"version": _VERSION, "value": root}, separators=(",", ":"))
    manifest = text.encode("ascii")
    if len(manifest) > MAX_MANIFEST:
        return None
    return writer.join(manifest)


def decode(payload: bytes | bytearray | memoryview, decoders: Mapping[str, Decoder]) -> object:
    """Rebuild a bundle; ``decoders`` are the codec layer's, by codec name.

    Raises ``ValueError`` for a payload that is not a well-formed bundle; an element's own
    decoding errors propagate (the stores treat both as corruption).
    """
    view = memoryview(payload).cast("B")
    if view.nbytes < _LENGTH.size:
        raise ValueError("bundle payload too short")
    (length,) = _LENGTH.unpack(view[: _LENGTH.size])
    if _LENGTH.size + length > view.nbytes:
        raise ValueError("bundle manifest runs past the payload")
    manifest = json.loads(bytes(view[_LENGTH.size : _LENGTH.size + length]))
    if not isinstance(manifest, dict) or manifest.get("version") != _VERSION:
        raise ValueError("not a bundle manifest of a known version")
    return _Reader(view, decoders).node(manifest["value"])


class _Writer:
    """Turns a container into a manifest node, collecting element payloads as it goes."""

    def __init__(self, element: Encoder) -> None:
        self.element = element
        self.blobs: list[Chunks] = []
        self.nodes = 0
        self.offset = 0  # of the next blob, counted from the first blob

    def node(self, value: object, depth: int) -> dict[str, Any]:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Refused
        cls = type(value)
        if cls in (tuple, list, dict):
            if depth > 1:
                raise _Refused
            if isinstance(value, dict):
                if any(type(key) is not str for key in value):
                    raise _Refused
                items = [self.node(v, depth + 1) for v in value.values()]
                return {"t": "dict", "keys": list(value), "items": items}
            assert isinstance(value, tuple | list)
            return {"t": cls.__name__, "items": [self.node(v, depth + 1) for v in value]}
        if cls in _PLAIN:
            if cls is int and abs(value).bit_length() > _MAX_INT_BITS:  # type: ignore[arg-type]
                raise _Refused
            return {"t": "plain", "v": value}
        if cls is bytes:
            assert isinstance(value, bytes)
            return {"t": "bytes", "hex": value.hex()}
        module = cls.__module__  # never import a library the value is not of
        if module == "numpy" and _is_scalar(value):
            return {"t": "scalar", "dtype": value.dtype.str, "hex": value.tobytes().hex()}  # type: ignore[attr-defined]
        if module.startswith("scipy.sparse"):
            return self.sparse(value)
        encoded = self.element(value)
        if encoded is None or encoded[0] not in ELEMENT_CODECS:
            raise _Refused
        return {"t": encoded[0], "at": self.blob(encoded[1])}

    def sparse(self, matrix: Any) -> dict[str, Any]:
        import scipy.sparse as sps

        names = _SPARSE_PARTS.get(getattr(matrix, "format", ""))
        if names is None or type(matrix) is not _sparse_class(matrix.format, _is_array(matrix)):
            raise _Refused  # lil, dok, subclasses: pickled with their type
        assert sps.issparse(matrix)
        parts: dict[str, Any] = {name: self.array(getattr(matrix, name)) for name in names}
        if matrix.format == "coo":  # scipy < 1.13 has row and col only
            coords = getattr(matrix, "coords", None) or (matrix.row, matrix.col)
            parts["coords"] = [self.array(axis) for axis in coords]
        return {
            "t": "sparse",
            "format": matrix.format,
            "array": _is_array(matrix),
            "shape": list(matrix.shape),
            "parts": parts,
        }

    def array(self, array: object) -> list[int]:
        encoded = self.element(array)
        if encoded is None or encoded[0] != "numpy":
            raise _Refused
        return self.blob(encoded[1])

    def blob(self, payload: Chunks) -> list[int]:
        size = sum(memoryview(chunk).nbytes for chunk in payload)
        at = [self.offset, size]
        self.blobs.append([*payload, bytes(_padded(size) - size)])
        self.offset += _padded(size)
        return at

    def join(self, manifest: bytes) -> memoryview:
        """Length, manifest, then every blob, each padded to the alignment."""
        head = _LENGTH.pack(len(manifest)) + manifest
        chunks: Chunks = [head, bytes(_padded(len(head)) - len(head))]
        for blob in self.blobs:
            chunks += blob
        return memoryview(b"".join(chunks))


class _Reader:
    """Rebuilds manifest nodes; element offsets count from the first aligned byte after
    the manifest."""

    def __init__(self, view: memoryview, decoders: Mapping[str, Decoder]) -> None:
        (length,) = _LENGTH.unpack(view[: _LENGTH.size])
        self.view = view
        self.start = _padded(_LENGTH.size + length)
        self.decoders = decoders

    def node(self, node: Any) -> object:
        kind = node["t"]
        if kind in ("tuple", "list"):
            items = [self.node(item) for item in node["items"]]
            return tuple(items) if kind == "tuple" else items
        if kind == "dict":
            keys, items = node["keys"], node["items"]
            if len(keys) != len(items):
                raise ValueError("bundle dict with more keys than values or fewer")
            return {key: self.node(item) for key, item in zip(keys, items, strict=True)}
        if kind == "plain":
            return node["v"]
        if kind == "bytes":
            return bytes.fromhex(node["hex"])
        if kind == "scalar":
            import numpy as np

            return np.frombuffer(bytes.fromhex(node["hex"]), dtype=np.dtype(node["dtype"]))[0]
        if kind == "sparse":
            return self.sparse(node)
        if kind in ELEMENT_CODECS:
            return self.decoders[kind](self.blob(node["at"]))
        raise ValueError(f"unknown bundle node {kind!r}")

    def sparse(self, node: Any) -> object:
        fmt, parts = node["format"], node["parts"]
        if fmt not in _SPARSE_PARTS:
            raise ValueError(f"unknown sparse format {fmt!r} in a bundle")
        cls = _sparse_class(fmt, bool(node["array"]))
        shape = tuple(node["shape"])
        arrays = {name: self.array(at) for name, at in parts.items() if name != "coords"}
        if fmt == "coo":  # what load_npz does, for an .npz of the same arrays
            coords = tuple(self.array(at) for at in parts["coords"])
            return cls((arrays["data"], coords), shape=shape)
        if fmt == "dia":
            return cls((arrays["data"], arrays["offsets"]), shape=shape)
        return cls((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape)

    def array(self, at: Any) -> Any:
        return self.decoders["numpy"](self.blob(at))

    def blob(self, at: Any) -> memoryview:
        offset, size = (int(n) for n in at)
        begin = self.start + offset
        if offset < 0 or size < 0 or begin + size > self.view.nbytes:
            raise ValueError("bundle element runs past the payload")
        return self.view[begin : begin + size]


def _padded(size: int) -> int:
    return -(-size // _ALIGN) * _ALIGN


def _is_scalar(value: object) -> bool:
    """A numpy scalar that its dtype string and bytes rebuild exactly."""
    import numpy as np

    if not isinstance(value, np.generic):
        return False
    dtype = value.dtype
    return (
        not dtype.hasobject
        and dtype.fields is None
        and dtype.itemsize > 0
        and type(value) is dtype.type
    )


def _is_array(matrix: Any) -> bool:
    import scipy.sparse as sps

    return isinstance(matrix, getattr(sps, "sparray", ()))  # public since scipy 1.11


def _sparse_class(fmt: str, array: bool) -> Any:
    import scipy.sparse as sps

    return getattr(sps, f"{fmt}_{'array' if array else 'matrix'}")
