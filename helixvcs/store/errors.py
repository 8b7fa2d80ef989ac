"""Errors raised by the object store.

They live next to the code that raises them (as dulwich asks) and derive from
``HelixError`` so the CLI can print them as one line. Keys are shortened to twelve hex
characters in messages, like git's abbreviated hashes.
"""

from __future__ import annotations

import errno
from pathlib import Path

from helixvcs.errors import HelixError, UserInputError

_NO_ROOM = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


def short(key: str) -> str:
    """The abbreviated form of a key used in messages."""
    return key[:12]


class InvalidKey(UserInputError):
    """A key that is not 40 lowercase hex characters.

    Rejected before any path is built, so no key can address a file outside the store.
    """

    def __init__(self, key: object) -> None:
        self.key = key
        shown = repr(key) if len(repr(key)) <= 60 else repr(key)[:57] + "..."
        super().__init__(
            f"invalid object key {shown}: keys are 40 lowercase hexadecimal characters"
        )


class MissingObject(HelixError):
    """The key is not in the store (never written, deleted, or removed as corrupt)."""

    def __init__(self, key: str, where: str = "the store") -> None:
        self.key = key
        super().__init__(
            f"stored object {short(key)} is not in {where}; it has to be computed again"
        )


class CorruptObject(HelixError):
    """A stored object failed verification; the store removed it before raising.

    Removing it is what lets the caller make progress: ``put`` is idempotent, so a
    corrupt file left in place would never be replaced by the recomputed value.
    """

    def __init__(self, key: str, path: Path | None, reason: str) -> None:
        self.key = key
        self.path = path
        self.reason = reason
        super().__init__(
            f"stored object {short(key)} is corrupt ({reason}); "
            "it was removed and will be recomputed"
        )


class UnstorableValue(HelixError):
    """A value that no codec can serialize (for example one holding a lock or a socket)."""

    def __init__(self, type_name: str, reason: str) -> None:
        self.type_name = type_name
        self.reason = reason
        super().__init__(
            f"cannot store a value of type {type_name}: {reason}; "
            "return something picklable (a table, an array, plain data or a fitted model)"
        )


class StoreWriteError(HelixError):
    """The file system refused a change; a partial file was removed, the store is intact.

    ``removing`` says whether the refused change was a write or the removal of an object.
    """

    def __init__(self, key: str, path: Path, error: OSError, *, removing: bool = False) -> None:
        self.key = key
        self.path = path
        self.errno = error.errno
        reason = error.strerror or str(error)
        action = f"remove object {short(key)} at" if removing else f"write object {short(key)} to"
        advice = ""
        if error.errno in _NO_ROOM and not removing:
            advice = (
                "; free space on that file system, or make the store smaller "
                "(helix gc --max-size SIZE, and max_store_bytes in .helix/config.toml)"
            )
        super().__init__(f"could not {action} {path}: {reason}{advice}")


class StoreReadError(HelixError):
    """The file system refused a read (permissions, I/O error); the object was kept."""

    def __init__(self, key: str, path: Path, error: OSError) -> None:
        self.key = key
        self.path = path
        self.errno = error.errno
        reason = error.strerror or str(error)
        super().__init__(
            f"could not read object {short(key)} from {path}: {reason}; "
            "check its permissions, or run `helix fsck --repair`"
        )


class StoreUnavailable(HelixError):
    """The store's folder cannot be created or opened (not writable, not a folder)."""

    def __init__(self, root: Path, error: OSError) -> None:
        self.root = root
        self.errno = error.errno
        reason = error.strerror or str(error)
        culprit = str(error.filename or root)
        where = "" if culprit == str(root) else f" ({culprit})"
        super().__init__(
            f"cannot open the object store at {root}: {reason}{where}; "
            "check that the folder exists and is writable"
        )
