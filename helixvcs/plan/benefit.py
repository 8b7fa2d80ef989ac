"""What a stored intermediate is worth: expected seconds saved, per byte it occupies.

The Helix materialization rule keeps a value when recomputing it (with the ancestors
that would have to be recomputed too) costs more than twice loading it. That rule
assumes the value will be wanted again; here it is weighted by the probability that the
operator's key survives the next iteration, estimated from history: an operator whose
key changed in many past iterations (because it, or anything upstream of it, was
edited) is unlikely to be reused, however expensive it is.

    P(survive) = (unchanged transitions + PRIOR_KEEP) / (transitions + PRIOR_KEEP + PRIOR_CHANGE)

A transition is a pair of consecutive distinct versions in which the operator exists in
both. The prior (3 : 1) says an operator with no history is probably reused, so a first
run keeps what the paper's rule would keep.

Objects of keys that are no longer any operator's current key (older versions) are worth
``STALE_WEIGHT`` of that: they come back when an old commit is run (bisect, revert), which
is rarer than the next iteration reusing the current one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

PRIOR_KEEP = 3.0
PRIOR_CHANGE = 1.0
STALE_WEIGHT = 0.25


def survival_probabilities(history: Sequence[Mapping[str, str]]) -> dict[str, float]:
    """``name -> P(its key survives the next iteration)``; ``history`` is oldest first.

    Each entry maps operator names to keys for one version; consecutive identical
    entries (a version run twice) count once.
    """
    versions = [dict(v) for i, v in enumerate(history) if i == 0 or dict(v) != dict(history[i - 1])]
    kept: dict[str, int] = {}
    seen: dict[str, int] = {}
    for before, after in pairwise(versions):
        for name in before.keys() & after.keys():
            seen[name] = seen.get(name, 0) + 1
            kept[name] = kept.get(name, 0) + (before[name] == after[name])
    names = {n for v in versions for n in v}
    return {n: probability(kept.get(n, 0), seen.get(n, 0)) for n in names}


def probability(unchanged: int, transitions: int) -> float:
    return (unchanged + PRIOR_KEEP) / (transitions + PRIOR_KEEP + PRIOR_CHANGE)


def default_probability() -> float:
    return probability(0, 0)


@dataclass(frozen=True)
class StoredValue:
    """One stored object, as the eviction policy sees it."""

    key: str
    name: str
    bytes: int
    recompute_seconds: float
    probability: float

    @property
    def benefit(self) -> float:
        """Expected seconds saved by keeping it."""
        return self.probability * self.recompute_seconds

    @property
    def benefit_per_byte(self) -> float:
        return self.benefit / max(self.bytes, 1)


def eviction_order(objects: Sequence[StoredValue]) -> list[StoredValue]:
    """Lowest expected benefit per byte first; ties: the larger object first."""
    return sorted(objects, key=lambda o: (o.benefit_per_byte, -o.bytes, o.key))


def choose_evictions(
    objects: Sequence[StoredValue], need_bytes: int, better_than: float | None = None
) -> list[StoredValue] | None:
    """The cheapest objects to drop to free ``need_bytes``, or None if impossible.

    With ``better_than``, only objects worth less per byte than that may go: a new
    candidate never displaces something more valuable than itself.
    """
    chosen: list[StoredValue] = []
    freed = 0
    for obj in eviction_order(objects):
        if freed >= need_bytes:
            break
        if better_than is not None and obj.benefit_per_byte >= better_than:
            break
        chosen.append(obj)
        freed += obj.bytes
    return chosen if freed >= need_bytes else None
