"""Definitions' source found from the module's syntax tree normalizes exactly as the text
``inspect.getsource`` finds, for every shape of definition."""

from __future__ import annotations

import importlib.util
import inspect
import sys
import types
from pathlib import Path

from helixvcs.hashing import source

MODULE = """\
import functools


def plain(x):
    return x + 1  # trailing comment
    # a comment after the body, at its indentation


@functools.lru_cache(
    maxsize=4,
)
def decorated(x):
    return x * 2


def one_liner(x): return x - 1


class Box:
    def method(self, y):
        def inner(z):
            return z + y

        return inner(y)

    @staticmethod
    def static(v):
        return v


def outer(a):
    def closure(b):
        return a + b
    return closure


async def later(x):
    return x
"""


def _load(tmp_path: Path) -> types.ModuleType:
    path = tmp_path / "spans_mod.py"
    path.write_text(MODULE, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("spans_mod", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["spans_mod"] = module
    spec.loader.exec_module(module)
    return module


def _codes(module: types.ModuleType) -> list[types.CodeType]:
    found = []

    def walk(code: types.CodeType) -> None:
        if code.co_name != "<lambda>":
            found.append(code)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                walk(const)

    for value in [*vars(module).values(), *vars(module.Box).values()]:
        func = getattr(value, "__wrapped__", value)
        func = getattr(func, "__func__", func)
        if isinstance(func, types.FunctionType):
            walk(func.__code__)
    return found


def test_every_definition_normalizes_as_from_inspect(tmp_path):
    module = _load(tmp_path)
    try:
        codes = _codes(module)
        assert {c.co_name for c in codes} >= {
            "plain",
            "decorated",
            "one_liner",
            "method",
            "inner",
            "static",
            "outer",
            "closure",
            "later",
        }
        for code in codes:
            ours = source._code_source(code)
            assert ours is not None, code.co_qualname
            theirs = inspect.getsource(code)
            args = (code.co_qualname, code.co_filename, code.co_freevars, [code])
            parsed = source._parse(ours, *args)
            assert parsed is not None, code.co_qualname
            assert parsed == source._parse(theirs, *args), code.co_qualname
    finally:
        sys.modules.pop("spans_mod", None)


def test_a_definition_the_tree_does_not_show_is_left_to_inspect(tmp_path):
    module = _load(tmp_path)
    try:
        code = module.plain.__code__.replace(co_firstlineno=2)  # no def starts there
        assert source._code_source(code) == source._getsource(code)
    finally:
        sys.modules.pop("spans_mod", None)
