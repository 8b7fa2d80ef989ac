"""value_fingerprint: equal values agree (also across processes), different values differ,
and whatever cannot be fingerprinted is never equal to anything."""

from __future__ import annotations

import collections
import dataclasses
import enum
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from helixvcs.hashing import value_fingerprint


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: object = None


class Color(enum.Enum):
    RED = 1
    BLUE = 2


Pair = collections.namedtuple("Pair", "a b")


def _loop() -> list[object]:
    items: list[object] = [1]
    items.append(items)
    return items


def _scaler(k: int):
    return lambda x: x * k


EQUAL = [
    ("dict-order", {"a": 1, "b": 2}, {"b": 2, "a": 1}),
    ("nested-dict-order", {"k": {"x": [1, {"y", "z"}]}}, {"k": {"x": [1, {"z", "y"}]}}),
    ("set-order", {"beta", "alpha", "gamma"}, {"gamma", "alpha", "beta"}),
    ("mixed-key-types", {1: "a", "1": "b", (1,): "c"}, {(1,): "c", "1": "b", 1: "a"}),
    (
        "non-contiguous-array",
        np.arange(12).reshape(3, 4)[:, ::2],
        np.arange(12).reshape(3, 4)[:, ::2].copy(),
    ),
    ("dataclass", Point(1, {"a", "b"}), Point(1, {"b", "a"})),
    ("cycle", _loop(), _loop()),
    ("nan", float("nan"), float("nan")),
    ("closure", _scaler(2), _scaler(2)),
]

DIFFERENT = [
    ("int-float-bool-str", [1, 1.0, True, "1", b"1", bytearray(b"1")]),
    ("zero-signs", [0.0, -0.0]),
    ("float-precision", [0.1, 0.1 + 1e-17 + 1e-16]),
    ("tuple-list", [(1, 2), [1, 2], {1, 2}, frozenset({1, 2})]),
    ("string-split", [("ab", "c"), ("a", "bc")]),
    ("dict-vs-pairs", [{"a": 1}, [("a", 1)]]),
    ("none-empty", [None, "", 0, (), [], {}]),
    ("big-ints", [10**5000, 10**5000 + 1]),
    ("array-dtype", [np.zeros(3, np.float32), np.zeros(3, np.float64), np.zeros(3, np.int32)]),
    ("array-shape", [np.zeros((2, 3)), np.zeros((3, 2)), np.zeros(6)]),
    ("array-content", [np.array([1.0, 2.0]), np.array([1.0, 2.5])]),
    ("object-array", [np.array(["a", None], dtype=object), np.array(["b", None], dtype=object)]),
    ("numpy-scalar", [np.float64(1.0), 1.0, np.float32(1.0)]),
    ("dataclass-field", [Point(1), Point(2), (1, None)]),
    ("enum-member", [Color.RED, Color.BLUE, 1]),
    ("namedtuple", [Pair(1, 2), (1, 2)]),
    ("closure-cell", [_scaler(2), _scaler(3)]),
    ("lambda-body", [lambda x: x + 1, lambda x: x - 1]),
]


@pytest.mark.parametrize(("a", "b"), [c[1:] for c in EQUAL], ids=[c[0] for c in EQUAL])
def test_equal_values_agree(a: object, b: object) -> None:
    assert value_fingerprint(a) == value_fingerprint(b)


@pytest.mark.parametrize("values", [c[1] for c in DIFFERENT], ids=[c[0] for c in DIFFERENT])
def test_different_values_differ(values: list[object]) -> None:
    prints = [value_fingerprint(v) for v in values]
    assert len(set(prints)) == len(prints)


@pytest.mark.parametrize(
    "value",
    [threading.Lock(), (x for x in range(3)), {"nested": threading.Lock()}],
    ids=["lock", "generator", "nested-lock"],
)
def test_unfingerprintable_values_are_unique_per_call(value: object) -> None:
    assert value_fingerprint(value) != value_fingerprint(value)


def test_fingerprint_format() -> None:
    fingerprint = value_fingerprint({"a": [1, 2.5]})
    assert len(fingerprint) == 40 and int(fingerprint, 16) >= 0


# Evaluated in this process and in subprocesses with other hash seeds: set and dict order
# inside plain data and inside pickled objects must not leak into the fingerprint.
CROSS_PROCESS = [
    "{'b': 2, 'a': 1, 'c': [1.5, 2.25]}",
    "{'zeta', 'alpha', 'mid', 'k' * 40}",
    "frozenset({('x', 1), ('y', 2)})",
    "[0.1, 1e-300, -0.0, 3.141592653589793, float('inf')]",
    "np.linspace(0, 1, 7)",
    "np.arange(6, dtype=np.int16).reshape(2, 3)",
    "types.SimpleNamespace(tags={'red', 'green', 'blue'}, n=3)",
    "fractions.Fraction(1, 3)",
    "datetime.date(2024, 1, 31)",
]

_CHILD = """
import datetime, fractions, json, sys, types
import numpy as np
from helixvcs.hashing import value_fingerprint
exprs = json.loads(sys.argv[1])
print(json.dumps([value_fingerprint(eval(e)) for e in exprs]))
"""


def test_fingerprints_are_stable_across_processes() -> None:
    import datetime
    import fractions
    import types

    names = {"datetime": datetime, "fractions": fractions, "types": types, "np": np}
    here = [value_fingerprint(eval(e, names)) for e in CROSS_PROCESS]
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(CROSS_PROCESS)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(out.stdout) == here
