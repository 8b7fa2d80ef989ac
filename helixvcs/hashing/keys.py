"""The cache key of one node of a compiled workflow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from helixvcs.hashing.digests import digest
from helixvcs.hashing.values import value_fingerprint

__all__ = ["node_key"]


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
