"""The source edit that applies an explored variant: a unified diff for ``git apply``.

A variant sets constants, which are defaults of an operator's parameters. The edit
rewrites each default in the operator's file, found with ``ast`` positions (so comments,
formatting and everything else in the file stay as they are), and the patch is a
unified diff relative to the repository root with ``a/`` and ``b/`` prefixes, which
``git apply`` (and ``patch -p1``) accept.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class NoPatch(ValueError):
    """The edit cannot be written: the operator or parameter is not found, or a value has
    no source form."""


@dataclass(frozen=True)
class Rewrite:
    """Set parameter ``constant`` of function ``operator`` in ``file`` to ``value``."""

    file: Path
    operator: str
    constant: str
    value: Any


def patch(root: Path, rewrites: list[Rewrite]) -> str:
    """One unified diff (several files in a row) applying every rewrite."""
    by_file: dict[Path, list[Rewrite]] = {}
    for r in rewrites:
        by_file.setdefault(r.file.resolve(), []).append(r)
    out = []
    for file, edits in sorted(by_file.items()):
        try:
            rel = file.relative_to(root.resolve()).as_posix()
        except ValueError:
            raise NoPatch(f"{file} is outside the repository") from None
        before = file.read_bytes()
        after = _rewrite(before, edits)
        out.append(_unified(rel, before.decode("utf-8"), after.decode("utf-8")))
    return "".join(out)


def _rewrite(source: bytes, edits: list[Rewrite]) -> bytes:
    tree = ast.parse(source)
    starts = _line_starts(source)
    spans: list[tuple[int, int, bytes]] = []
    for edit in edits:
        node = _default_node(tree, edit)
        begin = starts[node.lineno - 1] + node.col_offset  # col offsets are UTF-8 bytes
        assert node.end_lineno is not None and node.end_col_offset is not None
        end = starts[node.end_lineno - 1] + node.end_col_offset
        spans.append((begin, end, _literal(edit.value).encode("utf-8")))
    for begin, end, replacement in sorted(spans, reverse=True):
        source = source[:begin] + replacement + source[end:]
    return source


def _default_node(tree: ast.Module, edit: Rewrite) -> ast.expr:
    functions = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == edit.operator
    ]
    if len(functions) != 1:
        raise NoPatch(f"{edit.file}: {len(functions)} functions named {edit.operator}, not one")
    args = functions[0].args
    positional = [*args.posonlyargs, *args.args]
    defaults: Mapping[str, ast.expr | None] = {
        **{
            a.arg: d
            for a, d in zip(
                positional[len(positional) - len(args.defaults) :], args.defaults, strict=False
            )
        },
        **{a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=False)},
    }
    node = defaults.get(edit.constant)
    if node is None:
        raise NoPatch(
            f"{edit.file}: {edit.operator} has no parameter {edit.constant} with a default"
        )
    return node


def _literal(value: Any) -> str:
    text = repr(value)
    try:
        same = ast.literal_eval(text) == value and type(ast.literal_eval(text)) is type(value)
    except (ValueError, SyntaxError):
        same = False
    if not same:
        raise NoPatch(f"{text} cannot be written as Python source")
    return text


def _line_starts(source: bytes) -> list[int]:
    starts, offset = [], 0
    for line in source.splitlines(keepends=True):
        starts.append(offset)
        offset += len(line)
    starts.append(offset)
    return starts


def _unified(rel: str, before: str, after: str) -> str:
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    lines = []
    for line in difflib.unified_diff(a, b, f"a/{rel}", f"b/{rel}"):
        lines.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(lines)
