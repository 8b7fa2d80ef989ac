"""Codecs: how an intermediate becomes bytes and comes back, before compression.

Each value gets the most faithful format that is also fast and portable:

======== ===================================== =========================================
codec    values                                encoding
======== ===================================== =========================================
arrow    ``pyarrow.Table``                     Arrow IPC stream
pandas   ``pandas.DataFrame``                  Arrow IPC stream, restored by ``to_pandas``
numpy    ``numpy.ndarray`` without objects     ``np.save(allow_pickle=False)``
sparse   scipy sparse csr/csc/bsr/dia/coo      ``scipy.sparse.save_npz`` (uncompressed)
bundle   tuple, list, dict (str keys) of the   a JSON manifest, then each element in its
         above, nested one level, with small   own encoding (sparse: its arrays as .npy)
         plain values among them               (see ``bundle``)
skops    scikit-learn estimators (skops        ``skops.io``, when the round trip is exact
         installed)                            (see ``estimators``)
pickle   anything else                         pickle protocol 5
======== ===================================== =========================================

A DataFrame only takes the Arrow path when the round trip is exact (see ``frames``);
anything Arrow would silently change is pickled instead. A container takes the bundle
path only when every element does; otherwise the whole container is pickled.

Types are recognised from ``type(value).__module__`` before anything is imported, so
storing a dict never pays for importing pandas or scipy.
"""

from __future__ import annotations

import io
import math
import pickle
import struct
import sys
from collections.abc import Callable
from typing import Any

from helixvcs.store import bundle, estimators, npz
from helixvcs.store.buffers import BufferFile, fresh
from helixvcs.store.errors import UnstorableValue

CODECS = ("arrow", "pandas", "numpy", "sparse", "bundle", "skops", "pickle")

Payload = bytes | bytearray | memoryview
"""What decoders read: the store's writable ``bytearray``, or a slice of one in a bundle."""

_NPZ_FORMATS = frozenset({"csr", "csc", "bsr", "dia", "coo"})
_SPARSE_PARTS = ("data", "indices", "indptr", "row", "col", "offsets")


def encode(value: object) -> tuple[str, bytes]:
    """Serialize ``value`` with the best codec for its type; returns (codec, payload)."""
    codec, payload = encode_buffer(value)
    return codec, bytes(payload)


def encode_buffer(
    value: object, checksums: list[tuple[Any, int]] | None = None
) -> tuple[str, memoryview]:
    """Like ``encode`` but without the final copy into ``bytes``, for the stores.

    The payload is a buffer of its own, never a view of the value's memory (arrays are
    joined to their header, tables and frames written into a fresh stream, bundles
    copied once): a background write may compress it after the value has been changed.
    Raises ``UnstorableValue`` when the value cannot be pickled.

    ``checksums`` receives (array, ``zlib.crc32`` of its bytes) for the value's arrays
    that the encoding checksummed on the way (a CSR/CSC matrix's, see ``npz``), so that
    the input guard need not read them again.
    """
    native = _native(value, checksums)
    if native is not None:
        return native
    if type(value) in (tuple, list, dict):
        bundled = bundle.encode(value, _element)
        if bundled is not None:
            return "bundle", bundled
    fitted = estimators.encode(value)
    if fitted is not None:
        return "skops", memoryview(fitted)
    return "pickle", memoryview(_pickle_bytes(value))


def estimator_snapshot(value: object) -> bytes | None:
    """The pickle of a scikit-learn estimator, for its skops encoding to happen later
    (``settle_estimator``), away from the run's thread: pickling takes milliseconds, the
    skops encoding and its round-trip check ~0.1 s. None for any other value."""
    if not type(value).__module__.startswith("sklearn."):
        return None
    return _pickle_bytes(value)


def settle_estimator(snapshot: memoryview) -> tuple[str, memoryview]:
    """(codec, payload) of the estimator pickled in ``snapshot`` (our own bytes, made by
    ``estimator_snapshot`` in this process): skops when its round trip is exact, else the
    pickle itself, as ``encode_buffer`` decides for the estimator."""
    fitted = estimators.encode(pickle.loads(snapshot), snapshot)
    return ("skops", memoryview(fitted)) if fitted is not None else ("pickle", snapshot)


def _native(
    value: object, checksums: list[tuple[Any, int]] | None = None
) -> tuple[str, memoryview] | None:
    """(codec, payload) when a codec other than pickle takes ``value`` as it is."""
    family = _family(value)
    if family == "sparse":
        sparse_payload = _sparse_bytes(value, checksums)
        return None if sparse_payload is None else ("sparse", sparse_payload)
    element = _element(value)
    if element is None:
        return None
    codec, chunks = element
    return codec, memoryview(chunks[0] if len(chunks) == 1 else b"".join(chunks))


def _element(value: object) -> tuple[str, list[bytes | memoryview]] | None:
    """(codec, payload in pieces) of an array, table or frame that a bundle can hold."""
    family = _family(value)
    if family == "arrow":
        return "arrow", [_ipc_bytes(value)]
    if family == "pandas":
        frame_payload = _pandas_bytes(value)
        return None if frame_payload is None else ("pandas", [frame_payload])
    if family == "numpy" and not value.dtype.hasobject:  # type: ignore[attr-defined]
        return "numpy", _npy_chunks(value)
    return None


def decode(codec: str, payload: Payload) -> object:
    """Rebuild a value from ``encode``'s output.

    Raises ``ValueError`` for an unknown codec; decoding errors of the underlying library
    propagate (the stores treat them as corruption).
    """
    decoder = _DECODERS.get(codec)
    if decoder is None:
        raise ValueError(f"unknown codec {codec!r}; known codecs: {', '.join(CODECS)}")
    return decoder(payload)


def estimate_size(value: object) -> int:
    """Approximate uncompressed size in bytes, without serializing large buffers.

    Used to budget storage before deciding to materialize, so it must stay cheap: big
    containers report their buffer sizes, and other objects are pickled with their
    out-of-band buffers (numpy arrays, Arrow data inside a model or a dict) counted
    rather than copied.
    """
    family = _family(value)
    if family == "numpy" and value.dtype.hasobject:  # type: ignore[attr-defined]
        return _pickled_size(value)  # nbytes would count only the pointers
    if family in ("arrow", "numpy") or (family == "pyarrow" and hasattr(value, "nbytes")):
        return int(value.nbytes)  # type: ignore[attr-defined]
    if family == "sparse":
        parts = [getattr(value, name, None) for name in _SPARSE_PARTS]
        return sum(int(getattr(part, "nbytes", 0)) for part in parts)
    if family in ("pandas", "pandas-other") and hasattr(value, "memory_usage"):
        usage = value.memory_usage(deep=False)
        return int(usage.sum() if hasattr(usage, "sum") else usage)
    return _pickled_size(value)


def type_name(value: object) -> str:
    """``module.QualName`` of the value's type, for messages."""
    cls = type(value)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _family(value: object) -> str | None:
    """Which library the value belongs to, importing that library only if it matches."""
    cls = type(value)
    top = cls.__module__.partition(".")[0]
    if top == "pyarrow":
        import pyarrow as pa

        return "arrow" if cls is pa.Table else "pyarrow"
    if top == "numpy":
        import numpy as np

        return "numpy" if cls is np.ndarray else None
    if top == "pandas":
        import pandas as pd

        return "pandas" if cls is pd.DataFrame else "pandas-other"
    if top == "scipy" and cls.__module__.startswith("scipy.sparse"):
        import scipy.sparse as sps

        return "sparse" if sps.issparse(value) else None
    return None


def _ipc_bytes(table: Any) -> memoryview:
    """The table's IPC stream, written into one buffer of its exact size.

    The size comes from a first pass that writes nothing (``MockOutputStream``): a
    growing ``BufferOutputStream`` reallocates and copies as it doubles, and every fresh
    page it touches costs a fault, which together made a 180 MB table take 0.7-0.9 s to
    encode in a new process instead of 0.2 s. The buffer is ``buffers.fresh``'s, not one
    of Arrow's pool (1.1-1.2 s to fill with a 130 MB table in a new process here)."""
    import pyarrow as pa

    counter = pa.MockOutputStream()
    with pa.ipc.new_stream(counter, table.schema) as writer:
        writer.write_table(table)
    memory = fresh(counter.size())
    with pa.ipc.new_stream(pa.FixedSizeBufferWriter(pa.py_buffer(memory)), table.schema) as writer:
        writer.write_table(table)
    return memory


def _numpy_bytes(array: Any) -> memoryview:
    return memoryview(b"".join(_npy_chunks(array)))


def _npy_chunks(array: Any) -> list[bytes | memoryview]:
    """The ``.npy`` file of ``array`` as ``np.save`` writes it, as (header, data): the data
    is the array's own memory, uncopied, unless the array is strided (then it is copied)."""
    import numpy as np

    header = io.BytesIO()
    layout = np.lib.format.header_data_from_array_1_0(array)
    try:
        np.lib.format.write_array_header_1_0(header, layout)
    except ValueError:  # a header over 64 KiB, or field names that are not latin-1
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return [buffer.getbuffer()]
    if layout["fortran_order"]:
        data = array.T  # C-ordered: the Fortran-ordered array's memory as it lies
    elif array.flags.c_contiguous:
        data = array
    else:
        data = np.ascontiguousarray(array)
    if data.nbytes == 0:
        return [header.getvalue()]
    return [header.getvalue(), memoryview(data.reshape(-1).view(np.uint8))]


def _sparse_bytes(matrix: Any, checksums: list[tuple[Any, int]] | None = None) -> memoryview | None:
    import scipy.sparse as sps

    if matrix.format not in _NPZ_FORMATS:
        return None
    written = npz.save(matrix)
    if written is not None:
        if checksums is not None:
            checksums.extend(written[1])
        return written[0]
    buffer = io.BytesIO()
    sps.save_npz(buffer, matrix, compressed=False)
    return buffer.getbuffer()


def _pickle_bytes(value: object) -> bytes:
    try:
        return pickle.dumps(value, protocol=5)
    except Exception as exc:  # pickling runs arbitrary __reduce__ code; any failure counts
        reason = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        raise UnstorableValue(type_name(value), reason) from exc


def _pickled_size(value: object) -> int:
    out_of_band = 0

    def count(buffer: pickle.PickleBuffer) -> None:
        nonlocal out_of_band
        out_of_band += buffer.raw().nbytes

    try:
        return len(pickle.dumps(value, protocol=5, buffer_callback=count)) + out_of_band
    except Exception:  # an unpicklable value still needs some estimate
        return sys.getsizeof(value)


def _pandas_bytes(frame: Any) -> memoryview | None:
    """Arrow IPC for a frame that survives the round trip exactly, else ``None``."""
    from helixvcs.store import frames

    table = frames.to_table(frame)
    return None if table is None else _ipc_bytes(table)


def _decode_arrow(payload: Payload) -> object:
    import pyarrow as pa

    return pa.ipc.open_stream(pa.py_buffer(payload)).read_all()


def _decode_pandas(payload: Payload) -> object:
    import pyarrow as pa

    from helixvcs.store import frames

    return frames.to_frame(pa.ipc.open_stream(pa.py_buffer(payload)).read_all())


def _decode_numpy(payload: Payload) -> object:
    """``np.load``, except that the array is a view of ``payload`` when that is writable.

    The store decompresses into a fresh ``bytearray`` that nobody else holds, so
    viewing it instead of copying saves a full pass over the data on every load.
    """
    import numpy as np

    layout = _npy_layout(payload)
    if layout is None:  # numpy's 10 KB header guard is for untrusted files; ours are checked
        size = memoryview(payload).nbytes
        return np.load(io.BytesIO(payload), allow_pickle=False, max_header_size=size)
    shape, fortran_order, dtype, offset = layout
    count = math.prod(shape)
    if dtype.hasobject or offset + count * dtype.itemsize != memoryview(payload).nbytes:
        raise ValueError("the .npy header does not match the payload")
    flat = np.frombuffer(payload, dtype=dtype, count=count, offset=offset)
    if not flat.flags.writeable:
        flat = flat.copy()
    return flat.reshape(shape, order="F" if fortran_order else "C")


def _npy_layout(payload: Payload) -> tuple[tuple[int, ...], bool, Any, int] | None:
    """(shape, fortran order, dtype, data offset) of a .npy payload, or ``None`` when the
    simple view does not apply (unusual header versions, empty arrays)."""
    import numpy as np

    view = memoryview(payload).cast("B")
    version = np.lib.format.read_magic(io.BytesIO(bytes(view[:8])))
    if version not in ((1, 0), (2, 0)):
        return None
    length_bytes = 2 if version == (1, 0) else 4  # then the header's length, little-endian
    end = 8 + length_bytes + int.from_bytes(view[8 : 8 + length_bytes], "little")
    head = io.BytesIO(bytes(view[:end]))
    np.lib.format.read_magic(head)
    if version == (1, 0):
        read = np.lib.format.read_array_header_1_0
    else:
        read = np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = read(head, max_header_size=end)
    if dtype.itemsize == 0 or math.prod(shape) == 0:
        return None
    return shape, fortran_order, dtype, head.tell()


def _decode_sparse(payload: Payload) -> object:
    """``scipy.sparse.load_npz``, except that the arrays are views of ``payload`` when
    that is writable (a fresh decompressed buffer, or a hot entry mapped copy-on-write):
    ``load_npz`` reads every member out of the zip into new arrays, a full copy whose
    fresh pages cost 0.2-0.7 s for a 200 MB matrix, where the views cost nothing."""
    import scipy.sparse as sps

    members = _npz_members(payload) if not memoryview(payload).readonly else None
    if members is None:
        return sps.load_npz(io.BytesIO(payload))
    arrays = {name: _decode_numpy(view) for name, view in members.items()}
    return _sparse_from_arrays(arrays)


_ZIP_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
"""A zip member's local file header (APPNOTE 4.3.7); the name and the extra field follow."""


def _npz_members(payload: Payload) -> dict[str, memoryview] | None:
    """The members of an uncompressed ``.npz`` (a zip of ``.npy`` files, as ``save_npz``
    writes it with ``compressed=False``), by name without ``.npy``, as views of
    ``payload``; None when a member is compressed or the zip is not what it should be."""
    import zipfile

    view = memoryview(payload).cast("B")
    try:
        with zipfile.ZipFile(BufferFile(view)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    members = {}
    for info in infos:
        start = info.header_offset
        header = bytes(view[start : start + _ZIP_LOCAL_HEADER.size])
        if info.compress_type != zipfile.ZIP_STORED or len(header) < _ZIP_LOCAL_HEADER.size:
            return None
        fields = _ZIP_LOCAL_HEADER.unpack(header)
        if fields[0] != b"PK\x03\x04":  # a local file header's signature
            return None
        data = start + _ZIP_LOCAL_HEADER.size + fields[10] + fields[11]  # name, extra field
        if data + info.file_size > view.nbytes or not info.filename.endswith(".npy"):
            return None
        members[info.filename[: -len(".npy")]] = view[data : data + info.file_size]
    return members


def _sparse_from_arrays(loaded: dict[str, Any]) -> object:
    """The matrix or array ``scipy.sparse.load_npz`` builds from the members of its file
    (scipy 1.17's rules, kept to the letter)."""
    import scipy.sparse as sps

    sparse_format = loaded.get("format")
    if sparse_format is None:
        raise ValueError("the payload does not contain a sparse array or matrix")
    sparse_format = sparse_format.item()
    if not isinstance(sparse_format, str):
        sparse_format = sparse_format.decode("ascii")
    kind = "_array" if loaded.get("_is_array") else "_matrix"
    cls = getattr(sps, sparse_format + kind, None)
    if cls is None:
        raise ValueError(f"unknown sparse format {sparse_format + kind!r}")
    shape = loaded["shape"]
    if sparse_format in ("csc", "csr", "bsr"):
        return cls((loaded["data"], loaded["indices"], loaded["indptr"]), shape=shape)
    if sparse_format == "dia":
        return cls((loaded["data"], loaded["offsets"]), shape=shape)
    if sparse_format == "coo":
        if "coords" in loaded:
            return cls((loaded["data"], loaded["coords"]), shape=shape)
        return cls((loaded["data"], (loaded["row"], loaded["col"])), shape=shape)
    raise ValueError(f"loading sparse format {sparse_format!r} is not implemented")


def _decode_bundle(payload: Payload) -> object:
    return bundle.decode(payload, _DECODERS)


_DECODERS: dict[str, Callable[[Payload], object]] = {
    "arrow": _decode_arrow,
    "pandas": _decode_pandas,
    "numpy": _decode_numpy,
    "sparse": _decode_sparse,
    "bundle": _decode_bundle,
    "skops": estimators.decode,
    "pickle": pickle.loads,
}
