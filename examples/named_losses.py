"""Evolving RL, reproduction (b): DQNReg and DQNClipped against DQN and Double DQN.

The paper (Co-Reyes et al. 2021, PAPERS.md section 1) reports that the
discovered DQNReg and DQNClipped match or beat DQN and DDQN on the training
environments and generalize to held-out ones, and that DQNReg's Q-values are
lower (it counters DQN's overestimation).

Here each loss trains ``--seeds`` agents per environment, all seeds of a loss
in one jitted call (``vmap`` over seed keys): training environments
CartPole-v0 and Acrobot-v1 (the ones our searches train on), held-out
CartPole-v1 (500-step episodes) and MountainCar-v0. Budgets and the 64x64
network are CPU-sized, not the paper's. Reported per (loss, env): the final
normalized return (mean and 95% bootstrap interval over seeds) and the
Q-value curve (mean over sampled batches of max_a Q(s_t, a)), drawn beside
the largest true value a policy can have, ``r_max_per_step / (1 - gamma)``.

Usage::

    .venv/bin/python examples/named_losses.py             # 10 seeds, about 10 min on 2 CPU cores
    .venv/bin/python examples/named_losses.py --seeds 3 --scale 0.3   # a quick look
    .venv/bin/python examples/named_losses.py --suite minigrid         # six held-out MiniGrid tasks, about 40 min

Writes bench/results/named_losses.json and docs/figures/evolving_rl/{returns,q_values}.png
(``--suite minigrid``: named_losses_minigrid.json, minigrid_{returns,q_values}.png).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import jax
import numpy as np

from discolab.rl import DQNConfig, envs, losses, make_train

ROOT = Path(__file__).resolve().parent.parent
LOSSES = ("dqn", "double_dqn", "dqn_reg", "dqn_clipped")
#: Suites of (env, steps per agent, role); the DQN settings below are shared.
SUITES = {
    "classic": (("CartPole-v0", 30_000, "train"), ("Acrobot-v1", 40_000, "train"),
                ("CartPole-v1", 40_000, "held-out"), ("MountainCar-v0", 60_000, "held-out")),
    # MiniGrid: all held out (no search trains on them), sparse rewards, true values in [-1, 1].
    "minigrid": tuple((f"MiniGrid-{task}-v0", steps, "held-out") for task, steps in (
        ("LavaGapS5", 100_000), ("Dynamic-Obstacles-5x5", 100_000), ("Dynamic-Obstacles-6x6", 100_000),
        ("DoorKey-5x5", 100_000), ("Unlock", 100_000), ("KeyCorridorS3R1", 100_000))),
}
DQN = dict(hidden=(64, 64), learning_rate=1e-3, num_envs=4, buffer_size=8000, learning_starts=1000,
           target_update=100, batch_size=64, gamma=0.99, num_logs=50)
#: Per suite, settings that replace the env table's: MiniGrid's 1e5-step epsilon decay (the paper's)
#: would leave no greedy phase in a 1e5-step budget, so epsilon reaches 0.05 at half of it (our choice).
SUITE_DQN = {"classic": {}, "minigrid": {"epsilon_steps": 50_000}}


def value_bound(env_id: str, gamma: float) -> float:
    """The largest true value, drawn on the Q plot: ``r / (1 - gamma)`` for a reward r per step, 1 for MiniGrid."""
    if env_id.startswith("MiniGrid-"):
        return 1.0  # one success, paying at most 1
    per_step = {"CartPole-v0": 1.0, "CartPole-v1": 1.0, "Acrobot-v1": -1.0, "MountainCar-v0": -1.0}[env_id]
    return per_step / (1 - gamma)


def bootstrap_ci(values: np.ndarray, rng: np.random.Generator, draws: int = 2000) -> tuple[float, float]:
    means = rng.choice(values, (draws, len(values))).mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def run(suite: str, seeds: int, scale: float) -> dict:
    keys = jax.random.split(jax.random.key(0), seeds)
    rng = np.random.default_rng(0)
    out: dict = {}
    for env_id, steps, role in SUITES[suite]:
        for name in LOSSES:
            cfg = DQNConfig(env_id=env_id, total_steps=max(2000, int(steps * scale)), **DQN, **SUITE_DQN[suite])
            start = time.perf_counter()
            metrics = jax.block_until_ready(jax.jit(jax.vmap(make_train(cfg, losses.get(name)), (None, 0)))(None, keys))
            seconds = time.perf_counter() - start
            fitness = np.asarray(metrics.fitness, np.float64)
            q = np.asarray(metrics.q_mean, np.float64)
            out.setdefault(env_id, {"role": role, "steps": cfg.num_iterations * cfg.num_envs, "losses": {}})
            out[env_id]["losses"][name] = {
                "normalized_return": fitness.tolist(),
                "mean": float(fitness.mean()), "ci95": bootstrap_ci(fitness, rng),
                "final_return": np.asarray(metrics.final_return, np.float64).tolist(),
                "q_curve_mean": np.nanmean(q, axis=0).tolist(), "q_curve_std": np.nanstd(q, axis=0).tolist(),
                "final_q_mean": float(np.nanmean(q[:, -1])),
                "env_steps": np.asarray(metrics.env_steps[0]).tolist(),
                "all_finite": bool(np.all(np.asarray(metrics.finite))), "seconds": seconds,
            }
            print(f"{env_id:15s} {name:12s} return {fitness.mean():.3f} "
                  f"[{out[env_id]['losses'][name]['ci95'][0]:.3f}, {out[env_id]['losses'][name]['ci95'][1]:.3f}] "
                  f"final Q {out[env_id]['losses'][name]['final_q_mean']:8.2f}  ({seconds:.1f} s)", flush=True)
    return out


def figures(results: dict, folder: Path, prefix: str = "") -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    colors = dict(zip(LOSSES, ("tab:blue", "tab:orange", "tab:green", "tab:red")))
    envs_ = list(results)
    fig, ax = plt.subplots(figsize=(max(9, 1.8 * len(envs_)), 3.6))
    width = 0.2
    for i, name in enumerate(LOSSES):
        means = [results[e]["losses"][name]["mean"] for e in envs_]
        lo = [results[e]["losses"][name]["mean"] - results[e]["losses"][name]["ci95"][0] for e in envs_]
        hi = [results[e]["losses"][name]["ci95"][1] - results[e]["losses"][name]["mean"] for e in envs_]
        ax.bar(np.arange(len(envs_)) + (i - 1.5) * width, means, width, yerr=[lo, hi], label=name,
               color=colors[name], capsize=2)
    ax.set_xticks(np.arange(len(envs_)), [f"{e}\n({results[e]['role']})" for e in envs_])
    ax.set_ylabel("normalized return")
    ax.legend(ncol=4, fontsize=8)
    fig.tight_layout()
    returns = folder / f"{prefix}returns.png"
    fig.savefig(returns, dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(envs_), figsize=(3.3 * len(envs_), 3.2))
    for ax, env_id in zip(axes, envs_):
        for name in LOSSES:
            r = results[env_id]["losses"][name]
            x, m, s = np.asarray(r["env_steps"]), np.asarray(r["q_curve_mean"]), np.asarray(r["q_curve_std"])
            ax.plot(x, m, color=colors[name], label=name)
            ax.fill_between(x, m - s, m + s, color=colors[name], alpha=0.15)
        ax.axhline(value_bound(env_id, DQN["gamma"]), color="k", ls="--", lw=0.8)
        ax.set_title(f"{env_id} ({results[env_id]['role']})", fontsize=9)
        ax.set_xlabel("env steps per agent")
    axes[0].set_ylabel("mean max_a Q(s_t, a)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    q_values = folder / f"{prefix}q_values.png"
    fig.savefig(q_values, dpi=120)
    plt.close(fig)
    return [returns, q_values]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=sorted(SUITES), default="classic",
                        help="classic: CartPole, Acrobot, MountainCar; minigrid: six MiniGrid tasks, all held out")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every env budget")
    parser.add_argument("--out", type=Path, default=None,
                        help="default bench/results/named_losses.json (classic), named_losses_minigrid.json")
    parser.add_argument("--figures", type=Path, default=ROOT / "docs" / "figures" / "evolving_rl")
    args = parser.parse_args(argv)
    suffix = "" if args.suite == "classic" else f"_{args.suite}"
    args.out = args.out or ROOT / "bench" / "results" / f"named_losses{suffix}.json"
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_support import machine, now, source_revision, versions

    started, t0 = now(), time.perf_counter()
    results = run(args.suite, args.seeds, args.scale)
    paths = figures(results, args.figures, prefix="" if args.suite == "classic" else f"{args.suite}_")
    record = {
        "experiment": "Evolving RL reproduction (b): DQNReg and DQNClipped vs DQN and Double DQN",
        "command": " ".join(["python", "examples/named_losses.py", *(argv if argv is not None else sys.argv[1:])]),
        "date": started, "total_s": time.perf_counter() - t0, "device": machine(),
        "versions": versions(("discolab", "jax", "jaxlib", "gymnax", "flax", "optax")),
        "source": source_revision(), "suite": args.suite, "seeds": args.seeds,
        "dqn": {**DQN, "hidden": list(DQN["hidden"]), **SUITE_DQN[args.suite]},
        "envs": {e: {"steps": s, "role": r, "r_min": envs.spec(e).r_min, "r_max": envs.spec(e).r_max}
                 for e, s, r in SUITES[args.suite]},
        "results": results, "figures": [os.path.relpath(p, ROOT) for p in paths],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out} and {', '.join(str(p) for p in paths)}")


if __name__ == "__main__":
    main()
