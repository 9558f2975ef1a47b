"""XLA:CPU's LLVM at -O2 against its default -O3: compile and run time of discolab's workloads, side by side.

Usage (bench/results/xla_opt_level.json; about 8 minutes on 2 CPU cores)::

    DISCOLAB_CACHE_DIR=off .venv/bin/python bench/xla_opt_level.py
    .venv/bin/python bench/xla_opt_level.py --workloads dqn,minigrid --repeats 1    # a quick pass

Each (workload, level) runs in a fresh subprocess (so every compile is cold)
with ``XLA_FLAGS`` naming the level explicitly (``--xla_backend_optimization_level=2``
or ``=3``; a level in ``XLA_FLAGS`` overrides discolab's default), the arms
alternating ``--repeats`` times; figures are medians over the repeats.
Workloads, each timed inside its subprocess:

- ``dqn``: ``rl.make_train`` with the hand-written DQN loss, 8 programs x 4
  seeds = 32 agents, 20,000 CartPole steps each, one jitted call
  (``bench/dqn_sb3.py``'s ``ours`` arm): ``lower().compile()`` then one run.
- ``dqn_interpreted``: the ``dqn_loss`` domain's runner on 8 copies of the
  DQN program x 4 seeds (``bench/dqn_sb3.py``'s ``interpreted`` arm).
- ``ppo_minatar``: ``rl.make_ppo`` on Breakout-MinAtar, ``PPOConfig()``
  defaults, 65,536 steps (``bench/ppo_minatar.py``'s ``ours``).
- ``minigrid``: 1,024 vmapped DoorKey-6x6 envs, 100 random steps per call
  (``bench/minigrid_envs.py``'s ``ours``): the first call's excess over the
  median of 5 later calls is its compile.
- ``nguyen_search``: ``discolab search`` on the built-in Nguyen-5 config
  (20,000 evaluations), end to end; compile is inside its wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_support import machine, now, source_revision, versions, write_result

HERE = Path(__file__).resolve().parent
WORKLOADS = ("dqn", "dqn_interpreted", "ppo_minatar", "minigrid", "nguyen_search")
LEVELS = (3, 2)


def workload(name: str) -> dict[str, float]:
    """Runs one workload in this process: ``{"compile_s", "run_s"}`` (``nguyen_search``: ``{"wall_s"}``)."""
    sys.path.insert(0, str(HERE))
    if name in ("dqn", "dqn_interpreted"):
        import dqn_sb3

        arm = dqn_sb3.ours_arm if name == "dqn" else dqn_sb3.interpreted_arm
        row = arm(dqn_sb3.settings(20_000, 4), 8, 4, 0)
        return {"compile_s": row["compile_s"], "run_s": row["run_s"]}
    if name == "ppo_minatar":
        import ppo_minatar

        from discolab import rl

        config = ppo_minatar.settings(65_536)
        env, env_params = rl.envs.make(ppo_minatar.ENV_ID)
        cfg = rl.PPOConfig(**{k: v for k, v in config.items() if k not in ("hidden", "conv_features")})
        network = rl.ActorCritic(rl.MinAtarCNN(config["conv_features"]), env.num_actions, hidden=config["hidden"])
        row = ppo_minatar.time_jax("ours", rl.make_ppo(env, env_params, network, cfg).train, cfg.total_steps, 0)
        return {"compile_s": row["compile_s"], "run_s": row["run_s"]}
    if name == "minigrid":
        import minigrid_envs

        row = minigrid_envs.ours("MiniGrid-DoorKey-6x6-v0", 1024, 100, 5)
        return {"compile_s": row["compile_s"], "run_s": row["median_call_s"]}
    if name == "nguyen_search":
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "discolab.cli", "search", "--quiet", "--study", f"{tmp}/s.db"],
                           check=True, capture_output=True)
            return {"wall_s": time.perf_counter() - start}
    raise ValueError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}")


def run_arm(name: str, level: int) -> dict[str, float]:
    """``workload(name)`` in a fresh subprocess with LLVM at ``level``."""
    flags = " ".join(f for f in os.environ.get("XLA_FLAGS", "").split() if "xla_backend_optimization_level" not in f)
    env = {**os.environ, "XLA_FLAGS": f"{flags} --xla_backend_optimization_level={level}".strip()}
    out = subprocess.run([sys.executable, __file__, "--worker", name], env=env, check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated subset")
    parser.add_argument("--repeats", type=int, default=2, help="alternating repeats per level (default 2)")
    parser.add_argument("--out", type=Path, default=None, help="JSON output (default bench/results/xla_opt_level.json)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(workload(args.worker)))
        return 0

    names = [w for w in args.workloads.split(",") if w]
    for name in names:
        if name not in WORKLOADS:
            parser.error(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}")
    started, t0 = now(), time.perf_counter()
    figures: dict[str, Any] = {}
    for name in names:
        runs: dict[int, list[dict[str, float]]] = {level: [] for level in LEVELS}
        for _ in range(args.repeats):
            for level in LEVELS:
                runs[level].append(run_arm(name, level))
        medians = {level: {k: statistics.median(r[k] for r in rows) for k in rows[0]} for level, rows in runs.items()}
        row: dict[str, Any] = {f"O{level}": medians[level] for level in LEVELS}
        row["runs"] = {f"O{level}": runs[level] for level in LEVELS}
        for key in medians[3]:
            row[f"{key}_O3_over_O2"] = medians[3][key] / medians[2][key]
        if "compile_s" in medians[3]:
            total = {level: medians[level]["compile_s"] + medians[level]["run_s"] for level in LEVELS}
            row["compile_plus_run_O3_over_O2"] = total[3] / total[2]
        figures[name] = row
        print(name, json.dumps({k: v for k, v in row.items() if k != "runs"}), flush=True)

    result = {
        "benchmark": "XLA:CPU LLVM -O2 vs -O3 (XLA's default): a compile-time experiment, not adopted",
        "command": "DISCOLAB_CACHE_DIR=off .venv/bin/python bench/xla_opt_level.py " + " ".join(argv or sys.argv[1:]),
        "date": started, "wall_s": round(time.perf_counter() - t0, 1), "machine": machine(),
        "versions": versions(("discolab", "jax", "jaxlib", "flax", "optax", "gymnax")), "source": source_revision(),
        "repeats": args.repeats, "figures": figures, "ratio_note": "X_O3_over_O2 > 1: -O2 is faster on X",
    }
    print(f"wrote {write_result('xla_opt_level', result, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
