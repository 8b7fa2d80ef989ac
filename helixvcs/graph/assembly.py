"""What can be checked of a feature assembly (``@wf.features``) before it runs.

The columns of an assembly are attributed to its blocks by position: the i-th entry of
the list the function returns is taken to be the i-th block. A function that returns a
list literal of another length, or whose i-th entry plainly uses another block than the
i-th (``return [b, a]`` for ``def X(a, b)``), would have its columns attributed to the
wrong operators, and a prune would then drop a block the model uses: it is refused at
compile time. What cannot be read from the source (a list built in a loop, an entry
that uses several blocks) is checked when the assembly runs, as far as shapes allow.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Iterator, Sequence
from typing import Any


def order_problem(func: Any, blocks: Sequence[str]) -> str | None:
    """Why the returned list literals of ``func`` do not match ``blocks``, or None."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return None
    function = tree.body[0] if tree.body else None
    if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    for value in _returned(function):
        if not isinstance(value, ast.List | ast.Tuple):
            continue
        if any(isinstance(e, ast.Starred) for e in value.elts):
            continue
        if len(value.elts) != len(blocks):
            return (
                f"returns {len(value.elts)} blocks for {len(blocks)} block parameters "
                f"({', '.join(blocks)}); return one per parameter, in order"
            )
        for i, entry in enumerate(value.elts):
            used = sorted({n.id for n in ast.walk(entry) if isinstance(n, ast.Name)} & set(blocks))
            if len(used) == 1 and used[0] != blocks[i]:
                return (
                    f"entry {i + 1} of the returned list is block '{used[0]}', but parameter "
                    f"{i + 1} is '{blocks[i]}'; return the blocks in parameter order, or its "
                    "columns would be attributed to the wrong operator"
                )
    return None


def _returned(function: ast.AST) -> Iterator[ast.expr]:
    """The values of the function's own return statements (not of nested functions)."""
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        if isinstance(node, ast.Return) and node.value is not None:
            yield node.value
        stack.extend(ast.iter_child_nodes(node))
