"""A warm interpreter per repository: ``helix server start`` and the commands it serves.

Most of a ``helix run`` that computes is spent before the first operator starts: the
interpreter starts, helixvcs loads, and the workflow module imports its libraries
(scikit-learn, scipy and pandas take 2-3 s). The server pays that once. It imports
helixvcs's command stack and the libraries the workflow imported, then waits on a Unix
socket in ``.helix/server/``. Each ``helix`` command that finds the socket hands the
server its arguments, working folder, environment and its stdin/stdout/stderr; the server
forks, and the child runs the command exactly as the ``helix`` process would have, writing
straight to the caller's terminal. The caller waits, forwards Ctrl-C, and exits with the
child's code. The workflow and the repository's own modules are never preloaded: every
child imports them afresh, so an edit is always seen.

A warm interpreter must not be any different from a fresh one, so the server only serves
a command whose process would have been its twin (``fingerprint.py``):

- the same interpreter (executable and version) and the same ``sys.path``;
- the same environment, but for a few variables no library reads at import time
  (``PWD``, ``SHLVL``, ``HELIX_SERVER``, ...);
- no module the server has imported has changed on disk since (mtime and size of every
  file in ``sys.modules``, and the mtimes of the library folders, checked per command).

Otherwise it declines, and the command runs in its own process as usual; a changed module
also makes the server exit, since everything it would serve from then on is stale. Each
child reseeds numpy's global random generator (Python's ``random`` reseeds itself after a
fork); the hash seed (``PYTHONHASHSEED``) is the server's for every child.

Glossary: *client*, the ``helix`` process the user started (``client.py``); *server*, the
long-lived process (``helixvcs.cli.warm_server``); *child*, the fork that runs one command.

Linux only (``fork``, ``SCM_RIGHTS``, ``pidfd``); elsewhere ``helix server start`` says so
and commands run as usual. ``HELIX_SERVER=0`` bypasses a running server;
``HELIX_SERVER=explain`` prints one line on stderr saying whether the command was served.
"""
