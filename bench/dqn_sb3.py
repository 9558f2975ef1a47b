"""DQN on CartPole: a population of discolab ``make_train`` agents in one jitted call vs stable-baselines3 vs sbx.

Usage (bench/results/dqn_sb3.json is the first command; about 1.5 minutes on 2 CPU cores)::

    DISCOLAB_CACHE_DIR=off nice -n 5 .venv/bin/python bench/dqn_sb3.py
    .venv/bin/python bench/dqn_sb3.py --steps 4000 --no-peers      # a quick pass, ours only

Peers run in subprocesses of ``.venv-bench`` (create it with ``python3 -m
venv .venv-bench && .venv-bench/bin/pip install stable-baselines3 sbx-rl``;
each subprocess is ``.venv-bench/bin/python bench/dqn_sb3.py --peer-worker
'{"lib": "sb3", ...}'``), one after the other, after ours, on the same
machine in the same run.

Arms, all on CartPole with a 200-step limit (ours: ``CartPole-v0`` of the
env table, gymnax's v1 dynamics; peers: gymnasium ``CartPole-v1`` with
``max_episode_steps=200``; truncation bootstraps, termination does not), the
same settings (``settings()``: those of the Evolving-RL example studies,
``examples/dqn_bootstrap.toml``: 64x64 ReLU Q-network, Adam 1e-3, batch 32,
buffer 4,000, 500 transitions before the first update, 4 envs, one
gradient update per vectorized env step, hard target copy every 50 updates,
gamma 0.99, epsilon 1.0 to 0.05 linearly over the first 1,000 transitions,
no gradient clipping):

- ``ours``: ``discolab.rl.make_train`` with the hand-written DQN loss
  (``rl.losses.dqn``): a population of programs x seeds agents (default
  8 x 4 = 32, the example studies' ``program_batch``; the loss ignores the
  program axis, which is there so the shape is the search's; each program
  has its own seeds, so the 32 are distinct runs) trained by ONE
  ``jax.jit(vmap(vmap(train)))`` call on gymnax's CartPole.
- ``interpreted``: the search's path: the ``dqn_loss`` domain's
  ``make_runner(space, dqn_config)`` (the jitted runner a search calls) on
  ``NAMED_PROGRAMS["dqn"]`` repeated ``programs`` times, encoded as
  ``DQNLossDomain.train`` encodes a batch (``pad_to``, no dead nodes). As in
  the search, the programs share the ``seeds`` keys, so here (identical
  programs) there are ``seeds`` distinct runs, each computed ``programs``
  times: the same compute as ``ours``.
- ``sb3``: stable-baselines3 DQN (PyTorch, CPU, ``torch.set_num_threads(1)``
  by default, ``--torch-threads``; see bench/sac_pendulum.py for why), one
  agent, a ``DummyVecEnv`` of 4 gymnasium envs, ``train_freq=1,
  gradient_steps=1`` (one update per vectorized step, as ours),
  ``target_update_interval=200`` env steps (SB3 divides by n_envs: every 50
  vectorized steps = 50 updates), ``exploration_fraction=1000 / steps``,
  ``max_grad_norm=1e10`` (SB3 always clips; the norm is still computed but
  never binds, ours does not clip).
- ``sbx``: sbx-rl's DQN (SB3's JAX port: jitted updates, host-side env and
  buffer), one agent, the same arguments (no gradient clipping in sbx).

Differences left: the peers' loss is Huber (SB3 ``smooth_l1_loss``, sbx
``optax.huber_loss``), ours the paper's ``0.5 * delta^2`` (the same cost);
the peers act uniformly at random before ``learning_starts`` and then by
their epsilon schedule (already at 0.05 then), ours follow the epsilon
schedule from step 0; PyTorch / sbx initializations; the peers' env and
replay buffer run on the host in numpy.

Figures:

- throughput: env transitions per second, all agents together;
  ``with_compile`` = agents x steps / (compile_s + run_s) (peers: setup_s +
  learn_s, sbx's jit compiles inside learn); ``steady`` = agents x steps /
  run_s. The same per CPU second (``*_per_cpu_s``, ``time.process_time`` of
  the process, all threads) is recorded too: on a shared machine other jobs
  stretch wall time, less so CPU time.
- final_return (a sanity check, not a comparison of learning): the mean
  return of the last 5 completed training episodes of each env
  (epsilon-greedy at 0.05; ours' ``Metrics.final_return``, then mean / min /
  max over the population); peers: the mean of their last 4 x 5 training
  episodes, and ``eval_return``, 10 greedy episodes after training.

Ratios (above 1: the first named is faster): ``ours_over_PEER_*``,
``interpreted_over_PEER_*`` (the search's path against one peer agent;
ours trains ``agents`` agents in that time, the peer one) and
``interpreted_over_ours_*`` (the cost of interpretation; medians over
``--arm-repeats``).

Writes bench/results/dqn_sb3.json (or ``--out``) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench_support import machine, now, run_peer_worker, source_revision, throughput_ratios, versions, write_result

ENV_ID = "CartPole-v0"  # ours: gymnax CartPole-v1 dynamics, 200-step limit
PEER_ENV_ID = "CartPole-v1"  # gymnasium, made with max_episode_steps=EPISODE
EPISODE = 200
RETURN_WINDOW = 5  # completed episodes per env in final_return (DQNConfig.return_window)


def settings(steps: int, num_envs: int) -> dict[str, Any]:
    """The settings every arm reads, as a plain dict (the Evolving-RL example studies' DQN settings)."""
    return {
        "total_steps": steps, "num_envs": num_envs, "hidden": [64, 64], "lr": 1e-3, "batch_size": 32,
        "buffer_size": 4_000, "learning_starts": 500, "train_freq": 1, "gradient_steps": 1,
        "target_update_updates": 50, "gamma": 0.99, "eps_start": 1.0, "eps_end": 0.05, "eps_steps": 1_000,
        "max_grad_norm": None, "return_window": RETURN_WINDOW,
    }


def dqn_config(config: dict[str, Any]) -> Any:
    from discolab import rl

    return rl.DQNConfig(
        env_id=ENV_ID, total_steps=config["total_steps"], num_envs=config["num_envs"],
        hidden=tuple(config["hidden"]), learning_rate=config["lr"], max_grad_norm=config["max_grad_norm"],
        batch_size=config["batch_size"], buffer_size=config["buffer_size"],
        learning_starts=config["learning_starts"], updates_per_step=config["gradient_steps"],
        target_update=config["target_update_updates"], gamma=config["gamma"], epsilon_start=config["eps_start"],
        epsilon_end=config["eps_end"], epsilon_steps=config["eps_steps"], return_window=config["return_window"],
    )


# ----------------------------------------------------------------------------------------------------
# Ours: a population in one compiled call.
# ----------------------------------------------------------------------------------------------------


def timed(name: str, fn: Any, args: tuple[Any, ...], agents: int, done_steps: int, extra: dict[str, Any]) -> dict:
    """Compiles ``fn`` (jitted) on ``args``, runs it once, and returns the row the JSON stores under ``name``."""
    import jax
    import numpy as np

    t, c = time.perf_counter(), time.process_time()
    compiled = fn.lower(*args).compile()
    compile_s, compile_cpu_s = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    m = jax.block_until_ready(compiled(*args))
    run_s, run_cpu_s = time.perf_counter() - t, time.process_time() - c

    final = np.asarray(m.final_return).reshape(-1)
    curves = np.asarray(m.episode_return).reshape(agents, -1)
    row = {
        **extra, "agents": agents, "steps_per_agent": done_steps,
        "compile_s": compile_s, "run_s": run_s, "compile_cpu_s": compile_cpu_s, "run_cpu_s": run_cpu_s,
        "with_compile_steps_per_s": agents * done_steps / (compile_s + run_s),
        "steady_steps_per_s": agents * done_steps / run_s,
        "with_compile_steps_per_cpu_s": agents * done_steps / (compile_cpu_s + run_cpu_s),
        "steady_steps_per_cpu_s": agents * done_steps / run_cpu_s,
        "final_return": float(np.nanmean(final)), "final_return_min": float(np.nanmin(final)),
        "final_return_max": float(np.nanmax(final)), "final_returns": [round(float(x), 1) for x in final],
        "finite": bool(np.all(m.finite)),
        "env_steps": [int(x) for x in np.asarray(m.env_steps).reshape(agents, -1)[0]],
        "episode_returns_mean_over_agents": [round(float(x), 1) for x in np.nanmean(curves, axis=0)],
    }
    print(f"  {name}: {agents} agents, compile {compile_s:.1f}s, run {run_s:.1f}s, "
          f"{row['with_compile_steps_per_s']:,.0f} steps/s with compile, {row['steady_steps_per_s']:,.0f} steady; "
          f"final return {row['final_return']:.0f} (min {row['final_return_min']:.0f})", flush=True)
    return row


def ours_arm(config: dict[str, Any], programs: int, seeds: int, seed: int) -> dict[str, Any]:
    """``make_train(cfg, rl.losses.dqn)`` over ``programs x seeds`` distinct agents in one jitted call."""
    import jax
    import jax.numpy as jnp

    from discolab import rl

    cfg = dqn_config(config)
    train = rl.make_train(cfg, rl.losses.dqn)
    # The hand-written loss ignores loss_params (a dummy program axis): the keys carry both axes, so every
    # agent really trains (with only loss_params batched, JAX would train one and broadcast it).
    keys = jax.random.split(jax.random.key(seed), programs * seeds).reshape(programs, seeds)
    fn = jax.jit(jax.vmap(jax.vmap(train, (None, 0)), (0, 0)))
    return timed("ours", fn, (jnp.zeros((programs,)), keys), programs * seeds, cfg.num_iterations * cfg.num_envs,
                 {"programs": programs, "seeds": seeds})


def interpreted_arm(config: dict[str, Any], programs: int, seeds: int, seed: int,
                    interpreter: str = "vjp") -> dict[str, Any]:
    """The search's path: the domain's runner on ``programs`` copies of DQN, encoded as a search batch is."""
    import jax
    import jax.numpy as jnp

    from discolab.domains.dqn_loss import NAMED_PROGRAMS, make_runner, make_space
    from discolab.graph import EncodedPrograms, encode

    cfg = dqn_config(config)
    space = make_space()
    run = make_runner(space, cfg, interpreter)  # jax.jit((encoded [P], keys [S]) -> Metrics [P, S])
    encoded = EncodedPrograms(*map(jnp.asarray, encode([NAMED_PROGRAMS["dqn"]] * programs, space, pad_to=programs,
                                                        dead_nodes=False)))
    keys = jax.random.split(jax.random.key(seed), seeds)  # shared by the programs, as in DQNLossDomain.train
    return timed("interpreted", run, (encoded, keys), programs * seeds, cfg.num_iterations * cfg.num_envs,
                 {"programs": programs, "seeds": seeds, "program_nodes": len(NAMED_PROGRAMS["dqn"]),
                  "distinct_runs": seeds, "interpreter": interpreter})


def jax_arms(config: dict[str, Any], args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The in-process arms, alternating ``--arm-repeats`` times (a load that comes and goes hits both alike)."""
    pairs = []
    for _ in range(args.arm_repeats):
        pairs.append((ours_arm(config, args.programs, args.seeds, args.seed),
                      interpreted_arm(config, args.programs, args.seeds, args.seed, args.interpreter)))
    rows = {"ours": pairs[-1][0], "interpreted": pairs[-1][1]}
    if args.arm_repeats > 1:
        keys = ("with_compile_steps_per_s", "steady_steps_per_s", "with_compile_steps_per_cpu_s",
                "steady_steps_per_cpu_s")
        rows["interpreted"]["repeats"] = [
            {"ours": {k: o[k] for k in keys}, "interpreted": {k: i[k] for k in keys}} for o, i in pairs]
    return rows


# ----------------------------------------------------------------------------------------------------
# The peers (run in .venv-bench, import no discolab).
# ----------------------------------------------------------------------------------------------------


def peer_worker(lib: str, config: dict[str, Any], seed: int, torch_threads: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    import gymnasium as gym
    import numpy as np
    import stable_baselines3
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.monitor import Monitor

    n_envs = config["num_envs"]
    if lib == "sb3":
        import torch
        from stable_baselines3 import DQN

        torch.set_num_threads(torch_threads)
        lib_versions = {"stable-baselines3": stable_baselines3.__version__, "torch": torch.__version__}
        lib_kwargs = {"device": "cpu", "max_grad_norm": 1e10}  # SB3 always clips the gradient norm
    else:
        import jax
        import sbx
        from sbx import DQN

        lib_versions = {"sbx-rl": sbx.__version__, "jax": jax.__version__,
                        "stable-baselines3": stable_baselines3.__version__}
        lib_kwargs = {}
    import_s = time.perf_counter() - t0

    class Episodes(BaseCallback):
        """Records (env steps, return) at each episode end."""

        def __init__(self) -> None:
            super().__init__()
            self.rows: list[tuple[int, float]] = []

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:
                    self.rows.append((self.num_timesteps, float(info["episode"]["r"])))
            return True

    def make_env() -> Any:
        return gym.make(PEER_ENV_ID, max_episode_steps=EPISODE)

    t_setup, c = time.perf_counter(), time.process_time()
    env = make_vec_env(make_env, n_envs=n_envs, seed=seed)  # DummyVecEnv of Monitor-wrapped envs
    model = DQN(
        "MlpPolicy", env, seed=seed, verbose=0, learning_rate=config["lr"], buffer_size=config["buffer_size"],
        learning_starts=config["learning_starts"], batch_size=config["batch_size"], tau=1.0, gamma=config["gamma"],
        # Both count the interval in env steps and divide it by n_envs: every 50 vectorized steps = 50 updates.
        target_update_interval=config["target_update_updates"] * n_envs,
        train_freq=config["train_freq"], gradient_steps=config["gradient_steps"],
        exploration_initial_eps=config["eps_start"], exploration_final_eps=config["eps_end"],
        exploration_fraction=config["eps_steps"] / config["total_steps"],
        policy_kwargs={"net_arch": list(config["hidden"])}, **lib_kwargs,
    )
    setup_s, setup_cpu_s = time.perf_counter() - t_setup, time.process_time() - c
    episodes = Episodes()
    t, c = time.perf_counter(), time.process_time()
    model.learn(total_timesteps=config["total_steps"], callback=episodes)
    learn_s, learn_cpu_s = time.perf_counter() - t, time.process_time() - c
    t = time.perf_counter()
    eval_return, _ = evaluate_policy(model, Monitor(make_env()), n_eval_episodes=10, deterministic=True)
    eval_s = time.perf_counter() - t
    steps = int(model.num_timesteps)
    returns = [r for _, r in episodes.rows]
    last = returns[-n_envs * config["return_window"]:]
    return {
        "agents": 1, "import_s": import_s, "setup_s": setup_s, "run_s": learn_s, "eval_s": eval_s,
        "steps_per_agent": steps,
        "setup_cpu_s": setup_cpu_s, "run_cpu_s": learn_cpu_s,
        "with_compile_steps_per_s": steps / (setup_s + learn_s), "steady_steps_per_s": steps / learn_s,
        "with_compile_steps_per_cpu_s": steps / (setup_cpu_s + learn_cpu_s),
        "steady_steps_per_cpu_s": steps / learn_cpu_s,
        "final_return": float(np.mean(last)) if last else None,
        "eval_return": float(eval_return),
        "episodes": len(returns),
        "episode_returns": [round(r, 1) for r in returns],
        "torch_threads": torch.get_num_threads() if lib == "sb3" else None,
        "versions": {**lib_versions, "gymnasium": gym.__version__, "numpy": np.__version__},
    }


def run_peer(lib: str, config: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    job = {"lib": lib, "config": config, "seed": args.seed, "torch_threads": args.torch_threads}
    row = run_peer_worker(__file__, job)
    if "skipped" in row:
        return row
    print(f"  {lib}: setup {row['setup_s']:.1f}s, learn {row['run_s']:.1f}s, "
          f"{row['with_compile_steps_per_s']:,.0f} steps/s with setup, {row['steady_steps_per_s']:,.0f} steady; "
          f"final return {row['final_return']}, greedy eval {row['eval_return']:.0f}", flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20_000, help="env transitions per agent (default 20000)")
    parser.add_argument("--num-envs", type=int, default=4, help="envs per agent, every arm (default 4)")
    parser.add_argument("--programs", type=int, default=8, help="program axis of our population (default 8)")
    parser.add_argument("--seeds", type=int, default=4, help="seed axis of our population (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="base seed of every arm (default 0)")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch threads of the sb3 arm (default 1)")
    parser.add_argument("--no-peers", action="store_true", help="skip stable-baselines3 and sbx")
    parser.add_argument("--interpreter", default="vjp", choices=("vjp", "static", "unrolled", "naive"),
                        help="the interpreted arm's make_runner interpreter (default vjp)")
    parser.add_argument("--arm-repeats", type=int, default=1,
                        help="run ours and interpreted this many times, alternating; "
                             "interpreted/ours ratios are medians (default 1)")
    parser.add_argument("--out", type=Path, default=None, help="JSON output (default bench/results/dqn_sb3.json)")
    parser.add_argument("--peer-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peer_worker is not None:  # the subprocess: print one JSON line
        job = json.loads(args.peer_worker)
        print(json.dumps(peer_worker(job["lib"], job["config"], job["seed"], job["torch_threads"])))
        return 0

    config = settings(args.steps, args.num_envs)
    started, t0 = now(), time.perf_counter()
    load_before = os.getloadavg()[0]
    rows = jax_arms(config, args)
    for lib in ("sb3", "sbx"):
        rows[lib] = {"skipped": "--no-peers"} if args.no_peers else run_peer(lib, config, args)

    ratios = throughput_ratios(rows)
    result = {
        "benchmark": "DQN on CartPole (200-step limit): a population of discolab make_train agents in one jitted "
                     "call, with the hand-written DQN loss (ours) and with DQN as an interpreted program through "
                     "the dqn_loss domain's runner (interpreted, the Evolving-RL search's path), vs "
                     "stable-baselines3 DQN (torch) vs sbx DQN (JAX), one agent each, same settings",
        "command": " ".join(["python", "bench/dqn_sb3.py", *(argv if argv is not None else sys.argv[1:])]),
        "date": started,
        "total_benchmark_s": time.perf_counter() - t0,
        "load_before": load_before, "load_after": os.getloadavg()[0],
        "device": machine(),
        "versions": versions(("discolab", "jax", "jaxlib", "flax", "optax", "gymnax", "numpy")),
        "source": source_revision(),
        "settings": {
            "env": f"ours: {ENV_ID} (gymnax CartPole-v1 dynamics, 200-step limit); peers: gymnasium "
                   f"{PEER_ENV_ID} with max_episode_steps={EPISODE} (Monitor, DummyVecEnv)",
            "config": config, "seed": args.seed,
            "population": f"{args.programs} programs x {args.seeds} seeds in one jax.jit(vmap(vmap(train))) call",
            "network": "Q: 64x64 ReLU MLP -> 2 Q-values; hard target copy every 50 gradient updates",
            "peer_settings": f"n_envs={args.num_envs}, train_freq=1, gradient_steps=1, tau=1.0, "
                             f"exploration_fraction=eps_steps/total_steps, target_update_interval="
                             f"{config['target_update_updates'] * args.num_envs} env steps (= 50 vectorized steps); "
                             "sb3: "
                             "max_grad_norm=1e10 (never binds); sbx: the same (it divides by n_envs too)",
            "peer_differences": "Huber loss (ours: 0.5 * delta^2); uniform random actions before learning_starts "
                                "(ours: the epsilon schedule from step 0); PyTorch / sbx initializations; env and "
                                "replay buffer on the host; sbx compiles its update inside learn()",
            "interpreted": "dqn_loss.make_runner(make_space(), cfg) on NAMED_PROGRAMS['dqn'] x programs, encoded "
                           "with pad_to=programs, dead_nodes=False; keys [seeds] shared by the programs as in "
                           "DQNLossDomain.train, so seeds distinct runs each computed programs times",
            "throughput": "env transitions per second, all agents; with_compile: agents * steps / (compile_s + "
                          "run_s) (peers: setup_s + learn_s); steady: / run_s; *_per_cpu_s: the same per CPU "
                          "second of the process (time.process_time, all its threads)",
            "returns": "final_return: mean of the last 5 completed training episodes per env (epsilon 0.05); "
                       "peers' eval_return: 10 greedy episodes after training",
        },
        "results": rows,
        "ratios": ratios,
    }
    print(f"\n{'arm':>11} {'agents':>6} {'compile/setup s':>15} {'run s':>7} {'steps/s w/ compile':>18} "
          f"{'steady':>8} {'per cpu s':>9} {'final return':>12}")
    for name, row in rows.items():
        if "steady_steps_per_s" not in row:
            print(f"{name:>11} skipped: {row.get('skipped')}")
            continue
        print(f"{name:>11} {row['agents']:>6} {row.get('compile_s', row.get('setup_s', 0.0)):>15.1f} "
              f"{row['run_s']:>7.1f} {row['with_compile_steps_per_s']:>18,.0f} {row['steady_steps_per_s']:>8,.0f} "
              f"{row['steady_steps_per_cpu_s']:>9,.0f} {row['final_return']:>12.1f}")
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")
    print(f"wrote {write_result('dqn_sb3', result, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
