"""Executors on the census sequence: ``local`` against ``threads`` and a 2-worker Dask cluster.

    python benchmarks/executors.py                 # the demo data (48,842 rows)
    python benchmarks/executors.py --scale 8       # every data row 8 times: heavier operators

Each executor gets its own copy of the census demo repository (``helixvcs.demo.scenario``):
the initial commit is run, then each of ``ITERATIONS`` is applied, committed and run, as
``helix demo`` does. Runs go through the Python API (``Repo.run``) in this process, so
interpreter start-up is not counted. The Dask cluster is a ``LocalCluster`` of single-threaded
worker processes started before the clock runs and warmed up by one run of a scratch copy
(worker processes import pyarrow and scikit-learn once); its start-up time is printed apart.

Printed: wall seconds per run and in total, speedup over ``local``, and the Dask overhead
per task, measured twice: over the census sequence, (dask wall - local wall) / tasks run;
and on a chain of trivial operators, where that difference is nothing but overhead (each
task waits for its parent's result: submit, schedule, run, report back).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from helixvcs import Repo
from helixvcs.demo.scenario import ITERATIONS, create_repo
from helixvcs.exec.progress import Progress
from helixvcs.repo import RunOptions
from helixvcs.vcs import commit_all

CHAIN_LENGTH = 40


class _Quiet(Progress):
    def finish(self, name: str, state: str, seconds: float, note: str = "") -> None:
        pass

    def warn(self, message: str) -> None:
        pass


def scale_data(root: Path, factor: int) -> None:
    """Repeat every data row of the Adult files ``factor`` times and commit."""
    for name in ("adult.data", "adult.test"):
        path = root / "adult" / name
        lines = path.read_text(encoding="utf-8").splitlines()
        header = [line for line in lines if line.startswith("|") or not line.strip()]
        rows = [line for line in lines if line.strip() and not line.startswith("|")]
        path.write_text("\n".join(header + rows * factor) + "\n", encoding="utf-8")
    commit_all(root, f"Data: every row {factor} times")


def run_sequence(template: Path, dest: Path, options: RunOptions) -> list[dict[str, Any]]:
    """The initial commit and every iteration, each run with ``options``."""
    shutil.copytree(template, dest)
    repo = Repo.init(dest)
    runs = [_run(repo, options, "initial")]
    for iteration in ITERATIONS:
        iteration.apply(dest)
        commit_all(dest, iteration.message)
        runs.append(_run(repo, options, iteration.kind))
    return runs


def _run(repo: Repo, options: RunOptions, label: str) -> dict[str, Any]:
    report = repo.run(options, _Quiet())
    assert report.status == "ok", report.failure
    return {
        "label": label,
        "wall": report.wall_seconds,
        "tasks": report.count("compute") + report.count("load"),
        "computed": report.count("compute"),
        "metrics": report.metrics,
    }


CHAIN = """\
from helixvcs import Workflow

wf = Workflow("chain")


@wf.source("seed.txt")
def n0(path):
    return 0
{ops}

@wf.metric
def last(n{last}):
    return float(n{last})
"""


def chain_repo(dest: Path) -> Path:
    ops = "\n".join(
        f"\n@wf.op\ndef n{i}(n{i - 1}):\n    return n{i - 1} + 1\n" for i in range(1, CHAIN_LENGTH)
    )
    from helixvcs.vcs import init_repo

    init_repo(dest)
    (dest / "workflow.py").write_text(CHAIN.format(ops=ops, last=CHAIN_LENGTH - 1))
    (dest / "seed.txt").write_text("0\n")
    commit_all(dest, "chain")
    Repo.init(dest)
    return dest


def chain_seconds(root: Path, options: RunOptions, repeats: int = 3) -> float:
    """Best wall time of a run that computes the whole chain (nothing is stored)."""
    repo = Repo(root)
    best = float("inf")
    for _ in range(repeats):
        report = repo.run(options, _Quiet())
        assert report.status == "ok" and report.count("compute") == CHAIN_LENGTH + 1
        best = min(best, report.wall_seconds)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1, help="repeat every data row N times")
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    args = parser.parse_args()

    import dask
    from distributed import LocalCluster

    work = Path(tempfile.mkdtemp(prefix="helix-executors-"))
    template = work / "template"
    create_repo(template)
    if args.scale > 1:
        scale_data(template, args.scale)

    start = time.perf_counter()
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
    startup = time.perf_counter() - start
    address = cluster.scheduler_address
    systems = {
        "local": RunOptions(executor="local"),
        "threads": RunOptions(executor="threads"),
        f"dask x{args.workers}": RunOptions(executor="dask", scheduler=address),
    }
    try:
        run_sequence(template, work / "warm-up", systems[f"dask x{args.workers}"])
        results = {name: run_sequence(template, work / name, o) for name, o in systems.items()}
        chain = chain_repo(work / "chain")
        chain_walls = {name: chain_seconds(chain, o) for name, o in systems.items()}
    finally:
        cluster.close()
        shutil.rmtree(work, ignore_errors=True)

    report(results, chain_walls, args, startup)


def report(
    results: dict[str, list[dict[str, Any]]],
    chain_walls: dict[str, float],
    args: argparse.Namespace,
    startup: float,
) -> None:
    names = list(results)
    local = results["local"]
    print(
        f"census sequence, data x{args.scale}; Dask cluster start-up {startup:.2f} s (not counted)"
    )
    print("wall seconds per run (operators computed)")
    print(f"{'run':<16}" + "".join(f"{n:>16}" for n in names))
    for i, run in enumerate(local):
        cells = "".join(
            f"{results[n][i]['wall']:>10.2f} s ({results[n][i]['computed']:>2})" for n in names
        )
        print(f"{run['label']:<16}{cells}")
    totals = {n: sum(r["wall"] for r in results[n]) for n in names}
    print(f"{'total':<16}" + "".join(f"{totals[n]:>10.2f} s     " for n in names))
    print(f"{'speedup':<16}" + "".join(f"{totals['local'] / totals[n]:>11.2f}x    " for n in names))
    for name in names:
        same = all(a["metrics"] == b["metrics"] for a, b in zip(local, results[name], strict=True))
        assert same, f"{name} metrics differ from local"
    tasks = sum(r["tasks"] for r in local)
    for name in names[1:]:
        per_task = (totals[name] - totals["local"]) / tasks
        chain = (chain_walls[name] - chain_walls["local"]) / (CHAIN_LENGTH + 1)
        print(
            f"{name}: overhead per task {per_task * 1000:+.1f} ms over the census sequence "
            f"({tasks} tasks), {chain * 1000:+.1f} ms on a chain of {CHAIN_LENGTH + 1} "
            "trivial operators"
        )
    print("metrics identical across executors")


if __name__ == "__main__":
    sys.exit(main())
