"""A separate process that hammers an index, for the multi-process tests.

    worker.py write INDEX PREFIX COUNT    begin_run + finish_run COUNT times
    worker.py read INDEX STOPFILE [PAUSE] poll runs()/metrics_for() (and counts_for())
                                          until STOPFILE exists, checking consistency,
                                          sleeping PAUSE seconds between polls

INDEX_LOCK_TIMEOUT in the environment sets the lock timeout (default 30 s).
Each writes one JSON line to stdout on success and exits 0; any exception or consistency
violation goes to stderr with a non-zero exit code. Run ids are PREFIX-NNNN and each run's
metric "i" is NNNN, so a reader can check what it sees without talking to the writer.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from helixvcs.index import Index, NodeRecord, OperatorRecord, RunRecord

OPERATORS = [
    OperatorRecord("raw", "source", "k-raw", "h-raw", (), 0, "wf.py", 1, "def raw(p): ...", {}),
    OperatorRecord(
        "rows", "op", "k-rows", "h-rows", ("raw",), 1, "wf.py", 5, "def rows(raw): ...", {}
    ),
    OperatorRecord(
        "acc", "metric", "k-acc", "h-acc", ("rows",), 2, "wf.py", 9, "def acc(rows): ...", {}
    ),
]


def write(index: Index, prefix: str, count: int) -> dict[str, object]:
    for i in range(count):
        run_id = f"{prefix}-{i:04d}"
        index.begin_run(_run(run_id), OPERATORS)
        nodes = [
            NodeRecord("raw", "k-raw", "load", 0.01, 0.01, 10, True, "ok"),
            NodeRecord("rows", f"k-rows-{run_id}", "compute", 0.5, None, None, False, "ok"),
            NodeRecord("acc", f"k-acc-{run_id}", "compute", 0.1, None, None, False, "ok"),
        ]
        index.finish_run(
            run_id,
            status="ok",
            finished=datetime.now(UTC),
            wall_seconds=0.6,
            saved_seconds=0.1,
            nodes=nodes,
            metrics={"i": float(i), "half": i / 2},
        )
    return {"written": count}


def _run(run_id: str) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        started=datetime.now(UTC),
        finished=None,
        status="running",
        revision="WORKTREE",
        commit=None,
        fingerprint=None,
        branch="main",
        subject=None,
        author=None,
        workflow="wf",
        sample=None,
        materialize="helix",
        executor="local",
        pid=os.getpid(),
        host=socket.gethostname(),
    )


def read(index: Index, stopfile: Path, pause: float) -> dict[str, object]:
    polls, most = 0, 0
    while not stopfile.exists():
        time.sleep(pause)
        runs = index.runs()
        ok = [r.run_id for r in runs if r.status == "ok"]
        check_metrics(ok, index.metrics_for(ok))
        if polls % 4 == 0:  # counts too, but not every time: the writer should not crawl
            check_counts(ok, index.counts_for(ok))
        starts = [r.started for r in runs]
        if starts != sorted(starts, reverse=True):
            raise AssertionError("runs() is not newest first")
        polls, most = polls + 1, max(most, len(runs))
    return {"polls": polls, "most_seen": most}


def check_metrics(ok: list[str], metrics: dict[str, dict[str, float]]) -> None:
    for run_id in ok:
        i = float(run_id.rsplit("-", 1)[1])
        if metrics[run_id] != {"i": i, "half": i / 2}:
            raise AssertionError(f"run {run_id} is ok but has metrics {metrics[run_id]}")


def check_counts(ok: list[str], counts: dict[str, dict[str, int]]) -> None:
    for run_id in ok:
        if counts[run_id] != {"compute": 2, "load": 1, "prune": 0}:
            raise AssertionError(f"run {run_id} is ok but has counts {counts[run_id]}")


def main(argv: list[str]) -> int:
    timeout = float(os.environ.get("INDEX_LOCK_TIMEOUT", "30"))
    command, index = argv[0], Index(Path(argv[1]), lock_timeout=timeout)
    if command == "write":
        result = write(index, argv[2], int(argv[3]))
    elif command == "read":
        result = read(index, Path(argv[2]), float(argv[3]) if len(argv) > 3 else 0.0)
    else:
        raise SystemExit(f"unknown command {command}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
