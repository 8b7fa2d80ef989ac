"""Hostile repositories, drawn by hypothesis: workflow modules, data files, metric values,
configuration and damage to the store, then one ``helix`` command, in-process.

Whatever is drawn, the command ends with exit 0, 1 (the workflow failed) or 2 (bad input),
never an internal error or a traceback of ours (exit 1 shows the user's own traceback),
and nothing that existed before is changed or lost: the working tree is byte for byte
what it was, every object that verified is still there, and every recorded run is still
recorded (finished values may be added, as documented).

The examples share one repository per test run, as a user's history would: each draws
the working tree afresh, and what earlier examples stored stays. ``HELIX_FUZZ_PROFILE``
picks the profile: ``ci`` (the default: 200 examples, a fixed seed) or ``local``
(2,000 examples, random seeds).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from helixvcs.cli import cli
from helixvcs.index import Index
from helixvcs.store.check import verify_file
from tests.conftest import GIT_ENV

settings.register_profile(
    "ci",
    max_examples=200,
    derandomize=True,  # the same examples on every run: a failure reproduces
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
settings.register_profile(
    "local",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile(os.environ.get("HELIX_FUZZ_PROFILE", "ci"))

MODULE = """\
import os
import sys

from helixvcs import Workflow

wf = Workflow("fuzz")
{module_fault}

@wf.source({source!r})
def raw(path):
    names = sorted(os.listdir(path)) if os.path.isdir(path) else [path]
    total = 0
    for name in names:
        with open(os.path.join(path, name) if os.path.isdir(path) else name, "rb") as f:
            total += len(f.read())
    return total


@wf.op
{op_header}
    {op_fault}
    return raw + 1


@wf.metric
def score(size):
    return {metric}


@wf.output
def report(raw):
    return {output}
"""

MODULE_FAULTS = [
    "",
    "sys.exit(3)",
    "sys.exit('bye')",
    "import no_such_package_helix_fuzz",
    "wf.op(123)",
    'Workflow("")',
    "raise ValueError('at import')",
    "x = 1 +",
    "@wf.op\ndef raw(path):\n    return 1",
    "@wf.op(explore=1)\ndef extra(raw, c=1):\n    return c",
    "@wf.source('/etc/passwd')\ndef etc(path):\n    return 1",
    "@wf.source('../outside')\ndef up(path):\n    return 1",
    "@wf.source('data/' + 'a' * 300)\ndef long(path):\n    return 1",
    "@wf.source('data/*.nomatch')\ndef none(path):\n    return 1",
]
OP_HEADERS = [
    "def size(raw):",
    "async def size(raw):",
    "def size(raw, /):",
    "def size(raw, *rest):",
    "def size(raw, missing_parent):",
    "def size(raw, k=[1, 2]):",
]
OP_FAULTS = [
    "pass",
    "sys.exit(4)",
    "sys.exit(None)",
    "raise RuntimeError('op')",
    "raise MemoryError",
    "raise RecursionError",
    "open('/nonexistent/helix-fuzz')",
    "raise SystemExit('text')",
    "import no_such_package_helix_fuzz",
]
METRICS = [
    "float(size)",
    "10**400",
    "-(10**400)",
    "float('nan')",
    "float('inf')",
    "1e308 * 10",
    "'text'",
    "None",
    "True",
    "[1.0, 2.0]",
    "{'a': 1.0, 'b': 10**400}",
    "{'é': 1.0, 'b': 2}",
    "{}",
    "{'': 1.0}",
    "{1: 2.0}",
    "object()",
    "complex(1, 2)",
    "2**63",
]
OUTPUTS = [
    "raw",
    "None",
    "b'\\xff' * 1000",
    "'\\udcff text'",
    "{1, 2, 3}",
    "lambda: 1",
    "(x for x in range(3))",
    "_deep(5000)",
    "_deep(100000)",
    "[0.1] * 10000",
    "{'\\x00': 1}",
]
DEEP = "\n\ndef _deep(n):\n    v = []\n    for _ in range(n):\n        v = [v]\n    return v\n"

SOURCES = ["data", "data/*", "data/**/*", "data/points.csv", "data/\udcff", "data/" + "é" * 200]
COMMANDS = [
    ["run"],
    ["run", "--json"],
    ["run", "--materialize", "all"],
    ["plan", "--json"],
    ["status"],
    ["log", "--json"],
    ["show", "report"],
    ["show", "score", "--json"],
    ["fsck"],
    ["fsck", "--repair"],
    ["diff", "HEAD"],
]
CONFIG_VALUES = {
    "max_store_bytes": st.sampled_from(
        ["-1", "0", '"lots"', "true", '"1e3GB"', "1.5", '"5GiB"', "[1]", "99999999999999999999"]
    ),
    "materialize": st.sampled_from(['"helix"', '"all"', '"sometimes"', "3"]),
    "executor": st.sampled_from(['"local"', '"threads"', '"quantum"', "{}"]),
    "server": st.sampled_from(['"off"', '"auto"', '"maybe"']),
}


def _file_name() -> st.SearchStrategy[bytes]:
    return st.binary(min_size=1, max_size=12).filter(
        lambda b: b"/" not in b and b"\0" not in b and b not in (b".", b"..")
    )


DIMENSIONS = ("module", "source", "header", "op", "metric", "output", "bytes", "config")


@st.composite
def hostile_repository(draw: st.DrawFn) -> dict[str, object]:
    """One working tree, configuration and damage to apply before a command: at most two
    kinds of hostility at once (most examples have one), so that each is reached."""
    count = draw(st.sampled_from([0, 1, 1, 1, 2]))
    hostile = set(draw(st.permutations(DIMENSIONS))[:count])
    for kind in sorted(hostile):
        event(f"hostile {kind}")

    def pick(kind: str, options: list[str]) -> str:
        return draw(st.sampled_from(options[1:])) if kind in hostile else options[0]

    module = (
        MODULE.format(
            module_fault=pick("module", MODULE_FAULTS),
            source=pick("source", SOURCES),
            op_header=pick("header", OP_HEADERS),
            op_fault=pick("op", OP_FAULTS),
            metric=pick("metric", METRICS),
            output=pick("output", OUTPUTS),
        )
        + DEEP
    )
    encoded = module.encode("utf-8", "surrogateescape")
    if "bytes" in hostile:
        encoded += draw(st.sampled_from([b"# caf\xe9\n", b"\xff\xfe", b"# \x00\n"]))
    files = {b"points.csv": draw(st.binary(max_size=64))}
    files.update(draw(st.dictionaries(_file_name(), st.binary(max_size=32), max_size=3)))
    config = None
    if "config" in hostile:
        if draw(st.booleans()):
            config = draw(st.binary(max_size=40))
        else:
            chosen = draw(st.dictionaries(st.sampled_from(sorted(CONFIG_VALUES)), st.none()))
            config = "".join(f"{k} = {draw(CONFIG_VALUES[k])}\n" for k in sorted(chosen)).encode()
    return {
        "module": encoded,
        "data": files,
        "config": config,
        "damage": draw(st.sampled_from([None, None, None, "flip", "truncate", "empty", "folder"])),
        "command": draw(st.sampled_from(COMMANDS)),
    }


@pytest.fixture(scope="module")
def repository() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="helix-fuzz-")) / "repo"
    root.mkdir()
    env = {**os.environ, **GIT_ENV, "HOME": str(root.parent)}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (root / "workflow.py").write_text("# the workflow\n")
    (root / ".gitignore").write_text(".helix/\n")
    git("add", "-A")
    git("commit", "-q", "-m", "start")
    result = CliRunner().invoke(cli, ["--repo", str(root), "init"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    yield root
    shutil.rmtree(root.parent, ignore_errors=True)


def _write(root: Path, drawn: dict[str, object]) -> None:
    (root / "workflow.py").write_bytes(drawn["module"])  # type: ignore[arg-type]
    data = root / "data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir()
    for name, content in drawn["data"].items():  # type: ignore[attr-defined]
        try:
            (data / os.fsdecode(name)).write_bytes(content)
        except OSError:  # a name this file system refuses: not a repository anyone has
            event("file name refused by the file system")
    config = root / ".helix" / "config.toml"
    if drawn["config"] is not None:
        config.write_bytes(drawn["config"])  # type: ignore[arg-type]
    else:
        config.write_text('server = "off"\n')


def _damage(root: Path, how: str | None) -> None:
    objects = sorted((root / ".helix" / "objects").glob("??/*"))
    if how is None or not objects:
        return
    target = objects[len(objects) // 2]
    if not target.is_file() or target.stat().st_size == 0:
        return
    if how == "flip":
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0x55
        target.write_bytes(bytes(data))
    elif how == "truncate":
        target.write_bytes(target.read_bytes()[:20])
    elif how == "empty":
        target.write_bytes(b"")
    else:
        target.unlink()
        target.mkdir()


def _tree(root: Path) -> dict[str, bytes]:
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in (".git", ".helix")]
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                found[path] = f.read()
    return found


def _good_objects(root: Path) -> dict[str, bytes]:
    index = Index(root / ".helix" / "index.duckdb")
    try:
        checksums = {k: r.checksum for k, r in index.objects().items()}
    except Exception:  # a damaged index: each object against its own checksums
        checksums = {}
    good = {}
    for path in (root / ".helix" / "objects").glob("??/*"):
        key = path.parent.name + path.name
        if path.is_file() and verify_file(path, checksums.get(key)) is None:
            good[key] = path.read_bytes()
    return good


def _runs(root: Path) -> set[str]:
    try:
        return {r.run_id for r in Index(root / ".helix" / "index.duckdb").runs()}
    except Exception:
        return set()


@pytest.mark.slow
@PROFILE
@given(drawn=hostile_repository())
def test_hostile_repositories_end_in_0_1_or_2_and_lose_nothing(repository, drawn):
    root = repository
    _write(root, drawn)
    _damage(root, drawn["damage"])  # type: ignore[arg-type]
    tree, objects, runs = _tree(root), _good_objects(root), _runs(root)
    command = drawn["command"]
    result = CliRunner().invoke(
        cli,
        ["--repo", str(root), *command],
        catch_exceptions=False,  # type: ignore[list-item]
    )
    event(f"exit {result.exit_code}")
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.stderr)
    assert "internal error" not in result.stderr, result.stderr
    if result.exit_code != 1:  # exit 1 shows the user's own traceback, and only that
        assert "Traceback" not in result.stderr, result.stderr
    assert "helixvcs/" not in result.stderr.replace(str(root), ""), result.stderr
    assert _tree(root) == tree  # the working tree is exactly what it was
    after = root / ".helix" / "objects"
    for key, data in objects.items():
        path = after / key[:2] / key[2:]
        assert path.is_file() and path.read_bytes() == data, key
    assert runs <= _runs(root)
