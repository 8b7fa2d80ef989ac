"""The storage budget as the run loop sees it: how much room is left, and making room.

The driver never decides what to evict; it asks. ``FixedBudget`` never evicts (for
previews and tests); the repo layer provides one that evicts the stored objects with the
lowest expected benefit per byte, never one the current or another running run needs.
"""

from __future__ import annotations

from typing import Protocol


class Budget(Protocol):
    def free(self) -> int:
        """Bytes that may still be written (negative when over budget)."""
        ...

    def make_room(self, nbytes: int, benefit_per_byte: float) -> bool:
        """Evict objects worth less per byte than ``benefit_per_byte`` until ``nbytes`` fit."""
        ...

    def added(self, key: str, name: str, nbytes: int, recompute_seconds: float) -> None:
        """An object of ``nbytes`` was written under ``key``."""
        ...

    def removed(self, key: str, nbytes: int) -> None:
        """An object was deleted by the run itself."""
        ...


class FixedBudget:
    """A limit and a running total; nothing is ever evicted."""

    def __init__(self, limit: int, used: int = 0) -> None:
        self.limit, self.used = limit, used

    def free(self) -> int:
        return self.limit - self.used

    def make_room(self, nbytes: int, benefit_per_byte: float) -> bool:
        return nbytes <= self.free()

    def added(self, key: str, name: str, nbytes: int, recompute_seconds: float) -> None:
        self.used += nbytes

    def removed(self, key: str, nbytes: int) -> None:
        self.used -= nbytes
