"""PPO on Breakout-MinAtar: discolab's ``make_ppo`` vs a hand-written purejaxrl-style PPO vs stable-baselines3.

Usage (bench/results/ppo_minatar.json is the first command; about 8 minutes on 2 CPU cores)::

    nice -n 10 .venv/bin/python bench/ppo_minatar.py
    .venv/bin/python bench/ppo_minatar.py --steps 50000 --no-sb3      # a quick pass

One command, three trainers, the same settings (``PPOConfig()`` defaults:
64 envs x 128 steps per update, 4 epochs of 8 minibatches of 1,024, gamma
0.99, GAE 0.95, clip 0.2, entropy 0.01, value 0.5, grad norm 0.5, Adam 5e-4
eps 1e-5 annealed linearly per update) and the same network (the MinAtar
paper's torso, Conv 16 3x3 + ReLU, flattened, then one 256-unit ReLU layer
in each of the policy and value heads):

- ``ours``: ``discolab.rl.make_ppo`` with ``ActorCritic(MinAtarCNN())`` on
  gymnax's ``Breakout-MinAtar`` (through ``discolab.rl.envs``).
- ``hand``: the "limit": a single-function PPO written below in
  purejaxrl's shape (``make_train(config) -> train(rng)``, nested
  ``lax.scan``), the same flax network, gymnax env, loss and schedule, none
  of discolab's PPO code. The two run in this process, one after the other.
- ``sb3``: stable-baselines3 PPO (PyTorch, CPU, ``torch.set_num_threads``
  = the usable cores) in a subprocess of ``.venv-bench`` (create it with
  ``python3 -m venv .venv-bench && .venv-bench/bin/pip install
  stable-baselines3 minatar``). Env: the ``minatar`` package's numpy
  Breakout (``MinAtar/Breakout-v1``: the minimal 3-action set, sticky actions
  off and a 1,000-step limit, as in gymnax) in a ``DummyVecEnv`` of 64; the
  same torso as a features extractor, ``net_arch=dict(pi=[256], vf=[256])``,
  ReLU, orthogonal init; ``clip_range_vf=0.2`` (SB3 clips the value
  prediction but does not take purejaxrl's max of clipped and unclipped
  losses). This is the fairest match we can make: gymnax's Breakout is a
  port of that same numpy game, and SB3 runs it the way its users do.

Timing: JAX sides are ``lower().compile()`` (compile_s) then one call of the
compiled run (run_s); ``with_compile`` = steps / (compile_s + run_s),
``steady`` = steps / run_s. SB3 has no compile; its ``setup_s`` (envs and
model built) is counted in its ``with_compile`` figure, ``learn()`` alone in
``steady``. Ratios: ours / hand and ours / sb3, both ways of counting.
Returns (mean return of the episodes that ended in the last 10% of updates;
SB3: its last 100 episodes) are reported as a sanity check, not as a
learning comparison: the budget is far too short for that.

Writes bench/results/ppo_minatar.json (or ``--out``) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench_support import ROOT, machine, now, source_revision, versions, write_result

ENV_ID = "Breakout-MinAtar"
SB3_PYTHON = ROOT / ".venv-bench" / "bin" / "python"


def settings(steps: int) -> dict[str, Any]:
    """``PPOConfig()``'s defaults with ``total_steps = steps``, as a plain dict both sides read."""
    return {
        "num_envs": 64, "rollout_steps": 128, "total_steps": steps, "update_epochs": 4, "num_minibatches": 8,
        "gamma": 0.99, "gae_lambda": 0.95, "clip_eps": 0.2, "ent_coef": 0.01, "vf_coef": 0.5,
        "max_grad_norm": 0.5, "lr": 5e-4, "anneal_lr": True, "hidden": 256, "conv_features": 16,
    }


# ----------------------------------------------------------------------------------------------------
# The hand-written PPO (purejaxrl's ppo.py shape, trimmed to what this benchmark runs).
# ----------------------------------------------------------------------------------------------------


def make_hand_train(config: dict[str, Any]) -> Any:
    import gymnax
    import jax
    import jax.numpy as jnp
    import optax

    from discolab.rl.networks import ActorCritic, MinAtarCNN

    env, env_params = gymnax.make(ENV_ID)
    n_envs, n_steps = config["num_envs"], config["rollout_steps"]
    n_updates = config["total_steps"] // (n_envs * n_steps)
    n_mb, epochs = config["num_minibatches"], config["update_epochs"]
    batch = n_envs * n_steps
    network = ActorCritic(MinAtarCNN(config["conv_features"]), env.num_actions, hidden=config["hidden"])

    def linear_schedule(count):
        return config["lr"] * (1.0 - (count // (n_mb * epochs)) / n_updates)

    def train(rng):
        rng, _rng = jax.random.split(rng)
        obsv, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(_rng, n_envs), env_params)
        rng, _rng = jax.random.split(rng)
        params = network.init(_rng, obsv)
        tx = optax.chain(optax.clip_by_global_norm(config["max_grad_norm"]), optax.adam(linear_schedule, eps=1e-5))
        opt_state = tx.init(params)

        def _update_step(runner_state, unused):
            def _env_step(runner_state, unused):
                params, opt_state, env_state, last_obs, ep_ret, rng = runner_state
                rng, _rng = jax.random.split(rng)
                logits, value = network.apply(params, last_obs)
                action = jax.random.categorical(_rng, logits)
                log_prob = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], -1)[:, 0]
                rng, _rng = jax.random.split(rng)
                obsv, env_state, reward, term, trunc, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                    jax.random.split(_rng, n_envs), env_state, action, env_params)
                done = term | trunc
                ep_ret = ep_ret + reward
                transition = (done, action, value, reward, log_prob, last_obs, jnp.where(done, ep_ret, 0.0))
                runner_state = (params, opt_state, env_state, obsv, jnp.where(done, 0.0, ep_ret), rng)
                return runner_state, transition

            runner_state, traj = jax.lax.scan(_env_step, runner_state, None, n_steps)
            params, opt_state, env_state, last_obs, ep_ret, rng = runner_state
            _, last_val = network.apply(params, last_obs)

            def _get_advantages(gae_and_next_value, transition):
                gae, next_value = gae_and_next_value
                done, value, reward = transition
                delta = reward + config["gamma"] * next_value * (1 - done) - value
                gae = delta + config["gamma"] * config["gae_lambda"] * (1 - done) * gae
                return (gae, value), gae

            _, advantages = jax.lax.scan(_get_advantages, (jnp.zeros_like(last_val), last_val),
                                         (traj[0], traj[2], traj[3]), reverse=True)
            targets = advantages + traj[2]

            def _update_epoch(update_state, unused):
                def _update_minbatch(train_state, batch_info):
                    params, opt_state = train_state
                    action, value, log_prob, obs, gae, targets = batch_info

                    def _loss_fn(params):
                        logits, v = network.apply(params, obs)
                        logp_all = jax.nn.log_softmax(logits)
                        logp = jnp.take_along_axis(logp_all, action[:, None], -1)[:, 0]
                        v_clipped = value + (v - value).clip(-config["clip_eps"], config["clip_eps"])
                        value_loss = 0.5 * jnp.maximum(jnp.square(v - targets), jnp.square(v_clipped - targets)).mean()
                        ratio = jnp.exp(logp - log_prob)
                        g = (gae - gae.mean()) / (gae.std() + 1e-8)
                        loss_actor = -jnp.minimum(
                            ratio * g, jnp.clip(ratio, 1.0 - config["clip_eps"], 1.0 + config["clip_eps"]) * g).mean()
                        entropy = -(jnp.exp(logp_all) * logp_all).sum(-1).mean()
                        return loss_actor + config["vf_coef"] * value_loss - config["ent_coef"] * entropy

                    grads = jax.grad(_loss_fn)(params)
                    updates, opt_state = tx.update(grads, opt_state, params)
                    return (optax.apply_updates(params, updates), opt_state), None

                params, opt_state, traj, advantages, targets, rng = update_state
                rng, _rng = jax.random.split(rng)
                permutation = jax.random.permutation(_rng, batch)
                data = (traj[1], traj[2], traj[4], traj[5], advantages, targets)
                data = jax.tree.map(lambda x: x.reshape((batch, *x.shape[2:])), data)
                data = jax.tree.map(lambda x: jnp.take(x, permutation, axis=0), data)
                minibatches = jax.tree.map(lambda x: x.reshape((n_mb, -1, *x.shape[1:])), data)
                (params, opt_state), _ = jax.lax.scan(_update_minbatch, (params, opt_state), minibatches)
                return (params, opt_state, traj, advantages, targets, rng), None

            update_state = (params, opt_state, traj, advantages, targets, rng)
            update_state, _ = jax.lax.scan(_update_epoch, update_state, None, epochs)
            params, opt_state, _, _, _, rng = update_state
            ended = traj[0].sum()
            ret = jnp.where(ended > 0, traj[6].sum() / jnp.maximum(ended, 1), jnp.nan)
            return (params, opt_state, env_state, last_obs, ep_ret, rng), ret

        rng, _rng = jax.random.split(rng)
        runner_state = (params, opt_state, env_state, obsv, jnp.zeros((n_envs,)), _rng)
        runner_state, returns = jax.lax.scan(_update_step, runner_state, None, n_updates)
        return runner_state, {"return": returns}

    return train


# ----------------------------------------------------------------------------------------------------
# The JAX sides.
# ----------------------------------------------------------------------------------------------------


def time_jax(name: str, fn: Any, steps: int, seed: int) -> dict[str, Any]:
    import jax
    import numpy as np

    from discolab.rl import final_return

    key = jax.random.key(seed)
    t = time.perf_counter()
    compiled = jax.jit(fn).lower(key).compile()
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    _, metrics = jax.block_until_ready(compiled(key))
    run_s = time.perf_counter() - t
    row = {
        "compile_s": compile_s, "run_s": run_s, "steps": steps,
        "with_compile_steps_per_s": steps / (compile_s + run_s), "steady_steps_per_s": steps / run_s,
        "final_return": float(final_return(metrics)),
        "return_curve": [None if np.isnan(x) else round(float(x), 3) for x in np.asarray(metrics["return"])],
    }
    print(f"  {name}: compile {compile_s:.1f}s, run {run_s:.1f}s, {row['steady_steps_per_s']:,.0f} steps/s steady, "
          f"{row['with_compile_steps_per_s']:,.0f} with compile; final return {row['final_return']:.2f}", flush=True)
    return row


def run_jax(config: dict[str, Any], seed: int) -> dict[str, Any]:
    from discolab import rl

    env, env_params = rl.envs.make(ENV_ID)
    cfg = rl.PPOConfig(**{k: v for k, v in config.items() if k not in ("hidden", "conv_features")})
    network = rl.ActorCritic(rl.MinAtarCNN(config["conv_features"]), env.num_actions, hidden=config["hidden"])
    steps = cfg.num_updates * cfg.batch_size
    ours = rl.make_ppo(env, env_params, network, cfg)
    return {
        "ours": time_jax("ours", ours.train, steps, seed),
        "hand": time_jax("hand", make_hand_train(config), steps, seed),
    }


# ----------------------------------------------------------------------------------------------------
# The stable-baselines3 side (runs in .venv-bench, imports no JAX).
# ----------------------------------------------------------------------------------------------------


def sb3_worker(config: dict[str, Any], seed: int) -> dict[str, Any]:
    t_import = time.perf_counter()
    import gymnasium as gym
    import minatar
    import minatar.gym
    import numpy as np
    import stable_baselines3
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
    from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

    import_s = time.perf_counter() - t_import
    cores = len(os.sched_getaffinity(0))
    torch.set_num_threads(cores)

    class MinAtarTorso(BaseFeaturesExtractor):
        """Conv 16 3x3 (same padding) + ReLU, flattened: ``MinAtarCNN``."""

        def __init__(self, observation_space: Any, features: int) -> None:
            channels = observation_space.shape[-1]
            super().__init__(observation_space, features_dim=10 * 10 * features)
            self.conv = torch.nn.Conv2d(channels, features, 3, padding=1)

        def forward(self, obs: Any) -> Any:
            return torch.relu(self.conv(obs.permute(0, 3, 1, 2))).flatten(1)

    minatar.gym.register_envs()
    t = time.perf_counter()
    n_envs, n_steps = config["num_envs"], config["rollout_steps"]
    n_updates = config["total_steps"] // (n_envs * n_steps)
    steps = n_updates * n_envs * n_steps
    venv = VecMonitor(DummyVecEnv([
        lambda: gym.make("MinAtar/Breakout-v1", sticky_action_prob=0.0, max_episode_steps=1000)
        for _ in range(n_envs)
    ]))
    lr = config["lr"]
    model = PPO(
        "MlpPolicy", venv, seed=seed, device="cpu", verbose=0,
        learning_rate=(lambda remaining: lr * remaining) if config["anneal_lr"] else lr,
        n_steps=n_steps, batch_size=n_envs * n_steps // config["num_minibatches"], n_epochs=config["update_epochs"],
        gamma=config["gamma"], gae_lambda=config["gae_lambda"], clip_range=config["clip_eps"],
        clip_range_vf=config["clip_eps"], ent_coef=config["ent_coef"], vf_coef=config["vf_coef"],
        max_grad_norm=config["max_grad_norm"],
        policy_kwargs={
            "features_extractor_class": MinAtarTorso,
            "features_extractor_kwargs": {"features": config["conv_features"]},
            "net_arch": {"pi": [config["hidden"]], "vf": [config["hidden"]]},
            "activation_fn": torch.nn.ReLU,
        },
    )
    setup_s = time.perf_counter() - t
    t = time.perf_counter()
    model.learn(total_timesteps=steps)
    learn_s = time.perf_counter() - t
    returns = [info["r"] for info in model.ep_info_buffer]
    return {
        "import_s": import_s, "setup_s": setup_s, "run_s": learn_s, "steps": int(model.num_timesteps),
        "with_compile_steps_per_s": model.num_timesteps / (setup_s + learn_s),
        "steady_steps_per_s": model.num_timesteps / learn_s,
        "final_return": float(np.mean(returns)) if returns else None, "final_return_episodes": len(returns),
        "torch_threads": torch.get_num_threads(),
        "versions": {"stable-baselines3": stable_baselines3.__version__, "torch": torch.__version__,
                     "gymnasium": gym.__version__, "minatar": _version("minatar"), "numpy": np.__version__},
    }


def _version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def run_sb3(config: dict[str, Any], seed: int) -> dict[str, Any]:
    if not SB3_PYTHON.exists():
        return {"skipped": f"{SB3_PYTHON} not found: python3 -m venv .venv-bench && "
                           ".venv-bench/bin/pip install stable-baselines3 minatar"}
    t = time.perf_counter()
    proc = subprocess.run(
        [str(SB3_PYTHON), str(Path(__file__).resolve()), "--sb3-worker", json.dumps({"config": config, "seed": seed})],
        capture_output=True, text=True, cwd=ROOT,
    )
    wall_s = time.perf_counter() - t
    if proc.returncode != 0:
        return {"skipped": f"the SB3 subprocess failed (rc {proc.returncode})", "stderr": proc.stderr[-3000:]}
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["subprocess_wall_s"] = wall_s
    print(f"  sb3: setup {row['setup_s']:.1f}s, learn {row['run_s']:.1f}s, {row['steady_steps_per_s']:,.0f} steps/s "
          f"steady, {row['with_compile_steps_per_s']:,.0f} with setup; final return {row['final_return']}", flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200_000,
                        help="env transitions per trainer, rounded down to whole updates of 8,192 (default 200000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every trainer (default 0)")
    parser.add_argument("--no-sb3", action="store_true", help="skip stable-baselines3")
    parser.add_argument("--out", type=Path, default=None, help="JSON output (default bench/results/ppo_minatar.json)")
    parser.add_argument("--sb3-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sb3_worker is not None:  # the subprocess: print one JSON line
        job = json.loads(args.sb3_worker)
        print(json.dumps(sb3_worker(job["config"], job["seed"])))
        return 0

    config = settings(args.steps)
    started, t0 = now(), time.perf_counter()
    load_before = os.getloadavg()[0]
    rows = run_jax(config, args.seed)
    rows["sb3"] = {"skipped": "--no-sb3"} if args.no_sb3 else run_sb3(config, args.seed)
    ratios = {}
    for peer in ("hand", "sb3"):
        if "steady_steps_per_s" in rows[peer]:
            for kind in ("with_compile", "steady"):
                ratios[f"ours_over_{peer}_{kind}"] = (rows["ours"][f"{kind}_steps_per_s"]
                                                      / rows[peer][f"{kind}_steps_per_s"])
    result = {
        "benchmark": "PPO on Breakout-MinAtar: discolab make_ppo vs a hand-written purejaxrl-style PPO vs "
                     "stable-baselines3, same settings and network",
        "command": " ".join(["python", "bench/ppo_minatar.py", *(argv if argv is not None else sys.argv[1:])]),
        "date": started,
        "total_benchmark_s": time.perf_counter() - t0,
        "load_before": load_before, "load_after": os.getloadavg()[0],
        "device": machine(),
        "versions": versions(("discolab", "jax", "jaxlib", "flax", "optax", "gymnax", "numpy")),
        "source": source_revision(),
        "settings": {
            "env": ENV_ID, "config": config, "seed": args.seed,
            "env_steps": rows["ours"]["steps"], "updates": rows["ours"]["steps"] // (64 * 128),
            "network": "Conv(16, 3x3, SAME) + ReLU, flatten (1600); policy and value heads Dense(256) + ReLU "
                       "then Dense(A) / Dense(1); orthogonal init (sqrt 2, 0.01, 1.0)",
            "sb3_env": "minatar package MinAtar/Breakout-v1 (numpy; minimal action set, sticky_action_prob 0, "
                       "TimeLimit 1000 like gymnax), DummyVecEnv(64) + VecMonitor",
            "sb3_differences": "value loss: SB3 clips the value prediction (clip_range_vf=0.2) without the max of "
                               "clipped and unclipped losses; SB3 bootstraps at time limits; env is numpy on the "
                               "host, networks in PyTorch",
            "throughput": "env transitions per second; with_compile: steps / (compile_s + run_s) (SB3: setup_s + "
                          "run_s); steady: steps / run_s",
            "returns": "final_return: mean return of episodes ended in the last 10% of updates (SB3: last 100 "
                       "episodes); a sanity check only at this budget",
        },
        "results": rows,
        "ratios": ratios,
    }
    print(f"\n{'trainer':>7} {'compile/setup s':>15} {'run s':>7} {'steps/s steady':>15} {'with compile':>13} "
          f"{'final return':>12}")
    for name, row in rows.items():
        if "steady_steps_per_s" not in row:
            print(f"{name:>7} skipped: {row.get('skipped')}")
            continue
        print(f"{name:>7} {row.get('compile_s', row.get('setup_s', 0.0)):>15.1f} {row['run_s']:>7.1f} "
              f"{row['steady_steps_per_s']:>15,.0f} {row['with_compile_steps_per_s']:>13,.0f} "
              f"{row['final_return'] if row['final_return'] is not None else float('nan'):>12.2f}")
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")
    print(f"wrote {write_result('ppo_minatar', result, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
