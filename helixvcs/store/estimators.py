"""scikit-learn estimators through skops: a format that loads without running code.

A fitted estimator is stored with ``skops.io`` when skops is installed and the round trip
is exact (the estimator loaded back pickles to the same bytes as the one computed);
anything else is pickled as before. Loading from this repository's own store trusts the
types the file names (it was written by our own runs); an object from an untrusted remote
loads only when skops trusts every type in it (``untrusted_types``), which is what lets a
teammate's models travel without trusting the teammate's remote to run code.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import pickle
import re
import sys
import threading
import zipfile
from typing import Any

_warming = threading.Lock()
_warmed = False


def warm_up() -> None:
    """Import ``skops.io`` on a thread of its own, once per process, when the process has
    imported scikit-learn and not skops: a kept estimator is encoded with it on the
    writer's thread, and the import (~0.8 s: skops lists scikit-learn's estimators,
    importing all of them) would otherwise start only once the estimator is fitted,
    near the run's end, and the run would wait for it there. A warm server has imported
    it already. The thread never holds the process up: it is a daemon, and a write that
    needs skops meanwhile waits for the same import."""
    global _warmed
    with _warming:
        if _warmed or "sklearn" not in sys.modules or "skops.io" in sys.modules:
            return
        _warmed = True
    if importlib.util.find_spec("skops") is None:
        return
    threading.Thread(target=_import_skops, name="helix-skops", daemon=True).start()


def _import_skops() -> None:
    with contextlib.suppress(Exception):  # ``encode`` finds it missing: it pickles
        import skops.io  # noqa: F401


def encode(value: object, pickled: bytes | memoryview | None = None) -> bytes | None:
    """skops bytes of a scikit-learn estimator whose round trip is exact; else None.

    ``pickled``: the pickle of the estimator as it was computed, when ``value`` is a copy
    read back from it (a copy can pickle differently: objects its original shared are
    its own); the round trip must give those bytes."""
    if not type(value).__module__.startswith("sklearn."):
        return None
    try:
        import skops.io as sio
    except ImportError:
        return None
    try:
        data = _canonical(sio.dumps(value))
        back = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
        expected = pickle.dumps(value, protocol=5) if pickled is None else pickled
        if pickle.dumps(back, protocol=5) != expected:
            return None
    except Exception:  # skops cannot take it (a custom transformer, say): pickle it
        return None
    return bytes(data)


_REFERENCE = re.compile(rb'("__id__": )(\d+)|("file": ")(\d+)(\.npy")')


def _canonical(data: bytes) -> bytes:
    """The zip file skops wrote, made the same for the same estimator in any process and
    at any time (checksums compare values: early cutoff, remotes): skops names objects by
    their ``id()``, which are renumbered in order of appearance, and dates every member,
    which are all dated 1980-01-01. The caller checks the round trip afterwards."""
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        schema = src.read("schema.json")
        numbers: dict[bytes, bytes] = {}
        for match in _REFERENCE.finditer(schema):
            found = match.group(2) or match.group(4)
            numbers.setdefault(found, str(len(numbers) + 1).encode())

        def renumber(match: re.Match[bytes]) -> bytes:
            if match.group(2) is not None:
                return match.group(1) + numbers[match.group(2)]
            return match.group(3) + numbers[match.group(4)] + match.group(5)

        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as dst:
            for info in src.infolist():
                body = src.read(info)
                name = info.filename
                if name == "schema.json":
                    body = _REFERENCE.sub(renumber, body)
                elif name.endswith(".npy") and name[:-4].encode() in numbers:
                    name = numbers[name[:-4].encode()].decode() + ".npy"
                fixed = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                fixed.compress_type = info.compress_type
                fixed.external_attr = info.external_attr
                dst.writestr(fixed, body)
    return out.getvalue()


def decode(payload: Any) -> object:
    """An estimator from this store (written by our own runs): every type it names loads."""
    import skops.io as sio

    data = bytes(payload)
    return sio.loads(data, trusted=sio.get_untrusted_types(data=data))


def untrusted_types(payload: Any) -> list[str]:
    """Types in the payload that skops does not trust by default (empty: safe to load)."""
    import skops.io as sio

    return list(sio.get_untrusted_types(data=bytes(payload)))
