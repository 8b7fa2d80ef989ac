"""The figures of docs/reliability.md's "What was tried" are the ones the suite tries.

Each row's count is compared with what the tests are built to run: their rounds, their
cases, their hypothesis examples, or their number of collected test items.
"""

from __future__ import annotations

import importlib
import inspect
import math
import re
from pathlib import Path
from types import ModuleType

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


def _items(*names: str) -> int:
    """Test items a module collects: one per test function, times its parametrizations."""
    total = 0
    for name in names:
        module = importlib.import_module(name)
        for attr, function in vars(module).items():
            if attr.startswith("test_") and inspect.isfunction(function):
                total += _cases(function)
    return total


def _cases(function: object) -> int:
    marks = [m for m in getattr(function, "pytestmark", []) if m.name == "parametrize"]
    return math.prod(len(m.args[1]) for m in marks) if marks else 1


def _module(name: str) -> ModuleType:
    return importlib.import_module(name)


def _examples(function: object) -> int:
    return function._hypothesis_internal_use_settings.max_examples  # type: ignore[attr-defined]


def _figures() -> dict[str, int]:
    fuzz = _module("tests.reliability.test_fuzz_hostile")
    compile_fuzz = _module("tests.reliability.test_fuzz_compile")
    fsck = _module("tests.reliability.test_fsck")
    return {
        "SIGKILL of `helix run` at seeded random moments": _module(
            "tests.reliability.test_crash"
        ).ROUNDS,
        "an object damaged under a run": len(_module("tests.reliability.test_corruption").DAMAGE),
        "the `helix fsck` matrix": len(fsck.OBJECT),
        "a packed object damaged under a run": len(
            _module("tests.reliability.test_corruption").PACKED_DAMAGE
        ),
        "pack damage for `helix fsck`": len(fsck.PACKED),
        "SIGKILL of a process writing batches of small objects into packs": _cases(
            _module(
                "tests.store.test_packs"
            ).test_a_kill_during_a_pack_write_loses_only_the_batch_being_written
        )
        + _cases(
            _module("tests.integration.test_packs").test_gc_killed_while_it_packs_loses_nothing
        ),
        "the index truncated, emptied, foreign": len(fsck.INDEX),
        "the issue's reproducers and their neighbours": _items("tests.reliability.test_hostile"),
        "drawn repositories (hypothesis, fixed seed)": fuzz.settings.get_profile("ci").max_examples,
        "drawn workflow modules": _examples(
            compile_fuzz.test_compile_is_the_drawn_dag_or_one_line_exit_2
        ),
        "compile errors, failing operators": _items(
            "tests.integration.test_errors", "tests.reliability.test_bad_input"
        ),
        "index locking": _items("tests.index.test_locking", "tests.index.test_concurrency"),
        "object ids and operator names": _items("tests.reliability.test_security"),
        "`helix ui`: GET and cross-origin POSTs": _items("tests.ui.test_security"),
    }


def _rows() -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## What was tried", 1)[1].split("\n## ", 1)[0]
    return [
        [cell.strip() for cell in line.strip("|").split(" | ")]
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| kind")
    ]


@pytest.mark.parametrize(("row", "expected"), sorted(_figures().items()))
def test_each_figure_is_what_the_suite_tries(row, expected):
    matches = [cells for cells in _rows() if row in cells[1]]
    assert len(matches) == 1, f"no single row of docs/reliability.md says {row!r}"
    count = re.match(r"[\d,]+", matches[0][2])
    assert count is not None and int(count.group(0).replace(",", "")) == expected, matches[0]


def test_the_ci_profile_has_a_fixed_seed():
    fuzz = _module("tests.reliability.test_fuzz_hostile")
    ci = fuzz.settings.get_profile("ci")
    assert ci.derandomize and ci.max_examples >= 200
    assert fuzz.settings.get_profile("local").max_examples > ci.max_examples
