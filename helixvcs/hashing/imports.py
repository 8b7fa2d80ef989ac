"""Resolving imports written inside functions and classes (lazy imports).

``def op(x): from mylib import clean`` binds ``clean`` locally, yet ``clean`` is repo code
the operator depends on. Such names are resolved like globals, by import. Third-party
modules that are not imported yet stay unimported: their version is read from package
metadata, so a lazy ``import torch`` keeps being lazy.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass

from helixvcs.hashing.normalize import Import

__all__ = ["NotImported", "resolve_import"]


@dataclass(frozen=True)
class NotImported:
    """A third-party import that has not happened yet: known by name only."""

    module: str
    qualified: str


def resolve_import(
    spec: Import, package: str | None, is_local_file: Callable[[str], bool]
) -> object:
    """What ``spec`` binds, importing it only if it is repo code; raises ImportError."""
    name = spec.module
    if spec.level:
        name = importlib.util.resolve_name("." * spec.level + spec.module, package)
    if name not in sys.modules and not _is_local(name, is_local_file):
        suffix = f".{spec.attr}" if spec.attr else ""
        return NotImported(name, name + suffix)
    module = importlib.import_module(name)
    if spec.binds_top:
        return sys.modules[name.partition(".")[0]]
    if spec.attr is None:
        return module
    if hasattr(module, spec.attr):
        return getattr(module, spec.attr)
    return importlib.import_module(f"{name}.{spec.attr}")  # ``from pkg import submodule``


def _is_local(name: str, is_local_file: Callable[[str], bool]) -> bool:
    top = name.partition(".")[0]
    found = sys.modules.get(top)
    if found is not None:
        files = [getattr(found, "__file__", None), *getattr(found, "__path__", [])]
    else:
        module_spec = importlib.util.find_spec(top)  # locates; does not import
        if module_spec is None:
            raise ImportError(f"no module named {top!r}")
        files = [module_spec.origin, *(module_spec.submodule_search_locations or [])]
    return any(isinstance(f, str) and is_local_file(f) for f in files)
