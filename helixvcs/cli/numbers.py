"""How metric values print: exactly, so that two different values never look the same.

A metric is printed as the shortest text that reads back as the same float (Python's
``repr``, without a trailing ``.0``): ``0.8505`` stays ``0.8505``, and ``0.85046`` is
not rounded onto it. Deltas carry their sign. ``--json`` writes the same full precision.
"""

from __future__ import annotations


def number(value: float | None) -> str:
    """``0.8505``; ``75`` for 75.0; ``-`` for no value; ``nan`` for NaN."""
    return "-" if value is None else _whole(repr(float(value)))


def signed(value: float | None) -> str:
    """``+0.0125``, ``-0.5``, ``+3``; ``-`` for no value."""
    return "-" if value is None else _whole(f"{float(value):+}")


def _whole(text: str) -> str:
    return text.removesuffix(".0")
