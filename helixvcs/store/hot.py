"""The hot tier: values of recent runs, uncompressed in memory, for the next run.

Loading from the store pays for reading, a blake2b check and zstd decompression of every
byte (a 180 MB table takes about half a second). While a user has warm servers running
(``helixvcs.servers``), every value a run stores or loads is also written, uncompressed,
into a private per-user folder on tmpfs (``$XDG_RUNTIME_DIR/helixvcs/hot``, else
``/dev/shm/helixvcs-<uid>/hot``), and a later load of the same key maps that file
instead: numpy arrays and Arrow tables come back without a copy, other values are decoded
from memory. Keys name computations (``helixvcs.hashing``), so a value under a key is the
same in every repository of the user and can never be stale.

* **Private.** The folder is the user's own, mode 0700; a folder owned by someone else or
  open to others disables the tier.
* **Verified.** Each entry carries a CRC-32 of its payload, checked on every read; a
  damaged or truncated entry is removed and the value comes from the store.
* **Copy on write.** Entries are mapped with ``MAP_PRIVATE``: an operator that changes an
  array it received in place changes its own pages, never the entry, so a later run gets
  the value as it was stored, and an operator is never handed read-only memory that
  would make it raise.
* **Bounded.** The tier holds at most ``HELIX_HOT_MEMORY`` bytes per user (default: the
  smaller of 25% of RAM and 4 GiB; ``0`` turns it off). A new entry evicts those with the
  least benefit per byte first (seconds saved by not recomputing, as ``helix gc`` weighs
  objects), the oldest among equals.
* **Gone with the servers.** tmpfs is memory, so the tier lives only while the user has a
  warm server: it is emptied when the last one stops, and by the next process that finds
  it with no server alive (after a SIGKILL). Nothing is lost but speed: every entry is a
  copy of a value that the store holds or that the run can compute.

An entry is ``HEADER_SIZE`` bytes of header (magic, codec, payload length, CRC-32,
benefit) followed by the codec's payload as the store encodes it before compression.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

from helixvcs.errors import UserInputError
from helixvcs.store.base import check_key
from helixvcs.store.codecs import CODECS, decode
from helixvcs.store.crc import crc32
from helixvcs.store.sizes import parse_size

HEADER = struct.Struct("<8s8sQId")
HEADER_SIZE = 64  # the payload starts 64-byte aligned, as numpy and Arrow like it
MAGIC = b"HXHOT01\0"
DEFAULT_SHARE = 0.25
DEFAULT_CAP = 4 * 2**30
HOT_THROUGHPUT = 2e9  # bytes/s a hot load runs at: a CRC-32 pass over mapped memory
HOT_OVERHEAD_SECONDS = 0.0002
MISS = object()  # what ``get`` returns for a key that is not hot (a value may be None)


@dataclass(frozen=True)
class HotEntry:
    key: str
    bytes: int  # the file's size: what it takes of the budget
    benefit: float  # seconds saved per load
    used: float  # mtime: when it was written or last read


class HotTier:
    """The user's hot tier in ``folder``, holding at most ``budget`` bytes."""

    def __init__(self, folder: Path, budget: int) -> None:
        self.folder, self.budget = folder, budget

    @classmethod
    def open(cls) -> HotTier | None:
        """The user's tier while a warm server runs; None when there is none to use."""
        from helixvcs import servers

        budget = budget_bytes()
        folder = tier_folder()
        if budget <= 0 or folder is None:
            return None
        if not servers.running():
            clear(folder)  # no server alive: whatever is there outlived its servers
            return None
        if not servers.private_folder(folder):
            return None
        return cls(folder, budget)

    def path(self, key: str) -> Path:
        check_key(key)
        return self.folder / key

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def raw_bytes(self, key: str) -> int | None:
        """The payload's size of a hot ``key``, or None when it is not hot."""
        try:
            return max(self.path(key).stat().st_size - HEADER_SIZE, 0)
        except OSError:
            return None

    def load_seconds(self, key: str) -> float | None:
        """What loading ``key`` from the tier costs, or None when it is not hot."""
        size = self.raw_bytes(key)
        return None if size is None else HOT_OVERHEAD_SECONDS + size / HOT_THROUGHPUT

    def get(self, key: str) -> object:
        """The value under ``key``, or ``MISS`` when it is not hot (or its entry was bad)."""
        entry = self._read(key, mmap.ACCESS_COPY)
        if entry is None:
            return MISS
        try:
            value = decode(*entry)
        except Exception:  # a damaged entry is a miss: the store has the value
            _remove(self.path(key))
            return MISS
        with contextlib.suppress(OSError):
            os.utime(self.path(key))
        return value

    def payload(self, key: str) -> tuple[str, memoryview] | None:
        """(codec, payload) of a hot ``key`` as the store encoded it, mapped read-only and
        checked against its CRC-32; None when it is not hot or its entry was bad."""
        return self._read(key, mmap.ACCESS_READ)

    def _read(self, key: str, access: int) -> tuple[str, memoryview] | None:
        """(codec, payload) of ``key``'s entry, mapped with ``access`` and checked (header,
        length, CRC-32); None when it is not hot. A damaged entry is removed."""
        path = self.path(key)
        try:
            with open(path, "rb") as file:
                size = os.fstat(file.fileno()).st_size
                if size < HEADER_SIZE:
                    raise ValueError("truncated")
                mapped = mmap.mmap(file.fileno(), size, access=access)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            _remove(path)
            return None
        magic, codec_field, length, crc, _benefit = HEADER.unpack_from(mapped, 0)
        codec = codec_field.rstrip(b"\0").decode("ascii", "replace")
        payload = memoryview(mapped)[HEADER_SIZE:]
        if magic != MAGIC or codec not in CODECS or length != len(payload):
            _remove(path)
            return None
        if crc32(payload) != crc:  # after the header: never a CRC of a wrong length
            _remove(path)
            return None
        return codec, payload

    def put(self, key: str, codec: str, raw: memoryview, benefit: float = 0.0) -> bool:
        """Keep ``raw`` (``codec``'s payload) under ``key``; False when it does not fit."""
        size = HEADER_SIZE + raw.nbytes
        if size > self.budget or self.has(key):
            return False
        self._make_room(size)
        header = HEADER.pack(MAGIC, codec.encode("ascii"), raw.nbytes, crc32(raw), float(benefit))
        temp = self.folder / f".{key}.{os.getpid()}.tmp"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with open(fd, "wb") as file:
                file.write(header.ljust(HEADER_SIZE, b"\0"))
                file.write(raw)
            os.replace(temp, self.path(key))
        except OSError:  # a full tmpfs is a miss, never an error
            _remove(temp)
            return False
        return True

    def entries(self) -> list[HotEntry]:
        found = []
        try:
            names = os.listdir(self.folder)
        except OSError:
            return []
        for name in names:
            if name.startswith("."):
                continue
            path = self.folder / name
            try:
                with open(path, "rb") as file:
                    head = file.read(HEADER.size)
                    stat = os.fstat(file.fileno())
                benefit = HEADER.unpack(head)[4]
            except (OSError, struct.error):
                continue
            found.append(HotEntry(name, stat.st_size, benefit, stat.st_mtime))
        return found

    def total_bytes(self) -> int:
        return sum(e.bytes for e in self.entries())

    def _make_room(self, size: int) -> None:
        entries = self.entries()
        total = sum(e.bytes for e in entries)
        if total + size <= self.budget:
            return
        for entry in sorted(entries, key=lambda e: (e.benefit / max(e.bytes, 1), e.used)):
            _remove(self.folder / entry.key)
            total -= entry.bytes
            if total + size <= self.budget:
                return


def coming() -> bool:
    """Whether this process will have a tier once the server it saw starting is up
    (``servers.expected``), which the store keeps values for meanwhile (``store/disk.py``)."""
    from helixvcs import servers

    return servers.expected() and budget_bytes() > 0


def budget_bytes() -> int:
    """``HELIX_HOT_MEMORY`` (bytes, or with a unit), else min(25% of RAM, 4 GiB)."""
    text = os.environ.get("HELIX_HOT_MEMORY", "").strip()
    if text:
        try:
            return parse_size(text)
        except UserInputError:
            raise UserInputError(
                f"HELIX_HOT_MEMORY={text!r} is not a size; give bytes or a unit (2GiB, "
                "500MB), or 0 to keep no values in memory"
            ) from None
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0
    return int(min(ram * DEFAULT_SHARE, DEFAULT_CAP))


def tier_folder() -> Path | None:
    """Beside the server registry when that is on tmpfs (``$XDG_RUNTIME_DIR``), else in
    ``/dev/shm``: never on a disk, where the tier would cost what it saves."""
    from helixvcs.servers import user_folder

    if os.environ.get("XDG_RUNTIME_DIR"):
        return user_folder() / "hot"
    shm = Path("/dev/shm")
    if shm.is_dir():
        return shm / f"helixvcs-{os.getuid()}" / "hot"
    return None


def clear(folder: Path | None = None) -> None:
    """Empty the tier (when the user's last warm server stops)."""
    folder = folder or tier_folder()
    from helixvcs.servers import owned

    if folder is not None and folder.is_dir() and owned(folder):
        shutil.rmtree(folder, ignore_errors=True)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
