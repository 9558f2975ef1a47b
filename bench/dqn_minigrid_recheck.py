"""Re-scores the LavaGapS5 search's best programs on fresh seeds, beside DQN and DQNReg.

The search (examples/dqn_minigrid_bootstrap.toml) scores each program on one
seed, so its top of the table is partly luck. This trains DQN, DQNReg and
the search's top programs on ``--seeds`` new seeds at the search's settings,
through the domain's interpreter, and writes
bench/results/dqn_minigrid_recheck.json.

    .venv/bin/python bench/dqn_minigrid_recheck.py --study studies/minigrid/lavagap.db
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

from bench_support import ROOT, machine, now, source_revision, versions, write_result
from discolab.domains.dqn_loss import NAMED_PROGRAMS, DQNLossConfig, DQNLossDomain
from discolab.graph.program import Program
from discolab.graph.render import to_infix


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", type=Path, default=ROOT / "studies" / "minigrid" / "lavagap.db")
    parser.add_argument("--config", type=Path, default=ROOT / "examples" / "dqn_minigrid_bootstrap.toml")
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1, help="evaluation seed (the search used 0)")
    args = parser.parse_args(argv)
    domain_cfg = tomllib.loads(args.config.read_text())["domain"]
    domain_cfg = {k: v for k, v in domain_cfg.items() if k != "name"}
    domain_cfg.update(seeds=args.seeds, program_batch=args.top + 2)
    domain = DQNLossDomain(DQNLossConfig(**domain_cfg))
    store = sqlite3.connect(f"file:{args.study}?mode=ro", uri=True)
    top = store.execute("select id, fitness, program from programs where duplicate_of is null "
                        "order by fitness desc, id limit ?", (args.top,)).fetchall()
    names = ["dqn", "dqn_reg"] + [f"search #{i}" for i, _, _ in top]
    programs = [NAMED_PROGRAMS["dqn"], NAMED_PROGRAMS["dqn_reg"]] + [Program.from_json(p) for _, _, p in top]
    start = time.perf_counter()
    results = domain.evaluate(programs, seed=args.seed)
    seconds = time.perf_counter() - start
    rows = []
    for name, program, result, search in zip(names, programs, results, [None, None, *top]):
        env = domain.config.train_envs[0]
        per_seed = result.details["envs"][env].get("per_seed") if result.details else None
        row = {"name": name, "formula": to_infix(program, domain.space),
               "fitness": result.fitness, "status": result.status, "per_seed": per_seed,
               "search_fitness": None if search is None else search[1]}
        rows.append(row)
        print(f"{name:12s} fitness {result.fitness:.3f} (search: {row['search_fitness']}) per seed {per_seed}")
    write_result("dqn_minigrid_recheck", {
        "benchmark": "dqn_minigrid_recheck", "command": "python " + " ".join(sys.argv), "date": now(),
        "machine": machine(), "versions": versions(("discolab", "jax", "jaxlib", "flax", "optax")),
        "source": source_revision(), "settings": {**vars(args), "study": str(args.study), "config": str(args.config)},
        "seconds": seconds, "rows": rows,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
