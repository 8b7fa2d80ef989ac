"""Ending the ``helix`` process once its command is done, without tearing it down.

What the interpreter does at exit that matters is done (non-daemon threads joined,
``atexit`` functions run, stdout and stderr flushed), then the process ends at once
(``os._exit``): freeing every object, module by module, only to hand the memory back to
the kernel, took ~0.35 s after a census run in a process of its own. Everything a
command writes is on disk (synced where it must be) before it returns: the run's
objects, its index records, the caches, each replaced atomically.

Imports only the standard library.
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import suppress


def exit_code(code: object) -> int:
    """The status ``SystemExit(code)`` ends a process with (a message: printed, 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def leave(code: int) -> None:
    """End the process with ``code`` after what the interpreter's exit does that others
    see; never returns."""
    import atexit

    try:
        _wait_for_threads()
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with suppress(Exception):
                stream.flush()
        os._exit(code)


def _wait_for_threads() -> None:
    """What the interpreter's exit does first: ``threading``'s exit hooks (an idle
    ``ThreadPoolExecutor``'s workers are told to end: joined without it, they would wait
    for work forever), then every non-daemon thread joined (``threading._shutdown``);
    without that private function, the threads joined one by one."""
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None and threading.current_thread() is threading.main_thread():
        shutdown()
        return
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
