"""Sizes as people write them: ``500MB``, ``2GiB``, ``1024`` (the store budget, the hot
tier's memory)."""

from __future__ import annotations

import re

from helixvcs.errors import UserInputError

_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
    "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40,
}  # fmt: skip


def parse_size(text: object) -> int:
    """``500MB`` -> 500_000_000, ``2GiB`` -> 2 * 2**30, ``1024`` -> 1024."""
    if isinstance(text, bool) or not isinstance(text, int | str):
        raise UserInputError(f"bad size {text!r}; use bytes or a unit, e.g. 500MB or 2GiB")
    if isinstance(text, int):
        if text < 0:
            raise UserInputError(f"bad size {text}: a size cannot be negative")
        return text
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    if not m or m.group(2).lower() not in _UNITS:
        raise UserInputError(f"bad size {text!r}; use bytes or a unit, e.g. 500MB or 2GiB")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])
