"""Normalized source of functions and classes, and the names they read.

The canonical form of code is ``ast.dump`` of its syntax tree with docstrings stripped, so
comments, blank lines, line breaks, indentation and quote style never reach a key. Names
the code reads from outside itself are found with :mod:`symtable` (Python's own scope
analysis, so a local in a nested function never hides a global of the same name), then
extended along attribute access in the tree: ``np.linalg.norm``, ``mylib.text.tokenize``.

The source is read from the file, while what runs is the code object in memory: after a
file is edited, a module imported earlier (for example a helper still in ``sys.modules``)
runs old code while the file shows new code. Hashing the new text for the old code would
file stale results under the new key, so every parse is checked by compiling the text and
comparing its bytecode with the running code; on a mismatch the caller falls back to the
bytecode itself. To compile a method or a closure exactly as Python did, the text is put
back into synthetic enclosing scopes rebuilt from its ``__qualname__``.
"""

from __future__ import annotations
import __future__

import ast
import inspect
import linecache
import pickle
import symtable
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache, reduce
from pathlib import Path
from types import CodeType, FunctionType, ModuleType
from typing import ClassVar
from weakref import WeakKeyDictionary

from helixvcs.hashing.digests import digest
from helixvcs.hashing.files import write_atomically
from helixvcs.hashing.normalize import Decorator, Import, Parsed, normalize, strip_docstrings
from helixvcs.hashing.values import code_digest
from helixvcs.hashing.walk import class_file, method_codes

__all__ = ["class_source", "function_source", "module_source", "parsed_cache"]

_Scopes = list[tuple[str, str]]  # ("def" | "class" | "if", name), outermost first

_FUTURE_FLAGS = reduce(
    lambda acc, name: acc | getattr(__future__, name).compiler_flag,
    __future__.all_feature_names,
    0,
)


_FUNCTIONS: WeakKeyDictionary[FunctionType, tuple[CodeType, Parsed | None]] = WeakKeyDictionary()
_CLASSES: WeakKeyDictionary[type, tuple[tuple[CodeType, ...], Parsed | None]] = WeakKeyDictionary()


def function_source(func: FunctionType) -> Parsed | None:
    """``func`` normalized, or ``None`` if its source is missing or not what is running."""
    code = func.__code__
    cached = _FUNCTIONS.get(func)
    if cached is not None and cached[0] is code:
        return cached[1]
    parsed = None
    if code.co_name != "<lambda>":
        parsed = _parse(
            _code_source(code), code.co_qualname, code.co_filename, code.co_freevars, [code]
        )
    _FUNCTIONS[func] = (code, parsed)
    return parsed


def class_source(cls: type) -> Parsed | None:
    """``cls`` normalized, or ``None`` if its source is missing or its methods differ."""
    codes = tuple(method_codes(cls))
    cached = _CLASSES.get(cls)
    if cached is not None and cached[0] == codes:
        return cached[1]
    cells = sorted({name for code in codes for name in code.co_freevars})
    parsed = _parse(_getsource(cls), cls.__qualname__, class_file(cls), cells, codes)
    _CLASSES[cls] = (codes, parsed)
    return parsed


# -- normalized definitions kept between processes ----------------------------------------

_KEPT_FORMAT = 1
_KEPT_ENTRIES = 4096  # the most recently used are kept
_kept: dict[str, Parsed | None] | None = None  # inside ``parsed_cache``
_kept_added = False
kept_hits = 0
"""Definitions served from the kept file in this process, for tests."""


@contextmanager
def parsed_cache(path: Path | None) -> Iterator[None]:
    """Normalized definitions read from and written back to ``path`` during the block.

    A compile after an edit normalizes every definition the workflow reaches again, in a
    new process each time (parsing its source, compiling it to compare with the running
    bytecode, scope analysis: 30-50 ms of a served run on the census workflow). What that
    gives is a function of the definition's source text, its place (file and qualified
    name), the names its module imports, its cells and its running bytecode: those are the
    entry's key, so an edit elsewhere in the file leaves it valid. A missing or unreadable
    file is an empty cache.
    """
    global _kept, _kept_added
    if path is None or _kept is not None:
        yield
        return
    _kept, _kept_added = _read_kept(path), False
    try:
        yield
    finally:
        kept, added, _kept = _kept, _kept_added, None
        if added:
            with suppress(OSError):
                write_atomically(path, _dump_kept(kept), durable=False)


class _KeptUnpickler(pickle.Unpickler):
    """Only the normalized definitions' own classes: the file is data, never code."""

    _ALLOWED: ClassVar[dict[tuple[str, str], type]] = {
        ("helixvcs.hashing.normalize", "Parsed"): Parsed,
        ("helixvcs.hashing.normalize", "Decorator"): Decorator,
        ("helixvcs.hashing.normalize", "Import"): Import,
    }

    def find_class(self, module: str, name: str) -> type:
        found = self._ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not a normalized definition")
        return found


def _read_kept(path: Path) -> dict[str, Parsed | None]:
    try:
        with open(path, "rb") as file:
            loaded = _KeptUnpickler(file).load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError):
        return {}
    if not isinstance(loaded, tuple) or len(loaded) != 2 or loaded[0] != _KEPT_FORMAT:
        return {}
    entries = loaded[1]
    return entries if isinstance(entries, dict) else {}


def _dump_kept(kept: dict[str, Parsed | None]) -> bytes:
    newest = dict(list(kept.items())[-_KEPT_ENTRIES:])
    return pickle.dumps((_KEPT_FORMAT, newest), protocol=pickle.HIGHEST_PROTOCOL)


def module_source(module: ModuleType) -> str | None:
    """The canonical form of a whole module file (docstrings stripped)."""
    raw = _getsource(module)
    try:
        tree = ast.parse(raw) if raw is not None else None
    except SyntaxError:
        return None
    return ast.dump(strip_docstrings(tree)) if tree is not None else None


def warm_module_table() -> None:
    """Fill ``inspect``'s table of module files now, in a long-lived process that forks
    (``helix server``). ``inspect.getsource`` of a code object looks its module up by
    file, and the first lookup resolves the path of every loaded module (~2,700 in a
    server: 0.1-0.2 s of each served compile); children inherit the table, and a lookup
    adds only the modules loaded since."""
    inspect.getmodule(warm_module_table.__code__)


def _code_source(code: CodeType) -> str | None:
    """``inspect.getsource(code)``, from the lines its definition spans in the module's
    syntax tree: ``inspect`` finds the end of the block by tokenizing from its first line,
    for every definition (~2 ms each); the tree of a file is parsed once for all of them.
    What the text is used for (its normalized tree) does not depend on which of the two
    found it; a definition the tree does not show is left to ``inspect``."""
    filename = code.co_filename
    linecache.checkcache(filename)
    lines = linecache.getlines(filename)
    end = _definition_ends("".join(lines), filename).get(code.co_firstlineno) if lines else None
    if end is None:
        return _getsource(code)
    return "".join(lines[code.co_firstlineno - 1 : end])


@lru_cache(maxsize=64)
def _definition_ends(text: str, filename: str) -> dict[int, int]:
    """First line (its first decorator's, as ``co_firstlineno``) to last line of every
    function defined in a module's text."""
    try:
        tree = ast.parse(text, filename)
    except (SyntaxError, ValueError):
        return {}
    ends: dict[int, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            ends[first] = node.end_lineno
    return ends


def _getsource(obj: object) -> str | None:
    try:
        return inspect.getsource(obj)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return None


# -- parsing ----------------------------------------------------------------------------


def _parse(
    raw: str | None,
    qualname: str,
    filename: str,
    cells: Sequence[str],
    codes: Sequence[CodeType],
) -> Parsed | None:
    """``raw`` normalized, from the kept definitions (``parsed_cache``) when they hold it."""
    global _kept_added, kept_hits
    if not raw:
        return None
    used = {name for code in codes for inner in _walk_codes(code) for name in _names(inner)}
    imported = sorted(_module_imports(filename) & used)
    kept = _kept
    if kept is None:
        return _normalized(raw, qualname, filename, cells, codes, imported)
    key = digest(
        "parsed",
        sys.version,
        filename,
        qualname,
        raw,
        *cells,
        "/",
        *imported,
        "/",
        *(code_digest(code) for code in codes),
    )
    if key in kept:
        kept_hits += 1
        kept[key] = kept.pop(key)  # the most recently used last
        return kept[key]
    parsed = kept[key] = _normalized(raw, qualname, filename, cells, codes, imported)
    _kept_added = True
    return parsed


def _normalized(
    raw: str,
    qualname: str,
    filename: str,
    cells: Sequence[str],
    codes: Sequence[CodeType],
    imported: Sequence[str],
) -> Parsed | None:
    wrapped = _wrap(qualname, cells, imported, raw)
    if wrapped is None:
        return None
    text, scopes = wrapped
    try:
        tree = ast.parse(text, filename)
        if codes and not _compiles_to(tree, filename, codes):
            return None
        free = _free_names(symtable.symtable(text, filename, "exec"), scopes, _last(qualname))
    except (SyntaxError, ValueError, LookupError):
        return None
    node = _find(tree.body, scopes, _last(qualname))
    return normalize(node, free) if node is not None else None


def _names(code: CodeType) -> tuple[str, ...]:
    return code.co_names + code.co_varnames + code.co_cellvars + code.co_freevars


def _last(qualname: str) -> str:
    return qualname.rpartition(".")[2]


def _wrap(
    qualname: str, cells: Sequence[str], imported: Sequence[str], raw: str
) -> tuple[str, _Scopes] | None:
    """Put ``raw`` back inside the scopes its qualname names, so it compiles as it did.

    A method goes back into ``class C:`` (for name mangling and ``super()``), a closure into
    a ``def outer():`` that binds its free variables (so they compile as cells, not
    globals). Wrapper lines are indented with prefixes of the text's own indentation.
    Names the real module binds by ``import`` are imported again at the top: Python 3.11
    compiles ``np.mean(x)`` differently when ``np`` comes from an import, even when the
    ``np`` in question is a local variable that merely shares the name.
    """
    segments = qualname.split(".")
    scopes: list[tuple[str, str]] = []
    for i, segment in enumerate(segments[:-1]):
        if segment == "<locals>":
            continue
        if not segment.isidentifier():
            return None
        scopes.append(("def" if segments[i + 1] == "<locals>" else "class", segment))
    first = raw.splitlines()[0] if raw.strip() else ""
    indent = first[: len(first) - len(first.lstrip())]
    if not scopes and indent:
        scopes.append(("if", ""))  # defined inside an if/try at module level
    cells = [c for c in cells if c != "__class__"]  # the compiler makes that one itself
    defs = [i for i, (kind, _) in enumerate(scopes) if kind == "def"]
    if len(scopes) > len(indent) or (cells and not defs):
        return None
    lines = [f"import {', '.join(imported)}"] if imported else []
    for i, (kind, name) in enumerate(scopes):
        header = {"if": "if 1:", "def": f"def {name}():", "class": f"class {name}:"}[kind]
        lines.append(indent[:i] + header)
        if cells and i == defs[-1]:
            pad = indent[: i + 1] if i + 1 < len(scopes) else indent
            lines.append(pad + " = ".join(cells) + " = None")
    return "\n".join([*lines, raw]), scopes


def _module_imports(filename: str) -> frozenset[str]:
    """Names bound by ``import`` at the top level of a module file, as its compiler saw them."""
    return _imports_in("".join(linecache.getlines(filename)), filename)


@lru_cache(maxsize=256)
def _imports_in(text: str, filename: str) -> frozenset[str]:
    try:
        top = symtable.symtable(text, filename, "exec")
    except (SyntaxError, ValueError):
        return frozenset()
    return frozenset(s.get_name() for s in top.get_symbols() if s.is_imported())


def _find(body: list[ast.stmt], scopes: _Scopes, name: str) -> ast.AST | None:
    for kind, scope in scopes:
        types: tuple[type, ...] = {
            "if": (ast.If,),
            "def": (ast.FunctionDef,),
            "class": (ast.ClassDef,),
        }[kind]
        node = next(
            (n for n in body if isinstance(n, types) and getattr(n, "name", "") == scope), None
        )
        if node is None:
            return None
        body = node.body  # type: ignore[attr-defined]
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return next((n for n in body if isinstance(n, defs) and n.name == name), None)


def _compiles_to(tree: ast.Module, filename: str, codes: Sequence[CodeType]) -> bool:
    """Whether compiling ``tree`` reproduces each running code object, bytecode for bytecode."""
    flags = reduce(lambda acc, code: acc | code.co_flags, codes, 0) & _FUTURE_FLAGS
    compiled = compile(tree, filename, "exec", flags=flags, dont_inherit=True)
    found: dict[str, set[str]] = {}
    for code in _walk_codes(compiled):
        found.setdefault(code.co_qualname, set()).add(code_digest(code))
    return all(code_digest(code) in found.get(code.co_qualname, ()) for code in codes)


def _walk_codes(code: CodeType) -> Iterator[CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _walk_codes(const)


def _free_names(top: symtable.SymbolTable, scopes: _Scopes, name: str) -> set[str]:
    """Names read from outside the definition: its decorators, defaults, body, bases."""
    enclosing = top
    for kind, scope in scopes:
        if kind != "if":
            enclosing = _child(enclosing, scope)
    target = _child(enclosing, name)
    free = {s.get_name() for s in enclosing.get_symbols() if s.is_referenced()} - {name}
    free |= {s.get_name() for s in target.get_symbols() if s.is_free()}
    for table in _walk_tables(target):
        free |= {s.get_name() for s in table.get_symbols() if s.is_global()}
    return free


def _child(table: symtable.SymbolTable, name: str) -> symtable.SymbolTable:
    for child in table.get_children():
        if child.get_name() == name and str(child.get_type()) in ("function", "class"):
            return child
    raise LookupError(name)


def _walk_tables(table: symtable.SymbolTable) -> Iterator[symtable.SymbolTable]:
    yield table
    for child in table.get_children():
        yield from _walk_tables(child)
