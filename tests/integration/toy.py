"""A small, fast workflow in a git repository, for end-to-end tests of the core.

Each operator sleeps 20 ms so that the default materialization policy finds it worth
keeping (load estimates are about 2 ms), as a real operator would be.
"""

from __future__ import annotations

WORKFLOW = """\
import csv
import time

from helixvcs import Workflow
from toylib import SHIFT, scale

wf = Workflow("toy")


@wf.source("data/points.csv")
def raw(path):
    time.sleep(0.02)
    with open(path, newline="") as f:
        return [tuple(float(x) for x in row) for row in csv.reader(f)]


@wf.op
def xs(raw):
    time.sleep(0.02)
    return [r[0] for r in raw]


@wf.op
def ys(raw):
    time.sleep(0.02)
    return [r[1] for r in raw]


@wf.op
def scaled(xs, factor=2.0):
    time.sleep(0.02)
    return [scale(x, factor) for x in xs]


@wf.op
def shifted(ys):
    time.sleep(0.02)
    return [y + SHIFT for y in ys]


@wf.op
def unused(raw):
    return len(raw)


@wf.metric
def total(scaled, shifted):
    time.sleep(0.02)
    return sum(scaled) + sum(shifted)


@wf.metric
def count(xs):
    return float(len(xs))
"""

TOYLIB = """\
SHIFT = 1.0


def scale(x, f):
    return x * f
"""

POINTS = "1,10\n2,20\n3,30\n"

FILES = {"workflow.py": WORKFLOW, "toylib.py": TOYLIB, "data/points.csv": POINTS}
NAMES = ["raw", "xs", "ys", "scaled", "shifted", "unused", "total", "count"]
# scaled = 2*(1+2+3) = 12; shifted = 11+21+31 = 63
TOTAL = 75.0


def states(doc: dict) -> dict[str, str]:
    return {n["name"]: n["state"] for n in doc["nodes"]}


def computed(doc: dict) -> set[str]:
    return {n["name"] for n in doc["nodes"] if n["state"] == "compute"}
