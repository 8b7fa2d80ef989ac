"""The storage budget over the real store: what each stored object is worth, and eviction.

Shared by ``helix run`` (new values compete with stored ones for room) and ``helix gc``
(drop the least valuable objects until the store fits a size). An object's worth is its
expected benefit per byte (``helixvcs.plan.benefit``); objects that a run in progress
may load are never evicted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from helixvcs.index import Index, StoreTotals
from helixvcs.plan.benefit import STALE_WEIGHT, StoredValue, choose_evictions, default_probability
from helixvcs.store import ObjectStore

#: A run packs the small loose objects once about this many are loose (git's ``gc.auto``
#: is 6,700), so a store that is never collected still does not grow a file per value.
AUTO_PACK_LOOSE = 4096


def pack_when_many_loose(store: ObjectStore, index: Index) -> None:
    """Pack small loose objects once there are many (``git gc --auto``), as ``helix gc``
    does first; their recorded sizes follow."""
    if store.loose_estimate() >= AUTO_PACK_LOOSE:
        index.resize_objects(store.repack().sizes)


def used_bytes(store: ObjectStore, index: Index) -> int:
    """The store's size from the index's running totals: no object is looked at, unless a
    run ended without recording what it wrote (then the store is counted once, here)."""
    totals = index.store_totals()
    if totals.stale:
        totals = reconcile(store, index)
    return totals.used


def reconcile(store: ObjectStore, index: Index, keys: Iterable[str] | None = None) -> StoreTotals:
    """Count the store against the index: forget records of objects that are gone, and
    count the bytes of objects without a record (a run died before recording them; those
    of runs in progress will be recorded by them). ``keys``: the store's keys, if listed."""
    recorded = index.object_sizes()
    present = set(store.keys() if keys is None else keys)
    missing = list(recorded.keys() - present)
    unrecorded = {}
    for key in present - recorded.keys() - index.running_keys():
        info = store.info(key)
        unrecorded[key] = info.bytes if info else 0
    return index.reconcile_store(missing, unrecorded)


def stored_values(
    store: ObjectStore,
    index: Index,
    *,
    protected: set[str],
    probabilities: Mapping[str, float],
    current_keys: Mapping[str, str],
    keys: Iterable[str] | None = None,
) -> list[StoredValue]:
    """Every stored object that may be evicted, valued (``keys``: the store's, if listed)."""
    records = index.object_values()
    values = []
    fallback = default_probability()
    for key in list(store.keys() if keys is None else keys):
        if key in protected:
            continue
        rec = records.get(key)
        if rec is None:  # kept by a run that died before recording it: worth unknown
            info = store.info(key)
            values.append(StoredValue(key, "?", info.bytes if info else 0, 0.0, 0.0))
            continue
        name, size, recompute = rec
        p = probabilities.get(name, fallback)
        if current_keys.get(name) != key:
            p *= STALE_WEIGHT
        values.append(StoredValue(key, name, size, recompute, p))
    return values


class StoreBudget:
    """A ``Budget`` (see ``helixvcs.exec.budget``) that evicts the least valuable objects."""

    def __init__(
        self,
        limit: int,
        store: ObjectStore,
        index: Index,
        *,
        protected: set[str],
        probabilities: Mapping[str, float],
        current_keys: Mapping[str, str],
    ) -> None:
        self.limit, self.store, self.index = limit, store, index
        self.used = used_bytes(store, index)
        self.protected = set(protected)
        self.probabilities, self.current_keys = probabilities, current_keys
        self.evicted: list[str] = []

    def free(self) -> int:
        return self.limit - self.used

    def make_room(self, nbytes: int, benefit_per_byte: float) -> bool:
        need = nbytes - self.free()
        if need <= 0:
            return True
        candidates = stored_values(
            self.store,
            self.index,
            protected=self.protected,
            probabilities=self.probabilities,
            current_keys=self.current_keys,
        )
        chosen = choose_evictions(candidates, need, better_than=benefit_per_byte)
        if chosen is None:
            return False
        for obj in chosen:
            if self.store.delete(obj.key):
                self.used -= obj.bytes
            self.evicted.append(obj.key)
        return self.free() >= nbytes

    def added(self, key: str, name: str, nbytes: int, recompute_seconds: float) -> None:
        self.used += nbytes
        self.protected.add(key)

    def removed(self, key: str, nbytes: int) -> None:
        self.used -= nbytes
