"""Operator identity: the normalized code of a function and of everything it uses.

``code_identity(func, repo_root)`` starts from the operator and follows every name it reads
(see :mod:`helixvcs.hashing.source`), resolving each as Python would (closure cells, then
the module's globals, then builtins) and along attribute chains through modules:

==============================================  ==============================================
what the name is bound to                        what enters the identity
==============================================  ==============================================
function or class written in the repository      its normalized source, and what *it* uses
module of the repository, used as a whole        the normalized module, and all its globals
any other value bound in a repository module     its value fingerprint (and its type)
anything from outside the repository             its qualified name and its package version
a builtin                                        its name
helixvcs itself, ``Workflow`` objects            nothing (the caller keys decorator options)
==============================================  ==============================================

Each entry is a labelled *part* (``body``, ``helper:mylib.text.tokenize``,
``constant:workflow.THRESHOLD``, ``package:sklearn`` ...), so a diff can say what changed.
Each piece of code's own part also records what each of its names resolved to, so that
``agg = first`` -> ``agg = second`` changes the key even when both are used elsewhere.

The rule throughout: a false "unchanged" serves stale results, the worst bug this tool can
have, so whatever cannot be pinned down (a name that does not resolve, a value that cannot
be fingerprinted) makes the key unique to this call, i.e. "changed".
"""

from __future__ import annotations

import builtins
import functools
import inspect
import sys
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FunctionType, MappingProxyType, ModuleType
from typing import Any

from helixvcs.hashing.digests import digest
from helixvcs.hashing.imports import NotImported, resolve_import
from helixvcs.hashing.normalize import Chain, Import, Parsed
from helixvcs.hashing.packages import package_version, python_version, top_level
from helixvcs.hashing.places import Places, is_helix, is_helix_name, qualified
from helixvcs.hashing.source import class_source, function_source, module_source
from helixvcs.hashing.values import Fingerprinter, code_digest
from helixvcs.hashing.walk import class_file, code_chains, functions_in_class, owner_class

__all__ = ["CodeIdentity", "code_identity"]

_FORMAT = "helixvcs-code-1"  # bump when the algorithm changes: every key must change
_DYNAMIC = frozenset({"globals", "eval", "exec"})  # code that can read any global
_EMPTY = object()  # an unfilled closure cell
_CLASS_NOISE = frozenset({"__dict__", "__weakref__", "__module__", "__qualname__", "__doc__"})
_WEAK_CONTAINERS = (weakref.WeakKeyDictionary, weakref.WeakValueDictionary, weakref.WeakSet)
_WRAPPER_NOISE = frozenset(
    {"__wrapped__", "__doc__", "__dict__", "__module__", "__name__", "__qualname__"}
    | {"__annotations__", "__type_params__"}
)


@dataclass(frozen=True)
class CodeIdentity:
    """What an operator's code is, as far as its results are concerned."""

    hash: str  # digest of all parts
    source: str  # normalized source of the function, for human diffs
    parts: Mapping[str, str] = field(hash=False)  # label -> digest or version
    settled: bool = True
    """False when something could not be pinned down, so the hash is unique to this call:
    it must never be reused for a later compile (``helixvcs.graph.cache``)."""


def code_identity(func: Callable[..., Any], repo_root: Path) -> CodeIdentity:
    """The identity of ``func``: unchanged exactly when nothing it can compute has changed.

    Renaming ``func`` and registering it with ``@wf.op`` or ``@wf.op(...)`` do not count;
    comments, formatting and docstrings never count.
    """
    return _Tracer(Places(Path(repo_root))).identity(func)


@dataclass(frozen=True)
class _Namespace:
    """Where a piece of code looks its names up."""

    globals: Mapping[str, Any]
    closure: Mapping[str, Any]
    module: str  # label of the module owning the globals
    owner: str  # label of the code owning the closure


class _Tracer:
    """One walk from an operator through everything it uses; state lives for one call.

    Code found on the way is queued rather than recursed into, so deep helper chains and
    cycles cost neither stack nor repeated work.
    """

    def __init__(self, places: Places) -> None:
        self.places = places
        self.parts: dict[str, str] = {}
        self._seen: dict[int, object] = {}  # id -> object, kept alive so ids stay unique
        self._pending: deque[object] = deque()
        self._fingerprinter = _TracingFingerprinter(self)
        self._settled = True

    def identity(self, func: Callable[..., Any]) -> CodeIdentity:
        target = _unwrap(func)
        if not isinstance(target, FunctionType):
            raise TypeError(f"code_identity() needs a Python function, got {func!r}")
        self._seen[id(func)] = func
        self._seen[id(target)] = target
        self.parts["python"] = python_version()
        source = self._function(target, anonymous=True)
        while self._pending:
            self._visit(self._pending.popleft())
        parts = dict(sorted(self.parts.items()))
        flat = [text for item in parts.items() for text in item]
        return CodeIdentity(
            digest(_FORMAT, *flat), source, MappingProxyType(parts), settled=self._settled
        )

    # -- recording ----------------------------------------------------------------------

    def add(self, label: str, value: str) -> str:
        """Record a part and return its label; one label with two values keeps both."""
        candidate, n = label, 1
        while self.parts.get(candidate, value) != value:
            n += 1
            candidate = f"{label}#{n}"
        self.parts[candidate] = value
        return candidate

    def unsure(self, label: str) -> str:
        self._settled = False
        return self.add(label, digest("unsure", uuid.uuid4().hex))

    def queue(self, obj: object) -> None:
        if id(obj) not in self._seen:
            self._seen[id(obj)] = obj
            self._pending.append(obj)

    def _queue_globals(self, ns: _Namespace) -> None:
        """Every global of a module, for code that reads globals by name at run time."""
        if id(ns.globals) not in self._seen:
            self._seen[id(ns.globals)] = ns.globals
            self._pending.append(_Namespace(ns.globals, {}, ns.module, ns.module))

    def _visit(self, obj: object) -> None:
        if isinstance(obj, FunctionType):
            self._function(obj, anonymous=False)
        elif inspect.isclass(obj):
            self._class(obj)
        elif inspect.ismodule(obj):
            self._module(obj)
        elif isinstance(obj, _Namespace):
            bindings = self._all_globals(obj)
            self.add(f"globals:{obj.module}", digest("globals", *bindings))

    # -- code ---------------------------------------------------------------------------

    def _function(self, func: FunctionType, anonymous: bool) -> str:
        """Record a function's part; returns its normalized source."""
        owner = None if anonymous else owner_class(func)
        if owner is not None:  # a method: its class is the unit (class-scope names, mangling)
            self.queue(owner)
            return ""
        code = func.__code__
        ns = self._namespace(func)
        label = "body" if anonymous else f"helper:{self.places.stable_name(func)}"
        defaults = self._defaults(func)
        parsed = function_source(func)
        if parsed is not None:
            name = "" if anonymous else parsed.name
            return self._parsed(label, "function", name, parsed, ns, defaults)
        bindings = self._resolve_all(code_chains(code), ns, soft=True)
        bindings += self._resolve_all([(n,) for n in code.co_freevars], ns, soft=False)
        self.add(label, digest("bytecode", code_digest(code), defaults, *bindings))
        return f"# {code.co_qualname}: source unavailable, identified by its bytecode\n"

    def _parsed(
        self, label: str, kind: str, name: str, parsed: Parsed, ns: _Namespace, extra: str
    ) -> str:
        kept = [d for d in parsed.decorators if not self._is_workflow(d.root, ns)]
        chains = [*parsed.chains, *(c for d in kept for c in d.chains)]
        imports = {i.name: i for i in parsed.imports}
        bindings = self._resolve_all(chains, ns, soft=False, imports=imports)
        bindings += self._resolve_all(parsed.soft, ns, soft=True, imports=imports)
        decorators = [d.dump for d in kept]
        self.add(
            label,
            digest(kind, name, parsed.dump, str(len(decorators)), *decorators, extra, *bindings),
        )
        return "".join(f"@{d.text}\n" for d in kept) + parsed.text + "\n"

    def _class(self, cls: type) -> None:
        label = f"class:{self.places.stable_name(cls)}"
        ns = self._class_namespace(cls)
        parsed = class_source(cls)
        if parsed is not None:
            self._parsed(label, "class", parsed.name, parsed, ns, "")
            return
        items = []  # no usable source: identify it by its members
        for name, value in sorted(vars(cls).items()):
            if name in _CLASS_NOISE:
                continue
            funcs = list(functions_in_class(value))
            for func in funcs:
                items += self._resolve_all(code_chains(func.__code__), self._namespace(func), True)
            items += [name, *([code_digest(f.__code__) for f in funcs] or [self._fp(value)])]
        items += [self.classify(base, f"{label}.__bases__") for base in cls.__bases__]
        self.add(label, digest("class-members", *items))

    def _module(self, module: ModuleType) -> None:
        """A repo module used as a whole: its source and every one of its globals."""
        label = self.places.stable_name(module)
        dump = module_source(module)
        ns = _Namespace(vars(module), {}, label, label)
        if dump is None:
            self.unsure(f"module:{label}")
        else:
            self.add(f"module:{label}", digest("module", dump, *self._all_globals(ns)))

    def _all_globals(self, ns: _Namespace) -> list[str]:
        names = [n for n in ns.globals if not (n.startswith("__") and n.endswith("__"))]
        return self._resolve_all([(n,) for n in sorted(names)], ns, soft=True)

    # -- names --------------------------------------------------------------------------

    def _resolve_all(
        self,
        chains: Iterable[Chain],
        ns: _Namespace,
        soft: bool,
        imports: Mapping[str, Import] = MappingProxyType({}),
    ) -> list[str]:
        """``name=meaning`` for each chain: what the code's names are bound to."""
        return [f"{'.'.join(chain)}={self._resolve(chain, ns, soft, imports)}" for chain in chains]

    def _resolve(
        self, chain: Chain, ns: _Namespace, soft: bool, imports: Mapping[str, Import]
    ) -> str:
        """Resolve ``a.b.c`` as Python would, record what it is bound to, say what it is."""
        found = self._lookup(chain[0], ns, soft, imports)
        if isinstance(found, str):
            return found
        obj, where = found
        via: ModuleType | None = None
        name = chain[0]
        for attr in chain[1:]:
            if not inspect.ismodule(obj) or is_helix(obj):
                break
            try:
                found_attr = getattr(obj, attr)
            except Exception:  # a lazy attribute that fails: keep the module
                break
            via, obj, name = obj, found_attr, attr
            where = f"constant:{self.places.stable_name(via)}.{attr}"
        if via is not None and not self.places.is_local_module(via):
            return self._external(f"{via.__name__}.{name}", via.__name__)
        return self.classify(obj, where)

    def _lookup(
        self, head: str, ns: _Namespace, soft: bool, imports: Mapping[str, Import]
    ) -> tuple[Any, str] | str:
        """The object ``head`` is bound to and its label, or directly what it means."""
        if head in imports:
            package = ns.globals.get("__package__")
            try:
                obj = resolve_import(imports[head], package, self.places.in_repo)
            except Exception:  # fails the same way when the code runs
                return f"missing:{head}"
            if isinstance(obj, NotImported):
                return self._external(obj.qualified, obj.module)
            return obj, f"constant:{ns.module}.{head}"
        if head in ns.closure:
            if ns.closure[head] is _EMPTY:
                return self.unsure(f"closure:{ns.owner}.{head}")
            return ns.closure[head], f"closure:{ns.owner}.{head}"
        if head in ns.globals:
            return ns.globals[head], f"constant:{ns.module}.{head}"
        if hasattr(builtins, head):
            if head in _DYNAMIC:
                self._queue_globals(ns)
            return self.add(f"builtin:{head}", head)
        if soft:  # an annotation under TYPE_CHECKING, or an attribute name in bytecode
            return "missing"
        return self.unsure(f"unresolved:{ns.module}.{head}")  # maybe made at run time

    def classify(self, obj: Any, where: str) -> str:
        """Record what ``obj`` contributes and say what it is; ``where`` labels plain values."""
        if is_helix(obj):
            return "helixvcs"
        if inspect.ismodule(obj):
            if not self.places.is_local_module(obj):
                return self._external(obj.__name__, obj.__name__)
            return self._local(obj, "module")
        if inspect.isclass(obj):
            if not self.places.is_local_class(obj):
                return self._external(qualified(obj), obj.__module__)
            return self._local(obj, "class")
        wrapped = self._wrapped(obj, where)
        if wrapped is not None:
            return wrapped
        if isinstance(obj, FunctionType):
            return self._plain_function(obj)
        if inspect.ismethod(obj):
            parts = self.classify(obj.__func__, where), self.classify(obj.__self__, where + ".self")
            return f"method({', '.join(parts)})"
        if isinstance(obj, functools.partial):
            parts = self.classify(obj.func, where), self._constant(where, (obj.args, obj.keywords))
            return f"partial({', '.join(parts)})"
        return self._routine(obj) or self._constant(where, obj)

    def _local(self, obj: object, kind: str) -> str:
        self.queue(obj)
        return f"{kind}:{self.places.stable_name(obj)}"

    def _plain_function(self, func: FunctionType) -> str:
        if self.places.is_local_code(func.__code__.co_filename):
            return self._local(func, "helper")
        # Named after the module its code lives in: functools.wraps copies __module__.
        module = func.__globals__.get("__name__") or func.__module__ or ""
        code_name = func.__code__.co_qualname
        if "<locals>" not in code_name:
            return self._external(f"{module}.{code_name}", module)
        # A closure a library made (a decorator's wrapper): its code is shared by every
        # function the decorator wraps, so the code's name cannot tell them apart. The
        # name it was given (functools.wraps), which the user imported, can.
        inner = _unwrap(func)
        named = inner if inner is not func else func
        public = f"{named.__module__}.{named.__qualname__}" if named.__module__ else ""
        if "<locals>" in public or not public:
            return self.unsure(f"external:{module}.{code_name}")  # no stable name
        return self._external(public, module)

    def _wrapped(self, obj: Any, where: str) -> str | None:
        """A repo function behind a decorator: the function, the wrapper and its state.

        The wrapper's attributes count too: ``functools.singledispatch`` keeps the
        registered implementations there.
        """
        if not (callable(obj) and hasattr(obj, "__wrapped__")):
            return None
        inner = _unwrap(obj)
        if not isinstance(inner, FunctionType) or inner is obj:
            return None
        if not self.places.is_local_code(inner.__code__.co_filename):
            return None
        parts = [self.classify(inner, where), self._constant(f"{where}.wrapper", _state(obj))]
        if isinstance(obj, FunctionType):  # a wrapper written in Python: its code counts
            parts.append(self._plain_function(obj))
        else:
            parts.append(self.classify(type(obj), f"{where}.wrapper.__class__"))
        return f"wrapped({', '.join(parts)})"

    def _routine(self, obj: Any) -> str | None:
        """Third-party functions that are not plain Python functions; None for values."""
        if not inspect.isroutine(obj):
            return None
        owner = getattr(obj, "__self__", None)
        module = getattr(obj, "__module__", None) or getattr(owner, "__name__", None)
        if (owner is None or inspect.ismodule(owner)) and isinstance(module, str):
            return self._external(qualified(obj, module), module)
        return None  # a method bound to some object: that object is the value

    def _constant(self, where: str, value: object) -> str:
        label = self.add(where, self._fp(value))
        kind = type(value)
        if kind.__module__ != "builtins":
            self.classify(kind, f"{where}.__class__")
        return label

    def _external(self, qualified_name: str, module: str) -> str:
        if is_helix_name(module):
            return "helixvcs"
        if not module:
            return self.unsure(f"external:{qualified_name}")
        top = top_level(module)
        self.add(f"package:{top}", package_version(module))
        return self.add(f"external:{qualified_name}", top)

    def _fp(self, value: object) -> str:
        return self._fingerprinter.fingerprint(value)

    def _defaults(self, func: FunctionType) -> str:
        if func.__defaults__ is None and func.__kwdefaults__ is None:
            return ""
        return self._fp((func.__defaults__, func.__kwdefaults__))

    def _is_workflow(self, root: str | None, ns: _Namespace) -> bool:
        if root is None:
            return False
        obj = ns.closure.get(root, ns.globals.get(root))
        return any(
            c.__name__ == "Workflow" and is_helix_name(c.__module__) for c in type(obj).__mro__
        )

    # -- namespaces -----------------------------------------------------------------------

    def _namespace(self, func: FunctionType) -> _Namespace:
        closure: dict[str, Any] = {}
        for name, cell in zip(func.__code__.co_freevars, func.__closure__ or (), strict=False):
            try:
                closure[name] = cell.cell_contents
            except ValueError:
                closure[name] = _EMPTY
        module = self.places.module_label(func.__code__.co_filename, func.__module__)
        return _Namespace(func.__globals__, closure, module, self.places.stable_name(func))

    def _class_namespace(self, cls: type) -> _Namespace:
        funcs = [f for v in vars(cls).values() for f in functions_in_class(v)]
        module = sys.modules.get(cls.__module__)
        namespace = vars(module) if module is not None else {}
        if not namespace and funcs:
            namespace = funcs[0].__globals__
        closure: dict[str, Any] = {}
        for func in funcs:
            closure.update(self._namespace(func).closure)
        module_label = self.places.module_label(class_file(cls), cls.__module__)
        return _Namespace(namespace, closure, module_label, self.places.stable_name(cls))


class _TracingFingerprinter(Fingerprinter):
    """Fingerprints values, naming the code inside them stably and tracing it."""

    def __init__(self, tracer: _Tracer) -> None:
        super().__init__()
        self._tracer = tracer

    def reference(self, obj: Any) -> bytes:
        if isinstance(obj, FunctionType) or inspect.isclass(obj) or inspect.ismodule(obj):
            meaning = self._tracer.classify(obj, "constant:<reference>")
            return self.item(b"R", meaning.encode())
        return super().reference(obj)


def _state(wrapper: object) -> dict[str, object]:
    """What a decorator stored on its wrapper, without caches and convenience methods."""
    return {
        name: value
        for name, value in getattr(wrapper, "__dict__", {}).items()
        if name not in _WRAPPER_NOISE
        and not isinstance(value, _WEAK_CONTAINERS)
        and not _is_bound_method(value)
    }


def _is_bound_method(value: object) -> bool:
    owner = getattr(value, "__self__", None)
    return inspect.isroutine(value) and owner is not None and not inspect.ismodule(owner)


def _unwrap(obj: Any) -> Any:
    try:
        return inspect.unwrap(obj)
    except ValueError:  # a __wrapped__ cycle
        return obj
