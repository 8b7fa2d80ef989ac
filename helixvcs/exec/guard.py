"""A fingerprint of a value as it is now, to notice an operator changing its input in place.

Two operators that receive one parent get the same Python object, so one that sorts,
appends to, refits or overwrites it would hand the other a different value than the one
the key stands for. ``run_task`` fingerprints each shared input before the operator runs
and again after it, and fails the run when the two differ.

The check is not adversarial (an operator is not trying to hide a change), so what
matters is that it is cheap enough to run on everything:

* array-like buffers are checksummed where they lie, with CRC-32 (``store.crc.crc32``:
  zlib-ng's, ~27 GB/s here, or zlib's on two threads, ~4 GB/s on each; blake2b takes
  ~1 GB/s): numpy
  arrays, the data / indices / indptr (or coords, offsets) of scipy sparse matrices, and
  the buffers that pickle protocol 5 hands out of band for everything else (pandas
  blocks and Arrow columns inside frames, arrays inside fitted models);
* tuples, lists and dicts are walked, so a container of arrays costs what its arrays
  cost, and an element that does not pickle leaves the rest of the container checked;
* only the small remainder (structure, dtypes, shapes, Python objects) is pickled.

A value that does not pickle and holds no array-like buffer cannot be fingerprinted
(``None``): it stays unchecked. A value that nothing can change in place (``immutable``:
numbers, strings, bytes, Arrow tables and arrays over immutable buffers, tuples of them) is
not fingerprinted at all.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Sequence
from typing import Any

from helixvcs.store.crc import crc32

WATCH_LIMIT = 2**30
"""Values whose buffers add up to more than this (1 GiB) are not checked: a fingerprint
costs about 4 ms per 100 MiB (zlib-ng's crc32; 20 ms with zlib's), paid once after every
operator that receives the value and once more before the first, so a 1 GiB input adds
~0.04-0.2 s to each."""

_MAX_DEPTH = 3
"""Containers nested deeper than this are pickled whole, like any other object."""
_MAX_ITEMS = 1024
"""Longer containers are pickled whole: pickle's C loop over many small items is faster
than walking them in Python, and pickle hands their arrays out of band all the same."""
_MAX_WALKED = 4096
"""Items walked in one value at most; containers past that are pickled whole too."""
_SPARSE_PARTS = {
    "csr": ("data", "indices", "indptr"),
    "csc": ("data", "indices", "indptr"),
    "bsr": ("data", "indices", "indptr"),
    "dia": ("data", "offsets"),
    "coo": ("data",),
}


_IMMUTABLE = frozenset({type(None), bool, int, float, complex, str, bytes})


def immutable(value: Any, depth: int = 0) -> bool:
    """Whether nothing can change ``value`` in place: a value of a built-in immutable type,
    an Arrow table, batch or array whose buffers are all immutable (``_frozen_arrow``), or
    a tuple or frozenset of such values (not nested deeper than containers are walked, and
    not longer). Such a value needs no fingerprint: it is the same after any child."""
    cls = type(value)
    if cls in _IMMUTABLE:
        return True
    if cls in (tuple, frozenset) and depth < _MAX_DEPTH and len(value) <= _MAX_ITEMS:
        return all(immutable(item, depth + 1) for item in value)
    if cls.__module__.partition(".")[0] == "pyarrow":
        return _frozen_arrow(value)
    return False


FREEZE_CHECKS = 3
"""A computed Arrow table that this many children (or more) would fingerprint is copied
once into immutable memory instead (``frozen_copy``): a copy costs about what one
fingerprint costs (both read every byte; the copy writes them once more), against one
fingerprint before the first child and one after each."""


def frozen_copy(value: Any) -> Any:
    """``value``, or, for an Arrow table over memory that can still be written, an equal
    table over memory nobody can write: read back from its IPC stream, as a load from
    the store gives it. Such a table is ``immutable`` and is never fingerprinted."""
    import sys

    if "pyarrow" not in sys.modules or immutable(value):
        return value
    import pyarrow as pa

    if type(value) is not pa.Table:
        return value
    from helixvcs.store.codecs import decode, encode_buffer

    try:  # a type IPC cannot carry (an unregistered extension type): checked as it is
        codec, payload = encode_buffer(value)
        return decode(codec, payload)
    except Exception:
        return value


def _frozen_arrow(value: Any) -> bool:
    """Whether ``value`` is an Arrow table, record batch, chunked array or array none of
    whose buffers is mutable.

    Arrow's API changes nothing in place: every operation returns a new array, and the
    buffers it allocates (reading CSV, Parquet or IPC, computing) are immutable. An array
    made zero-copy over a writable buffer (``pa.array`` of a numpy array, ``py_buffer`` of
    a ``bytearray``) shares memory that can still be written, through the buffer or its
    owner: such a value is fingerprinted like any other. Walking the buffers costs about a
    millisecond for a table of 2,000 chunks.
    """
    import pyarrow as pa

    if isinstance(value, (pa.Table, pa.RecordBatch)):
        columns: list[Any] = list(value.columns)
    elif isinstance(value, (pa.ChunkedArray, pa.Array)):
        columns = [value]
    else:
        return False
    return all(
        _frozen_array(array)
        for column in columns
        for array in (column.chunks if isinstance(column, pa.ChunkedArray) else (column,))
    )


def _frozen_array(array: Any) -> bool:
    """No buffer of ``array`` is mutable: its own and its children's (``buffers()`` walks
    them), and its dictionary's, which ``buffers()`` leaves out."""
    if any(buffer is not None and buffer.is_mutable for buffer in array.buffers()):
        return False
    dictionary = getattr(array, "dictionary", None)
    return dictionary is None or _frozen_array(dictionary)


def fingerprint(
    value: Any, limit: int = WATCH_LIMIT, known: Sequence[tuple[Any, int]] = ()
) -> bytes | None:
    """A 20-byte digest of ``value`` as it is now; ``None`` when it cannot be taken (the
    value does not pickle and has no buffers) or would cost too much (over ``limit``).

    ``known``: (array, ``zlib.crc32`` of its bytes) taken a moment ago, with nothing run
    since that could change it (the store's encoding of a value the operator just
    returned, ``Encoded.checksums``): those arrays are not read again. Only C-contiguous
    arrays use it, whose bytes as checksummed here are their memory as it lies."""
    parts = _Parts()
    parts.add(value, 0)
    if parts.size > limit:  # before pickling anything
        return None
    if not parts.pickle_others() and not parts.arrays:
        return None  # nothing of it could be read: unchecked, as an unpicklable value
    if parts.size > limit:
        return None
    digest = hashlib.blake2b(digest_size=20)
    digest.update(pickle.dumps(parts.layout, protocol=5))
    crcs = {id(array): crc for array, crc in known}
    for chunk in parts.streams:
        digest.update(_checksum(chunk))
    for array in parts.arrays:
        crc = crcs.get(id(array)) if array.flags.c_contiguous else None
        if crc is None:  # ravel "K": no copy for C- or Fortran-ordered arrays
            digest.update(_checksum(array.ravel(order="K").view("u1") if array.nbytes else b""))
        else:
            digest.update(b"%d:%d;" % (array.nbytes, crc))
    for buffer in parts.buffers:
        try:
            digest.update(_checksum(buffer.raw()))
        except BufferError:  # not contiguous
            digest.update(_checksum(memoryview(buffer).tobytes()))
    return digest.digest()


def _checksum(chunk: Any) -> bytes:
    return b"%d:%d;" % (memoryview(chunk).nbytes, crc32(chunk))


class _Parts:
    """What a value is made of: its layout (types, lengths, dtypes, shapes, keys), the
    arrays whose buffers are checksummed in place, and the other objects, pickled."""

    def __init__(self) -> None:
        self.layout: list[Any] = []
        self.arrays: list[Any] = []
        self.others: list[Any] = []
        self.streams: list[bytes] = []
        self.buffers: list[pickle.PickleBuffer] = []
        self.size = 0
        self.walked = 0

    def add(self, value: Any, depth: int) -> None:
        cls = type(value)
        if (
            cls in (tuple, list, dict)
            and depth < _MAX_DEPTH
            and len(value) <= min(_MAX_ITEMS, _MAX_WALKED - self.walked)
        ):
            self.walked += len(value)
            self.layout.append((cls.__name__, len(value)))
            if cls is dict:
                self.others.append(list(value))  # the keys, in order
                value = value.values()
            for item in value:
                self.add(item, depth + 1)
            return
        top = cls.__module__.partition(".")[0]  # never import a library the value is not of
        if top == "numpy" and self._array(value):
            return
        if top == "scipy" and self._sparse(value):
            return
        self.layout.append("object")
        self.others.append(value)

    def _array(self, value: Any) -> bool:
        import numpy as np

        if type(value) is not np.ndarray or value.dtype.hasobject:
            return False
        self.layout.append(("ndarray", repr(value.dtype), value.shape))
        self.arrays.append(value)
        self.size += value.nbytes
        return True

    def _sparse(self, value: Any) -> bool:
        import scipy.sparse as sps

        names = _SPARSE_PARTS.get(getattr(value, "format", ""))
        if not sps.issparse(value) or names is None:
            return False  # lil, dok: pickled
        self.layout.append((type(value).__qualname__, value.format, value.shape))
        for name in names:
            self.add(getattr(value, name), _MAX_DEPTH)
        if value.format == "coo":  # one array per axis (scipy < 1.13: row and col only)
            for axis in getattr(value, "coords", None) or (value.row, value.col):
                self.add(axis, _MAX_DEPTH)
        return True

    def pickle_others(self) -> bool:
        """Pickle the other objects, their large buffers out of band; an object that does
        not pickle is left out by type. ``False`` when none of them pickled."""
        if not self.others:
            return True
        if self._pickle(self.others):
            return True
        pickled = [self._pickle(other) for other in self.others]
        self.layout.extend(
            ("unchecked", i, type(other).__qualname__)
            for i, (other, ok) in enumerate(zip(self.others, pickled, strict=True))
            if not ok
        )
        return any(pickled)

    def _pickle(self, value: Any) -> bool:
        buffers: list[pickle.PickleBuffer] = []
        try:  # pickling runs arbitrary __reduce__ code: any failure means unchecked
            stream = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
        except Exception:
            return False
        self.streams.append(stream)
        self.buffers.extend(buffers)
        self.size += len(stream) + sum(memoryview(b).nbytes for b in buffers)
        return True
