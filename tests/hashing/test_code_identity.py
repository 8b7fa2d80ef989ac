"""Operator identity in both directions: what must change the key, and what must not.

A false "unchanged" serves stale results, so the semantic cases are the ones that matter
most; the cosmetic cases keep the cache useful. Each case is one version of a small repo
and one textual edit of it (``old`` -> ``new`` in one file), so the change under test is
visible at a glance.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass

import pytest

HEADER = "from helixvcs import Workflow\n\nwf = Workflow('t')\n\n"


def wf(source: str) -> str:
    """A workflow module: the usual header, then ``source``."""
    return HEADER + textwrap.dedent(source)


@dataclass(frozen=True)
class Edit:
    id: str
    files: Mapping[str, str]
    old: str
    new: str
    file: str = "workflow.py"
    changed: str = ""  # a label (prefix) that must be among the parts that differ
    op_after: str = "op"

    def after(self) -> dict[str, str]:
        text = self.files[self.file]
        assert text.count(self.old) == 1, f"{self.id}: {self.old!r} must occur once"
        return {**self.files, self.file: text.replace(self.old, self.new)}


def edit(id: str, files: str | Mapping[str, str], old: str, new: str, **kw: str) -> Edit:
    if isinstance(files, str):
        files = {"workflow.py": wf(files)}
    else:
        files = {k: wf(v) if k == "workflow.py" else textwrap.dedent(v) for k, v in files.items()}
    return Edit(id, files, old, new, **kw)


def changed_labels(a: object, b: object) -> set[str]:
    pa, pb = a.parts, b.parts  # type: ignore[attr-defined]
    return {k for k in pa.keys() | pb.keys() if pa.get(k) != pb.get(k)}


MYLIB = """\
    SCALE = 2


    def f(x):
        return x + 1


    def scaled(x):
        return x * SCALE


    def other(x):
        return x
    """

OP_CALLS_HELPER = """\
    def inner(x):
        return x + 1


    def helper(x):
        return inner(x) * 2


    @wf.op
    def op(x):
        return helper(x)
    """

CLASSES = """\
    class Base:
        def f(self):
            return 1


    class Scaler(Base):
        factor = 2

        def scale(self, x):
            return x * self.factor


    @wf.op
    def op(x):
        return Scaler().scale(x) + Scaler().f()
    """

NUMPY_OP = """\
    import numpy as np

    agg = np.mean
    RNG = np.random.default_rng(1)


    @wf.op
    def op(x):
        return np.mean(x), agg(x), RNG.random()
    """

CLOSURES = """\
    import functools


    def make(k):
        def scale(x):
            return x * k
        return scale


    def _clean(x, k):
        return x * k


    @functools.lru_cache(maxsize=8)
    def cached(x):
        return x + 1


    scale = make(2)
    clean = functools.partial(_clean, k=2)


    @wf.op
    def op(x):
        return scale(x), clean(x), cached(x)
    """

OBJECTS = """\
    import dataclasses


    @dataclasses.dataclass(frozen=True)
    class Config:
        k: int


    class Tok:
        def __init__(self, lower):
            self.lower = lower

        def run(self, s):
            return s.lower() if self.lower else s


    CONFIG = Config(k=1)
    tokenize = Tok(True).run


    @wf.op
    def op(x):
        return x * CONFIG.k, tokenize(x)
    """

INDIRECT = """\
    def first(x):
        return x + 1


    def second(x):
        return x + 1


    agg = first
    STEPS = [first]


    @wf.op
    def op(x, fn=second):
        return agg(x), STEPS[0](x), fn(x), globals()["first"](x)
    """

SHADOWING = """\
    y = 1
    K = 2


    @wf.op
    def op(x):
        def inner():
            y = 5
            return y
        return inner() + y, sorted([v for v in x], key=lambda v: v * K)
    """

DECORATED = {
    "workflow.py": """\
        from deco import doubled, scaled


        @wf.op
        @scaled(3)
        @doubled
        def op(x):
            return x
        """,
    "deco.py": """\
        import functools


        def scaled(k):
            def deco(f):
                return f
            return deco


        def doubled(f):
            @functools.wraps(f)
            def wrapper(x):
                return 2 * f(x)
            return wrapper
        """,
}


def _uses_mylib(expression: str, import_line: str) -> dict[str, str]:
    return {
        "workflow.py": f"{import_line}\n\n\n@wf.op\ndef op(x):\n    return {expression}\n",
        "mylib.py": MYLIB,
    }


LAZY = {
    "workflow.py": """\
        import pkg.ops


        @wf.op
        def op(x):
            from mylib import f
            import mylib as m
            return f(x), m.scaled(x), pkg.ops.h(x)
        """,
    "mylib.py": MYLIB,
    "pkg/__init__.py": "",
    "pkg/ops.py": "def h(x):\n    from .util import g\n    return g(x)\n",
    "pkg/util.py": "def g(x):\n    return x * 2\n",
}

WRAPPERS = {
    "workflow.py": """\
        import functools

        from deco import timed


        @functools.singledispatch
        def describe(x):
            return "thing"


        @describe.register(int)
        def _(x):
            return "int"


        def helper(x):
            return x


        fast = timed(helper)


        @wf.op
        def op(x):
            return describe(x), fast(x)
        """,
    "deco.py": """\
        import functools


        def timed(f):
            @functools.wraps(f)
            def wrapper(x):
                return f(x) + 0
            return wrapper
        """,
}

SEMANTIC = [
    edit("body-expression", "@wf.op\ndef op(x):\n    return x + 1\n", "x + 1", "x - 1"),
    edit("body-literal", "@wf.op\ndef op(x):\n    return x * 2\n", "x * 2", "x * 3"),
    edit("default-value", "@wf.op\ndef op(x, k=1):\n    return x * k\n", "k=1", "k=2"),
    edit("parent-order", "@wf.op\ndef op(a, b):\n    return a - b\n", "(a, b)", "(b, a)"),
    edit("parent-name", "@wf.op\ndef op(a):\n    return a + 1\n", "op(a)", "op(b, a=0)"),
    edit("annotation", "@wf.op\ndef op(x: int):\n    return x\n", "x: int", "x: float"),
    edit(
        "helper", OP_CALLS_HELPER, "inner(x) * 2", "inner(x) * 3", changed="helper:workflow.helper"
    ),
    edit("helper-of-helper", OP_CALLS_HELPER, "x + 1", "x - 1", changed="helper:workflow.inner"),
    edit(
        "repo-helper-from-import",
        _uses_mylib("f(x)", "from mylib import f"),
        "x + 1",
        "x + 2",
        file="mylib.py",
        changed="helper:mylib.f",
    ),
    edit(
        "repo-helper-module-attribute",
        _uses_mylib("mylib.f(x)", "import mylib"),
        "x + 1",
        "x + 2",
        file="mylib.py",
        changed="helper:mylib.f",
    ),
    edit(
        "repo-helper-module-alias",
        _uses_mylib("ml.f(x)", "import mylib as ml"),
        "x + 1",
        "x + 2",
        file="mylib.py",
    ),
    edit(
        "repo-helper-star-import",
        _uses_mylib("f(x)", "from mylib import *"),
        "x + 1",
        "x + 2",
        file="mylib.py",
    ),
    edit(
        "repo-helper-in-subpackage",
        {
            "workflow.py": "import pkg.text\n\n\n@wf.op\ndef op(x):\n    return pkg.text.tok(x)\n",
            "pkg/__init__.py": "",
            "pkg/text.py": "def tok(s):\n    return s.split()\n",
        },
        "split()",
        "split(',')",
        file="pkg/text.py",
        changed="helper:pkg.text.tok",
    ),
    edit(
        "module-constant",
        "THRESHOLD = 0.5\n\n\n@wf.op\ndef op(x):\n    return x > THRESHOLD\n",
        "0.5",
        "0.6",
        changed="constant:workflow.THRESHOLD",
    ),
    edit(
        "constant-int-to-float",
        "K = 1\n\n\n@wf.op\ndef op(x):\n    return x / K\n",
        "K = 1",
        "K = 1.0",
    ),
    edit(
        "constant-used-only-by-a-helper",
        _uses_mylib("scaled(x)", "from mylib import scaled"),
        "SCALE = 2",
        "SCALE = 3",
        file="mylib.py",
        changed="constant:mylib.SCALE",
    ),
    edit("constant-in-lambda", SHADOWING, "K = 2", "K = -2", changed="constant:workflow.K"),
    edit(
        "global-hidden-by-nested-local", SHADOWING, "y = 1", "y = 2", changed="constant:workflow.y"
    ),
    edit("class-method-body", CLASSES, "x * self.factor", "x / self.factor", changed="class:"),
    edit("class-attribute", CLASSES, "factor = 2", "factor = 3", changed="class:workflow.Scaler"),
    edit("base-class-method", CLASSES, "return 1", "return 2", changed="class:workflow.Base"),
    edit("decorator-argument", DECORATED, "@scaled(3)", "@scaled(4)", changed="body"),
    edit(
        "decorator-implementation",
        DECORATED,
        "2 * f(x)",
        "3 * f(x)",
        file="deco.py",
        changed="helper:deco.doubled",
    ),
    edit(
        "third-party-function-swapped",
        NUMPY_OP,
        "return np.mean(x)",
        "return np.median(x)",
        changed="external:numpy.median",
    ),
    edit(
        "global-rebound-to-other-third-party-function",
        NUMPY_OP,
        "agg = np.mean",
        "agg = np.median",
        changed="external:numpy.median",
    ),
    edit(
        "third-party-object-constant",
        NUMPY_OP,
        "default_rng(1)",
        "default_rng(2)",
        changed="constant:workflow.RNG",
    ),
    edit(
        "global-rebound-to-other-repo-function",
        INDIRECT,
        "agg = first",
        "agg = second",
        changed="body",  # both functions are used anyway: only the binding moved
    ),
    edit("helper-in-a-constant-list", INDIRECT, "STEPS = [first]", "STEPS = [second]"),
    edit("helper-passed-as-default", INDIRECT, "x + 1\n\n\ndef second", "x\n\n\ndef second"),
    edit(
        "helper-read-through-globals()",
        INDIRECT.replace("agg(x), STEPS[0](x), fn(x), ", ""),
        "x + 1\n\n\ndef second",
        "x\n\n\ndef second",
        changed="helper:workflow.first",
    ),
    edit("closure-value", CLOSURES, "make(2)", "make(3)", changed="closure:"),
    edit("partial-argument", CLOSURES, "_clean, k=2", "_clean, k=3"),
    edit("partial-function-body", CLOSURES, "x * k\n\n\n@", "x + k\n\n\n@"),
    edit("third-party-decorator-argument", CLOSURES, "maxsize=8", "maxsize=9", changed="helper:"),
    edit("lru-cached-helper-body", CLOSURES, "x + 1", "x + 2", changed="helper:workflow.cached"),
    edit(
        "lazy-import-inside-operator",
        LAZY,
        "x + 1",
        "x + 2",
        file="mylib.py",
        changed="helper:mylib.f",
    ),
    edit("lazy-import-as-module", LAZY, "SCALE = 2", "SCALE = 3", file="mylib.py"),
    edit(
        "lazy-relative-import",
        LAZY,
        "x * 2",
        "x * 3",
        file="pkg/util.py",
        changed="helper:pkg.util.g",
    ),
    edit("singledispatch-implementation", WRAPPERS, '"int"', '"integer"'),
    edit("decorator-applied-by-call", WRAPPERS, "+ 0", "+ 1", file="deco.py"),
    edit("dataclass-constant", OBJECTS, "Config(k=1)", "Config(k=2)", changed="constant:"),
    edit("bound-method-state", OBJECTS, "Tok(True)", "Tok(False)", changed="constant:"),
    edit("bound-method-body", OBJECTS, "s.lower() if", "s.upper() if", changed="class:"),
]


def _cosmetic_base() -> dict[str, str]:
    workflow = """\
        import numpy as np
        from mylib import f

        THRESHOLD = 0.5


        def helper(x):
            return np.mean(x) + f(x)


        @wf.op
        def op(x, k=2):
            y = [v * k for v in x if v > THRESHOLD]
            return helper(y), "text"


        def unrelated(x):
            return x
        """
    return {"workflow.py": workflow, "mylib.py": MYLIB}


BASE = _cosmetic_base()
OP_LINES = (
    "@wf.op\ndef op(x, k=2):\n"
    "    y = [v * k for v in x if v > THRESHOLD]\n"
    '    return helper(y), "text"\n'
)

COSMETIC = [
    edit(
        "comments",
        BASE,
        OP_LINES,
        "@wf.op  # the operator\ndef op(x, k=2):\n    # keep the big ones\n"
        '    y = [v * k for v in x if v > THRESHOLD]  # scaled\n    return helper(y), "text"\n',
    ),
    edit("blank-lines", BASE, "    y = [", "\n\n    y = ["),
    edit(
        "reformatted",
        BASE,
        OP_LINES,
        "@wf.op\ndef op(x,\n       k = 2):\n  y = [\n      v*k\n      for v in x\n"
        "      if (v > THRESHOLD)\n  ]\n  return (helper( y ), 'text')\n",
    ),
    edit("docstring-added", BASE, "def op(x, k=2):\n", 'def op(x, k=2):\n    """Scale."""\n'),
    edit(
        "docstrings-in-helpers",
        {
            **BASE,
            "mylib.py": '"""Helpers."""\n'
            + textwrap.dedent(MYLIB).replace("def f(x):\n", 'def f(x):\n    "Add one."\n'),
        },
        '"Add one."',
        '"""Add one,\n    then nothing else."""',
        file="mylib.py",
    ),
    edit("quote-style", BASE, '"text"', "'''text'''"),
    edit("operator-renamed", BASE, "def op(", "def renamed(", op_after="renamed"),
    edit("unrelated-function-changed", BASE, "    return x\n", "    return -x\n"),
    edit(
        "unrelated-function-in-helper-module",
        BASE,
        "def other(x):\n    return x",
        "def other(x):\n    return -x",
        file="mylib.py",
    ),
    edit("decorator-called", BASE, "@wf.op\n", "@wf.op()\n"),
    edit("decorator-options", BASE, "@wf.op\n", "@wf.op(explore={'k': [1, 2, 3]})\n"),
    edit("decorator-kind", BASE, "@wf.op\n", "@wf.metric\n"),
    edit("moved-down-the-file", BASE, "@wf.op\n", "def before(x):\n    return x\n\n\n@wf.op\n"),
    edit(
        "imports-reordered",
        BASE,
        "import numpy as np\nfrom mylib import f",
        "from mylib import f\nimport numpy as np",
    ),
]


@pytest.mark.parametrize("change", SEMANTIC, ids=lambda c: c.id)
def test_semantic_change_changes_the_key(repos, change: Edit) -> None:
    before = repos.identity(change.files)
    after = repos.identity(change.after(), op=change.op_after)
    assert before.hash != after.hash
    if change.changed:
        assert any(label.startswith(change.changed) for label in changed_labels(before, after))


@pytest.mark.parametrize("change", COSMETIC, ids=lambda c: c.id)
def test_cosmetic_change_keeps_the_key(repos, change: Edit) -> None:
    before = repos.identity(change.files)
    after = repos.identity(change.after(), op=change.op_after)
    assert changed_labels(before, after) == set()
    assert before.hash == after.hash


def test_the_suites_are_broad_enough() -> None:
    assert len(SEMANTIC) >= 12 and len(COSMETIC) >= 6


def test_identity_is_a_hashable_value(repos) -> None:
    identity = repos.identity({"workflow.py": wf("@wf.op\ndef op(x):\n    return x\n")})
    assert {identity: 1}[identity] == 1
    assert len(identity.hash) == 40 and identity.parts["python"]
    with pytest.raises(TypeError):
        identity.parts["body"] = "x"  # type: ignore[index]


def test_workflow_variable_name_does_not_matter(repos) -> None:
    body = "@{}.op\ndef op(x):\n    return x + 1\n"
    as_wf = repos.identity({"workflow.py": wf(body.format("wf"))})
    as_flow = repos.identity(
        {
            "workflow.py": "from helixvcs import Workflow\n\nflow = Workflow('t')\n\n"
            + body.format("flow")
        }
    )
    assert as_wf.hash == as_flow.hash
