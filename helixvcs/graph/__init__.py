"""The compiled workflow: a DAG of named operators with their cache keys.

Owns turning a workflow module into a validated ``Dag`` (loading the module, resolving
parents by parameter name, rejecting unknown parents, cycles and sources outside the
repository) and giving every node its key from its code identity, constants and
parents' keys. Also comparing versions, as pure functions: the logical diff of two
operator sets (``diff``), hybrids of two versions (``hybrid``), the stage of each operator
(``stages``) and the path through recorded versions that explains a metric gap
(``versions``). networkx is imported here, lazily.
"""

from __future__ import annotations

from helixvcs.graph.cache import compile_cached
from helixvcs.graph.compile import compile_workflow, find_workflow_file, source_argument
from helixvcs.graph.dag import Dag, Node
from helixvcs.graph.loader import load_workflow_module

__all__ = [
    "Dag",
    "Node",
    "compile_cached",
    "compile_workflow",
    "find_workflow_file",
    "load_workflow_module",
    "source_argument",
]
