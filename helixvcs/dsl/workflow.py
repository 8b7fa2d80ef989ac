"""``Workflow`` and ``NodeSpec``: what a decorator records about an operator."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import CodeType, MappingProxyType
from typing import Any, TypeVar, overload

from helixvcs.errors import CompileError

F = TypeVar("F", bound=Callable[..., Any])

KINDS = ("source", "op", "features", "metric", "output")
OUTPUT_KINDS = frozenset({"metric", "output"})
_KNOWN_OPTIONS = frozenset({"explore", "per_row"})


@dataclass(frozen=True)
class NodeSpec:
    """One decorated function, as declared; edges are resolved later by the graph layer."""

    name: str
    kind: str
    func: Callable[..., Any] = field(compare=False, repr=False)
    params: tuple[str, ...]
    defaults: Mapping[str, Any] = field(compare=False)
    options: Mapping[str, Any] = field(compare=False)
    file: str
    line: int
    path: str | None = None  # sources only: the declared path or glob, relative to the repo

    @property
    def is_output(self) -> bool:
        return self.kind in OUTPUT_KINDS


class Workflow:
    """A named collection of operators. Decorators register; they never call the function."""

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            file, line = caller_location()
            raise CompileError("Workflow(name) needs a non-empty string name", file=file, line=line)
        self.name = name
        self._nodes: dict[str, NodeSpec] = {}

    @property
    def nodes(self) -> Mapping[str, NodeSpec]:
        return MappingProxyType(self._nodes)

    def __repr__(self) -> str:
        return f"Workflow({self.name!r}, {len(self._nodes)} operators)"

    # -- decorators ---------------------------------------------------------------

    def source(self, path: str, **options: Any) -> Callable[[F], F]:
        """A node whose value is read from a file, folder or glob inside the repository."""
        if not isinstance(path, str) or not path.strip():
            file, line = caller_location()
            raise CompileError("@wf.source(path) needs a path or glob string", file=file, line=line)

        def register(func: F) -> F:
            self._register(func, "source", options, path=path)
            return func

        return register

    @overload
    def op(self, func: F) -> F: ...
    @overload
    def op(self, func: None = None, **options: Any) -> Callable[[F], F]: ...
    def op(self, func: F | None = None, **options: Any) -> Any:
        """An intermediate operator."""
        return self._decorator("op", func, options)

    @overload
    def features(self, func: F) -> F: ...
    @overload
    def features(self, func: None = None, **options: Any) -> Callable[[F], F]: ...
    def features(self, func: F | None = None, **options: Any) -> Any:
        """A feature assembly: its parameters that name operators are the feature blocks
        (2-D numpy arrays, scipy.sparse matrices, numeric pandas or Arrow tables); it returns
        them as a list in parameter order, each possibly transformed, and helix stacks them
        column-wise, recording which columns came from which block (docs/pruning.md)."""
        return self._decorator("features", func, options)

    @overload
    def metric(self, func: F) -> F: ...
    @overload
    def metric(self, func: None = None, **options: Any) -> Callable[[F], F]: ...
    def metric(self, func: F | None = None, **options: Any) -> Any:
        """An output whose value is a float or a dict of floats, recorded in the index."""
        return self._decorator("metric", func, options)

    @overload
    def output(self, func: F) -> F: ...
    @overload
    def output(self, func: None = None, **options: Any) -> Callable[[F], F]: ...
    def output(self, func: F | None = None, **options: Any) -> Any:
        """An output that is not a metric (predictions, a report, a model to ship)."""
        return self._decorator("output", func, options)

    # -- internals ----------------------------------------------------------------

    def _decorator(self, kind: str, func: F | None, options: dict[str, Any]) -> Any:
        if func is not None:
            if not callable(func):
                file, line = caller_location()
                raise CompileError(
                    f"@wf.{kind} must decorate a function, got {func!r}", file=file, line=line
                )
            self._register(func, kind, options)
            return func

        def register(f: F) -> F:
            self._register(f, kind, options)
            return f

        return register

    def _register(
        self, func: Callable[..., Any], kind: str, options: dict[str, Any], path: str | None = None
    ) -> None:
        file, line = _location(func)
        name = getattr(func, "__name__", None)
        if not inspect.isfunction(func) or not name or name == "<lambda>":
            raise CompileError(
                f"@wf.{kind} must decorate a named function defined with def",
                file=file,
                line=line,
            )
        if inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func):
            raise CompileError(
                f"@wf.{kind} cannot decorate an async def; define the operator with def "
                "(call asyncio.run(...) inside it if it needs to await)",
                file=file,
                line=line,
                operator=name,
            )
        unknown = sorted(set(options) - _KNOWN_OPTIONS)
        if unknown:
            raise CompileError(
                f"unknown option(s) {', '.join(unknown)} for @wf.{kind}; "
                f"known: {', '.join(sorted(_KNOWN_OPTIONS))}",
                file=file,
                line=line,
                operator=name,
            )
        if name in self._nodes:
            first = self._nodes[name]
            raise CompileError(
                f"duplicate operator name (first defined at line {first.line}); rename one",
                file=file,
                line=line,
                operator=name,
            )
        params, defaults = _signature(func, file, line, name)
        _check_options(kind, options, defaults, file, line, name)
        self._nodes[name] = NodeSpec(
            name=name,
            kind=kind,
            func=func,
            params=params,
            defaults=MappingProxyType(defaults),
            options=MappingProxyType(dict(options)),
            file=file,
            line=line,
            path=path,
        )


def _location(func: Callable[..., Any]) -> tuple[str, int]:
    code = getattr(func, "__code__", None)
    if isinstance(code, CodeType):
        return code.co_filename, code.co_firstlineno
    return caller_location()


def caller_location() -> tuple[str, int]:
    """The file and line of the user's code that called into this module (a decorator
    applied to something that is not a function has no code of its own to point at)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return "<unknown>", 0
    return frame.f_code.co_filename, frame.f_lineno


def _signature(
    func: Callable[..., Any], file: str, line: int, name: str
) -> tuple[tuple[str, ...], dict[str, Any]]:
    params: list[str] = []
    defaults: dict[str, Any] = {}
    for p in inspect.signature(func).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise CompileError(
                f"*{p.name} / **{p.name} parameters are not supported; name each parent",
                file=file,
                line=line,
                operator=name,
            )
        if p.kind is p.POSITIONAL_ONLY:
            raise CompileError(
                f"parameter {p.name!r} is positional-only; helix passes parents and "
                "constants by name, so remove the '/' from the signature",
                file=file,
                line=line,
                operator=name,
            )
        params.append(p.name)
        if p.default is not p.empty:
            defaults[p.name] = p.default
    return tuple(params), defaults


def _check_options(
    kind: str,
    options: Mapping[str, Any],
    defaults: Mapping[str, Any],
    file: str,
    line: int,
    name: str,
) -> None:
    """``explore={"C": [0.1, 1, 10]}`` names constants and lists their alternatives;
    ``per_row=True`` is for metrics only."""

    def fail(message: str) -> CompileError:
        return CompileError(message, file=file, line=line, operator=name)

    if "per_row" in options:
        if kind != "metric":
            raise fail("per_row=True is an option of @wf.metric only")
        if not isinstance(options["per_row"], bool):
            raise fail("per_row must be True or False")
    grid = options.get("explore")
    if grid is None:
        return
    if not isinstance(grid, Mapping) or not grid:
        raise fail('explore must be a dict: constant name -> list of values, e.g. {"C": [0.1, 1]}')
    for constant, values in grid.items():
        if constant not in defaults:
            known = ", ".join(sorted(defaults)) or "none"
            raise fail(
                f"explore names {constant!r}, which is not a parameter with a default "
                f"(the constants of {name}: {known})"
            )
        if isinstance(values, str | bytes) or not isinstance(values, list | tuple) or not values:
            raise fail(f"explore[{constant!r}] must be a non-empty list of values to try")
