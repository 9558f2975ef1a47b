"""The supernet's cost per PPO step against the fixed cell's (and the hand-designed encoder's), one run.

Usage (bench/results/darts_cost.json; about 5 minutes on 2 CPU cores)::

    .venv/bin/python bench/darts_cost.py
    .venv/bin/python bench/darts_cost.py --config examples/darts_breakout_full.toml --steps 40960

The PPO settings, channels, nodes and op set come from a study config
(default examples/darts_breakout.toml). Arms, each ``--seeds`` agents in one
vmapped ``ppo.train`` call of ``--steps`` env steps per agent:

- ``supernet``: the search network (every op on every edge, alphas trained
  by their own optimizer, softmax recorded every update);
- ``fixed``: the discretized cell of a fixed genotype (``--genotype-seed``
  draws it from the same space; the median-cost kind of cell);
- ``baseline``: the hand-designed ImpalaSmall of the config.

Env steps per second are reported with compile time included (compile +
one call) and excluded (the call alone); the ratio is supernet / fixed per
step (the paper's "about 3x compute" is fixed-cell steps per supernet step).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
from bench_support import machine, now, source_revision, versions, write_result

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "examples" / "darts_breakout.toml")
    parser.add_argument("--steps", type=int, default=20_480)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--genotype-seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp

    from discolab.darts import random_genotype
    from discolab.darts.config import load_config
    from discolab.darts.study import ArmSpec, arm_network, make_search_tx, search_network, arch_softmax
    from discolab.rl import envs
    from discolab.rl.ppo import make_ppo

    cfg = load_config(args.config)
    env, env_params = envs.make(cfg.env)
    ppo_cfg = cfg.ppo.to_ppo(args.steps)
    genotype = random_genotype(np.random.default_rng(args.genotype_seed), cfg.search.op_set, cfg.search.nodes)
    import functools

    arms = {
        "supernet": make_ppo(env, env_params, search_network(cfg, env.num_actions), ppo_cfg,
                             tx=make_search_tx(cfg, ppo_cfg),
                             track=functools.partial(arch_softmax, temperature=cfg.search.temperature)),
        "fixed": make_ppo(env, env_params, arm_network(cfg, ArmSpec("fixed", "random", genotype), env.num_actions),
                          ppo_cfg),
        "baseline": make_ppo(env, env_params, arm_network(cfg, ArmSpec("baseline", "baseline", None),
                                                          env.num_actions), ppo_cfg),
    }
    keys = jnp.stack([jax.random.PRNGKey(i) for i in range(args.seeds)])
    steps = args.seeds * ppo_cfg.num_updates * ppo_cfg.num_envs * ppo_cfg.rollout_steps
    figures = {}
    for name, ppo in arms.items():
        start = time.perf_counter()
        compiled = jax.jit(jax.vmap(ppo.train)).lower(keys).compile()
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        jax.block_until_ready(compiled(keys))
        run_s = time.perf_counter() - start
        figures[name] = {"compile_s": compile_s, "run_s": run_s, "env_steps": steps,
                         "steps_per_s_with_compile": steps / (compile_s + run_s), "steps_per_s": steps / run_s}
        print(f"{name:<9} compile {compile_s:6.1f} s  run {run_s:6.1f} s  "
              f"{figures[name]['steps_per_s']:8.0f} steps/s ({figures[name]['steps_per_s_with_compile']:.0f} "
              "with compile)", flush=True)
    ratio = {
        "supernet_cost_over_fixed": figures["fixed"]["steps_per_s"] / figures["supernet"]["steps_per_s"],
        "supernet_cost_over_fixed_with_compile":
            figures["fixed"]["steps_per_s_with_compile"] / figures["supernet"]["steps_per_s_with_compile"],
        "baseline_cost_over_fixed": figures["fixed"]["steps_per_s"] / figures["baseline"]["steps_per_s"],
    }
    print({k: round(v, 2) for k, v in ratio.items()})
    path = write_result("darts_cost", {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": now(), "device": machine(),
        "versions": versions(("discolab", "jax", "jaxlib", "flax", "optax", "gymnax", "numpy")),
        "source": source_revision(),
        "settings": {"config": str(args.config.relative_to(ROOT) if args.config.is_absolute() else args.config),
                     "env": cfg.env, "seeds": args.seeds, "steps_per_agent": args.steps,
                     "ppo": dataclasses.asdict(ppo_cfg), "search": cfg.search.model_dump(mode="json"),
                     "fixed_genotype": genotype.to_json()},
        "figures": figures, "ratio": ratio,
    }, args.out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
