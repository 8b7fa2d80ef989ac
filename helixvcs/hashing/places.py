"""Where code lives: inside the repository or not, and names for it that stay stable.

Repository modules are named by their path under the root (``mylib/text.py`` ->
``mylib.text``), never by ``__name__``: the same file imported under another module name
(a scratch checkout, a test) must give the same labels and so the same keys.
"""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path, PurePath
from types import FunctionType, ModuleType
from typing import Any

from helixvcs.hashing.packages import is_installed
from helixvcs.hashing.walk import class_file, method_codes

__all__ = ["Places", "is_helix", "is_helix_name", "qualified"]

_ENVIRONMENT_DIRS = frozenset({"site-packages", "dist-packages", ".venv", "venv"})


class Places:
    """Answers "is this repo code?" and "what is its stable name?" for one repository."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._relative: dict[str, PurePath | None] = {}

    def stable_name(self, obj: Any) -> str:
        """``module.qualname`` with repo modules named by path, not by ``__name__``."""
        if inspect.ismodule(obj):
            return self.module_label(getattr(obj, "__file__", None), obj.__name__)
        if isinstance(obj, FunctionType):
            module = self.module_label(obj.__code__.co_filename, obj.__module__ or "?")
            return f"{module}.{obj.__code__.co_qualname}"
        if inspect.isclass(obj):
            return f"{self.module_label(class_file(obj), obj.__module__)}.{obj.__qualname__}"
        return qualified(obj)

    def module_label(self, file: str | None, fallback: str) -> str:
        relative = self._under_root(file)
        if relative is None:
            return fallback
        parts = list(relative.with_suffix("").parts)
        if parts and parts[-1] == "__init__":
            parts.pop()
        return ".".join(parts) or "<root>"

    def in_repo(self, file: str) -> bool:
        return self._under_root(file) is not None

    def is_local_code(self, file: str) -> bool:
        """Repository code, or code with no file behind it (exec'd, a notebook cell)."""
        if self._under_root(file) is not None:
            return True
        return not file.startswith("<frozen") and not os.path.exists(file)

    def is_local_class(self, cls: type) -> bool:
        """Decided by its module if that is loaded, else by where its methods were written.

        A class with neither (defined by exec'd code, its module gone) counts as local:
        it is then identified by its members, which is the cautious choice.
        """
        module = sys.modules.get(cls.__module__)
        if module is not None:
            if getattr(module, "__file__", None) is None:  # __main__ of a notebook, exec'd
                return not is_installed(cls.__module__)
            return self.is_local_module(module)
        files = [code.co_filename for code in method_codes(cls)]
        return all(self.is_local_code(f) for f in files) if files else True

    def is_local_module(self, module: ModuleType) -> bool:
        if is_helix(module):
            return False
        paths = [getattr(module, "__file__", None), *getattr(module, "__path__", [])]
        return any(self._under_root(p) is not None for p in paths if isinstance(p, str))

    def _under_root(self, file: str | None) -> PurePath | None:
        if not file or file.startswith("<"):
            return None
        if file not in self._relative:
            try:
                relative: PurePath | None = Path(file).resolve().relative_to(self.root)
            except ValueError:
                relative = None
            if relative is not None and _ENVIRONMENT_DIRS.intersection(relative.parts):
                relative = None  # a virtualenv inside the repository is not repo code
            self._relative[file] = relative
        return self._relative[file]


def qualified(obj: Any, module: str | None = None) -> str:
    module = module or getattr(obj, "__module__", None) or "?"
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or "?"
    return f"{module}.{name}"


def is_helix_name(module: str) -> bool:
    return module == "helixvcs" or module.startswith("helixvcs.")


def is_helix(obj: object) -> bool:
    """helixvcs's own modules, code and objects (``Workflow``): never part of a key."""
    if inspect.ismodule(obj):
        name = obj.__name__
    elif inspect.isclass(obj) or inspect.isroutine(obj):
        name = getattr(obj, "__module__", None) or ""
    else:
        name = type(obj).__module__
    return isinstance(name, str) and is_helix_name(name)
