"""Operator identity beyond single edits: labels, package versions, stale modules,
code without source, unresolved names, performance."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from helixvcs.hashing import code_identity
from helixvcs.hashing.packages import clear_caches
from helixvcs.hashing.source import class_source, function_source

HEADER = "from helixvcs import Workflow\n\nwf = Workflow('t')\n\n"


def wf(source: str) -> str:
    return HEADER + textwrap.dedent(source)


def test_parts_name_what_the_operator_uses(repos) -> None:
    identity = repos.identity(
        {
            "workflow.py": wf(
                '''\
                import numpy as np
                import mylib.text

                THRESHOLD = 0.5


                class Scaler:
                    def scale(self, x):
                        return x * 2


                @wf.op(explore={"k": [1, 2]})
                def rows(raw, k=1):
                    """Tokenize, scale, keep the big ones."""
                    tokens = mylib.text.tokenize(raw)
                    return [Scaler().scale(t) for t in tokens if len(t) > THRESHOLD * k], np.mean
                '''
            ),
            "mylib/__init__.py": "",
            "mylib/text.py": "import re\n\ndef tokenize(s):\n    return re.split(' ', s)\n",
        },
        op="rows",
    )
    assert set(identity.parts) >= {
        "body",
        "python",
        "helper:mylib.text.tokenize",
        "class:workflow.Scaler",
        "constant:workflow.THRESHOLD",
        "builtin:len",
        "external:numpy.mean",
        "package:numpy",
        "external:re.split",
    }
    assert identity.parts["package:re"] == f"python:{sys.version_info[0]}.{sys.version_info[1]}"
    assert not any(label.startswith(("unresolved", "helixvcs")) for label in identity.parts)
    assert identity.source.startswith("def rows(raw, k=1):")
    assert "Tokenize" not in identity.source and "@wf" not in identity.source


def _fake_package(site: Path, version: str) -> None:
    (site / "fakepkg_hx").mkdir(parents=True)
    (site / "fakepkg_hx" / "__init__.py").write_text("def mean(xs):\n    return sum(xs)\n")
    info = site / f"fakepkg_hx-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fakepkg-hx\nVersion: {version}\n")
    (info / "top_level.txt").write_text("fakepkg_hx\n")


def test_third_party_upgrade_changes_the_key(repos, tmp_path: Path) -> None:
    files = {
        "workflow.py": wf(
            "import fakepkg_hx\n\n@wf.op\ndef op(x):\n    return fakepkg_hx.mean(x)\n"
        )
    }
    identities = []
    for version in ("1.0", "2.0"):
        site = tmp_path / f"site-{version}"
        _fake_package(site, version)
        sys.path.insert(0, str(site))
        clear_caches()
        try:
            identities.append(repos.identity(files))
        finally:
            sys.path.remove(str(site))
            sys.modules.pop("fakepkg_hx", None)
            clear_caches()
    old, new = identities
    assert old.parts["package:fakepkg_hx"] == "1.0"
    assert new.parts["package:fakepkg_hx"] == "2.0"
    assert old.parts["external:fakepkg_hx.mean"] == new.parts["external:fakepkg_hx.mean"]
    assert old.hash != new.hash


def test_lazy_third_party_import_stays_lazy(repos, tmp_path: Path) -> None:
    files = {
        "workflow.py": wf(
            "@wf.op\ndef op(x):\n    import fakepkg_hx\n    return fakepkg_hx.mean(x)\n"
        )
    }
    site = tmp_path / "site"
    _fake_package(site, "3.1")
    sys.path.insert(0, str(site))
    clear_caches()
    try:
        identity = repos.identity(files)
        assert "fakepkg_hx" not in sys.modules
    finally:
        sys.path.remove(str(site))
        sys.modules.pop("fakepkg_hx", None)
        clear_caches()
    assert identity.parts["package:fakepkg_hx"] == "3.1"
    assert "external:fakepkg_hx" in identity.parts


def test_unpackaged_module_outside_the_repo_is_keyed_by_its_file(repos, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    files = {"workflow.py": wf("import loose_hx\n\n@wf.op\ndef op(x):\n    return loose_hx.f(x)\n")}
    identities = []
    for body in ("return x", "return -x"):
        (outside / "loose_hx.py").write_text(f"def f(x):\n    {body}\n")
        sys.path.insert(0, str(outside))
        try:
            identities.append(repos.identity(files))
        finally:
            sys.path.remove(str(outside))
            sys.modules.pop("loose_hx", None)
    assert identities[0].parts["package:loose_hx"].startswith("file:")
    assert identities[0].hash != identities[1].hash


def test_same_code_imported_under_two_names_has_one_identity(repos) -> None:
    files = {
        "workflow.py": wf(
            "from mylib import f\n\nclass C:\n    pass\n\n@wf.op\ndef op(x):\n    return f(x), C\n"
        ),
        "mylib.py": "def f(x):\n    return x\n",
    }
    assert repos.identity(files) == repos.identity(files)


def test_helper_module_edited_while_an_old_copy_is_imported(repos) -> None:
    """A stale ``mylib`` in sys.modules runs old code: it must not get the new code's key."""
    workflow = wf("import mylib\n\n@wf.op\ndef op(x):\n    return mylib.f(x)\n")
    root = repos.write({"workflow.py": workflow, "mylib.py": "def f(x):\n    return x + 1\n"})
    repos.load(root)  # imports mylib v1, which stays in sys.modules
    _rewrite(root / "mylib.py", "def f(x):\n    return x + 2\n")
    stale = code_identity(repos.load(root).op, root)  # new workflow module, old mylib
    assert sys.modules["mylib"].f(0) == 1
    repos.purge(root)
    fresh = code_identity(repos.load(root).op, root)
    repos.purge(root)
    assert stale.hash != fresh.hash
    assert stale.parts["helper:mylib.f"] != fresh.parts["helper:mylib.f"]


def test_operator_file_edited_after_import(repos) -> None:
    root = repos.write({"workflow.py": wf("@wf.op\ndef op(x):\n    return x + 1\n")})
    old_module = repos.load(root)
    _rewrite(root / "workflow.py", wf("@wf.op\ndef op(x):\n    return x + 2\n"))
    stale = code_identity(old_module.op, root)
    fresh = code_identity(repos.load(root).op, root)
    repos.purge(root)
    assert stale.hash != fresh.hash
    assert "source unavailable" in stale.source


def _rewrite(path: Path, text: str) -> None:
    stat = path.stat()
    path.write_text(text)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_exec_defined_functions_fall_back_to_bytecode(tmp_path: Path) -> None:
    def define(source: str, **namespace: object) -> object:
        exec(compile(textwrap.dedent(source), "<notebook>", "exec"), namespace)
        return namespace["op"]

    plain = "def op(x):\n    return x * K\n"
    first = code_identity(define(plain, K=2), tmp_path)  # type: ignore[arg-type]
    again = code_identity(define(plain, K=2), tmp_path)  # type: ignore[arg-type]
    other_constant = code_identity(define(plain, K=3), tmp_path)  # type: ignore[arg-type]
    other_body = code_identity(define("def op(x):\n    return x + K\n", K=2), tmp_path)  # type: ignore[arg-type]
    assert first.hash == again.hash
    assert len({first.hash, other_constant.hash, other_body.hash}) == 3
    assert "source unavailable" in first.source


def test_unresolved_global_makes_the_key_unique(repos) -> None:
    files = {"workflow.py": wf("@wf.op\ndef op(x):\n    return x * MADE_AT_RUN_TIME\n")}
    root = repos.write(files)
    op = repos.load(root).op
    first, second = code_identity(op, root), code_identity(op, root)
    repos.purge(root)
    assert "unresolved:workflow.MADE_AT_RUN_TIME" in first.parts
    assert first.hash != second.hash


def test_annotation_only_names_may_be_missing(repos) -> None:
    """``TYPE_CHECKING`` imports never exist at run time; they must not make keys unique."""
    source = """\
        from __future__ import annotations

        from typing import TYPE_CHECKING

        from helixvcs import Workflow

        if TYPE_CHECKING:
            import pandas as pd

        wf = Workflow("t")


        @wf.op
        def op(x: pd.DataFrame) -> pd.DataFrame:
            return x
        """
    files = {"workflow.py": source}
    first, second = repos.identity(files), repos.identity(files)
    assert first.hash == second.hash
    assert not any("pd" in label for label in first.parts)


def test_helixvcs_objects_are_ignored(repos) -> None:
    identity = repos.identity(
        {
            "workflow.py": wf(
                "import helixvcs\n\n@wf.op\ndef op(x):\n    return wf.name, helixvcs.Workflow\n"
            )
        }
    )
    assert set(identity.parts) == {"body", "python"}


def test_recursion_and_cycles_terminate_and_are_stable(repos) -> None:
    files = {
        "workflow.py": wf(
            "from a import ping\n\nLOOP = [1]\nLOOP.append(LOOP)\n\n"
            "def fact(n):\n    return 1 if n < 2 else n * fact(n - 1)\n\n"
            "@wf.op\ndef op(x):\n    return fact(x) + ping(x) + len(LOOP)\n"
        ),
        "a.py": "def ping(n):\n    from b import pong\n    return pong(n - 1) if n else 0\n",
        "b.py": "import a\n\ndef pong(n):\n    return a.ping(n)\n",
    }
    first, second = repos.identity(files), repos.identity(files)
    assert first.hash == second.hash
    assert {"helper:workflow.fact", "helper:a.ping", "constant:workflow.LOOP"} <= set(first.parts)


def test_method_used_through_a_bound_method_traces_its_class(repos) -> None:
    files = {
        "workflow.py": wf(
            "class Tok:\n    def run(self, s):\n        return s.split()\n\n"
            "run = Tok().run\n\n@wf.op\ndef op(x):\n    return run(x)\n"
        )
    }
    assert "class:workflow.Tok" in repos.identity(files).parts


SHAPES = '''\
from __future__ import annotations

import functools
import numpy as np

TEXT = 1


def uses_module_methods(x: np.ndarray) -> float:
    return np.mean(x) + np.linalg.norm(x)


def closure_maker(k):
    count = 0

    def closure(x):
        nonlocal count
        count += 1
        return x * k + count

    return closure


if TEXT:
    def inside_if(x):
        return x


@functools.lru_cache(maxsize=2)
def cached(x):
    return x


async def coroutine(x):
    return x


def generator(x):
    yield from range(x)


def dedent_hostile(x):
    return """
first line
""" + str(x)


class Base:
    def method(self):
        return 1


class Child(Base):
    __secret = 3

    def method(self):
        return super().method() + self.__secret

    @staticmethod
    def static(x):
        return x

    @classmethod
    def klass(cls):
        return cls

    @property
    def prop(self):
        return 1

    class Inner:
        def deep(self):
            return 2
'''


def test_parsed_source_matches_running_code_for_many_shapes(repos) -> None:
    root = repos.write({"shapes.py": SHAPES})
    m = repos.load(root, "shapes.py")
    functions = [
        m.uses_module_methods,
        m.closure_maker(2),
        m.inside_if,
        m.cached.__wrapped__,
        m.coroutine,
        m.generator,
        m.dedent_hostile,
        m.Child.method,
        m.Child.static,
        m.Child.klass.__func__,
        m.Child.Inner.deep,
    ]
    try:
        unverified = [f.__qualname__ for f in functions if function_source(f) is None]
        classes = [
            c.__qualname__ for c in (m.Base, m.Child, m.Child.Inner) if class_source(c) is None
        ]
    finally:
        repos.purge(root)
    assert unverified == [] and classes == []


def test_forty_operators_hash_in_milliseconds(repos) -> None:
    ops = "\n".join(
        f"@wf.op\ndef op{i}(x, k={i}):\n    return helper(x) * k + mylib.f(x) + THRESHOLD\n"
        for i in range(40)
    )
    files = {
        "workflow.py": wf(
            f"import mylib\n\nTHRESHOLD = 0.5\n\ndef helper(x):\n    return x\n\n{ops}"
        ),
        "mylib.py": "import math\n\ndef f(x):\n    return math.sqrt(x)\n",
    }
    root = repos.write(files)
    module = repos.load(root)
    try:
        for i in range(40):  # cold: parses and verifies every function once
            code_identity(getattr(module, f"op{i}"), root)
        start = time.perf_counter()
        keys = {code_identity(getattr(module, f"op{i}"), root).hash for i in range(40)}
        warm = time.perf_counter() - start
    finally:
        repos.purge(root)
    assert len(keys) == 40
    assert warm < 0.25, f"40 warm identities took {warm * 1000:.0f} ms"


def test_rejects_non_functions(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        code_identity(len, tmp_path)
