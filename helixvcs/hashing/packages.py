"""Which installed distribution provides a module, and at which version.

An operator that calls ``sklearn`` depends on the installed scikit-learn: upgrading it
must change the operator's key. Lookups are cached for the life of the process, because
packages are upgraded between runs, not under a running one; :func:`clear_caches` is for
tests and long-lived hosts that install packages on the fly.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os
import sys
from collections.abc import Mapping

from helixvcs.hashing.digests import digest

__all__ = [
    "clear_caches",
    "is_installed",
    "package_version",
    "python_version",
    "top_level",
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
    _distributions.cache_clear()
    _dist_version.cache_clear()


def warm_caches() -> None:
    """Read the installed distributions, and the versions of those that provide a loaded
    module, now: for a long-lived process that forks workers (``helix server``), which
    checks the library folders (an install changes them) before each fork."""
    provided = _distributions()
    for top in {top_level(name) for name in list(sys.modules)}:
        for name in provided.get(top, ()):
            _dist_version(name)


def _is_stdlib(top: str) -> bool:
    return top in sys.stdlib_module_names or top in sys.builtin_module_names


@functools.cache
def _distributions() -> Mapping[str, list[str]]:
    # Reads every installed distribution's metadata (~0.1 s): once per process.
    return importlib.metadata.packages_distributions()


@functools.cache
def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


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
