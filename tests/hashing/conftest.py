"""A throwaway repository on disk whose modules are imported fresh for each version.

Each version of a workflow is written to its own folder and its main module imported
under a unique name; helper modules keep their real names (``import mylib`` must work),
so everything imported from that folder is purged from ``sys.modules`` right after the
version is hashed. Otherwise a cached ``mylib`` from the previous version would hide
the change under test.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import sys
import textwrap
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType

import pytest

from helixvcs.hashing import CodeIdentity, code_identity


class TempRepos:
    def __init__(self, base: Path) -> None:
        self.base = base
        self._count = itertools.count()
        self._roots: list[Path] = []

    def write(self, files: Mapping[str, str]) -> Path:
        root = self.base / f"repo{next(self._count)}"
        for relative, text in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        return root

    def load(self, root: Path, main: str = "workflow.py") -> ModuleType:
        """Import ``root/main`` under a fresh name, with ``root`` on ``sys.path``."""
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
            self._roots.append(root)
        _forget_same_names(root)
        importlib.invalidate_caches()
        name = f"_helix_test_{uuid.uuid4().hex}"
        spec = importlib.util.spec_from_file_location(name, root / main)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    def purge(self, root: Path) -> None:
        """Forget every module imported from ``root`` and take it off ``sys.path``."""
        for name, module in list(sys.modules.items()):
            files = [getattr(module, "__file__", None), *getattr(module, "__path__", [])]
            if any(isinstance(f, str) and Path(f).is_relative_to(root) for f in files):
                del sys.modules[name]
        while str(root) in sys.path:
            sys.path.remove(str(root))

    def identity(
        self, files: Mapping[str, str], op: str = "op", main: str = "workflow.py"
    ) -> CodeIdentity:
        """Write a version, import it, hash one operator, forget the version."""
        root = self.write(files)
        try:
            return code_identity(getattr(self.load(root, main), op), root)
        finally:
            self.purge(root)

    def close(self) -> None:
        for root in self._roots:
            self.purge(root)


def _forget_same_names(root: Path) -> None:
    """Drop modules from elsewhere (another test, another repo) named like ours."""
    tops = {p.stem if p.suffix == ".py" else p.name for p in root.iterdir()}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        mine = isinstance(file, str) and Path(file).is_relative_to(root)
        if name.partition(".")[0] in tops and not mine:
            del sys.modules[name]


@pytest.fixture
def repos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TempRepos]:
    # In-place edits within one second could otherwise load a stale .pyc.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    temp = TempRepos(tmp_path)
    yield temp
    temp.close()
