"""Planning time of ``helixvcs.plan.optimizer.optimal_states`` on synthetic DAGs.

    python benchmarks/planning.py [--sizes 100,1000,10000] [--repeats 5] [--out FILE]

Each DAG is random and layered: about sqrt(n) layers, every node after the first layer
has 1-3 parents drawn mostly from the layer just above and sometimes from any earlier
one; the last layer's nodes are the outputs (plus 2% of all nodes, as metrics hanging
off the middle). Compute costs are log-normal (median 1 s, a few heavy operators), load
costs a random 1-50% of the compute cost, and half the nodes, chosen at random, are
stored. Printed: nodes, edges, median and best seconds of ``optimal_states`` over the
repeats. Target (issue 6): under 1 s for 10,000 nodes.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from helixvcs.plan.optimizer import is_legal, optimal_states, plan_cost

SIZES = (100, 1_000, 10_000)
TARGET_SECONDS = 1.0


@dataclass(frozen=True)
class Synthetic:
    parents: dict[str, list[str]]
    outputs: list[str]
    compute: dict[str, float]
    load: dict[str, float | None]


@dataclass(frozen=True)
class Timing:
    nodes: int
    edges: int
    outputs: int
    stored: int
    median_seconds: float
    best_seconds: float
    repeats: int
    plan_cost: float
    computed: int
    loaded: int
    pruned: int


def synthetic_dag(n: int, seed: int = 0) -> Synthetic:
    rng = random.Random(seed)
    width = max(1, round(math.sqrt(n)))
    names = [f"n{i}" for i in range(n)]
    layers = [names[i : i + width] for i in range(0, n, width)]
    parents: dict[str, list[str]] = {}
    for depth, layer in enumerate(layers):
        for name in layer:
            if depth == 0:
                parents[name] = []
                continue
            chosen: set[str] = set()
            for _ in range(rng.randint(1, 3)):
                pool = layers[depth - 1] if rng.random() < 0.8 else layers[rng.randrange(depth)]
                chosen.add(rng.choice(pool))
            parents[name] = sorted(chosen)
    outputs = list(layers[-1])
    outputs += rng.sample(names[: n // 2 or 1], max(1, n // 50))
    compute = {name: rng.lognormvariate(0.0, 1.0) for name in names}
    load: dict[str, float | None] = {
        name: compute[name] * rng.uniform(0.01, 0.5) if rng.random() < 0.5 else None
        for name in names
    }
    return Synthetic(parents, list(dict.fromkeys(outputs)), compute, load)


def time_plan(n: int, repeats: int, seed: int = 0) -> Timing:
    dag = synthetic_dag(n, seed)
    times = []
    states: dict[str, str] = {}
    for _ in range(repeats):
        start = time.perf_counter()
        states = optimal_states(dag.parents, dag.outputs, dag.compute, dag.load)
        times.append(time.perf_counter() - start)
    if not is_legal(states, dag.parents, dag.outputs, dag.load):
        raise AssertionError(f"illegal plan for the {n}-node DAG")
    values = list(states.values())
    return Timing(
        nodes=n,
        edges=sum(len(p) for p in dag.parents.values()),
        outputs=len(dag.outputs),
        stored=sum(v is not None for v in dag.load.values()),
        median_seconds=statistics.median(times),
        best_seconds=min(times),
        repeats=repeats,
        plan_cost=plan_cost(states, dag.compute, dag.load),
        computed=values.count("compute"),
        loaded=values.count("load"),
        pruned=values.count("prune"),
    )


def run(sizes: tuple[int, ...] = SIZES, repeats: int = 5, seed: int = 0) -> list[Timing]:
    print(f"{'nodes':>7s} {'edges':>7s} {'outputs':>7s} {'median s':>9s} {'best s':>8s}  c/l/p")
    warm = synthetic_dag(10)  # first-call costs (imports, if any) before the clock runs
    optimal_states(warm.parents, warm.outputs, warm.compute, warm.load)
    results = []
    for n in sizes:
        t = time_plan(n, repeats, seed)
        results.append(t)
        print(
            f"{t.nodes:7d} {t.edges:7d} {t.outputs:7d} {t.median_seconds:9.4f} "
            f"{t.best_seconds:8.4f}  {t.computed}/{t.loaded}/{t.pruned}",
            flush=True,
        )
    largest = results[-1]
    verdict = "met" if largest.median_seconds < TARGET_SECONDS else "MISSED"
    print(
        f"target: a plan for {largest.nodes} nodes in under {TARGET_SECONDS:g} s: "
        f"{largest.median_seconds:.3f} s, {verdict}"
    )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the timings as JSON")
    args = parser.parse_args()
    sizes = tuple(int(s) for s in args.sizes.split(","))
    results = run(sizes, args.repeats, args.seed)
    if args.out:
        args.out.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
