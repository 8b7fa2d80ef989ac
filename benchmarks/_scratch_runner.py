"""Run a helixvcs workflow as a plain script: every operator, in order, nothing reused.

    python _scratch_runner.py REPO                  # prints one JSON document on stdout
    python _scratch_runner.py REPO --stage train    # one DVC stage (see STAGES)

This is the ``scratch`` system of ``iterations.py`` (KeystoneML-style: rerun the whole
pipeline for every iteration) and the command of the DVC stages: ``--stage S`` runs the
operators of stage S, reads the values it needs from the earlier stages' pickles in
``stages/`` and pickles the values later stages need to ``stages/S.pkl``. The workflow
module is imported only to read its operators; ``helixvcs`` is used for nothing else:
no compilation, no hashing, no store, no index.

The JSON document: ``metrics`` (flattened like helix: a dict metric ``m`` gives ``m.k``),
``seconds`` (operator -> compute seconds), ``compute_seconds`` (their sum).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import pickle
import sys
import time
from pathlib import Path
from typing import Any

sys.dont_write_bytecode = True


def load(root: Path) -> Any:
    """The ``Workflow`` object of ``root/workflow.py``."""
    from helixvcs import Workflow

    path = root / "workflow.py"
    for entry in (str(path.parent), str(root)):
        sys.path.insert(0, entry)
    spec = importlib.util.spec_from_file_location("helix_workflow", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["helix_workflow"] = module
    spec.loader.exec_module(module)
    found = [v for v in vars(module).values() if isinstance(v, Workflow)]
    if len(found) != 1:
        raise SystemExit(f"{path}: expected one Workflow, found {len(found)}")
    return found[0]


def order(wf: Any) -> list[str]:
    """Outputs and their ancestors, topologically, the earlier-declared ready one first."""
    nodes = wf.nodes
    parents = {n: [p for p in spec.params if p in nodes] for n, spec in nodes.items()}
    needed: set[str] = set()
    stack = [n for n, spec in nodes.items() if spec.is_output]
    while stack:
        n = stack.pop()
        if n not in needed:
            needed.add(n)
            stack.extend(parents[n])
    done: list[str] = []
    pending = [n for n in nodes if n in needed]
    while pending:
        ready = next(n for n in pending if all(p in done for p in parents[n]))
        done.append(ready)
        pending.remove(ready)
    return done


def parents_of(wf: Any, name: str) -> list[str]:
    return [p for p in wf.nodes[name].params if p in wf.nodes]


def call(wf: Any, root: Path, name: str, values: dict[str, Any]) -> Any:
    spec = wf.nodes[name]
    if spec.kind == "source":
        if any(ch in spec.path for ch in "*?[") or not (root / spec.path).is_file():
            raise SystemExit(f"{name}: only single-file sources are supported here")
        return spec.func(str(root / spec.path))
    return spec.func(**{p: values[p] for p in parents_of(wf, name)})


def flatten_metric(name: str, value: Any) -> dict[str, float]:
    if isinstance(value, dict):
        return {f"{name}.{k}": float(v) for k, v in value.items()}
    return {name: float(value)}


def run(wf: Any, root: Path, only: list[str] | None, inputs: list[Path], save: Path | None) -> dict:
    values: dict[str, Any] = {}
    for path in inputs:
        with open(path, "rb") as handle:
            values.update(pickle.load(handle))
    seconds: dict[str, float] = {}
    metrics: dict[str, float] = {}
    for name in order(wf):
        if only is not None and name not in only:
            continue
        start = time.perf_counter()
        values[name] = call(wf, root, name, values)
        seconds[name] = time.perf_counter() - start
        if wf.nodes[name].kind == "metric":
            metrics.update(flatten_metric(name, values[name]))
    if save is not None:
        # What later stages read: values computed here that an operator outside it uses.
        ran = set(seconds)
        used = {p for n in wf.nodes if n not in ran for p in parents_of(wf, n)}
        outputs = {n for n in ran if wf.nodes[n].kind == "output"}
        with open(save, "wb") as handle:
            pickle.dump({n: values[n] for n in ran & (used | outputs)}, handle, protocol=5)
    bad = {k: v for k, v in metrics.items() if not math.isfinite(v)}
    if bad:
        raise SystemExit(f"non-finite metrics: {bad}")
    read = sorted({p for n in seconds for p in parents_of(wf, n)} - set(seconds))
    return {
        "metrics": metrics,
        "seconds": seconds,
        "compute_seconds": sum(seconds.values()),
        "read": read,  # values this process read from earlier stages instead of computing
        "operators": order(wf),
    }


STAGES = ("prepare", "featurize", "train", "evaluate")


def stage_members(wf: Any) -> dict[str, list[str]]:
    """prepare: sources and ``rows``; featurize: what ``features`` needs beyond that;
    train: ``model``; evaluate: the rest (scores, metrics, outputs)."""
    names = order(wf)
    prepare = {n for n in names if wf.nodes[n].kind == "source"} | {"rows"}
    featurize: set[str] = set()
    stack = ["features"]
    while stack:
        n = stack.pop()
        if n not in featurize and n not in prepare:
            featurize.add(n)
            stack.extend(parents_of(wf, n))
    train = {"model"}
    member = {"prepare": prepare, "featurize": featurize, "train": train}
    evaluate = set(names) - prepare - featurize - train
    member["evaluate"] = evaluate
    return {s: [n for n in names if n in member[s]] for s in STAGES}


def run_stage(root: Path, stage: str) -> dict:
    wf = load(root)
    members = stage_members(wf)
    folder = root / "stages"
    folder.mkdir(exist_ok=True)
    earlier = [folder / f"{s}.pkl" for s in STAGES[: STAGES.index(stage)]]
    result = run(wf, root, members[stage], earlier, folder / f"{stage}.pkl")
    if stage == "evaluate":
        text = json.dumps(result["metrics"], indent=2, sort_keys=True)
        (root / "metrics.json").write_text(text + "\n", encoding="utf-8")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--only", help="comma-separated operators to run (a DVC stage)")
    parser.add_argument("--inputs", nargs="*", type=Path, default=[], help="pickles to read")
    parser.add_argument("--save", type=Path, help="pickle the values later stages need")
    parser.add_argument("--stage", choices=STAGES, help="run one DVC stage")
    parser.add_argument("--out", type=Path, help="write the JSON document here, not stdout")
    args = parser.parse_args()
    if args.stage:
        result = run_stage(args.repo.resolve(), args.stage)
    else:
        only = args.only.split(",") if args.only else None
        root = args.repo.resolve()
        result = run(load(root), root, only, args.inputs, args.save)
    text = json.dumps(result, indent=2, sort_keys=True)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)


if __name__ == "__main__":
    main()
