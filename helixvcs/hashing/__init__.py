"""Content identity: of operator code, of values, of files, and the node keys built from them.

This layer decides when two versions of a workflow node are "the same computation", so it
owns the project's most dangerous failure: a key that stays the same although the result
would differ serves stale results. Every function here therefore errs the other way; when
something cannot be pinned down, the key changes (a needless recompute, never a wrong hit).

- :func:`code_identity` -- a function's normalized AST plus everything it uses, transitively
  (see :mod:`helixvcs.hashing.code`);
- :func:`value_fingerprint` -- constants and defaults, stable across processes;
- :class:`StatCache`, :func:`files_digest` -- data files, re-read only when their stat changes;
- :func:`node_key` -- one node's key from its kind, code, constants and parents' keys;
  :func:`sampled_extra` puts a run's :class:`SampleSpec` into a source's key.

Pure standard library; numpy values are recognised only if numpy is already imported.
"""

from __future__ import annotations

from helixvcs.hashing.code import CodeIdentity, code_identity
from helixvcs.hashing.digests import digest
from helixvcs.hashing.files import StatCache, files_digest
from helixvcs.hashing.keys import SampleSpec, node_key, sampled_extra
from helixvcs.hashing.values import value_fingerprint

__all__ = [
    "CodeIdentity",
    "SampleSpec",
    "StatCache",
    "code_identity",
    "digest",
    "files_digest",
    "node_key",
    "sampled_extra",
    "value_fingerprint",
]
