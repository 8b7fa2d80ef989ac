"""The demo repository and its iterations.

Each iteration is a plain text replacement whose anchor must occur exactly once, so a
template edit that moves the anchor breaks the demo loudly (and ``tests/fixtures``
catches it) instead of committing a no-op.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from helixvcs.errors import HelixError, UserInputError
from helixvcs.vcs import commit_all, ensure_gitignore, init_repo

KINDS = ("learning", "pre-processing", "evaluation")
INITIAL_MESSAGE = "Census income workflow"
# .helix/ holds helix's store; __pycache__/ appears as soon as the workflow imports
# censuslib, and must not make the tree dirty.
IGNORED = (".helix/", "__pycache__/")


class EditFailed(HelixError):
    """An iteration's anchor text is not where the scenario expects it."""


@dataclass(frozen=True)
class Edit:
    """Replace the one occurrence of ``old`` with ``new`` in ``path`` (relative to the repo)."""

    path: str
    old: str
    new: str

    def __call__(self, root: Path) -> None:
        target = Path(root) / self.path
        with target.open(encoding="utf-8", newline="") as handle:
            text = handle.read()
        found = text.count(self.old)
        if found != 1:
            raise EditFailed(
                f"{target}: expected exactly one {self.old!r} to replace, found {found}; "
                "start from a fresh demo repository"
            )
        with target.open("w", encoding="utf-8", newline="") as handle:
            handle.write(text.replace(self.old, self.new))


@dataclass(frozen=True)
class Iteration:
    """One commit of the demo history."""

    message: str  # the commit message
    kind: str  # one of KINDS
    apply: Callable[[Path], None]  # edits the files of the repository at the given root


ITERATIONS: tuple[Iteration, ...] = (
    Iteration(
        message="Model: stronger regularization (C 1.0 -> 0.1)",
        kind="learning",
        apply=Edit(
            "workflow.py", "def model(features, rows, C=1.0):", "def model(features, rows, C=0.1):"
        ),
    ),
    Iteration(
        message="Features: finer age buckets (every 5 years from 20 to 65)",
        kind="pre-processing",
        apply=Edit(
            "censuslib/features.py",
            "AGE_BOUNDS = (25, 35, 45, 55, 65)",
            "AGE_BOUNDS = (20, 25, 30, 35, 40, 45, 50, 55, 60, 65)",
        ),
    ),
    Iteration(
        message="Evaluation: F1 at decision threshold 0.4",
        kind="evaluation",
        apply=Edit(
            "workflow.py",
            "def f1(scores, rows, threshold=0.5):",
            "def f1(scores, rows, threshold=0.4):",
        ),
    ),
)


def create_repo(dest: Path) -> None:
    """A new git repository at ``dest`` with the census workflow and data, committed.

    ``dest`` must not exist or be an empty folder. Layout: ``workflow.py``,
    ``censuslib/``, ``adult/`` (data and its provenance README), ``.gitignore``.
    """
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UserInputError(f"{dest} is not an empty folder; pass a new path for the demo")
    data = resources.files(__package__).joinpath("data")
    init_repo(dest)
    _copy_tree(data.joinpath("census"), dest)
    _copy_tree(data.joinpath("adult"), dest / "adult")
    for entry in IGNORED:
        ensure_gitignore(dest, entry)
    commit_all(dest, INITIAL_MESSAGE)


def _copy_tree(source: Traversable, dest: Path) -> None:
    """Copy package data to ``dest``, decompressing ``*.gz`` files and skipping caches."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in sorted(source.iterdir(), key=lambda t: t.name):
        if item.name == "__pycache__":
            continue
        if item.is_dir():
            _copy_tree(item, dest / item.name)
        elif item.name.endswith(".gz"):
            (dest / item.name.removesuffix(".gz")).write_bytes(gzip.decompress(item.read_bytes()))
        else:
            (dest / item.name).write_bytes(item.read_bytes())
