"""End-to-end pruning and low precision on census (issue 18). BUILT TO SHOW PRUNING.

    python benchmarks/pruning.py                    # scale 2 (rows = 2 x Adult)
    python benchmarks/pruning.py --scale 1 --iterations 2

This benchmark is a showcase, not a neutral measurement: its workflow was written so that
pruning has something to prune. It is the census workflow rewritten with
``@wf.features``: eleven feature operators, each returning a numeric block (one-hot
encoders and scales fit on the training rows), stacked by helix, and an L1-regularized
logistic regression (liblinear, ``C=0.05``). Two of the extractors carry little or no
signal on purpose, as real ones often do: ``record_digest`` hashes every record into
1,024 buckets in a Python loop (an ID-like field put through the hashing trick), and
``fnlwgt_profile`` one-hot encodes deciles of the census sampling weight.

Three parts, each in a scratch repository under /tmp (removed unless ``--keep``):

1. **pruning** -- the features workflow, every run with ``--materialize none`` so that
   each computes all it needs: a full run (records the weights), ``helix prune``,
   a pruned run (``--prune-zero-weight``), and a full run again. Figures: the pruned
   operators and the share of their recorded compute the pruned run saved; the model's
   training time (the ``model`` operator) and width, full against pruned; accuracy.
2. **unmodified census** -- the census workflow as it is (its ``features`` is an
   ``@wf.op`` returning one matrix): what ``helix prune`` says about it.
3. **float32** -- the census sequence (the first ``--iterations`` commits of
   ``_census.ITERATIONS`` after the initial one): each commit run at full precision,
   then with ``--precision float32``, both with ``--materialize all`` so that the bytes
   stored compare like for like; wall time, bytes stored, accuracy change.

Runs go through the Python API (``Repo.run``) in this process. Printed as a table and
written as JSON (``--out``, default ``pruning.json``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _census

from helixvcs import Repo
from helixvcs.errors import UserInputError
from helixvcs.exec.progress import Progress
from helixvcs.repo import RunOptions

FEATURES_WORKFLOW = '''"""Census income with a feature assembly, built to show pruning."""

import hashlib

import numpy as np
from censuslib.data import held_out, labels
from censuslib.features import age_buckets, bucket_labels, categorical, country_regions, cross
from censuslib.features import log_amount
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import OneHotEncoder

from helixvcs import Workflow

wf = Workflow("census-features")

HOURS_BOUNDS = (20, 35, 41, 50, 60)
DIGEST_BUCKETS = 1024


def onehot(rows, *columns):
    """One-hot blocks of string columns, encoders fit on the training rows."""
    train = ~held_out(rows)
    parts = []
    for column in columns:
        values = categorical(column).to_numpy(zero_copy_only=False).reshape(-1, 1)
        parts.append(OneHotEncoder(handle_unknown="ignore").fit(values[train]).transform(values))
    return sparse.hstack(parts, format="csr")


def standard(rows, *columns):
    """Standardized numeric columns (mean and scale of the training rows)."""
    train = ~held_out(rows)
    out = []
    for column in columns:
        values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
        out.append((values - values[train].mean()) / (values[train].std() or 1.0))
    return np.column_stack(out)


from censuslib.data import clean, read_adult
import pyarrow as pa


@wf.source("adult/adult.data")
def raw_train(path):
    return read_adult(path)


@wf.source("adult/adult.test")
def raw_test(path):
    return read_adult(path)


@wf.op
def rows(raw_train, raw_test):
    train, test = clean(raw_train), clean(raw_test)
    train = train.append_column("is_test", pa.array(np.zeros(train.num_rows, dtype=bool)))
    test = test.append_column("is_test", pa.array(np.ones(test.num_rows, dtype=bool)))
    return pa.concat_tables([train, test])


@wf.op
def age_bucket(rows):
    return onehot(rows, age_buckets(rows.column("age")))


@wf.op
def education(rows):
    return standard(rows, rows.column("education_num"))


@wf.op
def occupation(rows):
    return onehot(rows, rows.column("occupation"))


@wf.op
def education_x_occupation(rows):
    return onehot(rows, cross(rows.column("education"), rows.column("occupation")))


@wf.op
def capital(rows):
    return standard(
        rows, log_amount(rows.column("capital_gain")), log_amount(rows.column("capital_loss"))
    )


@wf.op
def hours_bucket(rows):
    return onehot(rows, bucket_labels(rows.column("hours_per_week"), HOURS_BOUNDS))


@wf.op
def marital_relationship(rows):
    return onehot(rows, rows.column("marital_status"), rows.column("relationship"))


@wf.op
def country_group(rows):
    return onehot(rows, country_regions(rows.column("native_country")))


@wf.op
def demographics(rows):
    return onehot(rows, rows.column("workclass"), rows.column("race"), rows.column("sex"))


@wf.op
def record_digest(rows):
    """The hashing trick on an ID-like field: each record's digest picks one bucket."""
    weights = rows.column("fnlwgt").to_pylist()
    ages = rows.column("age").to_pylist()
    buckets = np.empty(len(weights), dtype=np.int64)
    for i, (w, a) in enumerate(zip(weights, ages)):
        digest = hashlib.sha256(f"{w}|{a}|{i % 7}".encode()).digest()
        buckets[i] = int.from_bytes(digest[:4], "little") % DIGEST_BUCKETS
    data = np.ones(len(buckets))
    return sparse.csr_matrix(
        (data, (np.arange(len(buckets)), buckets)), shape=(len(buckets), DIGEST_BUCKETS)
    )


@wf.op
def fnlwgt_profile(rows):
    """Deciles of the census sampling weight, one-hot."""
    values = np.asarray(rows.column("fnlwgt").to_numpy(), dtype=np.float64)
    edges = np.quantile(values[~held_out(rows)], np.linspace(0.1, 0.9, 9))
    deciles = pa.array([f"d{int(np.searchsorted(edges, v))}" for v in values])
    return onehot(rows, deciles)


@wf.features
def X(
    age_bucket,
    education,
    occupation,
    education_x_occupation,
    capital,
    hours_bucket,
    marital_relationship,
    country_group,
    demographics,
    record_digest,
    fnlwgt_profile,
):
    return [
        age_bucket,
        education,
        occupation,
        education_x_occupation,
        capital,
        hours_bucket,
        marital_relationship,
        country_group,
        demographics,
        record_digest,
        fnlwgt_profile,
    ]


@wf.op
def model(X, rows, C=0.05):
    train = ~held_out(rows)
    classifier = LogisticRegression(penalty="l1", solver="liblinear", C=C, tol=1e-6)
    return classifier.fit(X[train], labels(rows)[train])


@wf.metric
def accuracy(model, X, rows):
    test = held_out(rows)
    return float(accuracy_score(labels(rows)[test], model.predict(X[test])))
'''


class _Quiet(Progress):
    def finish(self, name: str, state: str, seconds: float, note: str = "") -> None:
        pass

    def warn(self, message: str) -> None:
        print(f"  warning: {message}", file=sys.stderr)


def _repo(dest: Path, data: Path, workflow: str | None = None) -> Repo:
    shutil.copytree(
        _census.TEMPLATE, dest, ignore=shutil.ignore_patterns("__pycache__", "workflow.py")
    )
    (dest / "workflow.py").write_text(
        workflow or (_census.TEMPLATE / "workflow.py").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    (dest / ".gitignore").write_text(_census.GITIGNORE, encoding="utf-8")
    _census.git(dest, "init", "-q", "-b", "main")
    _census.git(dest, "add", "-A")
    _census.git(dest, "commit", "-q", "-m", "census")
    _census.link_data(data, dest)
    return Repo.init(dest)


def _run(repo: Repo, **options: Any) -> Any:
    report = repo.run(RunOptions(**options), _Quiet())
    if report.failure is not None:
        raise SystemExit(f"run failed: {report.failure.message}\n{report.failure.traceback}")
    return report


def _seconds(report: Any, names: set[str]) -> float:
    return sum(n["seconds"] for n in report.nodes if n["name"] in names and n["state"] != "prune")


def _node(report: Any, name: str) -> dict[str, Any]:
    return next(n for n in report.nodes if n["name"] == name)


def pruning(scratch: Path, data: Path) -> dict[str, Any]:
    repo = _repo(scratch / "features", data, FEATURES_WORKFLOW)
    full = _run(repo, materialize="none")
    found = repo.prune().zero
    names = {op.name for op in found.operators}
    pruned = _run(repo, materialize="none", prune_zero_weight=True)
    again = _run(repo, materialize="none")
    recorded = _seconds(full, names)
    spent = _seconds(pruned, names)
    widths = {
        run.run_id: repo.index.query(
            "SELECT max(stop) FROM feature_blocks WHERE run_id = ?", [run.run_id]
        )[0][0]
        for run in (full, pruned)
    }
    return {
        "blocks": {a: list(b) for a, b in found.drop.items()},
        "pruned_operators": sorted(names),
        "pruned_recorded_seconds": recorded,
        "pruned_spent_seconds": spent,
        "saved_fraction": (recorded - spent) / recorded if recorded else None,
        "train_seconds": {
            "full": _node(full, "model")["seconds"],
            "full_again": _node(again, "model")["seconds"],
            "pruned": _node(pruned, "model")["seconds"],
        },
        "columns": {"full": widths[full.run_id], "pruned": widths[pruned.run_id]},
        "wall_seconds": {
            "full": full.wall_seconds,
            "pruned": pruned.wall_seconds,
            "full_again": again.wall_seconds,
        },
        "accuracy": {"full": full.metrics["accuracy"], "pruned": pruned.metrics["accuracy"]},
        "accuracy_delta": pruned.metrics["accuracy"] - full.metrics["accuracy"],
        "reported": pruned.pruning,
        "notes": found.notes,
    }


def unmodified(scratch: Path, data: Path) -> dict[str, Any]:
    repo = _repo(scratch / "census", data)
    full = _run(repo, materialize="none")
    try:
        found = repo.prune().zero
        return {"prunable": [op.name for op in found.operators], "accuracy": full.metrics}
    except UserInputError as exc:
        return {"prunable": [], "message": str(exc), "accuracy": full.metrics}


def float32(scratch: Path, data: Path, iterations: int) -> list[dict[str, Any]]:
    history = scratch / "history"
    commits = _census.build_history(history, _census.ITERATIONS[:iterations])
    dest = scratch / "sequence"
    _census.clone(history, dest, data)
    repo = Repo.init(dest)
    rows = []
    for commit in commits:
        _census.checkout(dest, commit.sha)
        full = _run(repo, materialize="all")  # every value stored: like-for-like bytes
        low = _run(repo, materialize="all", precision="float32")
        rows.append(
            {
                "commit": commit.message,
                "full_seconds": full.wall_seconds,
                "float32_seconds": low.wall_seconds,
                "full_bytes": sum(n["bytes"] or 0 for n in full.nodes if n["materialized"]),
                "float32_bytes": sum(n["bytes"] or 0 for n in low.nodes if n["materialized"]),
                "accuracy": full.metrics.get("accuracy"),
                "accuracy_delta": (low.precision_change or {})
                .get("metrics", {})
                .get("accuracy", {})
                .get("delta"),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=2.0)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--out", default="pruning.json")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", module="sklearn")  # penalty="l1" is deprecated in 1.8
    scratch = Path(tempfile.mkdtemp(prefix="helix-pruning-"))
    started = time.perf_counter()
    try:
        data = scratch / "data"
        counts = _census.scale_adult(data, args.scale)
        result = {
            "scale": args.scale,
            "rows": counts,
            "pruning": pruning(scratch, data),
            "unmodified_census": unmodified(scratch, data),
            "float32": float32(scratch, data, args.iterations),
        }
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    result["seconds"] = time.perf_counter() - started
    Path(args.out).write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    _print(result)


def _print(result: dict[str, Any]) -> None:
    p = result["pruning"]
    print(f"census x{result['scale']:g} ({result['rows']}), built to show pruning")
    print(f"pruned blocks: {p['blocks']}  operators: {', '.join(p['pruned_operators'])}")
    print(
        f"  pruned operators' compute: {p['pruned_recorded_seconds']:.2f} s recorded, "
        f"{p['pruned_spent_seconds']:.2f} s in the pruned run "
        f"(saved {100 * (p['saved_fraction'] or 0):.0f}%)"
    )
    t = p["train_seconds"]
    print(
        f"  training: {t['full']:.2f} s / {t['full_again']:.2f} s full on {p['columns']['full']} "
        f"columns, {t['pruned']:.2f} s pruned on {p['columns']['pruned']}"
    )
    w = p["wall_seconds"]
    print(
        f"  wall: full {w['full']:.2f} s, pruned {w['pruned']:.2f} s, full {w['full_again']:.2f} s"
    )
    print(f"  accuracy: {p['accuracy']['full']:.6f} -> {p['accuracy']['pruned']:.6f} "
          f"(delta {p['accuracy_delta']:+.2e})")  # fmt: skip
    u = result["unmodified_census"]
    print(f"unmodified census: prunable {u['prunable'] or 'none'}; {u.get('message', '')}")
    print("float32 on the census sequence:")
    for row in result["float32"]:
        delta = row["accuracy_delta"]
        print(
            f"  {row['commit'][:44]:<44} full {row['full_seconds']:6.2f} s "
            f"{row['full_bytes'] / 2**20:7.1f} MiB | float32 {row['float32_seconds']:6.2f} s "
            f"{row['float32_bytes'] / 2**20:7.1f} MiB | accuracy delta "
            + ("-" if delta is None else f"{delta:+.2e}")
        )


if __name__ == "__main__":
    main()
