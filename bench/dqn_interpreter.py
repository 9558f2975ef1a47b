"""Interpreted-program DQN training vs the same DQN with a hand-written loss, side by side.

Usage (bench/results/dqn_interpreter.json is the first command; about 7-8 minutes pinned to one CPU core,
most of it the naive interpreter)::

    taskset -c 1 nice -n 5 .venv/bin/python bench/dqn_interpreter.py --repeats 5
    .venv/bin/python bench/dqn_interpreter.py --programs 8,32 --sets bootstrap --repeats 5
    .venv/bin/python bench/dqn_interpreter.py --interpreters vjp --steps 4000    # skip the slow naive one

One process, one ``DQNConfig`` (CartPole-v0, MLP 64x64, the trainer's other
defaults, ``--steps`` env transitions per agent, ``--seeds`` seeds), for each
batch size P and program set:

- ``hand``: ``rl.make_train(cfg, rl.losses.dqn)``, P agents x seeds in one
  jitted call (``vmap`` over P copies of the seed keys, so P agents really
  train; with an unbatched loss parameter JAX would train one and broadcast).
- ``vjp``: the domain's runner (``dqn_loss.make_runner``, the default
  interpreter), P programs x seeds in one jitted call.
- ``naive``: the same runner with the reference interpreter (the first
  design: scan over all nodes, JAX's reverse mode).

Program sets (P programs each, drawn with a fixed numpy seed):

- ``bootstrap``: the ``dqn_loss`` domain's bootstrap generator (DQN plus up
  to 15 random nodes, up to the space's 20), encoded as the domain encodes
  them (dead nodes dropped); the interpreter runs as many nodes as the
  batch's longest live program.
- ``full20``: bootstrap programs with exactly 15 extra nodes (20 in all),
  encoded WITH their dead nodes: every program executes 20 instructions, the
  worst case of the space.

Compile time is measured apart (``lower().compile()``). Each call is timed
after a warm-up call; the variants run interleaved (hand, naive, vjp, hand,
...) ``--repeats`` times and figures are medians. Throughput is env
transitions (all agents) per second: ``steady`` over the median call,
``with_compile`` over ``compile + repeats x median call`` (a search that
compiles once and makes ``repeats`` such calls). The ratio is interpreted /
hand-written.

Writes a JSON file (default bench/results/dqn_interpreter.json) and prints a table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_support import machine, source_revision, versions

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "dqn_interpreter.json"
TARGET_RATIO = 0.8
ENV_ID = "CartPole-v0"
HIDDEN = (64, 64)
PROGRAM_SEED = 0


def make_programs(space: Any, kind: str, count: int) -> list:
    from discolab.domains import dqn_programs

    rng = np.random.default_rng(PROGRAM_SEED)
    if kind == "bootstrap":
        return [dqn_programs.bootstrap_program(space, rng) for _ in range(count)]
    if kind == "full20":
        return [dqn_programs.bootstrap_program(space, rng, extra=space.max_nodes - 5) for _ in range(count)]
    raise ValueError(f"unknown program set {kind!r}; known: ['bootstrap', 'full20']")


def build(cfg: Any, space: Any, programs: list, kind: str, seeds: int) -> dict[str, tuple]:
    """Jitted functions and their arguments: ``name -> (fn, args)``."""
    import jax
    import jax.numpy as jnp

    from discolab import rl
    from discolab.domains.dqn_loss import make_runner
    from discolab.graph import EncodedPrograms, encode

    p = len(programs)
    keys = jax.random.split(jax.random.key(0), seeds)
    encoded = EncodedPrograms(*map(jnp.asarray, encode(programs, space, dead_nodes=(kind == "full20"))))
    hand_train = rl.make_train(cfg, rl.losses.dqn)
    hand = jax.jit(jax.vmap(jax.vmap(hand_train, (None, 0)), (None, 0)))
    hand_keys = jnp.broadcast_to(keys[None], (p, *keys.shape))  # P agents per seed, as for P programs
    return {
        "hand": (hand, (None, hand_keys)),
        "naive": (make_runner(space, cfg, "naive"), (encoded, keys)),
        "vjp": (make_runner(space, cfg, "vjp"), (encoded, keys)),
    }


def measure(cfg: Any, space: Any, p: int, kind: str, seeds: int, repeats: int, names: list[str]) -> dict[str, Any]:
    import jax

    programs = make_programs(space, kind, p)
    from discolab.graph import prune

    fns = build(cfg, space, programs, kind, seeds)
    steps = p * seeds * cfg.num_iterations * cfg.num_envs  # env transitions per call, all agents
    compiled, out = {}, {}
    for name in names:
        fn, args = fns[name]
        t = time.perf_counter()
        compiled[name] = fn.lower(*args).compile()
        compile_s = time.perf_counter() - t
        t = time.perf_counter()
        metrics = jax.block_until_ready(compiled[name](*args))
        first_s = time.perf_counter() - t
        out[name] = {"compile_s": compile_s, "first_call_s": first_s, "calls_s": [],
                     "finite": float(np.mean(np.asarray(metrics.finite))),
                     "mean_fitness": float(np.mean(np.asarray(metrics.fitness)))}
        print(f"  P={p} {kind} {name}: compile {compile_s:.1f}s, first call {first_s:.2f}s", flush=True)
    for r in range(repeats):
        for name in names:
            fn, args = fns[name]
            t = time.perf_counter()
            jax.block_until_ready(compiled[name](*args))
            out[name]["calls_s"].append(time.perf_counter() - t)
        print(f"  repeat {r}: " + ", ".join(f"{n} {out[n]['calls_s'][-1]:.2f}s" for n in names), flush=True)
    for name in names:
        row = out[name]
        row["median_call_s"] = statistics.median(row["calls_s"])
        row["steady_steps_per_s"] = steps / row["median_call_s"]
        row["with_compile_steps_per_s"] = repeats * steps / (row["compile_s"] + repeats * row["median_call_s"])
    hand = out.get("hand")
    for name in names:
        if hand is not None and name != "hand":
            out[name]["ratio_steady"] = out[name]["steady_steps_per_s"] / hand["steady_steps_per_s"]
            out[name]["ratio_with_compile"] = (out[name]["with_compile_steps_per_s"]
                                               / hand["with_compile_steps_per_s"])
    lengths = [len(q) for q in programs]
    live = [len(prune(q, space)) for q in programs]
    return {
        "programs": p, "set": kind, "env_steps_per_call": steps,
        "program_nodes": lengths, "live_nodes": live,
        "executed_nodes": max(lengths) if kind == "full20" else max(live),
        "variants": out,
    }


def print_table(rows: list[dict]) -> None:
    print(f"\n{'P':>3} {'set':>9} {'nodes':>5} {'variant':>7} {'compile s':>9} {'call s':>7} "
          f"{'steps/s steady':>15} {'with compile':>13} {'ratio':>6} {'ratio+c':>7}")
    for row in rows:
        for name, v in row["variants"].items():
            ratio = f"{v['ratio_steady']:.2f}" if "ratio_steady" in v else ""
            ratio_c = f"{v['ratio_with_compile']:.2f}" if "ratio_with_compile" in v else ""
            print(f"{row['programs']:>3} {row['set']:>9} {row['executed_nodes']:>5} {name:>7} "
                  f"{v['compile_s']:>9.1f} {v['median_call_s']:>7.2f} {v['steady_steps_per_s']:>15,.0f} "
                  f"{v['with_compile_steps_per_s']:>13,.0f} {ratio:>6} {ratio_c:>7}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--programs", default="8,32", help="program batch sizes P, comma separated (default 8,32)")
    parser.add_argument("--sets", default="bootstrap,full20",
                        help="program sets: bootstrap (the domain's generator), full20 (20 executed nodes)")
    parser.add_argument("--interpreters", default="naive,vjp",
                        help="interpreters beside the hand-written loss: naive (the old one), vjp (default one)")
    parser.add_argument("--steps", type=int, default=8_000, help="env transitions per agent per call (default 8000)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per program (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per variant, interleaved (default 3)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON output (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)

    from discolab import rl
    from discolab.domains.dqn_loss import make_space

    names = ["hand", *[n for n in args.interpreters.split(",") if n]]
    unknown = sorted(set(names) - {"hand", "naive", "vjp"})
    if unknown:
        parser.error(f"unknown interpreters {unknown}; known: naive, vjp")
    cfg = rl.DQNConfig(env_id=ENV_ID, total_steps=args.steps, hidden=HIDDEN)
    space = make_space()
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.perf_counter()
    rows = []
    for p in [int(x) for x in args.programs.split(",")]:
        for kind in [s for s in args.sets.split(",") if s]:
            load_before = os.getloadavg()[0]
            row = measure(cfg, space, p, kind, args.seeds, args.repeats, names)
            row["load_before"], row["load_after"] = load_before, os.getloadavg()[0]
            rows.append(row)
    result = {
        "benchmark": "DQN training: interpreted loss programs vs the hand-written DQN loss, same trainer",
        "command": " ".join(["python", "bench/dqn_interpreter.py", *(argv if argv is not None else sys.argv[1:])]),
        "date": started.isoformat(timespec="seconds"),
        "total_benchmark_s": time.perf_counter() - t0,
        "device": machine(),
        "versions": versions(("discolab", "jax", "jaxlib", "flax", "optax", "gymnax", "numpy")),
        "source": source_revision(),
        "settings": {
            "env_id": ENV_ID, "hidden": list(HIDDEN), "dqn_config": cfg.model_dump(mode="json"),
            "iterations_per_call": cfg.num_iterations, "seeds": args.seeds, "repeats": args.repeats,
            "space": "dqn_loss.make_space() (32 ops, 4 constants, max_nodes 20)", "program_seed": PROGRAM_SEED,
            "throughput": "env transitions of all agents per second; steady: median call; with_compile: "
                          "repeats x steps / (compile + repeats x median call)",
            "target_ratio": TARGET_RATIO,
        },
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print_table(rows)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
