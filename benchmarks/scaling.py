"""Costs as the work grows (issue 23): one curve per kind of growth, with the growth
factor per doubling of the work.

    python benchmarks/scaling.py [--curves operators,commits,objects,source] [--quick]
        [--operators 500,1000,2000,4000] [--commits 250,500,1000,2000]
        [--objects 1000,10000,100000] [--source-mb 64,256,1024] [--repeats 3] [--out FILE]

* **operators**: a workflow of N operators in N/100 repo modules (each a chain with local
  fan-in, each module fed by the one before), run once, then one edit of the first
  operator and a run that recomputes everything: the whole process's wall (once). Then
  in-process: compiling the workflow (parsing and keys), and the execution step's own
  seconds: ``execute`` into a fresh store with every operator computed, minus the
  operators' own seconds (median of the repeats); and the keep rule's recompute costs
  for every operator (``Upstream``, as a run asks them, no value kept on the way), with
  the former walk over every unstored ancestor for reference.
* **commits**: N commits (git fast-import) whose runs are recorded through the index's own
  write path (``begin_run`` / ``finish_run``, 30 operators, one edited per commit, one
  metric); ``helix blame-metric`` over the N commits and ``helix explain`` across the
  last 30 commits, which edit each operator once (a path of 29 steps; all N recorded
  versions are points). Built up in one repository: each size adds runs to the last.
* **objects**: a small workflow run once, then N extra stored objects of ~380 bytes,
  written through the store's batch write path (``DiskObjectStore.batch`` and
  ``put_packed``, what ``helix pull`` uses: one pack per batch of 20,000, fsynced once,
  packs merged as the store merges them) and recorded through ``record_objects`` once
  their batch is written; a no-op ``helix run``, ``helix gc`` that drops nothing,
  ``helix gc --dry-run`` to 99% of the size (every object valued and ordered), the bytes
  the budget counts, and the bytes and files the store takes on disk.
* **source**: a workflow whose source is one file of N MB, run once; then a no-op run
  (the file re-checked by its stat, not re-hashed).

Each figure is the median of ``--repeats`` whole processes (``HELIX_SERVER=0``: no warm
server), on whatever machine runs it; growth per doubling = (c2 / c1) ** (1 / log2(n2 /
n1)) between consecutive sizes: 2.0 is linear, 1.0 constant.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helixvcs.index import Index, ObjectRecord, OperatorRecord, RunRecord  # noqa: E402
from helixvcs.store import DiskObjectStore  # noqa: E402

ENV = {**os.environ, "HELIX_SERVER": "0", "PYTHONDONTWRITEBYTECODE": "1"}
PER_MODULE = 100
HISTORY_OPERATORS = 30


# -- plumbing ---------------------------------------------------------------------------


def sh(args: list[str], cwd: Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=ENV, text=True, capture_output=True, check=True, **kwargs
    )


def helix(repo: Path, *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    out = sh([sys.executable, "-m", "helixvcs", "--repo", str(repo), *args], repo)
    return time.perf_counter() - started, out.stdout


def median_of(repeats: int, repo: Path, *args: str) -> tuple[float, str]:
    walls, out = [], ""
    for _ in range(repeats):
        wall, out = helix(repo, *args)
        walls.append(wall)
    return statistics.median(walls), out


def git_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    sh(["git", "init", "-q", "-b", "main"], path)
    sh(["git", "config", "user.email", "bench@example.com"], path)
    sh(["git", "config", "user.name", "bench"], path)
    return path


def commit_all(repo: Path, message: str) -> None:
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "-q", "-m", message], repo)


def growth(points: list[dict[str, Any]], size: str, cost: str) -> list[float | None]:
    """Growth factor per doubling between consecutive points (None for the first)."""
    factors: list[float | None] = [None]
    for p, q in itertools.pairwise(points):
        c1, c2 = p[cost], q[cost]
        if c1 is None or c2 is None or c1 <= 0 or c2 <= 0:
            factors.append(None)
            continue
        factors.append((c2 / c1) ** (1 / math.log2(q[size] / p[size])))
    return factors


def table(title: str, points: list[dict[str, Any]], size: str, costs: list[str]) -> str:
    lines = [f"\n{title}", " | ".join([size, *(f"{c} (x per doubling)" for c in costs)])]
    factors = {c: growth(points, size, c) for c in costs}
    for i, p in enumerate(points):
        cells = [f"{p[size]:,}"]
        for c in costs:
            f = factors[c][i]
            value = "-" if p[c] is None else f"{p[c]:.3f}"
            cells.append(value + ("" if f is None else f" (x{f:.2f})"))
        lines.append(" | ".join(cells))
    return "\n".join(lines)


# -- operators --------------------------------------------------------------------------


def operator_modules(n: int) -> dict[str, str]:
    """``n`` operators in modules of ``PER_MODULE``: a chain with some fan-in inside each
    module, the first operator of each fed by the last of the module before."""
    rng = random.Random(n)
    files = {"flow.py": 'from helixvcs import Workflow\n\nwf = Workflow("ops")\n'}
    modules = max(1, n // PER_MODULE)
    lasts = []
    for m in range(modules):
        lines = ["from flow import wf\n"]
        for j in range(PER_MODULE):
            i = m * PER_MODULE + j
            parents = [f"o{i - 1}"] if i else []
            if j > 2 and rng.random() < 0.5:
                parents.append(f"o{i - rng.randrange(2, j + 1)}")
            body = " + ".join(parents) if parents else "0"
            lines.append(
                f"\n@wf.op\ndef o{i}({', '.join(parents)}):\n    return ({body} + 1) % 1000003\n"
            )
        lasts.append(f"o{(m + 1) * PER_MODULE - 1}")
        files[f"m{m:03}.py"] = "".join(lines)
    imports = "".join(f"import m{m:03}  # noqa: F401\n" for m in range(modules))
    files["workflow.py"] = (
        f"from flow import wf\n{imports}\n\n@wf.metric\ndef total({', '.join(lasts)}):\n"
        f"    return float({' + '.join(lasts)})\n"
    )
    return files


def execution_step(repo: Path, repeats: int) -> tuple[float, float, int]:
    """In-process: seconds to compile the workflow (parsing and keys), and the execution
    step's own seconds (``execute`` wall minus the operators' seconds) with every
    operator computed into a fresh store, as after an edit of the first operator; and
    how many values the keep rule kept."""
    from helixvcs.exec import Progress, RunSettings, execute, get_executor
    from helixvcs.graph import compile_workflow
    from helixvcs.hashing import StatCache
    from helixvcs.plan import COMPUTE

    started = time.perf_counter()
    dag = compile_workflow(repo, repo / "workflow.py", StatCache(None))
    compiled = time.perf_counter() - started
    own, kept = [], 0
    for r in range(repeats):
        store = DiskObjectStore(repo / f"store{r}", hot=False)
        started = time.perf_counter()
        result = execute(
            dag,
            dict.fromkeys(dag.nodes, COMPUTE),
            store=store,
            executor=get_executor("local"),
            replan=lambda held, lost: {},
            compute_estimates=dict.fromkeys(dag.nodes, 0.0001),
            settings=RunSettings(),
            progress=Progress(io.StringIO()),
        )
        wall = time.perf_counter() - started
        own.append(wall - sum(o.seconds for o in result.outcomes.values()))
        kept = sum(o.materialized for o in result.outcomes.values())
        shutil.rmtree(repo / f"store{r}")
    return compiled, statistics.median(own), kept


def keep_rule_seconds(repo: Path, walk: bool) -> tuple[float, float | None]:
    """Recompute costs of every operator in workflow order, as a run asks them, with none
    of the values kept on the way (as in a run after an edit of the first operator: every
    ancestor is unstored): by ``Upstream``, and (``walk``) by the former walk."""
    from helixvcs.graph import compile_workflow
    from helixvcs.hashing import StatCache
    from helixvcs.plan.materialize import Upstream, recompute_seconds

    dag = compile_workflow(repo, repo / "workflow.py", StatCache(None))
    parents = dag.parents()
    seconds = dict.fromkeys(parents, 0.001)
    chosen: set[str] = set()

    def ask(by_walk: bool) -> float:
        stored: set[str] = set()
        upstream = Upstream(parents, seconds, stored)
        started = time.perf_counter()
        for name in parents:
            if by_walk:
                recompute_seconds(name, parents, seconds, stored)
            else:
                upstream.recompute_seconds(name)
            if name in chosen:
                stored.add(name)
                upstream.changed(name)
        return time.perf_counter() - started

    return ask(False), ask(True) if walk else None


def curve_operators(sizes: list[int], repeats: int, scratch: Path) -> list[dict[str, Any]]:
    points = []
    for n in sizes:
        repo = git_repo(scratch / f"ops{n}")
        for name, text in operator_modules(n).items():
            (repo / name).write_text(text, encoding="utf-8")
        helix(repo, "init")
        commit_all(repo, "operators")
        first, _ = helix(repo, "run")
        top = repo / "m000.py"
        top.write_text(top.read_text("utf-8").replace("return (0 + 1)", "return (0 + 2)"), "utf-8")
        plan, _ = helix(repo, "plan")
        wall, out = helix(repo, "run", "--json")
        doc = json.loads(out)
        compiled, own, kept = execution_step(repo, repeats)
        keep_new, keep_old = keep_rule_seconds(repo, walk=True)
        points.append(
            {
                "operators": n,
                "first_run": first,
                "edit_run": wall,
                "edit_plan": plan,
                "edit_operator_seconds": sum(node["seconds"] for node in doc["nodes"]),
                "computed": sum(node["state"] == "compute" for node in doc["nodes"]),
                "compile": compiled,
                "execution_overhead": own,
                "kept": kept,
                "keep_rule": keep_new,
                "keep_rule_walk": keep_old,
            }
        )
        print(f"  operators {n}: {points[-1]}", file=sys.stderr)
        shutil.rmtree(repo)
    return points


# -- commits ----------------------------------------------------------------------------


def fast_import(repo: Path, n: int) -> list[str]:
    """``n`` commits on main, each changing one file, in one ``git fast-import``."""
    stream = []
    for i in range(n):
        data = f"{i}\n"
        msg = f"commit {i}\n"
        stream.append(
            f"commit refs/heads/main\nmark :{i + 1}\n"
            f"committer bench <bench@example.com> {1_700_000_000 + i} +0000\n"
            f"data {len(msg)}\n{msg}"
            + (f"from :{i}\n" if i else "")
            + f"M 644 inline v.txt\ndata {len(data)}\n{data}\n"
        )
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=repo, input="".join(stream), text=True, check=True
    )
    sh(["git", "checkout", "-q", "-f", "main"], repo)
    log = sh(["git", "rev-list", "--first-parent", "--reverse", "main"], repo).stdout.split()
    return log


def operators_at(i: int) -> list[OperatorRecord]:
    """Thirty operators; commit ``i`` edits operator ``i % 30`` (its body is a count)."""
    ops = []
    for j in range(HISTORY_OPERATORS):
        version = (i - j) // HISTORY_OPERATORS + 1 if i >= j else 0
        body = f"body-{j}-{version}"
        key = f"{abs(hash((j, version))) % 16**40:040x}"
        ops.append(
            OperatorRecord(
                name=f"op{j}", kind="op", key=key, code_hash=key, parents=(), position=j,
                file="workflow.py", line=j + 1, source=f"def op{j}():\n    return '{body}'\n",
                parts={"body": body},
            )
        )  # fmt: skip
    return ops


def record_runs(index: Index, shas: list[str], start: int, stop: int) -> None:
    rng = random.Random(start)
    for i in range(start, stop):
        now = datetime.now(UTC).replace(tzinfo=None)
        run_id = now.strftime("%Y%m%dT%H%M%S") + f"-{i:06x}"
        record = RunRecord(
            run_id=run_id, started=now, finished=None, status="running", revision=shas[i],
            commit=shas[i], fingerprint=None, branch="main", subject=f"commit {i}",
            author="bench", workflow="history", sample=None, materialize="helix",
            executor="local", pid=os.getpid(), host="bench",
        )  # fmt: skip
        index.begin_run(record, operators_at(i))
        index.finish_run(
            run_id, status="ok", finished=now, wall_seconds=1.0, saved_seconds=0.0, nodes=[],
            metrics={"accuracy": 0.8 + 0.05 * math.sin(i / 7) + rng.uniform(-0.01, 0.01)},
        )  # fmt: skip


def curve_commits(sizes: list[int], repeats: int, scratch: Path) -> list[dict[str, Any]]:
    repo = git_repo(scratch / "history")
    shas = fast_import(repo, max(sizes))
    helix(repo, "init")
    index = Index(repo / ".helix" / "index.duckdb")
    points, recorded = [], 0
    for n in sizes:
        started = time.perf_counter()
        record_runs(index, shas, recorded, n)
        print(
            f"  recorded {n - recorded} runs in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        recorded = n
        blame, out = median_of(
            repeats, repo, "blame-metric", "accuracy", f"{shas[0]}..{shas[n - 1]}", "--json"
        )
        blamed = len(json.loads(out)["commits"])
        a = shas[max(0, n - HISTORY_OPERATORS)]  # the last 30 commits edit each operator once
        explain, out = median_of(repeats, repo, "explain", "accuracy", a, shas[n - 1], "--json")
        doc = json.loads(out)
        points.append(
            {
                "commits": n,
                "blame_metric": blame,
                "blame_ms_per_commit": 1000 * blame / (n - 1),
                "commits_blamed": blamed,
                "explain": explain,
                "explain_versions": doc["versions"],
                "explain_steps": len(doc["steps"]),
            }
        )
        print(f"  commits {n}: {points[-1]}", file=sys.stderr)
    return points


# -- objects ----------------------------------------------------------------------------

SMALL_WORKFLOW = """\
from helixvcs import Workflow

wf = Workflow("small")


@wf.op
def a():
    return list(range(100))


@wf.op
def b(a):
    return sum(a)


@wf.metric
def m(b):
    return float(b)
"""


def add_objects(repo: Path, count: int) -> None:
    """``count`` distinct small objects written by the store's batch path, each batch
    recorded in the index once it is on disk."""
    store = DiskObjectStore(repo / ".helix" / "objects", hot=False)
    index = Index(repo / ".helix" / "index.duckdb")
    rng = random.Random(count)
    now = datetime.now(UTC).replace(tzinfo=None)
    for start in range(0, count, 20_000):
        batch: list[ObjectRecord] = []
        with store.batch():
            for _ in range(min(20_000, count - start)):
                key = f"{rng.getrandbits(160):040x}"
                info = store.put_packed(key, store.pack(rng.randbytes(300)))
                batch.append(
                    ObjectRecord(
                        key=key, name="synthetic", bytes=info.bytes, raw_bytes=info.raw_bytes,
                        codec=info.codec, checksum=info.checksum, compute_seconds=0.01,
                        load_seconds=None, created=now, last_used=now, recompute_seconds=0.01,
                    )
                )  # fmt: skip
        index.record_objects(batch)


def disk_usage(root: Path) -> tuple[int, int]:
    """Bytes the file system allocated under ``root``, and how many files."""
    total, files = 0, 0
    for folder, _, names in os.walk(root):
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(folder, name)).st_blocks * 512
                files += 1
    return total, files


def curve_objects(sizes: list[int], repeats: int, scratch: Path) -> list[dict[str, Any]]:
    repo = git_repo(scratch / "objects")
    (repo / "workflow.py").write_text(SMALL_WORKFLOW, encoding="utf-8")
    helix(repo, "init")
    commit_all(repo, "small")
    helix(repo, "run")
    points, present = [], 0
    for n in sizes:
        started = time.perf_counter()
        add_objects(repo, n - present)
        print(
            f"  wrote {n - present} objects in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        present = n
        os.sync()  # the writes' dirty pages go to disk now, not during the timed commands
        run, _ = median_of(repeats, repo, "run")
        gc, out = median_of(repeats, repo, "gc", "--max-size", "1TB", "--json")
        size = json.loads(out)["before_bytes"]
        # a gc that must choose: every object valued and ordered (dry run: the store stays)
        limit = str(int(size * 0.99))
        choose, out = median_of(repeats, repo, "gc", "--max-size", limit, "--dry-run", "--json")
        dropped = len(json.loads(out)["dropped"])
        disk, files = disk_usage(repo / ".helix" / "objects")
        points.append(
            {"objects": n, "noop_run": run, "gc": gc, "gc_choosing": choose, "gc_bytes": size,
             "gc_would_drop": dropped, "disk_bytes": disk, "files": files}
        )  # fmt: skip
        print(f"  objects {n}: {points[-1]}", file=sys.stderr)
    return points


# -- source bytes -----------------------------------------------------------------------

SOURCE_WORKFLOW = """\
import os

from helixvcs import Workflow

wf = Workflow("big")


@wf.source("data/big.bin")
def big(path):
    return os.path.getsize(path)


@wf.metric
def size(big):
    return float(big)
"""


def curve_source(sizes_mb: list[int], repeats: int, scratch: Path) -> list[dict[str, Any]]:
    points = []
    for mb in sizes_mb:
        repo = git_repo(scratch / f"source{mb}")
        (repo / "workflow.py").write_text(SOURCE_WORKFLOW, encoding="utf-8")
        (repo / ".gitignore").write_text("data/\n", encoding="utf-8")
        (repo / "data").mkdir()
        with open(repo / "data" / "big.bin", "wb") as f:
            chunk = random.Random(mb).randbytes(2**20)
            for _ in range(mb):
                f.write(chunk)
        helix(repo, "init")
        commit_all(repo, "big source")
        first, _ = helix(repo, "run")
        again, _ = median_of(repeats, repo, "run")
        points.append({"source_mb": mb, "first_run": first, "noop_run": again})
        print(f"  source {mb} MB: {points[-1]}", file=sys.stderr)
        shutil.rmtree(repo)
    return points


# -- main -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--curves", default="operators,commits,objects,source")
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--operators", default="500,1000,2000,4000")
    parser.add_argument("--commits", default="250,500,1000,2000")
    parser.add_argument("--objects", default="1000,10000,100000")
    parser.add_argument("--source-mb", default="64,256,1024")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="scaling.json")
    args = parser.parse_args()
    if args.quick:
        args.operators, args.commits, args.objects, args.source_mb = (
            "250,500",
            "50,100",
            "500,1000",
            "8,16",
        )
        args.repeats = 1
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "helixvcs")], check=True)
    curves = args.curves.split(",")
    results: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds")}
    printed = []
    scratch = Path(tempfile.mkdtemp(prefix="helix-scaling-"))
    try:
        if "operators" in curves:
            sizes = [int(s) for s in args.operators.split(",")]
            points = results["operators"] = curve_operators(sizes, args.repeats, scratch)
            costs = ["edit_run", "compile", "execution_overhead", "keep_rule", "keep_rule_walk"]
            printed.append(table("operators: one-edit run (s)", points, "operators", costs))
        if "commits" in curves:
            sizes = [int(s) for s in args.commits.split(",")]
            points = results["commits"] = curve_commits(sizes, args.repeats, scratch)
            printed.append(table("commits: history commands (s)", points, "commits",
                                 ["blame_metric", "blame_ms_per_commit", "explain"]))  # fmt: skip
        if "objects" in curves:
            sizes = [int(s) for s in args.objects.split(",")]
            points = results["objects"] = curve_objects(sizes, args.repeats, scratch)
            costs = ["noop_run", "gc", "gc_choosing"]
            printed.append(table("objects: store size (s)", points, "objects", costs))
        if "source" in curves:
            sizes = [int(s) for s in args.source_mb.split(",")]
            points = results["source"] = curve_source(sizes, args.repeats, scratch)
            printed.append(
                table("source bytes (MB): runs (s)", points, "source_mb", ["first_run", "noop_run"])
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("\n".join(printed))
    Path(args.out).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
