"""The one digest function every key in helixvcs is built from.

Every key is a blake2b digest (20 bytes, 40 hex characters: as short as git's SHA-1 names
and as hard to collide). Parts are length-prefixed so that no two different part lists can
produce the same byte stream: ``("ab", "c")`` and ``("a", "bc")`` hash differently.

The bottom of ``hashing``: it imports nothing of helixvcs. The digest of bytecode
(``code_digest``) lives with value fingerprints in ``values``, since each uses the other.
"""

from __future__ import annotations

import hashlib

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
