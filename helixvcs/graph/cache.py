"""Reuse the last compile of a workflow when nothing it was computed from has changed.

Compiling imports the workflow, and with it the user's libraries: scikit-learn and SciPy
alone take about two seconds, most of what ``helix status`` or an unchanged ``helix run``
costs. So a compile of the working tree leaves a record (``.helix/compiled.json``) of
every key and of everything the keys were computed from:

- the interpreter, helixvcs's version, ``sys.path`` and the environment variables (all but
  a few that differ between two shells of one user, such as ``PWD`` and ``SHLVL``);
- the modification time of every installed-library folder on ``sys.path``: installing,
  upgrading or removing a package changes it;
- the content digest of every module loaded from outside those folders (the workflow,
  the repository's modules, anything on ``PYTHONPATH``) and of every other file opened
  while the workflow was imported and keyed (data files, a ``params.json`` read at import),
  and the listing of every folder read then (a source glob, the repository root).

Files and folders opened are seen through a Python audit hook (``sys.addaudithook``). A
later compile that finds all of it as recorded rebuilds the ``Dag`` from the record
(``Dag.from_cache``) without importing anything; any difference means a real compile.
Digests go through the stat cache, so an unchanged file costs one ``stat``.

Nothing is recorded when a key was not settled (``CodeIdentity.settled``: a name that did
not resolve makes a key unique to one compile) or when a file it read was modified
within the stat cache's racy window of the compile (it may have changed while being read).

What this assumes, as worker processes that re-import the workflow already do: importing
the workflow gives the same values given those inputs. A module-level constant drawn from
the clock or an unseeded random generator breaks that; ``HELIX_COMPILE_CACHE=0`` turns
the cache off.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from helixvcs.dsl import NodeSpec
from helixvcs.errors import CompileError
from helixvcs.graph.compile import compile_workflow, source_files
from helixvcs.graph.dag import Dag, Node
from helixvcs.graph.loader import added_paths
from helixvcs.hashing import CodeIdentity, StatCache, digest, value_fingerprint
from helixvcs.hashing.files import RACY_SECONDS, write_atomically
from helixvcs.hashing.packages import versions_kept
from helixvcs.hashing.source import parsed_cache
from helixvcs.hashing.values import Fingerprinted
from helixvcs.runtime import VOLATILE_ENV, library_prefixes

__all__ = ["ENV_SWITCH", "PARSED_FILE", "compile_cached", "warm_resolved"]

ENV_SWITCH = "HELIX_COMPILE_CACHE"
_FORMAT = 1
_KEEP = 8  # records kept: one per workflow file and repository
PARSED_FILE = "parsed.pickle"  # beside the record: normalized definitions (hashing.source)
_SYSTEM = ("/dev/", "/proc/", "/sys/")
# Also left out: package metadata (``*.dist-info``, ``*.egg-info``), read for versions and
# covered by the library folders' mtimes, and compiled bytecode (its source is tracked).
_METADATA = re.compile(r"\.(dist|egg)-info(/|$)")  # a path with such a folder in it


def compile_cached(
    root: Path,
    workflow: Path,
    stat_cache: StatCache,
    record: Path | None,
    *,
    data_root: Path | None = None,
    reuse: bool = True,
    packages: Path | None = None,
) -> Dag:
    """``compile_workflow``, served from ``record`` when nothing it depends on changed.

    ``reuse=False`` always compiles (and refreshes the record); ``record`` None or
    ``HELIX_COMPILE_CACHE=0`` compile without a record. ``packages``: where installed
    distributions' versions are kept between processes (``hashing.packages``).
    """
    global last_outcome
    root = root.resolve()
    if record is None or os.environ.get(ENV_SWITCH, "1") == "0":
        last_outcome = "off"
        return compile_workflow(root, workflow, stat_cache, data_root=data_root)
    slot = digest("compiled", str(root), str(workflow.resolve()), str(data_root))
    environment = _environment(root)
    records = _read(record)
    why: str | None = "not asked to reuse"
    if reuse:
        entry = records.get(slot)
        why = "no record" if entry is None else _changed(entry, environment, stat_cache)
        if why is None:
            assert entry is not None
            try:
                dag = _rebuild(entry["dag"], root, workflow, data_root, stat_cache)
            except (KeyError, TypeError, ValueError):
                why = "a record of another format"
            else:
                why = _data_changed(dag, stat_cache)
                if why is None:
                    last_outcome = "reused"
                    _debug()
                    return dag
    started_ns = time.time_ns()
    with (
        parsed_cache(record.with_name(PARSED_FILE)),
        versions_kept(packages),
        _recording() as seen,
    ):
        dag = compile_workflow(root, workflow, stat_cache, data_root=data_root)
    entry, unrecorded = _entry(dag, environment, seen, stat_cache, started_ns)
    records.pop(slot, None)
    if entry is not None:
        records[slot] = entry
    _write(record, records)
    last_outcome = f"compiled ({why})" + (f", not recorded ({unrecorded})" if unrecorded else "")
    _debug()
    return dag


last_outcome = ""
"""What the last call did and why, for tests: ``reused``, or
``compiled (<why not reused>)``, with ``not recorded (<why>)`` when nothing was kept."""


def _debug() -> None:
    """``HELIX_COMPILE_CACHE=explain`` prints the outcome on stderr."""
    if os.environ.get(ENV_SWITCH) == "explain":
        print(f"helix: compile cache: {last_outcome}", file=sys.stderr)


# -- what a compile read -------------------------------------------------------------------


@dataclass
class _Seen:
    files: set[str] = field(default_factory=set)
    folders: set[str] = field(default_factory=set)


_active: _Seen | None = None
_hook_lock = threading.Lock()
_hooked = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    seen = _active
    if seen is None:
        return
    try:
        if event == "open":
            target = args[0]
            if isinstance(target, str | bytes | os.PathLike):
                seen.files.add(os.path.abspath(os.fsdecode(target)))
        elif event in ("os.listdir", "os.scandir"):
            target = args[0]
            if target is None:
                target = "."
            if isinstance(target, str | bytes | os.PathLike):
                seen.folders.add(os.path.abspath(os.fsdecode(target)))
    except Exception:  # an audit hook must never break the code it watches
        return


@contextmanager
def _recording() -> Iterator[_Seen]:
    global _active, _hooked
    with _hook_lock:
        if not _hooked:
            sys.addaudithook(_audit)
            _hooked = True
        seen = _Seen()
        _active = seen
        try:
            yield seen
        finally:
            _active = None


def _library_folders() -> tuple[str, ...]:
    """Where installed code lives: covered by folder mtimes, not by file digests."""
    return library_prefixes(str(Path(__file__).resolve().parents[1]))  # + helixvcs


def _environment(root: Path) -> dict[str, Any]:
    version = getattr(sys.modules.get("helixvcs"), "__version__", "unknown")  # imported
    inside = os.path.join(str(root), "")
    ours = added_paths()  # a previous load's repository, in a long-lived process
    path = [
        p
        for p in sys.path
        if p not in ours
        and os.path.exists(p or ".")  # not a path hook's marker, added on first use
        and not os.path.join(os.path.abspath(p or "."), "").startswith(inside)
    ]
    libraries = _library_folders()
    mtimes: dict[str, int | None] = {}
    for entry in path:
        folder = os.path.realpath(entry or ".")
        if folder.startswith(libraries) or os.path.join(folder, "") in libraries:
            try:
                mtimes[folder] = os.stat(folder).st_mtime_ns
            except OSError:
                mtimes[folder] = None
    env = sorted((k, v) for k, v in os.environ.items() if k not in VOLATILE_ENV)
    return {
        "helixvcs": version,
        "python": sys.version,
        "executable": sys.executable,
        "path": path,
        "environment": digest("env", *(f"{k}={v}" for k, v in env)),
        "libraries": mtimes,
    }


def _entry(
    dag: Dag, environment: dict[str, Any], seen: _Seen, cache: StatCache, started_ns: int
) -> tuple[dict[str, Any] | None, str | None]:
    """The record of one compile, or None and why it must not be reused."""
    unsettled = [n.name for n in dag if not n.code.settled]
    for node in dag:  # a value that cannot be fingerprinted is unique to this compile
        if any(value_fingerprint(v) != value_fingerprint(v) for v in node.constants.values()):
            unsettled.append(node.name)
    if unsettled:
        return None, f"the keys of {', '.join(unsettled)} are unique to this compile"
    for node in dag:  # options such as per_row=True are read when a run records metrics
        try:
            same = json.loads(json.dumps(dict(node.spec.options))) == dict(node.spec.options)
        except (TypeError, ValueError):
            same = False
        if not same:
            return None, f"the options of {node.name} are not plain data"
    libraries = _library_folders()
    helix_dir = os.path.join(os.path.realpath(dag.root), ".helix", "")
    modules = {
        os.path.abspath(f)
        for m in list(sys.modules.values())
        if isinstance(f := getattr(m, "__file__", None), str)
    }

    real_folders: dict[str, str] = {}  # resolved once each: thousands of modules share them

    def wanted(path: str) -> bool:
        if (
            path.endswith(".pyc")
            or _METADATA.search(path) is not None
            or os.path.join(path, "").startswith((helix_dir, *_SYSTEM))
        ):
            return False
        real = os.path.join(_resolved(path, real_folders), "")
        return not (real.startswith(libraries) or real.startswith(helix_dir))

    racy_before = started_ns - RACY_SECONDS * 1_000_000_000
    files: dict[str, str] = {}
    for path in sorted(p for p in (seen.files | modules) if wanted(p)):
        try:
            st = os.stat(path)
        except OSError:
            continue  # opened and removed, or a module without a file: nothing to check
        if not stat.S_ISREG(st.st_mode):
            continue
        if st.st_mtime_ns >= racy_before:
            return None, f"{path} was modified while it was read"
        files[path] = cache.file_digest(Path(path))
    folders: dict[str, str] = {}
    for path in sorted(p for p in seen.folders if wanted(p)):
        try:
            if os.stat(path).st_mtime_ns >= racy_before:
                return None, f"{path} was modified while it was read"
            folders[path] = _listing(path)
        except OSError:
            continue
    record = {
        "format": _FORMAT,
        "environment": environment,
        "files": files,
        "folders": folders,
        "dag": _dump(dag),
    }
    return record, None


_real_modules: dict[str, str] = {}
"""Resolved paths of module files loaded before ``warm_resolved`` (a server's preload)."""


def warm_resolved() -> None:
    """Resolve the files of every module loaded now, in a long-lived process that forks
    (``helix server``): each compile checks every loaded module's file (~2,700 in a server,
    an ``lstat`` and a ``realpath`` per folder: 30-50 ms of each served compile), and
    children inherit the answers. They stay true while the server runs: it stops when a
    module it imported, or a library folder, changes."""
    folders: dict[str, str] = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            path = os.path.abspath(path)
            _real_modules[path] = _resolve(path, folders)


def _resolved(path: str, folders: dict[str, str]) -> str:
    """``os.path.realpath(path)``, from ``warm_resolved``'s answers when it has one."""
    known = _real_modules.get(path)
    return known if known is not None else _resolve(path, folders)


def _resolve(path: str, folders: dict[str, str]) -> str:
    """``os.path.realpath(path)``, resolving each folder once (modules share them)."""
    if os.path.islink(path):
        return os.path.realpath(path)
    head, tail = os.path.split(path)
    if head not in folders:
        folders[head] = os.path.realpath(head)
    return os.path.join(folders[head], tail)


def _listing(folder: str) -> str:
    return digest("listing", *sorted(os.listdir(folder)))


def _changed(entry: dict[str, Any], environment: dict[str, Any], cache: StatCache) -> str | None:
    """What changed since ``entry`` was recorded, or None."""
    if entry.get("format") != _FORMAT:
        return "a record of another format"
    recorded = entry.get("environment") or {}
    for what in environment:
        if recorded.get(what) != environment[what]:
            return f"{what} changed"
    for path, expected in entry["files"].items():
        try:
            if cache.file_digest(Path(path)) != expected:
                return f"{path} changed"
        except OSError:
            return f"{path} is gone"
    for path, expected in entry["folders"].items():
        try:
            if _listing(path) != expected:
                return f"the files in {path} changed"
        except OSError:
            return f"{path} is gone"
    return None


def _data_changed(dag: Dag, cache: StatCache) -> str | None:
    """Which source no longer matches the same files with the same contents, or None."""
    for node in dag:
        if node.kind != "source":
            continue
        base = node.input_root or dag.root
        try:
            files = source_files(node.spec, base)
            inputs = tuple(f.relative_to(base).as_posix() for f in files)
            if inputs != node.inputs:
                return f"the files of source {node.name} changed"
            for rel, f in zip(inputs, files, strict=True):
                if node.parts.get(f"data:{rel}") != cache.file_digest(f):
                    return f"{rel} changed"
        except (CompileError, OSError, ValueError):
            return f"the files of source {node.name} changed"
    return None


# -- the record ------------------------------------------------------------------------------


def _dump(dag: Dag) -> dict[str, Any]:
    return {
        "workflow": dag.workflow,
        "nodes": [
            {
                "name": n.name,
                "kind": n.kind,
                "parents": list(n.parents),
                "key": n.key,
                "code": {"hash": n.code.hash, "source": n.code.source, "parts": dict(n.code.parts)},
                "constants": {k: value_fingerprint(v) for k, v in n.constants.items()},
                "params": list(n.spec.params),
                "options": dict(n.spec.options),
                "file": n.spec.file,
                "line": n.spec.line,
                "path": n.spec.path,
                "inputs": list(n.inputs),
                "input_root": str(n.input_root) if n.input_root is not None else None,
                "parts": dict(n.parts),
                "extra": n.extra,
            }
            for n in dag
        ],
    }


def _rebuild(
    data: dict[str, Any], root: Path, workflow: Path, data_root: Path | None, cache: StatCache
) -> Dag:
    real = _RealCompile(root, workflow, data_root, cache)
    nodes: dict[str, Node] = {}
    for item in data["nodes"]:
        name, kind = str(item["name"]), str(item["kind"])
        spec = NodeSpec(
            name=name,
            kind=kind,
            func=_Deferred(real, name, str(item["key"])),
            params=tuple(item["params"]),
            defaults=MappingProxyType({}),
            options=MappingProxyType(dict(item["options"])),
            file=str(item["file"]),
            line=int(item["line"]),
            path=item["path"],
        )
        code = item["code"]
        nodes[name] = Node(
            name=name,
            kind=kind,
            parents=tuple(item["parents"]),
            key=str(item["key"]),
            code=CodeIdentity(str(code["hash"]), str(code["source"]), dict(code["parts"])),
            constants=MappingProxyType(
                {k: Fingerprinted(str(v)) for k, v in item["constants"].items()}
            ),
            spec=spec,
            inputs=tuple(item["inputs"]),
            input_root=Path(item["input_root"]) if item["input_root"] is not None else None,
            parts=dict(item["parts"]),
            extra=str(item["extra"]),
        )
    return Dag(
        workflow=str(data["workflow"]),
        root=root,
        module_file=workflow.resolve(),
        nodes=nodes,
        from_cache=True,
    )


class _RealCompile:
    """The workflow compiled for real, once, the first time a cached node must run."""

    def __init__(
        self, root: Path, workflow: Path, data_root: Path | None, cache: StatCache
    ) -> None:
        self._args = root, workflow, data_root, cache
        self._lock = threading.Lock()
        self._dag: Dag | None = None

    def get(self) -> Dag:
        with self._lock:
            if self._dag is None:
                root, workflow, data_root, cache = self._args
                self._dag = compile_workflow(root, workflow, cache, data_root=data_root)
            return self._dag


class _Deferred:
    """A cached node's function: the real one, after checking its key did not move."""

    def __init__(self, real: _RealCompile, name: str, key: str) -> None:
        self._real, self._name, self._key = real, name, key

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        node = self._real.get().nodes.get(self._name)
        if node is None or node.key != self._key:
            raise CompileError(
                f"operator {self._name} changed after this run was planned; run again"
            )
        function: Callable[..., Any] = node.spec.func
        return function(*args, **kwargs)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(path: Path, records: dict[str, Any]) -> None:
    kept = dict(list(records.items())[-_KEEP:])
    with contextlib.suppress(OSError):  # a cache: losing it costs one import next time
        write_atomically(path, json.dumps(kept).encode(), durable=False)
