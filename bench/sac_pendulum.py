"""SAC on Pendulum-v1: a population of discolab ``make_sac`` agents in one jitted call vs stable-baselines3 vs sbx.

Usage (bench/results/sac_pendulum.json is the first command; about 4 minutes on 2 CPU cores)::

    nice -n 10 .venv/bin/python bench/sac_pendulum.py
    .venv/bin/python bench/sac_pendulum.py --steps 3000 --no-peers      # a quick pass, ours only

Peers run in subprocesses of ``.venv-bench`` (create it with ``python3 -m
venv .venv-bench && .venv-bench/bin/pip install stable-baselines3 sbx-rl``;
each subprocess is ``.venv-bench/bin/python bench/sac_pendulum.py
--peer-worker '{"lib": "sb3", ...}'``), one after the other, after ours, on
the same machine in the same run.

Arms, all on Pendulum-v1 (200-step episodes, truncation bootstraps), the same
settings (``settings()``: 64x64 ReLU actor and twin critics, Adam 1e-3 for
both, batch 128, buffer 50,000, 500 uniform-random warm-up transitions, one
env, one critic + actor update per env step, tau 0.01, gamma 0.99, FIXED
entropy coefficient 0.2):

- ``ours``: ``discolab.rl.make_sac`` with the hand-written ``sac_actor_loss``
  and ``sac_critic_loss``: a population of programs x seeds agents (default
  2 x 4 = 8; the hand-written losses ignore the program axis, which is there
  so the shape is the search's; each program has its own seeds, so the 8
  are distinct runs) trained by ONE ``jax.jit(vmap(vmap(train)))`` call on
  gymnax's Pendulum.
- ``sb3``: stable-baselines3 SAC (PyTorch, CPU, ``torch.set_num_threads(1)``
  by default, ``--torch-threads``: on this 2-core machine under a shared
  load 2 threads ran 35 updates/s and 1 thread 259, the OpenMP workers
  spinning against each other at these tiny matrices), one agent, gymnasium's numpy Pendulum-v1,
  ``ent_coef=0.2`` (a float: not learned), ``net_arch=[64, 64]``.
- ``sbx``: sbx-rl's SAC (SB3's JAX port: jitted updates, host-side env and
  buffer), one agent, the same arguments.

Differences left: SB3/sbx clip log_std to [-20, 2] (ours [-5, 2]) and use
PyTorch's / their own initializations; their env and replay buffer run on
the host; their log-probs are those of the squashed action in [-1, 1], as
ours are.

Figures:

- throughput: env transitions per second, all agents together; ``with_compile``
  = agents x steps / (compile_s + run_s) (peers: setup_s + learn_s, sbx's jit
  compiles inside learn); ``steady`` = agents x steps / run_s. Ours' run_s
  also covers the final evaluation (10 episodes per agent, vmapped). The
  same per CPU second (``*_per_cpu_s``, ``time.process_time`` of the
  process, all threads) is recorded too: on a shared machine other jobs
  stretch wall time, less so CPU time.
- time to threshold: the first training episode at which the mean return of
  the last ``--window`` training episodes (stochastic policy) reaches
  ``--threshold`` (default -300). Peers: wall time since the process began
  building the model (setup included), read by a callback. Ours: one call
  returns everything at once, so the time an agent crossed is estimated as
  compile_s + run_s x (its steps at crossing / steps), every iteration of the
  scan costing the same; reported for the median agent and for the last one
  (the population's time to all-agents-solved).
- final_return: mean return of 10 deterministic episodes after training
  (ours: per agent, then mean / min / max over the population).

Ratios: ``ours_over_PEER_*`` for throughput (above 1: ours faster) and
``ours_over_PEER_threshold_*`` for time to threshold (below 1: ours faster;
ours trains ``agents`` agents in that time, the peer one).

- ``interpreted``: the same population with SAC's losses as an (actor,
  critic) program pair of the ``actor_critic`` domain, run by the graph
  interpreter exactly as a MetaPG search batch is (encoded without dead
  nodes, one batch plan shared by the programs).
  ``interpreted_over_ours_*`` is the cost of interpretation (goal: at least
  0.8); ``interpreted_over_PEER_*`` compares the search's path with the peers.

``population_arm(name, actor_loss, critic_loss, loss_params, ...)`` times
any pair of losses over a program axis (the leading axis of ``loss_params``).

Writes bench/results/sac_pendulum.json (or ``--out``) and prints a table.
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

ENV_ID = "Pendulum-v1"
EPISODE = 200  # Pendulum's fixed episode length


def settings(steps: int) -> dict[str, Any]:
    """The settings every arm reads, as a plain dict (``SACConfig``'s defaults, one env)."""
    return {
        "total_steps": steps, "num_envs": 1, "hidden": [64, 64], "lr": 1e-3, "batch_size": 128,
        "buffer_size": 50_000, "learning_starts": 500, "train_freq": 1, "gradient_steps": 1,
        "tau": 0.01, "gamma": 0.99, "ent_coef": 0.2, "eval_episodes": 10,
    }


def crossing(returns: list[float], threshold: float, window: int) -> int | None:
    """Index of the first episode at which the mean of the last ``window`` returns reaches ``threshold``."""
    for i in range(window - 1, len(returns)):
        if sum(returns[i - window + 1 : i + 1]) / window >= threshold:
            return i
    return None


# ----------------------------------------------------------------------------------------------------
# Ours: a population in one compiled call.
# ----------------------------------------------------------------------------------------------------


def population_arm(
    name: str, actor_loss: Any, critic_loss: Any, loss_params: Any, config: dict[str, Any], seeds: int, seed: int,
    threshold: float, window: int, loss_axes: Any = 0,
) -> dict[str, Any]:
    """Times ``make_sac`` with these losses over ``programs x seeds`` agents in one jitted call.

    ``loss_axes`` is the vmap in_axes of ``loss_params`` (the interpreted arm
    shares its batch plan across programs, as the search does).

    ``loss_params`` is any pytree whose leaves have the program axis leading
    (``programs`` = its length); program p's seeds are row p of
    ``jax.random.split(key(seed), programs * seeds)``. Returns the row the
    JSON stores under ``name``.
    """
    import jax
    import numpy as np

    from discolab import rl

    steps = config["total_steps"]
    cfg = rl.SACConfig(
        env_id=ENV_ID, total_steps=steps, num_envs=config["num_envs"], hidden=tuple(config["hidden"]),
        actor_lr=config["lr"], critic_lr=config["lr"], batch_size=config["batch_size"],
        buffer_size=config["buffer_size"], learning_starts=config["learning_starts"],
        updates_per_step=config["gradient_steps"], tau=config["tau"], gamma=config["gamma"],
        alpha=config["ent_coef"], num_logs=steps // config["num_envs"] // EPISODE,
        eval_episodes=config["eval_episodes"],
    )
    programs = len(jax.tree.leaves(loss_params)[0])
    train = rl.make_sac(cfg, actor_loss, critic_loss)
    # Each program its own seeds (the search's grid shares them: same shapes, same compute), so a population
    # of one loss repeated is programs x seeds distinct agents.
    keys = jax.random.split(jax.random.key(seed), programs * seeds).reshape(programs, seeds)
    t, c = time.perf_counter(), time.process_time()
    compiled = jax.jit(jax.vmap(jax.vmap(train, (None, 0)), (loss_axes, 0))).lower(loss_params, keys).compile()
    compile_s, compile_cpu_s = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    m = jax.block_until_ready(compiled(loss_params, keys))
    run_s, run_cpu_s = time.perf_counter() - t, time.process_time() - c

    agents = programs * seeds
    done_steps = cfg.num_iterations * cfg.num_envs
    curves = np.asarray(m.curve).reshape(agents, -1)  # one training episode per log point
    env_steps = np.asarray(m.env_steps).reshape(agents, -1)
    cross_steps = []
    for a in range(agents):
        i = crossing([float(x) for x in curves[a]], threshold, window)
        cross_steps.append(None if i is None else int(env_steps[a, i]))
    cross_s = [None if s is None else compile_s + run_s * s / done_steps for s in cross_steps]
    reached = sorted(s for s in cross_s if s is not None)
    final = np.asarray(m.final_return).reshape(-1)
    row = {
        "programs": programs, "seeds": seeds, "agents": agents, "steps_per_agent": done_steps,
        "compile_s": compile_s, "run_s": run_s, "compile_cpu_s": compile_cpu_s, "run_cpu_s": run_cpu_s,
        "with_compile_steps_per_s": agents * done_steps / (compile_s + run_s),
        "steady_steps_per_s": agents * done_steps / run_s,
        "with_compile_steps_per_cpu_s": agents * done_steps / (compile_cpu_s + run_cpu_s),
        "steady_steps_per_cpu_s": agents * done_steps / run_cpu_s,
        "final_return": float(final.mean()), "final_return_min": float(final.min()),
        "final_return_max": float(final.max()), "final_returns": [round(float(x), 1) for x in final],
        "finite": bool(np.all(m.finite)),
        "threshold_steps": cross_steps,
        "threshold_s_per_agent": [None if s is None else round(s, 2) for s in cross_s],
        "agents_reached_threshold": len(reached),
        "threshold_s_median_agent": reached[(agents - 1) // 2] if len(reached) > (agents - 1) // 2 else None,
        "threshold_s_all_agents": reached[-1] if len(reached) == agents else None,
        "episode_returns_mean_over_agents": [round(float(x), 1) for x in np.nanmean(curves, axis=0)],
    }
    print(f"  {name}: {agents} agents, compile {compile_s:.1f}s, run {run_s:.1f}s, "
          f"{row['with_compile_steps_per_s']:,.0f} steps/s with compile; final return {row['final_return']:.0f} "
          f"(min {row['final_return_min']:.0f}); threshold reached by {len(reached)}/{agents}, median agent "
          f"{row['threshold_s_median_agent']} s", flush=True)
    return row


def jax_arms(config: dict[str, Any], args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The in-process arms: hand-written losses, then the same SAC as interpreted programs."""
    import jax.numpy as jnp

    from discolab import rl

    common = {"config": config, "seeds": args.seeds, "seed": args.seed, "threshold": args.threshold,
              "window": args.window}
    pairs = []
    for _ in range(args.arm_repeats):
        # Alternating the two arms, so a load that comes and goes on a shared machine hits both alike.
        # The hand-written losses ignore loss_params: a dummy program axis of length --programs.
        ours = population_arm("ours", rl.sac_actor_loss, rl.sac_critic_loss, jnp.zeros((args.programs,)), **common)
        pairs.append((ours, interpreted_arm(args.programs, common)))
    rows = {"ours": pairs[-1][0], "interpreted": pairs[-1][1]}
    if args.arm_repeats > 1:
        keys = ("with_compile_steps_per_s", "steady_steps_per_s", "with_compile_steps_per_cpu_s",
                "steady_steps_per_cpu_s")
        rows["interpreted"]["repeats"] = [
            {"ours": {k: o[k] for k in keys}, "interpreted": {k: i[k] for k in keys}} for o, i in pairs]
    return rows


def interpreted_arm(programs: int, common: dict[str, Any]) -> dict[str, Any]:
    """The search's path: SAC's losses as an encoded (actor, critic) program pair, run by the interpreter.

    ``programs`` copies of the SAC pair (the actor_critic domain's ``sac_pair``)
    are encoded as a search batch is, and the losses are the domain's
    interpreted ones, with the batch plan shared across programs.
    """
    import jax.numpy as jnp

    from discolab.domains import actor_critic
    from discolab.graph import EncodedPrograms, encode
    from discolab.graph.interpret import plan_batch

    space = actor_critic.make_space()
    pair = actor_critic.sac_pair(space)
    params = []
    for index, name in enumerate(space.names):
        part_space = space.part(name)
        enc = EncodedPrograms(*map(jnp.asarray, encode([pair.parts[index]] * programs, part_space, dead_nodes=False)))
        params.append((enc, plan_batch(enc, part_space)))
    actor_loss = actor_critic.interpreted_loss(space.part("actor"), 0)
    critic_loss = actor_critic.interpreted_loss(space.part("critic"), 1)
    return population_arm("interpreted", actor_loss, critic_loss, tuple(params), loss_axes=((0, None), (0, None)),
                          **common)


# ----------------------------------------------------------------------------------------------------
# The peers (run in .venv-bench, import no discolab).
# ----------------------------------------------------------------------------------------------------


def peer_worker(
    lib: str, config: dict[str, Any], seed: int, threshold: float, window: int, torch_threads: int
) -> dict[str, Any]:
    t0 = time.perf_counter()
    import gymnasium as gym
    import numpy as np
    import stable_baselines3
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.monitor import Monitor

    if lib == "sb3":
        import torch
        from stable_baselines3 import SAC

        torch.set_num_threads(torch_threads)
        lib_versions = {"stable-baselines3": stable_baselines3.__version__, "torch": torch.__version__}
    else:
        import jax
        import sbx
        from sbx import SAC

        lib_versions = {"sbx-rl": sbx.__version__, "jax": jax.__version__,
                        "stable-baselines3": stable_baselines3.__version__}
    import_s = time.perf_counter() - t0

    class Episodes(BaseCallback):
        """Records (seconds since setup began, env steps, return) at each episode end."""

        def __init__(self) -> None:
            super().__init__()
            self.rows: list[tuple[float, int, float]] = []

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:
                    self.rows.append((time.perf_counter() - t_setup, self.num_timesteps, float(info["episode"]["r"])))
            return True

    t_setup, c = time.perf_counter(), time.process_time()
    model = SAC(
        "MlpPolicy", gym.make(ENV_ID), seed=seed, verbose=0, learning_rate=config["lr"],
        buffer_size=config["buffer_size"], learning_starts=config["learning_starts"],
        batch_size=config["batch_size"], tau=config["tau"], gamma=config["gamma"], train_freq=config["train_freq"],
        gradient_steps=config["gradient_steps"], ent_coef=config["ent_coef"],
        policy_kwargs={"net_arch": list(config["hidden"])},
        **({"device": "cpu"} if lib == "sb3" else {}),
    )
    setup_s, setup_cpu_s = time.perf_counter() - t_setup, time.process_time() - c
    episodes = Episodes()
    t, c = time.perf_counter(), time.process_time()
    model.learn(total_timesteps=config["total_steps"], callback=episodes)
    learn_s, learn_cpu_s = time.perf_counter() - t, time.process_time() - c
    t = time.perf_counter()
    mean_return, _ = evaluate_policy(model, Monitor(gym.make(ENV_ID)), n_eval_episodes=config["eval_episodes"],
                                     deterministic=True)
    eval_s = time.perf_counter() - t
    steps = int(model.num_timesteps)
    returns = [r for _, _, r in episodes.rows]
    i = crossing(returns, threshold, window)
    return {
        "agents": 1, "import_s": import_s, "setup_s": setup_s, "run_s": learn_s, "eval_s": eval_s,
        "steps_per_agent": steps,
        "setup_cpu_s": setup_cpu_s, "run_cpu_s": learn_cpu_s,
        "with_compile_steps_per_s": steps / (setup_s + learn_s), "steady_steps_per_s": steps / learn_s,
        "with_compile_steps_per_cpu_s": steps / (setup_cpu_s + learn_cpu_s),
        "steady_steps_per_cpu_s": steps / learn_cpu_s,
        "final_return": float(mean_return),
        "threshold_steps": None if i is None else episodes.rows[i][1],
        "threshold_s": None if i is None else episodes.rows[i][0],
        "episode_returns": [round(r, 1) for r in returns],
        "torch_threads": torch.get_num_threads() if lib == "sb3" else None,
        "versions": {**lib_versions, "gymnasium": gym.__version__, "numpy": np.__version__},
    }


def run_peer(lib: str, config: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    job = {"lib": lib, "config": config, "seed": args.seed, "threshold": args.threshold, "window": args.window,
           "torch_threads": args.torch_threads}
    row = run_peer_worker(__file__, job)
    if "skipped" in row:
        return row
    print(f"  {lib}: setup {row['setup_s']:.1f}s, learn {row['run_s']:.1f}s, "
          f"{row['with_compile_steps_per_s']:,.0f} steps/s with setup; final return {row['final_return']:.0f}; "
          f"threshold at {row['threshold_s']} s", flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10_000,
                        help="env transitions per agent, a multiple of 200 (default 10000)")
    parser.add_argument("--programs", type=int, default=2, help="program axis of our population (default 2)")
    parser.add_argument("--seeds", type=int, default=4, help="seed axis of our population (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="base seed of every arm (default 0)")
    parser.add_argument("--threshold", type=float, default=-300.0, help="return threshold (default -300)")
    parser.add_argument("--window", type=int, default=3, help="training episodes averaged for the threshold (3)")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch threads of the sb3 arm (default 1)")
    parser.add_argument("--no-peers", action="store_true", help="skip stable-baselines3 and sbx")
    parser.add_argument("--arm-repeats", type=int, default=1,
                        help="run ours and interpreted this many times, alternating; ratios are medians (default 1)")
    parser.add_argument("--out", type=Path, default=None, help="JSON output (default bench/results/sac_pendulum.json)")
    parser.add_argument("--peer-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peer_worker is not None:  # the subprocess: print one JSON line
        job = json.loads(args.peer_worker)
        print(json.dumps(peer_worker(job["lib"], job["config"], job["seed"], job["threshold"], job["window"],
                                     job["torch_threads"])))
        return 0
    if args.steps % EPISODE:
        parser.error(f"--steps must be a multiple of {EPISODE} (one log point per episode)")

    config = settings(args.steps)
    started, t0 = now(), time.perf_counter()
    load_before = os.getloadavg()[0]
    rows = jax_arms(config, args)
    for lib in ("sb3", "sbx"):
        rows[lib] = {"skipped": "--no-peers"} if args.no_peers else run_peer(lib, config, args)

    ratios = throughput_ratios(rows)
    for peer in ("sb3", "sbx"):
        if rows[peer].get("threshold_s") is not None:
            for which in ("median_agent", "all_agents"):
                ours = rows["ours"][f"threshold_s_{which}"]
                if ours is not None:
                    ratios[f"ours_over_{peer}_threshold_s_{which}"] = ours / rows[peer]["threshold_s"]
    result = {
        "benchmark": "SAC on Pendulum-v1: a population of discolab make_sac agents in one jitted call, with "
                     "hand-written losses (ours) and with SAC's losses as interpreted programs (interpreted, the "
                     "MetaPG search's path), vs stable-baselines3 SAC (torch) vs sbx SAC (JAX), one agent each, "
                     "same settings",
        "command": " ".join(["python", "bench/sac_pendulum.py", *(argv if argv is not None else sys.argv[1:])]),
        "date": started,
        "total_benchmark_s": time.perf_counter() - t0,
        "load_before": load_before, "load_after": os.getloadavg()[0],
        "device": machine(),
        "versions": versions(("discolab", "jax", "jaxlib", "flax", "optax", "gymnax", "numpy")),
        "source": source_revision(),
        "settings": {
            "env": ENV_ID, "config": config, "seed": args.seed, "threshold": args.threshold, "window": args.window,
            "population": f"{args.programs} programs x {args.seeds} seeds in one jax.jit(vmap(vmap(train))) call",
            "network": "actor: 64x64 ReLU MLP -> mean, log_std (clipped); twin critics: 64x64 ReLU MLP on "
                       "concat(obs, action) -> Q; tanh-squashed Gaussian policy",
            "peer_env": "gymnasium Pendulum-v1 (numpy, TimeLimit 200, Monitor), one env",
            "peer_differences": "log_std clip [-20, 2] (ours [-5, 2]); PyTorch / sbx initializations; env and "
                                "replay buffer on the host; sbx compiles its update inside learn()",
            "throughput": "env transitions per second, all agents; with_compile: agents * steps / (compile_s + "
                          "run_s) (peers: setup_s + learn_s); steady: / run_s; *_per_cpu_s: the same per CPU "
                          "second of the process (time.process_time, all its threads), which a shared, loaded "
                          "machine disturbs less than wall time",
            "time_to_threshold": "wall seconds until the mean of the last `window` training-episode returns reaches "
                         "`threshold`; peers measured by callback from the start of setup; ours estimated as "
                         "compile_s + run_s * steps_at_crossing / steps (one call returns all agents at once)",
            "returns": "final_return: mean of 10 deterministic evaluation episodes after training",
        },
        "results": rows,
        "ratios": ratios,
    }
    print(f"\n{'arm':>11} {'agents':>6} {'compile/setup s':>15} {'run s':>7} {'steps/s w/ compile':>18} "
          f"{'steady':>8} {'final return':>12} {'threshold s':>11}")
    for name, row in rows.items():
        if "steady_steps_per_s" not in row:
            print(f"{name:>11} skipped: {row.get('skipped')}")
            continue
        thr = row.get("threshold_s", row.get("threshold_s_median_agent"))
        print(f"{name:>11} {row['agents']:>6} {row.get('compile_s', row.get('setup_s', 0.0)):>15.1f} "
              f"{row['run_s']:>7.1f} {row['with_compile_steps_per_s']:>18,.0f} {row['steady_steps_per_s']:>8,.0f} "
              f"{row['final_return']:>12.1f} {thr if thr is None else round(thr, 1)!s:>11}")
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")
    print(f"wrote {write_result('sac_pendulum', result, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
