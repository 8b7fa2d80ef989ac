"""``python -m helixvcs`` is ``helix``."""

from helixvcs.cli import main

main()
