"""The scenario behind ``helix demo``: a census income workflow and three iterations on it.

``create_repo`` builds a fresh git repository holding the census workflow (a copy of
``fixtures/census`` with the UCI Adult data, shipped as package data so the demo works
from an installed wheel) and commits it. ``ITERATIONS`` are the edits a data scientist
would make next, one of each kind the Helix paper distinguishes (learning,
pre-processing, evaluation); applying and committing them one by one gives helix a
history whose runs can reuse most intermediates.

This package only prepares repositories; running them is the CLI's business. It uses
``helixvcs.vcs`` for git and nothing above it.
"""

from __future__ import annotations

from helixvcs.demo.scenario import ITERATIONS, KINDS, EditFailed, Iteration, create_repo

__all__ = ["ITERATIONS", "KINDS", "EditFailed", "Iteration", "create_repo"]
