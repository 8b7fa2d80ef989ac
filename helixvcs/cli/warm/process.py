"""What a ``helix`` process looks like to the server, and which server is its own.

The client's half of ``fingerprint``: it runs in every ``helix`` command before anything
else loads, so it imports only small standard modules (no ``dataclasses``, ``inspect`` or
``hashlib``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from helixvcs.runtime import VOLATILE_ENV

try:  # the built-in module: hashlib would load OpenSSL first (~3 ms per command)
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - an interpreter without it
    from hashlib import blake2b

# Read at run time (through os.environ, which the child sets), never at import time.
IGNORED_ENV = VOLATILE_ENV


def describe_process() -> dict[str, Any]:
    """What a request says of the client's process (``Twin.differs`` reads it)."""
    return {
        "executable": sys.executable,
        "version": sys.version,
        "prefix": sys.prefix,
        "path": list(sys.path),
        "env": dict(os.environ),
        "options": interpreter_options(),
        "settings": process_settings(),
    }


def environment_id(process: dict[str, Any]) -> str:
    """Which server may serve the described process: a digest of what ``Twin.differs``
    compares and a fork cannot take on (the interpreter and its options, ``sys.path``
    but its first entry, the environment but ``IGNORED_ENV``, resource limits, nice)."""
    import json

    settings = process.get("settings") or {}
    path = process.get("path") or []
    env = process.get("env") or {}
    parts = [
        os.path.realpath(str(process.get("executable"))),
        process.get("version"),
        process.get("prefix"),
        process.get("options"),
        path[1:],
        sorted((k, v) for k, v in env.items() if k not in IGNORED_ENV),
        settings.get("limits"),
        settings.get("nice"),
    ]
    data = json.dumps(parts, default=str).encode()
    return blake2b(data, digest_size=6).hexdigest()


def process_settings() -> dict[str, Any]:
    """What a process inherits besides its environment: a child takes the client's."""
    import resource

    umask = os.umask(0o22)
    os.umask(umask)
    limits = {
        name: list(resource.getrlimit(getattr(resource, name)))
        for name in sorted(dir(resource))
        if name.startswith("RLIMIT_")
    }
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return {"umask": umask, "nice": os.nice(0), "affinity": affinity, "limits": limits}


def interpreter_options() -> list[Any]:
    """The interpreter's command-line options (-O, -B, -X ..., -W ...)."""
    return [list(sys.flags), sorted(f"{k}={v}" for k, v in sys._xoptions.items()),
            list(sys.warnoptions)]  # fmt: skip
