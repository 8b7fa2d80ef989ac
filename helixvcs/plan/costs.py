"""The cost model: seconds to compute and to load each node, learned from history.

Compute cost: the last measured compute seconds of the same key, else of the same
operator name (code changed, size probably did not), else ``DEFAULT_COMPUTE_SECONDS``.
Load cost: the measured load seconds of the stored object, else its bytes divided by the
store throughput, plus a fixed per-object overhead. A value already in memory loads free.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

DEFAULT_COMPUTE_SECONDS = 1.0
STORE_THROUGHPUT = 200e6  # bytes/s for decompress + decode; replaced by measurements
LOAD_OVERHEAD_SECONDS = 0.002


def estimate_load_seconds(nbytes: int, throughput: float = STORE_THROUGHPUT) -> float:
    return LOAD_OVERHEAD_SECONDS + max(nbytes, 0) / throughput


@dataclass(frozen=True)
class StoredObject:
    """What the cost model needs to know about one stored key."""

    bytes: int
    load_seconds: float | None = None


@dataclass(frozen=True)
class CostModel:
    by_key: Mapping[str, float] = field(default_factory=dict)
    by_name: Mapping[str, float] = field(default_factory=dict)
    stored: Mapping[str, StoredObject] = field(default_factory=dict)
    in_memory: frozenset[str] = frozenset()
    throughput: float = STORE_THROUGHPUT
    hot: frozenset[str] = frozenset()  # stored keys a hot tier holds: priced at its speed

    def compute_seconds(self, name: str, key: str) -> float:
        if key in self.by_key:
            return self.by_key[key]
        return self.by_name.get(name, DEFAULT_COMPUTE_SECONDS)

    def compute_source(self, name: str, key: str) -> str:
        if key in self.by_key:
            return "measured"
        return "same operator, earlier code" if name in self.by_name else "default guess"

    def load_source(self, key: str) -> str | None:
        if key in self.in_memory:
            return "in memory"
        obj = self.stored.get(key)
        if obj is None:
            return None
        if obj.load_seconds is not None:
            return "measured"
        return f"estimated from {obj.bytes} bytes at {self.throughput / 1e6:.0f} MB/s"

    def load_seconds(self, key: str) -> float | None:
        """None when the key is neither stored nor in memory."""
        if key in self.in_memory:
            return 0.0
        obj = self.stored.get(key)
        if obj is None:
            return None
        if obj.load_seconds is not None:
            return obj.load_seconds
        return estimate_load_seconds(obj.bytes, self.throughput)

    def costs(
        self, nodes: Iterable[tuple[str, str]]
    ) -> tuple[dict[str, float], dict[str, float | None]]:
        """``(compute, load)`` cost maps for ``(name, key)`` pairs, as the optimizer wants them."""
        compute: dict[str, float] = {}
        load: dict[str, float | None] = {}
        for name, key in nodes:
            compute[name] = self.compute_seconds(name, key)
            load[name] = self.load_seconds(key)
        return compute, load


def replanned(model: CostModel, in_memory: Iterable[str], lost: Iterable[str]) -> CostModel:
    """The model mid-run: values held in memory load free, lost objects are not stored."""
    gone = frozenset(lost)
    return CostModel(
        by_key=model.by_key,
        by_name=model.by_name,
        stored={k: v for k, v in model.stored.items() if k not in gone},
        in_memory=model.in_memory | frozenset(in_memory),
        throughput=model.throughput,
        hot=model.hot,
    )


def as_stored(objects: Mapping[str, tuple[int, float | None]]) -> dict[str, StoredObject]:
    return {k: StoredObject(bytes=b, load_seconds=s) for k, (b, s) in objects.items()}
