"""Which installed distribution provides a module, and at which version.

An operator that calls ``sklearn`` depends on the installed scikit-learn: upgrading it
must change the operator's key. Lookups are cached for the life of the process, because
packages are upgraded between runs, not under a running one; :func:`clear_caches` is for
tests and long-lived hosts that install packages on the fly.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

from helixvcs.hashing.digests import digest
from helixvcs.hashing.files import write_atomically
from helixvcs.runtime import library_prefixes

__all__ = [
    "clear_caches",
    "is_installed",
    "package_version",
    "python_version",
    "top_level",
    "versions_kept",
    "warm_caches",
]


def python_version() -> str:
    """``major.minor`` of the running interpreter: bytecode and stdlib behaviour follow it."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def top_level(module_name: str) -> str:
    return module_name.partition(".")[0]


def package_version(module_name: str) -> str:
    """The version of whatever provides ``module_name``.

    ``python:3.11`` for the standard library; the distribution's version (or
    ``name==version`` pairs when several distributions share a top-level name); else the
    package's ``__version__``; else a digest of the module's file, so that an unpackaged
    module outside the repository still changes the key when it is edited; else
    ``unknown``.
    """
    top = top_level(module_name)
    if _is_stdlib(top):
        return f"python:{python_version()}"
    versions = [
        (name, version)
        for name in sorted(set(_distributions().get(top, ())))
        if (version := _dist_version(name)) is not None
    ]
    if len(versions) == 1:
        return versions[0][1]
    if versions:
        return ";".join(f"{name}=={v}" for name, v in versions)
    return _unpackaged_version(module_name)


def is_installed(module_name: str) -> bool:
    """Part of the standard library or of an installed distribution."""
    top = top_level(module_name)
    return _is_stdlib(top) or top in _distributions()


def clear_caches() -> None:
    """Forget distributions and versions looked up so far in this process."""
    global _provided
    _provided = None
    _versions.clear()


def warm_caches() -> None:
    """Read the installed distributions, and the versions of those that provide a loaded
    module, now: for a long-lived process that forks workers (``helix server``), which
    checks the library folders (an install changes them) before each fork."""
    provided = _distributions()
    for top in {top_level(name) for name in list(sys.modules)}:
        for name in provided.get(top, ()):
            _dist_version(name)


@contextmanager
def versions_kept(path: Path | None) -> Iterator[None]:
    """Distributions and versions read from and written back to ``path`` during the block.

    Finding which distribution provides each module reads every installed distribution's
    metadata (~0.15 s), and each version lookup walks ``sys.path``: a command in a process
    of its own would pay that every time. What it finds depends only on where ``sys.path``
    holds distribution metadata: the file is used only while that is as recorded
    (``_place``: the library folders' modification times, which installing, upgrading or
    removing a package changes, and the metadata folders of any other entry). A missing
    or unreadable file is an empty cache.
    """
    global _provided
    if path is None or _provided is not None:
        yield
        return
    place = _place()
    kept = _read_kept(path, place)
    if kept is not None:
        _provided, versions = kept
        _versions.update({k: v for k, v in versions.items() if k not in _versions})
    known = len(_versions)
    try:
        yield
    finally:
        if _provided is not None and (kept is None or len(_versions) != known):
            data = {"place": place, "provided": _provided, "versions": _versions}
            with suppress(OSError, TypeError, ValueError):
                write_atomically(path, json.dumps(data).encode(), durable=False)


def _is_stdlib(top: str) -> bool:
    return top in sys.stdlib_module_names or top in sys.builtin_module_names


_METADATA = (".dist-info", ".egg-info")
_provided: dict[str, list[str]] | None = None
_versions: dict[str, str | None] = {}


def _distributions() -> Mapping[str, list[str]]:
    # Reads every installed distribution's metadata (~0.15 s): once per process.
    global _provided
    if _provided is None:
        _provided = {k: list(v) for k, v in importlib.metadata.packages_distributions().items()}
    return _provided


def _dist_version(name: str) -> str | None:
    if name not in _versions:
        try:
            _versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            _versions[name] = None
    return _versions[name]


def _place() -> list[list[object]]:
    """Where distributions can be found, as it is now: each library folder of ``sys.path``
    with its modification time, and any other entry (a repository's root, ``PYTHONPATH``)
    with the names of the distribution metadata folders in it, if it has any. An entry
    without metadata adds nothing, so repositories that share an interpreter share this."""
    libraries = library_prefixes()
    place: list[list[object]] = []
    for entry in sys.path:
        folder = os.path.realpath(entry or ".")
        try:
            if os.path.join(folder, "").startswith(libraries) or not os.path.isdir(folder):
                place.append([entry, os.stat(folder).st_mtime_ns])
                continue
            names = sorted(n for n in os.listdir(folder) if n.endswith(_METADATA))
        except OSError:
            continue  # not there: nothing can be found in it
        if names:
            place.append([entry, names])
    return place


def _read_kept(
    path: Path, place: list[list[object]]
) -> tuple[dict[str, list[str]], dict[str, str | None]] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("place") != place:
        return None
    provided, versions = data.get("provided"), data.get("versions")
    if not (
        isinstance(provided, dict)
        and all(
            isinstance(v, list) and all(isinstance(n, str) for n in v) for v in provided.values()
        )
        and isinstance(versions, dict)
        and all(v is None or isinstance(v, str) for v in versions.values())
    ):
        return None
    return provided, versions


def _unpackaged_version(module_name: str) -> str:
    top = sys.modules.get(top_level(module_name))
    version = getattr(top, "__version__", None)
    if isinstance(version, str) and version:
        return version
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None) if module is not None else _origin(module_name)
    if isinstance(file, str) and os.path.isfile(file):
        with open(file, "rb") as f:
            return "file:" + digest(f.read())
    return "unknown"


def _origin(module_name: str) -> str | None:
    """The file of a module that is not imported, found without importing anything."""
    try:
        spec = importlib.util.find_spec(top_level(module_name))
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None else None
