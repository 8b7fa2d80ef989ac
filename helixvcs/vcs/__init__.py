"""Git, seen from helix: where the repository is, which version is checked out, commits.

This layer is the only one that imports dulwich (always lazily, inside functions, so that
compiling a workflow never pays for it). It is a leaf: ``repo`` wires it together with the
store and the index; it knows nothing about workflows.

Reading is strictly read-only. ``working_version`` never writes the index, refs or
objects (it asks ``git --no-optional-locks status``, which leaves the index's stat cache
alone), so helix can inspect a repository while the user's own git commands run.
``export_tree`` has git write a commit's checkout into a private folder through a
private index (``checkout``), so that filters, line endings and submodules are git's.

Writing (``init_repo``, ``commit_all``, ``ensure_gitignore``) exists for ``helix init``
and the demo, and behaves like the git commands it names. ``commit-and-run`` and the hooks
go through the ``git`` binary itself (``gitcli``), so that a commit made for the user is
exactly ``git commit``'s.
"""

from __future__ import annotations

from helixvcs.vcs.checkout import CheckoutFailed, export_tree
from helixvcs.vcs.gitcli import GitCommit, GitFailed, git_commit, hooks_dir
from helixvcs.vcs.history import (
    CommitInfo,
    CommitRange,
    NotOnFirstParentChain,
    first_parent_history,
    resolve_range,
    shallow_note,
)
from helixvcs.vcs.revisions import (
    NotInShallowClone,
    UnknownRevision,
    first_parent,
    first_parents,
    resolve,
)
from helixvcs.vcs.root import NotAGitRepo, find_root
from helixvcs.vcs.state import MergeInProgress, merge_in_progress
from helixvcs.vcs.version import Version, working_version
from helixvcs.vcs.write import commit_all, ensure_gitignore, init_repo

__all__ = [
    "CheckoutFailed",
    "CommitInfo",
    "CommitRange",
    "GitCommit",
    "GitFailed",
    "MergeInProgress",
    "NotAGitRepo",
    "NotInShallowClone",
    "NotOnFirstParentChain",
    "UnknownRevision",
    "Version",
    "commit_all",
    "ensure_gitignore",
    "export_tree",
    "find_root",
    "first_parent",
    "first_parent_history",
    "first_parents",
    "git_commit",
    "hooks_dir",
    "init_repo",
    "merge_in_progress",
    "resolve",
    "resolve_range",
    "shallow_note",
    "working_version",
]
