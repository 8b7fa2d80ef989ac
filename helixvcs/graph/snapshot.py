"""The workflow's source as it was compiled, so that other processes run exactly that code.

A worker process that imported the workflow from the repository's files could see an
edit saved after ``helix`` compiled it, compute with the new code, and store the result
under the old key: the one bug a cache must never have. So compiling takes a
``SourceSnapshot``: the text of the workflow module and of every repository module
loaded with it, exactly as the keys were computed from it (``linecache``, where
``inspect`` read it). Another process imports the workflow with ``import_snapshot``,
which serves those modules from the snapshot's text and never from the files.

Imported modules keep their real ``__file__`` (paths relative to it reach the shared
repository) and tracebacks show the snapshot's lines. A repository module that the
workflow imports only later, inside an operator, is read from the files, as it is in the
driver, unless the snapshot ships the tree (``with_tree``): workers that share no disk
with ``helix`` get every Python module of the repository from the snapshot, and never
look for one in the files. One snapshot is active per process at a time:
``import_snapshot`` swaps the modules in ``sys.modules`` (keeping a few recent
snapshots' modules for reuse), so that values of classes defined in the workflow pickle
and unpickle under their usual names.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import linecache
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from helixvcs.dsl import Workflow
from helixvcs.errors import CompileError
from helixvcs.graph.loader import WORKFLOW_MODULE, read_source, repo_modules

_KEEP = 8  # snapshots whose imported modules a process keeps for reuse


@dataclass(frozen=True)
class ModuleSource:
    name: str  # the module's import name (the workflow is ``helix_workflow``)
    path: str  # its file, relative to the repository root, in POSIX form
    text: str

    @property
    def is_package(self) -> bool:
        return self.path.endswith("/__init__.py") or self.path == "__init__.py"


@dataclass(frozen=True)
class SourceSnapshot:
    """The workflow module and the repository modules it imported, as compiled."""

    root: str  # the repository root the files came from (absolute)
    modules: tuple[ModuleSource, ...]
    tree: tuple[ModuleSource, ...] = ()
    """The repository's other modules (``with_tree``): what operators may import later."""
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        h = hashlib.blake2b(digest_size=16)
        for m in sorted((*self.modules, *self.tree), key=lambda m: m.name):
            for part in (m.name, m.path, m.text):
                h.update(part.encode("utf-8", "surrogatepass") + b"\0")
        object.__setattr__(self, "digest", h.hexdigest())


def take_snapshot(root: Path) -> SourceSnapshot:
    """The source of the workflow just loaded and its repository modules (``.py`` files)."""
    root = root.resolve()
    modules = []
    for name, module in sorted(repo_modules().items()):
        file = getattr(module, "__file__", None)
        if not file or not file.endswith(".py"):
            continue  # a compiled extension: workers import the installed file
        lines = linecache.getlines(file)
        text = "".join(lines) if lines else read_source(file)
        path = Path(file).resolve().relative_to(root).as_posix()
        modules.append(ModuleSource(name, path, text))
    return SourceSnapshot(str(root), tuple(modules))


#: Folders never searched for modules to ship: virtual environments, caches, vendored JS.
_SKIP_FOLDERS = frozenset({"__pycache__", "node_modules", "site-packages"})


def with_tree(snapshot: SourceSnapshot) -> SourceSnapshot:
    """``snapshot`` plus every other Python module of its repository, by the names they
    import under (from the workflow's folder first, then the root): for processes that
    cannot read the repository's files. Read now, like the driver would read them when
    an operator imports one; hidden folders and virtual environments are left out."""
    root = Path(snapshot.root)
    workflow = next((m for m in snapshot.modules if m.name == WORKFLOW_MODULE), None)
    folders = [Path(workflow.path).parent] if workflow else []
    folders = list(dict.fromkeys([*folders, Path(".")]))
    taken = {m.name for m in snapshot.modules}
    shipped = []
    for rel in _python_files(root):
        for folder in folders:
            name = _module_name(rel, folder)
            if name is None or name in taken:
                continue
            try:
                text = read_source(str(root / rel))
            except CompileError:  # not Python that any import could use
                break
            taken.add(name)
            shipped.append(ModuleSource(name, rel.as_posix(), text))
    return SourceSnapshot(snapshot.root, snapshot.modules, tuple(shipped))


def _python_files(root: Path) -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d not in _SKIP_FOLDERS
            and not (here / d / "pyvenv.cfg").exists()
        )
        found += [(here / f).relative_to(root) for f in sorted(files) if f.endswith(".py")]
    return found


def _module_name(rel: Path, folder: Path) -> str | None:
    """The import name of the file ``rel`` from ``folder`` (both relative to the root)."""
    if folder != Path(".") and not rel.is_relative_to(folder):
        return None
    parts = list(rel.relative_to(folder).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    return ".".join(parts)


def snapshot_functions(snapshot: SourceSnapshot) -> Mapping[str, Callable[..., Any]]:
    """The operators of the snapshot's workflow, by name, imported from the snapshot."""
    module = import_snapshot(snapshot)
    found = [v for v in vars(module).values() if isinstance(v, Workflow)]
    if len(found) != 1:
        raise ImportError(f"the workflow module defines {len(found)} Workflow objects")
    return {name: spec.func for name, spec in found[0].nodes.items()}


_lock = threading.RLock()
_active: _SnapshotFinder | None = None
_kept: OrderedDict[str, dict[str, ModuleType]] = OrderedDict()


def import_snapshot(snapshot: SourceSnapshot) -> ModuleType:
    """Make ``snapshot``'s modules the ones this process imports; its workflow module."""
    global _active
    with _lock:
        if _active is not None and _active.snapshot.digest == snapshot.digest:
            return sys.modules[WORKFLOW_MODULE]
        if _active is not None:
            _kept[_active.snapshot.digest] = _active.release()
            while len(_kept) > _KEEP:
                _kept.popitem(last=False)
        finder = _SnapshotFinder(snapshot)
        sys.meta_path.insert(0, finder)
        _active = finder
        kept = _kept.pop(snapshot.digest, None)
        if kept is not None:
            sys.modules.update(kept)
            return kept[WORKFLOW_MODULE]
        try:
            return importlib.import_module(WORKFLOW_MODULE)
        except BaseException:
            finder.release()
            _active = None
            raise


class _SnapshotFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds and loads the snapshot's modules from its text, ahead of every other finder."""

    def __init__(self, snapshot: SourceSnapshot) -> None:
        self.snapshot = snapshot
        self.root = Path(snapshot.root)
        self.sources = {m.name: m for m in (*snapshot.tree, *snapshot.modules)}
        self.shipped = bool(snapshot.tree)  # every module is here: never read the files
        self.namespaces = {
            m.name.rsplit(".", i)[0]
            for m in (*snapshot.modules, *snapshot.tree)
            for i in range(1, m.name.count(".") + 1)
        } - set(self.sources)
        workflow = self.sources.get(WORKFLOW_MODULE)
        folder = (self.root / workflow.path).parent if workflow else self.root
        self.search = list(dict.fromkeys([str(folder), str(self.root)]))
        # tracebacks on this process show the snapshot's lines
        for m in (*snapshot.modules, *snapshot.tree):
            file = str(self.root / m.path)
            linecache.cache[file] = (len(m.text), None, m.text.splitlines(True), file)

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        source = self.sources.get(fullname)
        if source is not None:
            origin = str(self.root / source.path)
            spec = importlib.machinery.ModuleSpec(
                fullname, self, origin=origin, is_package=source.is_package
            )
            spec.has_location = True
            if source.is_package:
                spec.submodule_search_locations = [str(Path(origin).parent)]
            return spec
        if fullname in self.namespaces:
            spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
            spec.submodule_search_locations = [str(self.root.joinpath(*fullname.split(".")))]
            return spec
        if "." not in fullname and not self.shipped:  # imported later: the file, as in the driver
            return importlib.machinery.PathFinder.find_spec(fullname, self.search)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        source = self.sources[module.__name__]
        code = compile(source.text, str(self.root / source.path), "exec", dont_inherit=True)
        exec(code, module.__dict__)

    def get_source(self, fullname: str) -> str | None:
        source = self.sources.get(fullname)
        return source.text if source else None

    def release(self) -> dict[str, ModuleType]:
        """Stop finding; take this snapshot's modules out of ``sys.modules`` and return them."""
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        prefix = str(self.root) + "/"
        mine = {}
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None) or ""
            if name in self.sources or name in self.namespaces or file.startswith(prefix):
                mine[name] = sys.modules.pop(name)
        return mine
