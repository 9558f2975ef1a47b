"""Re-scores the GPU scratch search's top programs on fresh seeds beside DQN, at the search's budget and longer.

The search from scratch (reproduction (a), ``bench/results/dqn_scratch_td_gpu.json``)
scored each program on one training seed, so the best of its 4,091 is
partly luck (the maximum of many noisy scores). This trains DQN and the
search's top three on ``--seeds`` new seeds on every training env of
``examples/dqn_cartpole_scratch.toml`` (no hurdle: each program trains on
each env), at the config's env steps times each ``--scales`` factor, and
writes bench/results/dqn_scratch_recheck.json. The question it answers:
do losses that are not TD really match DQN at these budgets, and does
longer training separate them?

    taskset -c 0 .venv/bin/python bench/dqn_scratch_recheck.py --seeds 8 --scales 1,4

The three programs are rebuilt from their node lists here (the study stayed
on the device machine); each one's formula must equal the one the search
recorded, or the script stops. ``--study PATH`` re-scores the top ``--top``
distinct programs of a local study instead::

    taskset -c 0 .venv/bin/python bench/dqn_scratch_recheck.py --study studies/dqn-scratch-2seeds/seed-5.db \
        --out bench/results/dqn_scratch_recheck_2seeds.json
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

from bench_support import ROOT, RESULTS, machine, now, source_revision, versions, write_result
from discolab.domains.dqn_loss import NAMED_PROGRAMS, DQNLossConfig, DQNLossDomain
from discolab.graph.program import Program
from discolab.graph.render import to_infix

# Slots: 0 q_tm1, 1 q_t_target, 2 q_t_online, 3 q_tm1_target, 4 a_tm1, 5 r_t, 6 discount_t,
# constants 7: 0.5, 8: 0.2, 9: 0.1, 10: 0.01; nodes from 11.
_TAIL = [("list_mul_float", [2, 14]), ("select", [15, 4]), ("max", [16, 6]), ("distance", [5, 17])]
SEARCH_TOP = {
    "search #1": Program.from_nodes([("logsumexp_a", [2]), ("scale_0.1", [11]), ("distance", [8, 12]),
                                     ("distance", [5, 13]), *_TAIL]),
    "search #2": Program.from_nodes([("list_min", [1, 2]), ("distance", [5, 9]), ("list_mul_float", [11, 12]),
                                     ("select", [13, 4]), ("max", [14, 6]), ("distance", [5, 15])]),
    "search #3": Program.from_nodes([("batch_mean", [9]), ("abs", [5]), ("distance", [11, 12]),
                                     ("distance", [5, 13]), *_TAIL]),
}


def mean_ci(values: np.ndarray) -> tuple[float, float]:
    """Mean and the half-width of a normal 95% interval over seeds."""
    values = np.asarray(values, float)
    return float(values.mean()), float(1.96 * values.std(ddof=1) / np.sqrt(len(values)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "examples" / "dqn_cartpole_scratch.toml")
    parser.add_argument("--search", type=Path, default=RESULTS / "dqn_scratch_td_gpu.json")
    parser.add_argument("--study", type=Path, default=None, help="re-score this study's best instead")
    parser.add_argument("--top", type=int, default=3, help="with --study: how many of its best")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1, help="evaluation seed (a search's batches use study.loop.batch_seed(study seed, batch))")
    parser.add_argument("--scales", default="1,4", help="comma-separated multiples of the config's env steps")
    parser.add_argument("--out", type=Path, default=None, help="default bench/results/dqn_scratch_recheck.json")
    args = parser.parse_args(argv)

    domain_cfg = {k: v for k, v in tomllib.loads(args.config.read_text())["domain"].items() if k != "name"}
    space = DQNLossDomain(DQNLossConfig(**domain_cfg)).space
    search_fitness: dict[str, float] = {}
    if args.study is not None:
        conn = sqlite3.connect(f"file:{args.study}?mode=ro", uri=True)
        top = conn.execute("SELECT id, fitness, program FROM programs WHERE duplicate_of IS NULL "
                           "ORDER BY fitness DESC, id LIMIT ?", (args.top,)).fetchall()
        conn.close()
        found = {f"search #{rank} (id {pid})": Program.from_json(text) for rank, (pid, _, text) in enumerate(top, 1)}
        search_fitness = {name: row[1] for name, row in zip(found, top)}
    else:
        recorded = json.loads(args.search.read_text())["analysis"]["0"]["top"]
        for (name, program), row in zip(SEARCH_TOP.items(), recorded):
            if to_infix(program, space) != row["formula"]:
                raise SystemExit(f"{name}: rebuilt as {to_infix(program, space)!r}, "
                                 f"the search recorded {row['formula']!r}")
            search_fitness[name] = row["fitness"]
        found = SEARCH_TOP
    names = ["dqn", *found]
    programs = [NAMED_PROGRAMS["dqn"], *found.values()]

    rows: dict[str, dict] = {}
    start = time.perf_counter()
    for scale in (float(s) for s in args.scales.split(",")):
        steps = {env: int(n * scale) for env, n in domain_cfg["env_steps"].items()}
        domain = DQNLossDomain(DQNLossConfig(**{**domain_cfg, "env_steps": steps, "seeds": args.seeds,
                                                "program_batch": len(programs)}))
        for env in domain.config.train_envs:
            t = time.perf_counter()
            scores = domain.train(programs, env, seed=args.seed)
            for k, name in enumerate(names):
                per_seed = [float(x) for x in scores.per_seed[k]]
                mean, half = mean_ci(per_seed)
                rows.setdefault(f"x{scale:g}", {}).setdefault(name, {})[env] = {
                    "env_steps": steps[env], "normalized_mean": mean, "ci95_half_width": half, "per_seed": per_seed}
                print(f"x{scale:g} {env:12s} {name:10s} {mean:.3f} +- {half:.3f}", flush=True)
            print(f"  ({time.perf_counter() - t:.0f} s)", flush=True)
    for scale_rows in rows.values():
        for name, by_env in scale_rows.items():
            total = np.sum([v["per_seed"] for v in by_env.values()], axis=0)
            mean, half = mean_ci(total)
            by_env["sum"] = {"mean": mean, "ci95_half_width": half, "per_seed": [float(x) for x in total]}
    path = write_result("dqn_scratch_recheck", {
        "benchmark": "the GPU scratch search's top 3 and DQN on fresh seeds, each training env, budget multiples",
        "command": "python " + " ".join(sys.argv), "date": now(), "machine": machine(),
        "versions": versions(("discolab", "jax", "jaxlib", "flax", "optax", "gymnax")),
        "source": source_revision(), "settings": {**{k: str(v) for k, v in vars(args).items()}},
        "formulas": {name: to_infix(p, space) for name, p in zip(names, programs)},
        "search_fitness": search_fitness,
        "seconds": time.perf_counter() - start, "results": rows,
    }, args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
