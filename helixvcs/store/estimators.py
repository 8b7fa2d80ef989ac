"""scikit-learn estimators through skops: a format that loads without running code.

A fitted estimator is stored with ``skops.io`` when skops is installed and the round trip
is exact (the estimator loaded back pickles to the same bytes as the one computed);
anything else is pickled as before. Loading from this repository's own store trusts the
types the file names (it was written by our own runs); an object from an untrusted remote
loads only when skops trusts every type in it (``untrusted_types``), which is what lets a
teammate's models travel without trusting the teammate's remote to run code.
"""

from __future__ import annotations

import pickle
from typing import Any


def encode(value: object) -> bytes | None:
    """skops bytes of a scikit-learn estimator whose round trip is exact; else None."""
    if not type(value).__module__.startswith("sklearn."):
        return None
    try:
        import skops.io as sio
    except ImportError:
        return None
    try:
        data = sio.dumps(value)
        back = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
        if pickle.dumps(back, protocol=5) != pickle.dumps(value, protocol=5):
            return None
    except Exception:  # skops cannot take it (a custom transformer, say): pickle it
        return None
    return bytes(data)


def decode(payload: Any) -> object:
    """An estimator from this store (written by our own runs): every type it names loads."""
    import skops.io as sio

    data = bytes(payload)
    return sio.loads(data, trusted=sio.get_untrusted_types(data=data))


def untrusted_types(payload: Any) -> list[str]:
    """Types in the payload that skops does not trust by default (empty: safe to load)."""
    import skops.io as sio

    return list(sio.get_untrusted_types(data=bytes(payload)))
