"""What is wrong with a disk store, found without decoding anything, and its repair.

``helix fsck`` walks ``.helix/objects`` with :func:`find_damage`: fan-out folders that are
files or cannot be read, folders where an object file belongs, objects that cannot be
read, and objects that fail verification (a damaged header, a truncated or emptied file,
a flipped byte, or another object than the one the run index recorded); in
``objects/pack/``, packs without an index or with a damaged one, and packed objects that
fail the same checks (each one alone: the rest of its pack is kept). Payloads are
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
from helixvcs.store.disk import PACK_DIR, TEMP_DIR, DiskObjectStore, fanout_name
from helixvcs.store.objectfile import Corruption, unpack_raw
from helixvcs.store.packfile import PackDamage, PackIndex, Record, read_entry
from helixvcs.store.packs import Packs

REMOVE = "remove"
PERMIT = "permit"
DROP = "drop"  # a packed object: added to its pack's dead list
REINDEX = "reindex"  # a pack's index rebuilt from the pack


@dataclass(frozen=True)
class Damage:
    """One thing wrong in the store: where, what, and which repair fits."""

    path: Path
    problem: str
    action: str  # REMOVE, PERMIT, DROP or REINDEX
    key: str | None = None
    packs: Packs | None = None  # for DROP and REINDEX
    record: Record | None = None  # for DROP

    @property
    def repair(self) -> str:
        if self.action == PERMIT:
            return "give it back to its owner (chmod u+rwX)"
        if self.action == DROP:
            return "remove the object from its pack (a value is computed again when a run needs it)"
        if self.action == REINDEX:
            return "rebuild the pack's index from the pack"
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
        if entry.name == PACK_DIR:
            if not entry.is_dir(follow_symlinks=False):
                yield Damage(path, "a file where the store's pack folder belongs", REMOVE)
            else:
                yield from _packs(store.packs, checksums, walk)
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


def _packs(packs: Packs, checksums: Mapping[str, str], walk: Walk) -> Iterator[Damage]:
    for orphan in sorted(packs.orphans()):
        yield Damage(orphan, "a pack without its index", REINDEX, packs=packs)
    indexes = packs.indexes()
    for name, reason in sorted(packs.damaged.items()):
        path = packs.folder / f"{name}.pack"
        yield Damage(path, f"a damaged pack index ({reason})", REINDEX, packs=packs)
    for pack in sorted(indexes, key=lambda p: p.name):
        if not pack.pack_path.exists():
            yield Damage(pack.index_path, "a pack index without its pack", REMOVE)
            continue
        if not pack.checksum_ok():
            problem = "a damaged pack index (checksum mismatch)"
            yield Damage(pack.pack_path, problem, REINDEX, packs=packs)
            continue
        yield from _pack(packs, pack, checksums, walk)


def _pack(
    packs: Packs, pack: PackIndex, checksums: Mapping[str, str], walk: Walk
) -> Iterator[Damage]:
    for record in pack.records():
        walk.objects += 1
        key = record.key.hex()
        try:
            unpack_raw(read_entry(pack.pack_path, record), checksums.get(key))
        except FileNotFoundError:
            continue  # rewritten meanwhile
        except OSError as exc:
            problem = "cannot be read" if isinstance(exc, PermissionError) else exc.strerror
            yield Damage(pack.pack_path, f"a pack that {problem}", PERMIT, key)
            return
        except (PackDamage, Corruption) as exc:
            reason = exc.reason if isinstance(exc, Corruption) else str(exc)
            problem = f"a damaged packed object {key[:12]} ({reason})"
            yield Damage(pack.pack_path, problem, DROP, key, packs, record)


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
    elif damage.action == DROP:
        assert damage.packs is not None and damage.record is not None
        for pack in damage.packs.indexes():
            if pack.pack_path == damage.path:
                damage.packs.drop(pack, damage.record)
    elif damage.action == REINDEX:
        assert damage.packs is not None
        damage.packs.reindex(damage.path)
    elif damage.path.is_dir() and not damage.path.is_symlink():
        shutil.rmtree(damage.path)
    else:
        damage.path.unlink(missing_ok=True)
