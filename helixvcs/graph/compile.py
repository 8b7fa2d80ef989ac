"""Compile a workflow module into a ``Dag``: resolve parents, validate, key every node.

Compile errors name the file, line and operator, and say what to do; they are the
``CompileError`` the CLI turns into exit code 2.
"""

from __future__ import annotations

import contextlib
import glob
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from helixvcs.dsl import NodeSpec, Workflow
from helixvcs.errors import CompileError, UserInputError
from helixvcs.graph.assembly import order_problem
from helixvcs.graph.dag import Dag, Node
from helixvcs.graph.loader import load_workflow_module
from helixvcs.graph.snapshot import take_snapshot
from helixvcs.hashing import (
    StatCache,
    code_identity,
    digest,
    node_key,
    value_fingerprint,
)

DEFAULT_WORKFLOW = "workflow.py"
_KEYLESS_OPTIONS = frozenset({"explore"})  # alternatives to try; they never change a value


def find_workflow_file(root: Path) -> Path:
    """``[tool.helix] workflow`` in the root's pyproject.toml, else ``workflow.py``."""
    configured = _configured_workflow(root)
    path = root / (configured or DEFAULT_WORKFLOW)
    if configured and not path.resolve().is_relative_to(root.resolve()):
        raise UserInputError(
            f"{root / 'pyproject.toml'}: [tool.helix] workflow = {configured!r} is outside "
            "the repository; point it at a file inside it"
        )
    if not path.is_file():
        hint = (
            f"[tool.helix] workflow = {configured!r} in pyproject.toml"
            if configured
            else f"create {DEFAULT_WORKFLOW} or set [tool.helix] workflow in pyproject.toml"
        )
        raise UserInputError(f"no workflow file at {path}; {hint}")
    return path


def _configured_workflow(root: Path) -> str | None:
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return None
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserInputError(f"{pyproject}: cannot parse ({exc}); fix the file") from None
    value = data.get("tool", {}).get("helix", {}).get("workflow")
    if value is not None and not isinstance(value, str):
        raise UserInputError(f"{pyproject}: [tool.helix] workflow must be a path string")
    return value


def compile_workflow(
    root: Path, path: Path, stat_cache: StatCache | None = None, data_root: Path | None = None
) -> Dag:
    """Load the module at ``path`` and compile its single ``Workflow``.

    ``data_root`` is where a source's files are looked for when ``root`` lacks them: the
    working tree, when ``root`` is a scratch copy of a commit that does not track its data.
    """
    root = root.resolve()
    module = load_workflow_module(path, root, hide=data_root)
    wf = _the_workflow(vars(module), path)
    specs = list(wf.nodes.values())
    if not specs:
        raise CompileError(f"workflow {wf.name!r} declares no operators", file=str(path))
    parents = {s.name: _resolve_parents(s, wf.nodes) for s in specs}
    order = _topological_order(specs, parents)
    if not any(s.is_output for s in specs):
        raise CompileError(
            "the workflow has no @wf.metric or @wf.output, so nothing would run; mark its results",
            file=str(path),
        )
    cache = stat_cache if stat_cache is not None else StatCache(None)
    cache.prefetch(_all_source_files(specs, root, data_root))  # two files at a time
    nodes: dict[str, Node] = {}
    for spec in order:
        nodes[spec.name] = _make_node(spec, parents[spec.name], nodes, root, cache, data_root)
    sources = take_snapshot(root)  # after keying: the text the keys were computed from
    return Dag(
        workflow=wf.name, root=root, module_file=path.resolve(), nodes=nodes, sources=sources
    )


def _the_workflow(namespace: Mapping[str, Any], path: Path) -> Workflow:
    found = {id(v): (k, v) for k, v in namespace.items() if isinstance(v, Workflow)}
    if not found:
        raise CompileError(
            "no Workflow in the module; create one with `wf = Workflow('name')`", file=str(path)
        )
    if len(found) > 1:
        names = ", ".join(sorted(k for k, _ in found.values()))
        raise CompileError(
            f"several Workflow objects ({names}); keep one per module", file=str(path)
        )
    return next(iter(found.values()))[1]


def _resolve_parents(spec: NodeSpec, declared: Mapping[str, NodeSpec]) -> tuple[str, ...]:
    params = spec.params[1:] if spec.kind == "source" else spec.params
    if spec.kind == "source" and not spec.params:
        raise _error(
            spec, "a source takes the resolved path as its first parameter, e.g. def raw(path)"
        )
    result: list[str] = []
    for p in params:
        if spec.kind == "source" and p in declared and p not in spec.defaults:
            raise _error(spec, f"a source cannot have parents (parameter {p!r}); make it an @wf.op")
        if p in declared and p in spec.defaults:
            raise _error(
                spec,
                f"parameter {p!r} names operator {p!r} but has a default; "
                "drop the default to use the operator, or rename the constant",
            )
        if p in declared:
            result.append(p)
        elif p not in spec.defaults:
            raise _error(
                spec,
                f"parameter {p!r} names no operator; declare an operator {p!r} "
                "or give the parameter a default to make it a constant",
            )
    if spec.kind == "features" and not result:
        raise _error(
            spec,
            "a @wf.features operator stacks feature blocks: give it at least one parameter "
            "that names an operator returning a 2-D array, sparse matrix or numeric table",
        )
    if spec.kind == "features" and (problem := order_problem(spec.func, result)) is not None:
        raise _error(spec, problem)
    return tuple(result)


def _topological_order(
    specs: list[NodeSpec], parents: Mapping[str, tuple[str, ...]]
) -> list[NodeSpec]:
    """Kahn's algorithm, the earliest-declared ready node first, so output order is stable."""
    import heapq

    position = {s.name: i for i, s in enumerate(specs)}
    pending = {s.name: len(set(parents[s.name])) for s in specs}
    children: dict[str, list[str]] = {s.name: [] for s in specs}
    for s in specs:
        for p in dict.fromkeys(parents[s.name]):
            children[p].append(s.name)
    ready = [position[s.name] for s in specs if pending[s.name] == 0]
    heapq.heapify(ready)
    order: list[NodeSpec] = []
    while ready:
        spec = specs[heapq.heappop(ready)]
        order.append(spec)
        for c in children[spec.name]:
            pending[c] -= 1
            if pending[c] == 0:
                heapq.heappush(ready, position[c])
    if len(order) < len(specs):
        raise _cycle_error([s for s in specs if pending[s.name] > 0], parents)
    return order


def _cycle_error(stuck: list[NodeSpec], parents: Mapping[str, tuple[str, ...]]) -> CompileError:
    names = {s.name for s in stuck}
    start = stuck[0]
    path, current = [start.name], start.name
    while True:
        current = next(p for p in parents[current] if p in names)
        if current in path:
            cycle = [*path[path.index(current) :], current]
            break
        path.append(current)
    first = next(s for s in stuck if s.name == cycle[0])
    return _error(first, "cycle: " + " <- ".join(cycle) + "; an operator cannot depend on itself")


def _make_node(
    spec: NodeSpec,
    parents: tuple[str, ...],
    done: Mapping[str, Node],
    root: Path,
    cache: StatCache,
    data_root: Path | None,
) -> Node:
    constants = {k: v for k, v in spec.defaults.items() if k not in parents}
    code = code_identity(spec.func, root)
    options = {k: v for k, v in spec.options.items() if k not in _KEYLESS_OPTIONS}
    parts = dict(code.parts)
    parts.update({f"default:{k}": value_fingerprint(v) for k, v in constants.items()})
    parts.update({f"option:{k}": value_fingerprint(v) for k, v in options.items()})
    extra = digest(
        "options", *(f"{k}={v}" for k, v in sorted(parts.items()) if k.startswith("option:"))
    )
    inputs: tuple[str, ...] = ()
    input_root = None
    if spec.kind == "source":
        assert spec.path is not None
        input_root = _input_root(spec, root, data_root)
        files = source_files(spec, input_root)
        inputs = tuple(f.relative_to(input_root).as_posix() for f in files)
        try:
            hashes = [cache.file_digest(f) for f in files]
        except OSError as exc:
            raise _error(
                spec,
                f"cannot read source file {exc.filename}: {exc.strerror}; check its permissions",
            ) from None
        parts.update({f"data:{rel}": h for rel, h in zip(inputs, hashes, strict=True)})
        extra = digest(
            extra, "source", spec.path, *(f"{r}\0{h}" for r, h in zip(inputs, hashes, strict=True))
        )
    key = node_key(spec.kind, code.hash, constants, [done[p].key for p in parents], extra)
    return Node(
        name=spec.name,
        kind=spec.kind,
        parents=parents,
        key=key,
        code=code,
        constants=constants,
        spec=spec,
        inputs=inputs,
        input_root=input_root,
        parts=parts,
        extra=extra,
    )


def _all_source_files(specs: list[NodeSpec], root: Path, data_root: Path | None) -> list[Path]:
    """The files of every source, as ``_make_node`` finds them; a source whose files
    cannot be listed is left to ``_make_node`` to report."""
    files: list[Path] = []
    for spec in specs:
        if spec.kind != "source" or spec.path is None:
            continue
        with contextlib.suppress(CompileError, OSError):
            files.extend(source_files(spec, _input_root(spec, root, data_root)))
    return files


def _input_root(spec: NodeSpec, root: Path, data_root: Path | None) -> Path:
    """Where a source's files are looked for: ``root``, or ``data_root`` when that is
    given and ``root`` lacks them."""
    return root if data_root is None or _exists(spec, root) else data_root.resolve()


def source_files(spec: NodeSpec, root: Path) -> list[Path]:
    """The files a source reads: one file, every file under a folder, or a glob's matches."""
    assert spec.path is not None
    pattern = Path(spec.path)
    if pattern.is_absolute() or ".." in pattern.parts:
        raise _error(spec, f"source path {spec.path!r} must be relative and inside the repository")
    try:
        files = _matching_files(spec, root / pattern)
    except OSError as exc:  # a name too long, a folder that cannot be read, ...
        raise _error(
            spec, f"cannot read source path {spec.path!r}: {exc.strerror or exc}; check the path"
        ) from None
    for f in files:
        if not f.resolve().is_relative_to(root):
            raise _error(spec, f"source file {f} resolves outside the repository ({root})")
    return files


def _matching_files(spec: NodeSpec, target: Path) -> list[Path]:
    assert spec.path is not None
    if glob.has_magic(spec.path):
        matches = [Path(m) for m in glob.glob(str(target), recursive=True)]
        files = sorted(m for m in matches if m.is_file())
    elif target.is_dir():
        files = sorted(p for p in target.rglob("*") if p.is_file())
    elif target.exists():
        files = [target]
    else:
        raise _error(spec, f"source path {spec.path!r} does not exist; check the path")
    if not files:
        raise _error(spec, f"source path {spec.path!r} matches no file; check the path or glob")
    return files


def source_argument(node: Node, root: Path) -> str | list[str]:
    """What a source function receives: the resolved path, or the sorted matches of a glob."""
    assert node.spec.path is not None
    base = node.input_root or root
    if glob.has_magic(node.spec.path):
        return [str(base / f) for f in node.inputs]
    return str(base / node.spec.path)


def _exists(spec: NodeSpec, root: Path) -> bool:
    assert spec.path is not None
    try:
        if glob.has_magic(spec.path):
            return any(Path(m).is_file() for m in glob.glob(str(root / spec.path), recursive=True))
        return (root / spec.path).exists()
    except OSError:  # source_files says what is wrong with it
        return True


def _error(spec: NodeSpec, message: str) -> CompileError:
    return CompileError(message, file=spec.file, line=spec.line, operator=spec.name)
