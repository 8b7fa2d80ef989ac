"""What is wrong with a disk store, found without decoding anything, and its repair.

``helix fsck`` walks ``.helix/objects`` with :func:`find_damage`: fan-out folders that are
files or cannot be read, folders where an object file belongs, objects that cannot be
read, and objects that fail verification (a damaged header, a truncated or emptied file,
a flipped byte, or another object than the one the run index recorded). Payloads are
decompressed to verify them but never decoded, so no pickle runs. Each finding says what
:func:`repair` would do: remove what cannot be trusted (a removed object is computed again
by the next run that needs it) or give back the owner's permissions.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from helixvcs.store.base import KEY_RE
from helixvcs.store.disk import TEMP_DIR, DiskObjectStore, fanout_name
from helixvcs.store.objectfile import Corruption, unpack_raw

REMOVE = "remove"
PERMIT = "permit"


@dataclass(frozen=True)
class Damage:
    """One thing wrong in the store: where, what, and which repair fits."""

    path: Path
    problem: str
    action: str  # REMOVE or PERMIT
    key: str | None = None

    @property
    def repair(self) -> str:
        if self.action == PERMIT:
            return "give it back to its owner (chmod u+rwX)"
        what = "object" if self.key else "entry"
        return f"remove the {what} (a value is computed again when a run needs it)"

    def to_json(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "key": self.key,
            "problem": self.problem,
            "repair": self.repair,
        }


@dataclass
class Walk:
    """What a walk saw: the objects it verified, and the damage it found."""

    objects: int = 0


def find_damage(
    store: DiskObjectStore, checksums: Mapping[str, str], walk: Walk
) -> Iterator[Damage]:
    """Every piece of damage in ``store``; ``checksums``: the index's, by key."""
    try:
        entries = sorted(os.scandir(store.root), key=lambda e: e.name)
    except OSError as exc:
        yield Damage(store.root, f"the store cannot be read ({exc.strerror})", PERMIT)
        return
    for entry in entries:
        path = Path(entry.path)
        if entry.name == TEMP_DIR:
            if not entry.is_dir(follow_symlinks=False):
                yield Damage(path, "a file where the store's temp folder belongs", REMOVE)
            continue
        if not fanout_name(entry.name):
            continue  # not ours to judge
        if not entry.is_dir(follow_symlinks=False):
            yield Damage(path, "a file where a fan-out folder belongs", REMOVE)
            continue
        yield from _folder(path, checksums, walk)


def _folder(folder: Path, checksums: Mapping[str, str], walk: Walk) -> Iterator[Damage]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except PermissionError:
        yield Damage(folder, "a fan-out folder that cannot be read", PERMIT)
        return
    except OSError as exc:
        yield Damage(folder, f"a fan-out folder that cannot be read ({exc.strerror})", REMOVE)
        return
    for entry in entries:
        key = folder.name + entry.name
        if not KEY_RE.fullmatch(key):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            yield Damage(path, "a folder where an object file belongs", REMOVE, key)
            continue
        walk.objects += 1
        problem = verify_file(path, checksums.get(key))
        if problem == "cannot be read":
            yield Damage(path, "an object that cannot be read", PERMIT, key)
        elif problem is not None:
            yield Damage(path, f"a damaged object ({problem})", REMOVE, key)


def verify_file(path: Path, checksum: str | None) -> str | None:
    """Why the object file at ``path`` cannot be trusted, or None; never decodes it."""
    try:
        data = path.read_bytes()
    except PermissionError:
        return "cannot be read"
    except OSError as exc:
        return exc.strerror or str(exc)
    if not data:
        return "empty"
    try:
        unpack_raw(data, checksum)
    except Corruption as exc:
        return exc.reason
    return None


def repair(damage: Damage) -> None:
    """Apply ``damage.repair``; raises ``OSError`` if the file system refuses."""
    if damage.action == PERMIT:
        os.chmod(damage.path, 0o700 if damage.path.is_dir() else 0o600)
    elif damage.path.is_dir() and not damage.path.is_symlink():
        shutil.rmtree(damage.path)
    else:
        damage.path.unlink(missing_ok=True)
