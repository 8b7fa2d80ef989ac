"""Environment variables that cannot change what a process computes.

Code reads them at run time for presentation or bookkeeping (the shell's ``PWD``, the
terminal's size, helix's own switches), never at import time to decide a result. The
compile cache (``helixvcs.graph.cache``) leaves them out of its environment fingerprint,
and ``helix server`` (``helixvcs.cli.warm``) serves a caller whose environment differs
from its own only in them. Imports nothing, so the ``helix`` client can use it before
anything else loads.
"""

from __future__ import annotations

VOLATILE_ENV = frozenset(
    {"_", "OLDPWD", "PWD", "SHLVL", "COLUMNS", "LINES", "PYTEST_CURRENT_TEST"}
    | {"HELIX_COMPILE_CACHE", "HELIX_DEBUG", "HELIX_SERVER"}
    | {"TERM_SESSION_ID", "WINDOWID", "SSH_CLIENT", "SSH_CONNECTION", "SSH_TTY", "SSH_AUTH_SOCK"}
)
