"""Evolving RL, reproduction (c): what a bootstrapped search found, re-evaluated against DQN.

Reads a finished (or partial) `dqn_loss` study, e.g. the one made by::

    discolab search examples/dqn_bootstrap.toml --study studies/dqn_bootstrap.db
    .venv/bin/python examples/bootstrap_heldout.py studies/dqn_bootstrap.db

and reports: the duplicate rate (all proposals, and the last 500), the
hurdle rejection rate, the best programs as formulas, and the ``--top``
best distinct programs plus DQN re-trained on ``--seeds`` fresh seeds (not
the search's) on the training environments and on held-out CartPole-v1,
with the study's DQN settings. Writes bench/results/bootstrap_heldout.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from discolab.domains.dqn_loss import DQNLossConfig, DQNLossDomain
from discolab.graph import prune, to_infix
from discolab.study import Store

ROOT = Path(__file__).resolve().parent.parent
#: Held-out environments; their budget is the env table's ``train_steps`` (CartPole-v1: 50,000).
HELD_OUT = ("CartPole-v1",)


def search_summary(store: Store) -> dict:
    rows = list(store.rows())
    evaluated = [r for r in rows if not r.is_duplicate]
    last = rows[-500:]
    hurdle = sum(str(r.status) == "hurdle_failed" for r in evaluated)
    return {
        "proposals": len(rows), "evaluated": len(evaluated),
        "duplicate_rate": 1 - len(evaluated) / len(rows),
        "duplicate_rate_last_500": sum(r.is_duplicate for r in last) / len(last),
        "hurdle_rejection_rate": hurdle / len(evaluated),
        "statuses": {s: sum(str(r.status) == s for r in evaluated) for s in sorted({str(r.status) for r in evaluated})},
        "wall_s": sum(b.seconds for b in store.batches()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path)
    parser.add_argument("--top", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "bootstrap_heldout.json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_support import machine, now, source_revision, versions

    started, t0 = now(), time.perf_counter()
    with Store.open(args.study, readonly=True) as store:
        summary = search_summary(store)
        options = dict(store.config()["domain"])
        best = store.top(50)
    options.pop("name")
    train_envs = tuple(options["train_envs"])
    config = DQNLossConfig.model_validate({
        **options, "seeds": args.seeds, "program_batch": args.top + 1,
    })
    domain = DQNLossDomain(config)
    space = domain.space
    chosen, seen = [], set()
    for r in best:  # distinct functions, best first
        if r.fingerprint not in seen and len(chosen) < args.top:
            seen.add(r.fingerprint)
            chosen.append(r)
    programs = [prune(r.program, space) for r in chosen] + [domain.named_programs["dqn"]]
    labels = [f"#{r.id}" for r in chosen] + ["dqn"]
    scores: dict[str, dict] = {}
    for env_id in (*train_envs, *HELD_OUT):
        s = domain.train(programs, env_id, seed=20261126)
        scores[env_id] = {label: {"mean": float(s.normalized[i]), "per_seed": s.per_seed[i].tolist(),
                                  "finite": bool(s.finite[i])} for i, label in enumerate(labels)}
        print(env_id, {k: round(v["mean"], 3) for k, v in scores[env_id].items()}, flush=True)
    candidates = [{"label": labels[i], "formula": to_infix(programs[i], space), "search_fitness": chosen[i].fitness
                   if i < len(chosen) else None} for i in range(len(programs))]
    record = {
        "experiment": "Evolving RL reproduction (c): bootstrapped search, best programs vs DQN on fresh seeds",
        "command": " ".join(["python", "examples/bootstrap_heldout.py", *(argv if argv is not None else sys.argv[1:])]),
        "date": started, "total_s": time.perf_counter() - t0, "device": machine(),
        "versions": versions(("discolab", "jax", "jaxlib", "gymnax", "flax", "optax")), "source": source_revision(),
        "study": os.path.relpath(args.study, ROOT), "search": summary, "train_envs": list(train_envs),
        "held_out": {e: config.dqn_config(e).steps for e in HELD_OUT}, "seeds": args.seeds, "candidates": candidates, "scores": scores,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps({"search": summary, "candidates": candidates}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
