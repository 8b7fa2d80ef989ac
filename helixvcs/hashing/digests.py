"""The one digest function every key in helixvcs is built from, and a digest of bytecode.

Every key is a blake2b digest (20 bytes, 40 hex characters: as short as git's SHA-1 names
and as hard to collide). Parts are length-prefixed so that no two different part lists can
produce the same byte stream: ``("ab", "c")`` and ``("a", "bc")`` hash differently.
"""

from __future__ import annotations

import hashlib
from types import CodeType

DIGEST_SIZE = 20


def digest(*parts: bytes | str) -> str:
    """A 40-hex-character digest of ``parts``; each part is length-prefixed."""
    h = hashlib.blake2b(digest_size=DIGEST_SIZE)
    for part in parts:
        if isinstance(part, str):
            data = part.encode("utf-8", "surrogatepass")
        elif isinstance(part, bytes | bytearray | memoryview):
            data = bytes(part)
        else:
            raise TypeError(f"digest() takes str or bytes parts, got {type(part).__name__}")
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


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
    # Imported here: values imports digests, and constants of code objects are plain
    # literals (numbers, strings, tuples, frozensets) that value_fingerprint handles
    # canonically, so frozenset order cannot leak into the digest.
    from helixvcs.hashing.values import value_fingerprint

    return "value:" + value_fingerprint(const)
