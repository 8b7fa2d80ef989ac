"""Import a workflow module from a file, with the repository on ``sys.path``.

A process may compile several workflows (tests, ``helix demo``, a long-lived UI), and
repo modules such as ``mylib`` must never be served from a previous repository's import.
So every module that appears in ``sys.modules`` while a workflow is loaded and whose file
lies inside the repository is forgotten before the next load.

The workflow itself is registered as ``helix_workflow`` so that objects of classes it
defines pickle and unpickle under one stable module name in every process.

A commit's scratch tree lies inside the user's working tree (``.helix/trees/``), and the
process that compiles it often has that working tree on ``sys.path`` too (``python -m``
started there puts its folder first). A module the commit lacks would then be imported
from the working tree and the run recorded as the commit's. So a load given ``hide``
(the working tree) takes every ``sys.path`` entry inside it off the path, except the
scratch tree itself and folders of installed code (a ``.venv`` in the project), until the
next load: a commit sees its own tree plus installed packages, nothing else.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tokenize
import traceback
from pathlib import Path
from types import ModuleType

from helixvcs.errors import CompileError
from helixvcs.runtime import library_prefixes

WORKFLOW_MODULE = "helix_workflow"
_loaded: set[str] = set()
_paths_added: list[str] = []
_roots: set[str] = set()
_paths_hidden: list[tuple[int, str]] = []


def load_workflow_module(path: Path, root: Path, hide: Path | None = None) -> ModuleType:
    """Execute the workflow module at ``path``; errors become one-line ``CompileError``s.

    ``hide``: a folder whose modules must not be importable (the working tree, when
    ``root`` is a scratch tree of a commit inside it), for as long as this load lasts.
    """
    read_source(path)  # a file Python would half-accept is refused here, with its line
    forget_loaded_modules()
    if hide is not None:
        _hide_sys_path(hide, root)
    _set_sys_path(root, path.parent)
    before = set(sys.modules)
    spec = importlib.util.spec_from_file_location(WORKFLOW_MODULE, path)
    if spec is None or spec.loader is None:
        raise CompileError("cannot load the workflow module", file=str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[WORKFLOW_MODULE] = module
    writes_bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # never leave __pycache__/ in the user's tree
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise CompileError(
            f"syntax error: {exc.msg}; fix the module and run again",
            file=exc.filename or str(path),
            line=exc.lineno,
        ) from None
    except CompileError:
        raise
    except SystemExit as exc:
        failure = _import_failure(exc, root, path)
        raise CompileError(
            f"the module called sys.exit({exc.code!r}) while helix imported it; a workflow "
            "module must only define operators (move the call under "
            '`if __name__ == "__main__":`)',
            file=failure.file,
            line=failure.line,
        ) from None
    except Exception as exc:
        raise _import_failure(exc, root, path) from None
    finally:
        sys.dont_write_bytecode = writes_bytecode
        _remember_repo_modules(before, root)
    return module


def read_source(path: Path | str) -> str:
    """The text of a Python file in its declared encoding (UTF-8 unless a coding line says
    otherwise); a file that does not decode is a ``CompileError`` naming its line."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CompileError(f"cannot read the module: {exc.strerror}", file=str(path)) from None
    try:
        encoding, _ = tokenize.detect_encoding(iter(data.splitlines(keepends=True)).__next__)
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CompileError(
            f"the file is not valid {exc.encoding} (byte 0x{data[exc.start]:02x}); "
            "save it as UTF-8",
            file=str(path),
            line=line,
        ) from None
    except SyntaxError as exc:  # an unknown or contradictory coding line
        raise CompileError(
            f"{exc.msg}; save the file as UTF-8", file=str(path), line=exc.lineno
        ) from None


def repo_modules() -> dict[str, ModuleType]:
    """The workflow module and the repository modules that loading it imported, by name.

    What a ``SourceSnapshot`` (``helixvcs.graph.snapshot``) is taken from.
    """
    names = [*sorted(_loaded - {WORKFLOW_MODULE}), WORKFLOW_MODULE]
    return {name: sys.modules[name] for name in names if name in sys.modules}


def added_paths() -> tuple[str, ...]:
    """The ``sys.path`` entries the last load added (its repository root and folder)."""
    return tuple(_paths_added)


def forget_loaded_modules() -> None:
    """Drop repo modules imported by an earlier load, and the repo paths it added."""
    # Without an earlier load there is nothing to find; a served command's process would
    # pay for the walk over the server's ~2,700 modules in copied pages (refcounts).
    for name, module in list(sys.modules.items()) if _loaded or _roots else ():
        file = getattr(module, "__file__", None)
        if name in _loaded or (file and file.startswith(tuple(_roots))):
            sys.modules.pop(name, None)
    _loaded.clear()
    sys.modules.pop(WORKFLOW_MODULE, None)
    for entry in _paths_added:
        while entry in sys.path:
            sys.path.remove(entry)
    _paths_added.clear()
    for position, entry in _paths_hidden:
        sys.path.insert(min(position, len(sys.path)), entry)
    _paths_hidden.clear()
    importlib.invalidate_caches()


def _hide_sys_path(hide: Path, keep: Path) -> None:
    """Take entries inside ``hide`` off ``sys.path``, but ``keep`` and installed code."""
    hidden = os.path.join(os.path.realpath(hide), "")
    kept = (os.path.join(os.path.realpath(keep), ""), *library_prefixes())
    for position in range(len(sys.path) - 1, -1, -1):
        entry = sys.path[position]
        real = os.path.join(os.path.realpath(entry or os.curdir), "")
        if real.startswith(hidden) and not real.startswith(kept):
            _paths_hidden.insert(0, (position, entry))
            del sys.path[position]


def _set_sys_path(root: Path, folder: Path) -> None:
    for entry in dict.fromkeys([str(folder), str(root)]):
        sys.path.insert(0, entry)
        _paths_added.append(entry)


def _remember_repo_modules(before: set[str], root: Path) -> None:
    root = root.resolve()
    _roots.update({str(root) + "/", str(root.absolute()) + "/"})
    for name in set(sys.modules) - before:
        file = getattr(sys.modules.get(name), "__file__", None)
        if file and Path(file).resolve().is_relative_to(root):
            _loaded.add(name)


def _import_failure(exc: BaseException, root: Path, path: Path) -> CompileError:
    """Locate the failure in the user's code: the innermost frame inside the repository."""
    file, line = str(path), None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve().is_relative_to(root.resolve()):
            file, line = frame.filename, frame.lineno
    if isinstance(exc, ModuleNotFoundError):
        what = f"cannot import {exc.name!r}; install it or add the module to the repository"
    else:
        what = f"the module raised {type(exc).__name__}: {exc}"
    return CompileError(what, file=file, line=line)
