"""Canonical form of a definition, and the names (with attribute chains) it reads.

``ast.dump`` of the syntax tree with docstrings stripped: comments, blank lines, line
breaks, indentation and quote style never reach it. Decorators are kept apart so that the
caller, who can resolve names, drops ``@wf.op``-style registrations and keeps the rest.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

__all__ = ["Chain", "Decorator", "Import", "Parsed", "normalize", "strip_docstrings"]

Chain = tuple[str, ...]


@dataclass(frozen=True)
class Decorator:
    """One decorator expression: kept or dropped by the caller, who can resolve ``root``."""

    root: str | None  # the name it starts from: ``wf`` in ``@wf.op(explore=...)``
    dump: str
    text: str
    chains: tuple[Chain, ...]


@dataclass(frozen=True)
class Import:
    """A name bound by an ``import`` inside the code itself (a lazy import)."""

    name: str  # the name it binds
    module: str  # as written, without the leading dots of a relative import
    attr: str | None  # ``from module import attr``
    level: int  # number of leading dots
    binds_top: bool  # ``import a.b`` binds ``a``


@dataclass(frozen=True)
class Parsed:
    """A function or class, normalized. ``dump`` has neither name nor decorators."""

    name: str
    dump: str
    text: str  # ast.unparse of the normalized definition, name kept, for human diffs
    decorators: tuple[Decorator, ...]
    chains: tuple[Chain, ...]  # names read, with the attribute chains used on them
    soft: tuple[Chain, ...]  # names read only by annotations (may be TYPE_CHECKING-only)
    imports: tuple[Import, ...]  # names the code binds by importing, read like globals


def normalize(node: ast.AST, free: set[str]) -> Parsed:
    """Normalize ``node`` in place; ``free`` are the names it reads from outside itself."""
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    imports = _imports(node)
    names = free | {i.name for i in imports}
    soft_ids = _annotation_ids(node)
    decorators = tuple(_decorator(d, names) for d in node.decorator_list)
    found: dict[Chain, bool] = {}  # chain -> read outside annotations somewhere
    for field, value in ast.iter_fields(node):
        if field != "decorator_list":
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    _collect(child, names, soft_ids, found)
    covered = {c[0] for c in found} | {c[0] for d in decorators for c in d.chains}
    for name in free - covered:  # implicit or mangled names: resolve them as Python does
        found[(name,)] = True
    strip_docstrings(node)
    node.decorator_list = []
    name, node.name = node.name, ""
    dump = ast.dump(node)
    node.name = name
    return Parsed(
        name=name,
        dump=dump,
        text=ast.unparse(node),
        decorators=decorators,
        chains=tuple(sorted(c for c, hard in found.items() if hard)),
        soft=tuple(sorted(c for c, hard in found.items() if not hard)),
        imports=imports,
    )


def strip_docstrings(tree: ast.AST) -> ast.AST:
    """Drop the first string statement of every module, class and function body."""
    bodies = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for node in ast.walk(tree):
        if not isinstance(node, bodies) or not node.body:
            continue
        first = node.body[0]
        if isinstance(first, ast.Expr) and _is_string(first.value):
            node.body = node.body[1:] or [ast.Pass()]
    return tree


def _imports(node: ast.AST) -> tuple[Import, ...]:
    found = []
    for n in ast.walk(node):
        if isinstance(n, ast.Import):
            for alias in n.names:
                bound = alias.asname or alias.name.partition(".")[0]
                found.append(Import(bound, alias.name, None, 0, alias.asname is None))
        elif isinstance(n, ast.ImportFrom):
            for alias in n.names:
                bound = alias.asname or alias.name
                found.append(Import(bound, n.module or "", alias.name, n.level, False))
    return tuple(found)


def _decorator(expr: ast.expr, names: set[str]) -> Decorator:
    chains: dict[Chain, bool] = {}
    _collect(expr, names, set(), chains)
    root: ast.AST = expr
    while isinstance(root, ast.Attribute | ast.Call | ast.Subscript):
        root = root.func if isinstance(root, ast.Call) else root.value
    return Decorator(
        root=root.id if isinstance(root, ast.Name) else None,
        dump=ast.dump(expr),
        text=ast.unparse(expr),
        chains=tuple(sorted(chains)),
    )


def _annotation_ids(node: ast.AST) -> set[int]:
    """ids of every node inside an annotation; names only found there are 'soft'."""
    ids: set[int] = set()
    for n in ast.walk(node):
        annotations: list[ast.expr | None] = []
        if isinstance(n, ast.arg | ast.AnnAssign):
            annotations.append(n.annotation)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef):
            annotations.append(n.returns)
        for annotation in annotations:
            if annotation is not None:
                ids.update(id(m) for m in ast.walk(annotation))
    return ids


def _collect(node: ast.AST, names: set[str], soft_ids: set[int], out: dict[Chain, bool]) -> None:
    """Record the longest ``name.attr.attr`` chains that start from one of ``names``."""
    chain = _chain(node)
    if chain is not None and chain[0] in names:
        out[chain] = out.get(chain, False) or id(node) not in soft_ids
        return
    for child in ast.iter_child_nodes(node):
        _collect(child, names, soft_ids, out)


def _chain(node: ast.AST) -> Chain | None:
    if isinstance(node, ast.Name):
        return (node.id,)
    if isinstance(node, ast.Attribute):
        inner = _chain(node.value)
        return (*inner, node.attr) if inner is not None else None
    return None


def _is_string(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)
