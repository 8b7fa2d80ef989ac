"""Whether a command's own process would have been the server's twin.

The server takes a ``Twin`` when it is ready; each request carries what the client's
process looks like, and ``Twin.differs`` names the first difference, or None.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

from helixvcs.cli.warm.process import IGNORED_ENV, interpreter_options, process_settings
from helixvcs.runtime import library_places

__all__ = ["Twin"]


def _stat(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _module_files() -> dict[str, tuple[int, int] | None]:
    files: dict[str, tuple[int, int] | None] = {}
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and file not in files:
            files[file] = _stat(file)
    return files


@dataclass
class Twin:
    """The server's process, as a fresh ``helix`` process would have to be to match it."""

    executable: str
    version: str
    prefix: str
    path: list[str]  # without sys.path[0], the folder of the script that started it
    env: dict[str, str]
    options: list[Any]
    settings: dict[str, Any]
    files: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    folders: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    # What importing the preloaded modules did to os.environ (a library may set a
    # variable at import time): a child applies it over the client's environment.
    env_set: dict[str, str] = field(default_factory=dict)
    env_unset: list[str] = field(default_factory=list)

    @classmethod
    def take(cls, path: list[str], env: dict[str, str]) -> Twin:
        """The running process, with every module it has imported so far; ``env`` is
        os.environ as it was before the imports."""
        now = dict(os.environ)
        return cls(
            executable=os.path.realpath(sys.executable),
            version=sys.version,
            prefix=sys.prefix,
            path=list(path),
            env={k: v for k, v in env.items() if k not in IGNORED_ENV},
            options=interpreter_options(),
            settings=process_settings(),
            files=_module_files(),
            folders={folder: _stat(folder) for folder in library_places()},
            env_set={k: v for k, v in now.items() if env.get(k) != v},
            env_unset=sorted(set(env) - set(now)),
        )

    def environment_for(self, client: dict[str, str]) -> dict[str, str]:
        """The environment a fresh process would have after the preloaded imports."""
        result = {**client, **self.env_set}
        for name in self.env_unset:
            result.pop(name, None)
        return result

    def differs(self, process: dict[str, Any]) -> str | None:
        """Why the described process is not this one's twin, or None if it is."""
        if os.path.realpath(str(process.get("executable"))) != self.executable:
            return f"another interpreter ({process.get('executable')})"
        if process.get("version") != self.version or process.get("prefix") != self.prefix:
            return "another Python installation"
        if process.get("options") != self.options:
            return "other interpreter options (-O, -X, -W, ...)"
        path = process.get("path")
        if not isinstance(path, list) or not path or path[1:] != self.path:
            return "another sys.path (PYTHONPATH, or a .pth file)"
        first = os.path.join(str(process.get("cwd") or "."), str(path[0]))  # "" is the cwd
        if (shadow := self._shadowed(first)) is not None:
            return f"{path[0]} holds {shadow}, which would hide a preloaded module"
        if (why := self._settings_differ(process.get("settings"))) is not None:
            return why
        env = process.get("env")
        if not isinstance(env, dict):
            return "no environment"
        mine = {k: v for k, v in env.items() if k not in IGNORED_ENV}
        if mine != self.env:
            changed = sorted(set(mine.items()) ^ set(self.env.items()))
            return f"another environment ({changed[0][0]} differs)"
        return None

    def _settings_differ(self, settings: Any) -> str | None:
        """Resource limits must be equal; a child can take on the client's umask, a
        lower priority (higher nice) and a subset of the server's CPUs."""
        if not isinstance(settings, dict):
            return "no process settings"
        if settings.get("limits") != self.settings["limits"]:
            return "other resource limits (ulimit)"
        if not isinstance(settings.get("nice"), int) or settings["nice"] < self.settings["nice"]:
            return "a higher priority (lower nice value) than the server's"
        if not set(settings.get("affinity") or []) <= set(self.settings["affinity"]):
            return "CPUs the server may not use"
        if not isinstance(settings.get("umask"), int):
            return "no umask"
        return None

    def stale(self) -> str | None:
        """A module or library folder that changed on disk since the server imported it."""
        for folder, seen in self.folders.items():
            if _stat(folder) != seen:
                return f"{folder} changed (a package was installed or removed)"
        for file, seen in self.files.items():
            if _stat(file) != seen:
                return f"{file} changed"
        return None

    def _shadowed(self, first: str) -> str | None:
        """A file or folder in the client's ``sys.path[0]`` named like a preloaded module."""
        if first in self.path:
            return None
        tops = {name.partition(".")[0] for name in sys.modules}
        try:
            entries = os.listdir(first)
        except OSError:
            return None
        for entry in entries:
            name = entry.partition(".")[0]
            if name not in tops:
                continue
            place = os.path.realpath(os.path.join(first, entry))
            importable = entry in (f"{name}.py", f"{name}.pyc") or entry.endswith(".so")
            if not (importable or (entry == name and os.path.isdir(place))):
                continue
            if not _comes_from(sys.modules.get(name), place):
                return entry  # another module of that name: a fresh process would take it
        return None


def _comes_from(module: object, place: str) -> bool:
    """Whether ``module`` was loaded from ``place`` (a file, or a package folder); a
    built-in or frozen module is found before ``sys.path`` and cannot be hidden."""
    locations = [getattr(module, "__file__", None), *(getattr(module, "__path__", None) or [])]
    found = [os.path.realpath(str(p)) for p in locations if p]
    if not found:
        return True
    inside = os.path.join(place, "")
    return any(p == place or p.startswith(inside) for p in found)
