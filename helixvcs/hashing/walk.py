"""Small walks over classes and code objects that both parsing and tracing need."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator
from types import CodeType, FunctionType
from typing import Any

__all__ = ["class_file", "code_chains", "functions_in_class", "method_codes", "owner_class"]


def functions_in_class(value: object) -> Iterator[FunctionType]:
    """The plain functions behind one class attribute: methods, static and class methods,
    property accessors, and the originals of decorated methods."""
    if isinstance(value, staticmethod | classmethod):
        value = value.__func__
    candidates: Iterable[object] = (
        (value.fget, value.fset, value.fdel) if isinstance(value, property) else (value,)
    )
    for candidate in candidates:
        try:
            func = inspect.unwrap(candidate)  # type: ignore[arg-type]
        except ValueError:  # a __wrapped__ cycle
            continue
        if isinstance(func, FunctionType):
            yield func


def method_codes(cls: type) -> Iterator[CodeType]:
    """Code objects of the functions written in the body of ``cls`` itself."""
    prefix = cls.__qualname__ + "."
    for value in vars(cls).values():
        for func in functions_in_class(value):
            qualname = func.__code__.co_qualname
            if qualname.startswith(prefix) and "." not in qualname[len(prefix) :]:
                yield func.__code__


def class_file(cls: type) -> str:
    """The file a class was written in, even when its module left ``sys.modules``."""
    try:
        return inspect.getfile(cls)
    except TypeError:
        funcs = [f for v in vars(cls).values() for f in functions_in_class(v)]
        return funcs[0].__code__.co_filename if funcs else "<unknown>"


def owner_class(func: FunctionType) -> type | None:
    """The class a method was written in, when it can be reached from module globals."""
    segments = func.__code__.co_qualname.split(".")
    if len(segments) < 2 or "<locals>" in segments:
        return None
    obj: Any = func.__globals__.get(segments[0])
    for segment in segments[1:-1]:
        obj = getattr(obj, segment, None)
    return obj if inspect.isclass(obj) else None


def code_chains(code: CodeType) -> list[tuple[str]]:
    """Every name the bytecode looks up (globals and attributes alike), sorted.

    Used when there is no source: without a tree, attribute names cannot be told from
    globals, so all are tried and those that resolve are followed.
    """
    names: set[str] = set()
    stack = [code]
    while stack:
        current = stack.pop()
        names.update(current.co_names)
        stack.extend(c for c in current.co_consts if isinstance(c, CodeType))
    return [(name,) for name in sorted(names)]
