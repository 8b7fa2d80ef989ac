"""Where a diff's causes live in the user's files, and the hunks that changed them.

A changed operator's causes name key parts: ``body``, ``helper lib.text.tokenize``,
``constant params.VALUE``, ``class lib.Model``. A part of the repository's own code is
found again in the version's tree -- its module by path (``lib.text`` is
``lib/text.py`` or ``lib/text/__init__.py``), then the top-level definition or
assignment of that name -- so that the diff can say where it is (``lib/text.py:12``) and
show the hunks of the file that touch it, with the file's own line numbers, as
``git diff`` would.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_CODE_KINDS = ("helper", "constant", "class", "module")


@dataclass(frozen=True)
class Place:
    """A definition in a version's tree: its file (relative) and lines (1-based, inclusive)."""

    file: str
    first: int
    last: int

    def __str__(self) -> str:
        return f"{self.file}:{self.first}"


@dataclass(frozen=True)
class Hunk:
    """The part of one file's diff that touches the definition behind one cause."""

    cause: str
    file: str
    line: int  # where the definition starts in the newer version (the older if removed)
    diff: str

    def to_json(self) -> dict[str, Any]:
        return {"cause": self.cause, "file": self.file, "line": self.line, "diff": self.diff}


def operator_place(root: Path, file: str, line: int) -> str:
    """``workflow.py:12``: an operator's declaration, relative to the version's tree."""
    path = Path(file)
    with contextlib.suppress(ValueError):  # not under the tree: shown as it is
        path = path.resolve().relative_to(root.resolve())
    return f"{path.as_posix()}:{line}"


def cause_hunks(cause: str, root_a: Path, root_b: Path) -> list[Hunk]:
    """The hunks of the file defining ``cause``'s helper, class or constant (empty for
    causes that are no repository code: a body, a default, a package)."""
    kind, _, rest = cause.removeprefix("added ").removeprefix("removed ").partition(" ")
    if kind not in _CODE_KINDS or not rest:
        return []
    place_a, place_b = find(root_a, rest, kind), find(root_b, rest, kind)
    place = place_b or place_a
    if place is None:
        return []
    file = place.file
    text = _touching(
        file,
        _read(root_a / file),
        _read(root_b / file),
        place_a if place_a and place_a.file == file else None,
        place_b if place_b and place_b.file == file else None,
    )
    return [Hunk(cause, file, place.first, text)] if text else []


def find(root: Path, dotted: str, kind: str = "constant", hops: int = 5) -> Place | None:
    """The definition of ``dotted`` (``module.path.Name[.more]``) under ``root``; a name a
    module imports from another repository module is followed there (``hops`` times)."""
    parts = dotted.split(".")
    if kind == "module":
        file = _module_file(root, parts)
        return Place(file, 1, 1) if file else None
    for cut in range(len(parts) - 1, 0, -1):
        file = _module_file(root, parts[:cut])
        if file is None:
            continue
        found = _definition(root / file, parts[cut])
        if isinstance(found, str):
            package = parts[: cut - (0 if file.endswith("__init__.py") else 1)]
            target = _absolute(found, package)
            if hops > 0 and target is not None:
                return find(root, target, kind, hops - 1)
            return None
        return Place(file, *found) if found else None
    return None


def _absolute(imported: str, package: list[str]) -> str | None:
    """``.lib.NAME`` (a relative import) made absolute from the importing ``package``."""
    dots = len(imported) - len(imported.lstrip("."))
    if dots == 0:
        return imported
    if dots - 1 > len(package):
        return None
    base = package[: len(package) - (dots - 1)]
    return ".".join([*base, imported[dots:]]).strip(".")


def _module_file(root: Path, parts: list[str]) -> str | None:
    base = "/".join(parts)
    for rel in (f"{base}.py", f"{base}/__init__.py"):
        if (root / rel).is_file():
            return rel
    return None


def _definition(path: Path, name: str) -> tuple[int, int] | str | None:
    """Lines of the last top-level binding of ``name`` (the one in force after import), or
    ``module.NAME`` when that binding is ``from module import NAME``."""
    try:
        tree = ast.parse(_read(path))
    except SyntaxError:
        return None
    found: tuple[int, int] | str | None = None
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    found = "." * node.level + f"{node.module or ''}.{alias.name}".lstrip(".")
        elif _binds(node, name):
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            found = (first, node.end_lineno or node.lineno)
    return found


def _binds(node: ast.stmt, name: str) -> bool:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name == name
    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    if isinstance(node, ast.AnnAssign | ast.AugAssign):
        return isinstance(node.target, ast.Name) and node.target.id == name
    if isinstance(node, ast.Import):
        return any((a.asname or a.name.split(".")[0]) == name for a in node.names)
    return False


def _touching(
    file: str, before: str, after: str, place_a: Place | None, place_b: Place | None
) -> str:
    """The hunks of ``file``'s unified diff that overlap either version's definition."""
    lines = list(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"a/{file}",
            tofile=f"b/{file}",
        )
    )
    if not lines:
        return ""
    header, hunks = lines[:2], _split(lines[2:])
    kept = [h for h in hunks if _overlaps(h[0], place_a, place_b)]
    if not kept:
        return ""
    chosen = [line for h in [header, *kept] for line in h]
    return "".join(line if line.endswith("\n") else line + "\n" for line in chosen)


def _split(lines: list[str]) -> list[list[str]]:
    hunks: list[list[str]] = []
    for line in lines:
        if line.startswith("@@"):
            hunks.append([line])
        elif hunks:
            hunks[-1].append(line)
    return hunks


def _overlaps(header: str, place_a: Place | None, place_b: Place | None) -> bool:
    """``@@ -a,n +b,m @@`` against the definition's lines in each version."""
    old, new = header.split()[1:3]
    return _within(old[1:], place_a) or _within(new[1:], place_b)


def _within(span: str, place: Place | None) -> bool:
    if place is None:
        return False
    start, _, count = span.partition(",")
    first = int(start)
    last = first + (int(count) if count else 1) - 1
    return first <= place.last and max(last, first) >= place.first


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
