"""MiniGrid env steps per second: discolab.rl.minigrid (JAX) against Farama MiniGrid (Python), one run.

Both step the same tasks under uniformly random actions with auto-reset.
Farama's env runs in a plain Python loop (``env.step``; ``env.reset`` when
an episode ends), the way a CPU trainer drives it. Ours runs ``N`` envs
vmapped inside one jitted ``lax.scan`` of ``T`` steps; "with compile"
counts the compile of that call, "steady" does not. The ratio is ours over
Farama's, both measured here in the same process.

    .venv/bin/python bench/minigrid_envs.py            # needs: pip install minigrid
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from bench_support import machine, now, source_revision, versions, write_result  # noqa: E402
from discolab.rl import minigrid as mg  # noqa: E402

TASKS = ("MiniGrid-DoorKey-5x5-v0", "MiniGrid-Dynamic-Obstacles-6x6-v0", "MiniGrid-Unlock-v0",
         "MiniGrid-SimpleCrossingS9N1-v0")


def farama_steps_per_second(name: str, steps: int, seed: int = 0) -> float:
    """Farama MiniGrid in a Python loop: random actions, reset at each episode end."""
    import gymnasium
    import minigrid  # noqa: F401  (registers the ids)

    env = gymnasium.make(name)
    rng = np.random.default_rng(seed)
    n_actions = env.action_space.n
    env.reset(seed=seed)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(int(rng.integers(n_actions)))
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def ours(name: str, n_envs: int, horizon: int, repeats: int) -> dict[str, Any]:
    """Ours: ``n_envs`` vmapped envs, ``horizon`` steps in one jitted scan; compile and median call."""
    env = mg.MiniGridEnv(name)
    params = env.default_params

    @jax.jit
    def rollout(key: jax.Array) -> jax.Array:
        k_reset, k_run = jax.random.split(key)
        _, states = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_reset, n_envs), params)

        def one_step(carry, key):
            states, total = carry
            k_act, k_step = jax.random.split(key)
            actions = jax.random.randint(k_act, (n_envs,), 0, env.num_actions)
            _, states, reward, *_ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(k_step, n_envs), states, actions, params)
            return (states, total + reward.sum()), None

        (_, total), _ = jax.lax.scan(one_step, (states, jnp.float32(0)), jax.random.split(k_run, horizon))
        return total

    start = time.perf_counter()
    jax.block_until_ready(rollout(jax.random.key(0)))
    first = time.perf_counter() - start
    calls = []
    for r in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(rollout(jax.random.key(r + 1)))
        calls.append(time.perf_counter() - start)
    median = statistics.median(calls)
    steps = n_envs * horizon
    compile_s = max(first - median, 0.0)
    return {
        "n_envs": n_envs, "horizon": horizon, "compile_s": round(compile_s, 3), "median_call_s": round(median, 4),
        "steps_per_s_steady": round(steps / median),
        "steps_per_s_with_compile": round(repeats * steps / (compile_s + repeats * median)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--farama-steps", type=int, default=20_000, help="steps of Farama's loop per task")
    parser.add_argument("--envs", type=int, nargs="+", default=[1, 64, 1024], help="vmapped env counts of ours")
    parser.add_argument("--steps", type=int, default=100_000, help="steps per call of ours (split over envs)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    rows = []
    for name in TASKS:
        peer = farama_steps_per_second(name, args.farama_steps)
        print(f"{name}: Farama {peer:,.0f} steps/s", flush=True)
        for n_envs in args.envs:
            row = {"task": name, "farama_steps_per_s": round(peer), **ours(name, n_envs, max(args.steps // n_envs, 1),
                                                                          args.repeats)}
            row["ratio_steady"] = round(row["steps_per_s_steady"] / peer, 2)
            row["ratio_with_compile"] = round(row["steps_per_s_with_compile"] / peer, 2)
            print(f"  ours N={n_envs}: {row['steps_per_s_steady']:,} steady ({row['ratio_steady']}x), "
                  f"{row['steps_per_s_with_compile']:,} with {row['compile_s']} s compile "
                  f"({row['ratio_with_compile']}x)", flush=True)
            rows.append(row)
    result = {
        "benchmark": "minigrid_envs", "command": "python " + " ".join(sys.argv), "date": now(),
        "machine": machine(), "versions": versions(("discolab", "jax", "jaxlib", "numpy", "minigrid", "gymnasium")),
        "source": source_revision(), "settings": vars(args), "rows": rows,
    }
    print(f"wrote {write_result('minigrid_envs', result, Path(args.out) if args.out else None)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
