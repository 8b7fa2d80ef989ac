"""The cache key of one node of a compiled workflow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from helixvcs.hashing.digests import digest
from helixvcs.hashing.values import value_fingerprint

__all__ = ["SampleSpec", "node_key", "sampled_extra"]


def node_key(
    kind: str,
    code_hash: str,
    constants: Mapping[str, object],
    parent_keys: Sequence[str],
    extra: str = "",
) -> str:
    """``H(kind, code, constants by name, parent keys in order, extra)``.

    Parents stay in parameter order: ``f(a, b)`` and ``f(b, a)`` are different
    computations. ``extra`` carries what only the caller knows, such as a source's file
    digest or decorator options.
    """
    named = sorted((str(name), value_fingerprint(value)) for name, value in constants.items())
    return digest(
        "node",
        kind,
        code_hash,
        str(len(named)),
        *(part for pair in named for part in pair),
        str(len(parent_keys)),
        *parent_keys,
        extra,
    )


@dataclass(frozen=True)
class SampleSpec:
    """``--sample FRACTION --seed N``: which rows of every source a sampled run keeps.

    Part of each source's key (:func:`sampled_extra`), so a sampled intermediate and
    everything computed from it live in a key space of their own and can never be served
    to a full run, or to a run with another fraction or seed.
    """

    fraction: float
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction < 1.0:
            raise ValueError(f"a sample fraction must be between 0 and 1, not {self.fraction}")

    @property
    def label(self) -> str:
        return f"{self.fraction:g}@{self.seed}"


def sampled_extra(extra: str, sample: SampleSpec) -> str:
    """A source's ``extra`` (its declared path and file digests) with the sample added."""
    return digest(extra, "sample", repr(float(sample.fraction)), str(int(sample.seed)))
