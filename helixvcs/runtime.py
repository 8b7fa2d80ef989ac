"""What of the interpreter's surroundings can change a result, and what cannot.

Two questions asked by the compile cache (``helixvcs.graph.cache``), which must tell
whether its last compile still holds, and by ``helix server`` (``helixvcs.cli.warm``),
which must tell whether a caller's process would have been its twin:

* ``VOLATILE_ENV``: environment variables that code reads at run time for presentation
  or bookkeeping (the shell's ``PWD``, the terminal's size, helix's own switches), never
  at import time to decide a result; both leave them out of their comparisons;
* ``library_places``: the folders where installed code lives; installing, upgrading or
  removing a package changes their mtimes.

Imports only the standard library, so the ``helix`` client can use it before anything
else loads.
"""

from __future__ import annotations

import os
import site
import sys

VOLATILE_ENV = frozenset(
    {"_", "OLDPWD", "PWD", "SHLVL", "COLUMNS", "LINES", "PYTEST_CURRENT_TEST"}
    | {"HELIX_COMPILE_CACHE", "HELIX_DEBUG", "HELIX_SERVER", "HELIX_MAX_SERVERS"}
    | {"TERM_SESSION_ID", "WINDOWID", "SSH_CLIENT", "SSH_CONNECTION", "SSH_TTY", "SSH_AUTH_SOCK"}
)


def library_places() -> list[str]:
    """The interpreter's prefixes and site-packages folders that exist, sorted."""
    places = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    places.update(site.getsitepackages() if hasattr(site, "getsitepackages") else ())
    user = site.getusersitepackages() if hasattr(site, "getusersitepackages") else None
    if isinstance(user, str):
        places.add(user)
    return sorted(p for p in places if p and os.path.isdir(p))


def library_prefixes(*extra: str) -> tuple[str, ...]:
    """``library_places`` (and ``extra`` folders), resolved, each ending in a separator:
    ``real_path.startswith(library_prefixes())`` says a file is installed code."""
    return tuple(os.path.join(os.path.realpath(p), "") for p in (*library_places(), *extra))
