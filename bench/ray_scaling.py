"""Study throughput on the local executor and on Ray with 1 and 2 workers, side by side in one run.

Usage (the defaults are the run quoted in docs/scaling.md)::

    .venv/bin/python bench/ray_scaling.py
    .venv/bin/python bench/ray_scaling.py --dqn-evaluations 16 --nguyen-evaluations 1000   # a quick pass

Two workloads, each run as a real study (config, SQLite store, dedupe,
regularized evolution) once per executor, in this order: local, Ray with 1
worker, Ray with 2 workers (a local Ray cluster on this machine's CPUs):

- ``dqn_loss``: DQN-loss programs trained on CartPole-v0 (bootstrap mode,
  ``--dqn-steps`` env steps per agent, 64x64 MLP, program batch 8): an
  evaluation costs seconds, so this measures how evaluation spreads over
  workers.
- ``nguyen``: Nguyen-7 regression (an evaluation costs microseconds): this
  measures the executor's own overhead per batch.

Reported per run: wall seconds from `run_study` to its return, compile and
worker start-up included (Ray's cluster start is timed apart), evaluated
programs per hour, and the steady rate after the first batch. Writes
bench/results/ray_scaling.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_support import machine, now, source_revision, versions, write_result

from discolab.study import Store, create_study, parse_config, run_study
from discolab.study.config import ExecutorSection


def dqn_config(evaluations: int, steps: int) -> dict[str, Any]:
    return {
        "study": {"name": "ray-scaling-dqn", "seed": 0, "evaluations": evaluations, "batch_size": 16},
        "domain": {"name": "dqn_loss", "mode": "bootstrap", "train_envs": ["CartPole-v0"],
                   "hurdle_env": None, "seeds": 1, "total_steps": steps, "hidden": [64, 64], "program_batch": 8,
                   "max_nodes": 20, "dqn": {"learning_rate": 1e-3, "num_envs": 4, "buffer_size": 4000,
                                            "learning_starts": 500, "target_update": 50}},
        "searcher": {"name": "regularized_evolution", "population_size": 50, "tournament_size": 10},
    }


def nguyen_config(evaluations: int) -> dict[str, Any]:
    return {
        "study": {"name": "ray-scaling-nguyen", "seed": 0, "evaluations": evaluations, "batch_size": 200},
        "domain": {"name": "regression", "problem": "nguyen-7", "max_nodes": 20},
        "searcher": {"name": "regularized_evolution", "population_size": 300, "tournament_size": 25},
    }


def run_one(folder: Path, name: str, config: dict[str, Any], executor: ExecutorSection) -> dict[str, Any]:
    path = folder / f"{name}-{executor.name}-{executor.workers or 0}.db"
    cfg = parse_config(config).with_executor(executor)
    create_study(path, cfg)
    batch_ends: list[float] = []
    start = time.perf_counter()
    progress = run_study(path, on_batch=lambda p: batch_ends.append(time.perf_counter()))
    wall = time.perf_counter() - start
    with Store.open(path, readonly=True) as store:
        per_batch = [b.evaluated for b in store.batches()]
        best = store.top(1)[0].fitness
    after_first = sum(per_batch[1:])
    steady = after_first / (batch_ends[-1] - batch_ends[0]) * 3600 if len(batch_ends) > 1 else None
    row = {
        "workload": name, "executor": executor.name, "workers": executor.workers or 0,
        "evaluations": progress.evaluations, "proposals": progress.proposals, "batches": len(per_batch),
        "wall_s": wall, "first_batch_s": batch_ends[0] - start, "evaluations_per_hour": progress.evaluations / wall * 3600,
        "steady_evaluations_per_hour": steady, "best_fitness": best,
    }
    print(f"{name:7s} {executor.name:5s} workers={row['workers']}: {wall:7.1f} s, first batch "
          f"{row['first_batch_s']:6.1f} s, {row['evaluations_per_hour']:10,.0f} eval/h "
          f"(steady {steady or float('nan'):10,.0f}), best {best:.3f}", flush=True)
    return row


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dqn-evaluations", type=int, default=48)
    parser.add_argument("--dqn-steps", type=int, default=8000)
    parser.add_argument("--nguyen-evaluations", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    import ray

    started, t0 = now(), time.perf_counter()
    workloads = {"dqn": dqn_config(args.dqn_evaluations, args.dqn_steps),
                 "nguyen": nguyen_config(args.nguyen_evaluations)}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="discolab-scaling-") as tmp:
        for name, config in workloads.items():
            rows.append(run_one(Path(tmp), name, config, ExecutorSection()))
        ray_start = time.perf_counter()
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
        ray_start_s = time.perf_counter() - ray_start
        for workers in (1, 2):
            for name, config in workloads.items():
                rows.append(run_one(Path(tmp), name, config, ExecutorSection(name="ray", workers=workers)))
        ray.shutdown()

    def rate(name: str, executor: str, workers: int, key: str = "evaluations_per_hour") -> float:
        return next(r[key] for r in rows if (r["workload"], r["executor"], r["workers"]) == (name, executor, workers))

    ratios = {name: {"ray1_over_local": rate(name, "ray", 1) / rate(name, "local", 0),
                     "ray2_over_local": rate(name, "ray", 2) / rate(name, "local", 0),
                     "ray2_over_ray1": rate(name, "ray", 2) / rate(name, "ray", 1)} for name in workloads}
    same = {name: len({round(r["best_fitness"], 12) for r in rows if r["workload"] == name}) == 1 for name in workloads}
    result = {
        "benchmark": "study throughput: local executor vs Ray with 1 and 2 workers",
        "command": " ".join(["python", "bench/ray_scaling.py", *(argv if argv is not None else sys.argv[1:])]),
        "date": started, "total_s": time.perf_counter() - t0, "device": machine(),
        "versions": versions(("discolab", "jax", "jaxlib", "numpy", "ray", "gymnax", "flax", "optax")),
        "source": source_revision(), "settings": workloads, "ray_init_s": ray_start_s,
        "figures": rows, "ratio": ratios, "same_best_on_every_executor": same,
    }
    print({k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in ratios.items()}, "same best:", same)
    print(f"wrote {write_result('ray_scaling', result, args.out)}")
    return result


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
