"""The reliability soak: many SIGKILLs, many arbitrary programs, Ray workers killed mid-search.

Usage (the defaults are the run quoted in docs/scaling.md and docs/benchmarks.md)::

    .venv/bin/python bench/reliability_soak.py
    .venv/bin/python bench/reliability_soak.py --kills 5 --programs 1000 --ray-kills 2   # a quick pass

Three parts, each asserting what the CI versions in tests/reliability and
tests/study/test_ray_executor.py assert, at soak scale:

1. ``--kills`` trials: `discolab search` (Nguyen-7, regularized evolution,
   ``--evaluations`` evaluations) SIGKILLed at a moment drawn uniformly from
   0.2 s to the uninterrupted run's wall time, then `discolab resume` (or a
   fresh `search` when the kill came before the study existed). Each must
   end with exactly the budget, no program evaluated twice, and the same rows
   as the uninterrupted run.
2. ``--programs`` node lists (hypothesis; half arbitrary, half valid programs
   mutated at random, over the regression and the DQN-loss spaces) through
   validation, the interpreter on inputs with inf/NaN/1e30, fingerprints and
   every rendering: nothing but ``InvalidProgram`` from validation.
3. A Ray study (local Ray, 2 workers) of the same search, with
   ``--ray-kills`` worker processes SIGKILLed at random moments: exact counts,
   and the same rows as the local executor.

Writes bench/results/reliability_soak.json.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "reliability"))

from bench_support import machine, now, source_revision, versions, write_result  # noqa: E402
from reliability_support import (  # noqa: E402
    CONFIG, check_program, kill_trial, node_lists, reference_study, stored_rows, valid_node_lists,
)


def soak_kills(folder: Path, trials: int, evaluations: int, seed: int, env: dict[str, str]) -> dict:
    start = time.perf_counter()
    reference = reference_study(folder, seed, evaluations, 7, env)
    span = time.perf_counter() - start
    rng = np.random.default_rng(seed)
    moments = np.sort(rng.uniform(0.2, span, trials))
    results = []
    for t in moments:
        trial = kill_trial(folder, seed, float(t), reference, evaluations=evaluations, problem=7, env=env)
        results.append(trial.__dict__)
        print(f"kill at {t:5.2f} s: {trial.committed_at_kill:>3} batches committed, resumed to "
              f"{trial.evaluations} evaluations, equal to uninterrupted: {trial.equal_to_uninterrupted}", flush=True)
    return {
        "trials": len(results), "uninterrupted_wall_s": span, "evaluations": evaluations,
        "all_exact": all(r["evaluations"] == evaluations for r in results),
        "all_equal_to_uninterrupted": all(r["equal_to_uninterrupted"] for r in results),
        "killed_before_study_existed": sum(r["committed_at_kill"] == -1 for r in results),
        "killed_mid_search": sum(r["committed_at_kill"] >= 0 for r in results),
        "runs": results,
    }


def soak_programs(count: int) -> dict:
    from hypothesis import HealthCheck, given, settings

    from discolab.domains import make as make_domain
    from discolab.domains.dqn_loss import make_space
    from discolab.domains.regression import RegressionConfig

    spaces = {"regression": make_domain("regression", RegressionConfig(problem="nguyen-5", max_nodes=12)).space,
              "dqn_loss": make_space(max_nodes=20)}
    counts: dict[str, dict[str, int]] = {}
    start = time.perf_counter()
    for name, space in spaces.items():
        for kind, strategy in (("arbitrary", node_lists(space)), ("valid", valid_node_lists(space))):
            tally = counts.setdefault(f"{name}/{kind}", {"valid": 0, "invalid": 0})

            @settings(max_examples=count // (2 * len(spaces)), deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(nodes=strategy)
            def run(nodes) -> None:
                tally[check_program(nodes, space)] += 1

            run()
            print(f"{name}/{kind}: {tally}", flush=True)
    return {"programs": sum(sum(t.values()) for t in counts.values()), "by_space": counts,
            "wall_s": time.perf_counter() - start, "crashes": 0}


def soak_ray(folder: Path, kills: int, evaluations: int, seed: int) -> dict:
    import ray

    from discolab.study import create_study, parse_config, run_study
    from discolab.study.config import ExecutorSection
    from discolab.study.ray_executor import RayExecutor

    import tomllib

    config = parse_config(tomllib.loads(CONFIG.format(seed=seed, evaluations=evaluations, problem=7)))
    local = folder / "ray-reference.db"
    create_study(local, config)
    run_study(local)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    settings = ExecutorSection(name="ray", workers=2)
    path = folder / "ray-killed.db"
    create_study(path, config.with_executor(settings))
    executor = RayExecutor(config.to_dict(), settings, fitness_floor=0.0)
    rng = np.random.default_rng(seed)
    killed: list[float] = []
    stop = threading.Event()

    def killer() -> None:
        for delay in rng.uniform(0.5, 3.0, kills):
            if stop.wait(delay):
                return
            try:
                pid = executor.worker_pids()[int(rng.integers(0, executor.workers))]
                os.kill(pid, signal.SIGKILL)
                killed.append(float(delay))
            except Exception:  # noqa: BLE001  (the pool was being replaced: try at the next moment)
                continue

    thread = threading.Thread(target=killer)
    start = time.perf_counter()
    thread.start()
    try:
        progress = run_study(path, executor=executor)
    finally:
        stop.set()
        thread.join()
        executor.close()
        ray.shutdown()
    rows, reference = stored_rows(path), stored_rows(local)
    evaluated = [r for r in rows if r[6] is None]
    return {
        "workers": 2, "kills": len(killed), "retries": executor.retries, "wall_s": time.perf_counter() - start,
        "evaluations": progress.evaluations, "exact": len(evaluated) == evaluations,
        "no_repeats": len({r[4] for r in evaluated}) == len(evaluated),
        "equal_to_local": rows == reference,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="SIGKILL trials of the study process")
    parser.add_argument("--evaluations", type=int, default=6000, help="budget of each killed search")
    parser.add_argument("--programs", type=int, default=10_000, help="arbitrary programs through the pipeline")
    parser.add_argument("--ray-kills", type=int, default=5, help="Ray worker processes killed mid-search")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    env = {**os.environ, "DISCOLAB_CACHE_DIR": "off"}
    started, t0 = now(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="discolab-soak-") as tmp:
        folder = Path(tmp)
        kills = soak_kills(folder, args.kills, args.evaluations, args.seed, env)
        programs = soak_programs(args.programs)
        ray_part = soak_ray(folder, args.ray_kills, args.evaluations, args.seed) if args.ray_kills else None
    result = {
        "benchmark": "reliability soak: SIGKILL + resume, arbitrary programs, Ray worker kills",
        "command": " ".join(["python", "bench/reliability_soak.py", *(argv if argv is not None else sys.argv[1:])]),
        "date": started, "total_s": time.perf_counter() - t0,
        "device": machine(), "versions": versions(("discolab", "jax", "jaxlib", "numpy", "hypothesis", "ray")),
        "source": source_revision(),
        "figures": {"sigkill": kills, "programs": programs, "ray": ray_part},
        "passed": kills["all_exact"] and kills["all_equal_to_uninterrupted"]
        and (ray_part is None or (ray_part["exact"] and ray_part["equal_to_local"])),
    }
    print(f"wrote {write_result('reliability_soak', result, args.out)}; passed: {result['passed']}")
    return result


if __name__ == "__main__":
    main()
