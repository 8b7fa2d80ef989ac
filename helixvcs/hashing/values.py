"""Stable fingerprints of Python values: constants, defaults and module-level objects.

A fingerprint must be equal across processes for equal values (so a cached result is found
again after a restart) and must differ whenever we cannot be sure the value is the same
(so a stale result is never served). Hence:

- plain data (None, bool, int, float, complex, str, bytes, tuple, list, dict, set,
  frozenset) is encoded canonically and type-tagged: dicts and sets are sorted by the
  encoding of their items, so insertion order and ``PYTHONHASHSEED`` do not matter, and
  floats are encoded by ``repr`` (exact round trip);
- numpy arrays by dtype, shape and raw bytes (numpy is never imported here: if it is not
  in ``sys.modules`` no value can be an array);
- enum members, dataclass instances and namedtuples by their type and fields;
- functions, classes and modules *by reference*: their name, plus, for functions, what
  their code does and the values they close over (a subclass may trace them instead);
- everything else by its pickle (protocol 4), through a pickler that still encodes nested
  sets canonically and references by name;
- if none of that works, a digest unique to the call: "unsure" means "changed".

``code_digest`` (what a code object does) lives here too: a function is fingerprinted by
its code, and code by its constants, which are values.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import inspect
import io
import pickle
import sys
import uuid
from collections.abc import Callable
from types import CodeType, FunctionType, MappingProxyType, ModuleType
from typing import Any

from helixvcs.hashing.digests import digest

__all__ = ["Fingerprinter", "code_digest", "is_reference", "value_fingerprint"]


def value_fingerprint(value: object) -> str:
    """A 40-hex digest of ``value`` that is stable across processes, or unique if unsure."""
    if isinstance(value, Fingerprinted):
        return value.fingerprint
    return Fingerprinter().fingerprint(value)


def code_digest(code: CodeType) -> str:
    """A digest of what a code object does, blind to line numbers and file names.

    This is the fallback identity of functions whose source cannot be read (exec'd, built
    by a notebook, or out of step with the file on disk), and the yardstick for checking
    that a source file still matches the code that is running.
    """
    consts = [_const_part(c) for c in code.co_consts]
    return digest(
        "code",
        code.co_code,
        repr(code.co_names),
        repr(code.co_varnames),
        repr(code.co_freevars),
        repr(code.co_cellvars),
        repr((code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount)),
        str(code.co_flags),
        *consts,
    )


def _const_part(const: object) -> str:
    if isinstance(const, CodeType):
        return "code:" + code_digest(const)
    # Constants of code objects are plain literals (numbers, strings, tuples, frozensets)
    # that value_fingerprint handles canonically, so frozenset order cannot leak into the
    # digest.
    return "value:" + value_fingerprint(const)


class Fingerprinted:
    """A value known only by its fingerprint: a constant of a compile served from its
    record (``helixvcs.graph.cache``), enough to re-key a node, never to compute with."""

    __slots__ = ("fingerprint",)

    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint

    def __repr__(self) -> str:
        return f"<value {self.fingerprint[:12]}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fingerprinted) and other.fingerprint == self.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)


def _item(tag: bytes, payload: bytes) -> bytes:
    """One self-delimiting encoded item: a one-byte tag, a length and the payload."""
    return tag + len(payload).to_bytes(8, "big") + payload


def _int_bytes(value: int) -> bytes:
    # Not str(value): Python refuses str() of ints with more than 4300 digits.
    return value.to_bytes((value.bit_length() + 8) // 8, "big", signed=True)


_SCALARS: dict[type, Callable[[Any], bytes]] = {
    type(None): lambda v: _item(b"N", b""),
    bool: lambda v: _item(b"?", b"1" if v else b"0"),
    int: lambda v: _item(b"i", _int_bytes(v)),
    float: lambda v: _item(b"f", repr(v).encode()),
    complex: lambda v: _item(b"c", repr(v).encode()),
    str: lambda v: _item(b"s", v.encode("utf-8", "surrogatepass")),
    bytes: lambda v: _item(b"b", v),
    bytearray: lambda v: _item(b"B", bytes(v)),
    type(...): lambda v: _item(b".", b""),
    type(NotImplemented): lambda v: _item(b"!", b""),
}


def is_reference(obj: object) -> bool:
    """Whether ``obj`` is code rather than data: encoded by name, not by content."""
    return (
        inspect.ismodule(obj)
        or inspect.isclass(obj)
        or inspect.isroutine(obj)
        or (callable(obj) and hasattr(obj, "__wrapped__"))
    )


class Fingerprinter:
    """Canonical encoder behind :func:`value_fingerprint`.

    :meth:`reference` decides how code found inside a value is encoded; the code-identity
    tracer overrides it to name repo-local code stably and to follow it.
    """

    item = staticmethod(_item)

    def __init__(self) -> None:
        self._stack: list[int] = []  # ids of containers being encoded, to spot cycles

    def fingerprint(self, value: object) -> str:
        try:
            return digest("value", self.encode(value))
        except Exception:  # anything at all: unsure means changed
            return digest("unstable", uuid.uuid4().hex)

    def encode(self, value: object) -> bytes:
        scalar = _SCALARS.get(type(value))
        if scalar is not None:
            return scalar(value)
        if id(value) in self._stack:
            return _item(b"@", _int_bytes(self._stack.index(id(value))))
        self._stack.append(id(value))
        try:
            return self._encode_compound(value)
        finally:
            self._stack.pop()

    def _encode_compound(self, value: Any) -> bytes:
        kind = type(value)
        if kind is tuple or kind is list:
            return _item(b"t" if kind is tuple else b"l", self._join(value))
        if kind is dict or kind is MappingProxyType:
            pairs = sorted(self.encode(k) + self.encode(v) for k, v in value.items())
            return _item(b"d" if kind is dict else b"x", b"".join(pairs))
        if kind is set or kind is frozenset:
            items = sorted(self.encode(v) for v in value)
            return _item(b"S" if kind is set else b"Z", b"".join(items))
        if isinstance(value, enum.Enum):
            body = self.reference(kind) + self.encode(value.name) + self.encode(value.value)
            return _item(b"e", body)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)]
            return _item(b"D", self.reference(kind) + self.encode(fields))
        if isinstance(value, tuple) and hasattr(kind, "_fields"):
            return _item(b"n", self.reference(kind) + self._join(value))
        array = _encode_numpy(value, self)
        if array is not None:
            return array
        if is_reference(value):
            return _item(b"r", self.reference(value))
        return _item(b"p", self._pickle(value))

    def _join(self, values: Any) -> bytes:
        return b"".join(self.encode(v) for v in values)

    # -- code inside values ---------------------------------------------------------

    def reference(self, obj: Any) -> bytes:
        """Encode code by name; functions also by what they do and what they close over."""
        if inspect.ismodule(obj):
            return _item(b"M", obj.__name__.encode())
        if inspect.ismethod(obj):
            return _item(b"m", self.encode(obj.__self__) + self.encode(obj.__func__))
        if isinstance(obj, FunctionType):
            return _item(b"F", _qualified(obj).encode() + self._function_state(obj))
        if callable(obj) and hasattr(obj, "__wrapped__") and not inspect.isclass(obj):
            return _item(b"W", self.reference(type(obj)) + self.encode(inspect.unwrap(obj)))
        owner = getattr(obj, "__self__", None)
        if inspect.isroutine(obj) and owner is not None and not inspect.ismodule(owner):
            return _item(b"b", self.encode(owner) + self.encode(obj.__name__))
        return _item(b"C", _qualified(obj).encode())

    def _function_state(self, func: FunctionType) -> bytes:
        cells = []
        for cell in func.__closure__ or ():
            try:
                cells.append(cell.cell_contents)
            except ValueError:  # an empty cell: the closure is not finished
                raise _Unsure(f"empty closure cell in {func.__qualname__}") from None
        state = (func.__defaults__, func.__kwdefaults__, tuple(cells))
        return code_digest(func.__code__).encode() + self.encode(state)

    # -- pickle fallback ------------------------------------------------------------

    def _pickle(self, value: object) -> bytes:
        buffer = io.BytesIO()
        _CanonicalPickler(buffer, self).dump(value)
        return buffer.getvalue()

    def persistent_id(self, obj: object) -> bytes | None:
        """Inside a pickle: sets canonically, arrays by content, code by reference."""
        if type(obj) is set or type(obj) is frozenset or is_reference(obj):
            return self.encode(obj)
        return _encode_numpy(obj, self)


class _Unsure(Exception):
    """The value cannot be fingerprinted reliably."""


class _CanonicalPickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, owner: Fingerprinter) -> None:
        super().__init__(file, protocol=4)
        self._owner = owner

    def persistent_id(self, obj: object) -> bytes | None:
        return self._owner.persistent_id(obj)


def _qualified(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or "?"
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or "?"
    return f"{module}.{name}"


def _encode_numpy(value: Any, owner: Fingerprinter) -> bytes | None:
    """Arrays by dtype, shape and bytes; ``None`` for anything that is not numpy data."""
    np: ModuleType | None = sys.modules.get("numpy")
    if np is None:
        return None
    if type(value) is np.ndarray:
        dtype = repr(value.dtype.descr) if value.dtype.names else value.dtype.str
        head = dtype.encode() + owner.encode(value.shape)
        if value.dtype.hasobject:  # raw bytes would be pointers
            return _item(b"A", head + owner.encode(value.ravel().tolist()))
        raw = np.ascontiguousarray(value).reshape(-1).view(np.uint8)  # a view, not a copy
        data = hashlib.blake2b(raw, digest_size=20).digest()
        return _item(b"a", head + data)
    if isinstance(value, np.generic) and not isinstance(value, np.object_):
        return _item(b"g", value.dtype.str.encode() + value.tobytes())
    return None
