"""``python -m helixvcs`` is ``helix``."""

from helixvcs.cli import entry

entry()
