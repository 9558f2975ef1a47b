"""DQN with the loss as a parameter: one pure function per run, the whole run in ``lax.scan``.

``make_train(cfg, loss_fn)`` builds the environment and network once and
returns ``train(loss_params, key) -> Metrics``, a pure traceable function
(purejaxrl's shape). Nothing in it syncs with the host, so

    run = jax.jit(jax.vmap(jax.vmap(train, (None, 0)), (0, None)))

trains a ``[programs, seeds]`` grid in one compiled call, where the leading
axis of every ``loss_params`` leaf is the program axis.

One iteration = one step of ``num_envs`` vectorized envs (auto-reset) with
epsilon-greedy actions, their transitions written to the replay buffer, then
``updates_per_step`` Adam updates on uniformly sampled batches once
``learning_starts`` transitions are stored. The target network copies the
online one every ``target_update`` updates. Iterations are grouped into
``num_logs`` log points (an outer scan over an inner scan), so the metrics
are curves of ``num_logs`` entries.

The loss sees one sampled batch as the dict of ``LOSS_INPUTS`` (see
``discolab.rl.losses``): Q-values of the online net ``theta`` and the target
net ``theta'`` on ``s_t`` and ``s_{t+1}``, the action, reward and discount.
Gradients flow through ``theta`` only; target-net values are stop_gradient.

A loss whose value or gradient is not finite never raises: that update is
skipped (params and optimizer state kept by ``jnp.where``), training goes on,
and ``Metrics.finite`` is False so a domain can score the run at its floor.

Example:
    >>> cfg = DQNConfig(env_id="CartPole-v1", total_steps=2_000, hidden=(64, 64))
    >>> cfg.num_iterations, cfg.log_every, cfg.epsilon_decay_steps
    (250, 5, 1000)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from pydantic import BaseModel, Field, model_validator

from discolab.rl import envs, replay, tree
from discolab.rl.budget import StepBudget
from discolab.rl.networks import QNetwork
from discolab.rl.types import LossFn, LossParams

#: The keys of the dict a loss receives, in a fixed order (shapes in ``losses``).
LOSS_INPUTS = ("q_tm1", "q_t_target", "q_t_online", "q_tm1_target", "a_tm1", "r_t", "discount_t")


class DQNConfig(StepBudget, BaseModel, frozen=True, extra="forbid"):
    """Static settings of a DQN run (hashable: they key the compiled function).

    Epsilon-schedule fields and ``total_steps`` left as ``None`` come from the
    environment's row in ``discolab.rl.envs``. Paper settings: 256x256 MLP,
    Adam 1e-4, batch 32, target update every 100 updates.
    """

    env_id: str = Field("CartPole-v0", description="Registered environment name (discolab.rl.envs.names()).")
    total_steps: int | None = Field(
        None, gt=0, description="Env transitions per agent, summed over its envs; None: the env table's train_steps."
    )
    num_envs: int = Field(8, ge=1, description="Vectorized environments per agent (auto-reset).")
    hidden: tuple[int, ...] = Field((256, 256), description="Widths of the Q-network's hidden ReLU layers.")
    learning_rate: float = Field(1e-4, gt=0, description="Adam learning rate.")
    max_grad_norm: float | None = Field(None, gt=0, description="Clip gradients to this global norm; None: no clip.")
    batch_size: int = Field(32, ge=1, description="Transitions per sampled batch.")
    buffer_size: int = Field(10_000, ge=1, description="Replay capacity in transitions (a multiple of num_envs).")
    learning_starts: int = Field(1_000, ge=0, description="Transitions stored before the first update.")
    updates_per_step: int = Field(1, ge=1, description="Gradient updates per vectorized env step.")
    target_update: int = Field(100, ge=1, description="Gradient updates between target-network copies.")
    gamma: float = Field(0.99, ge=0, le=1, description="Discount factor.")
    epsilon_start: float | None = Field(None, ge=0, le=1, description="Initial epsilon; None: env table.")
    epsilon_end: float | None = Field(None, ge=0, le=1, description="Final epsilon; None: env table.")
    epsilon_steps: int | None = Field(
        None, gt=0, description="Transitions over which epsilon decays linearly; None: env table."
    )
    return_window: int = Field(
        5, ge=1, description="Last completed episodes per env kept for the final return and the fitness."
    )
    num_logs: int = Field(50, ge=1, description="Points on each metric curve (log interval = iterations / num_logs).")

    @model_validator(mode="after")
    def _check(self) -> DQNConfig:
        envs.spec(self.env_id)  # unknown names list the known ones
        self.check_budget()
        return self


    @property
    def epsilon_start_value(self) -> float:
        return self.env_spec.eps_start if self.epsilon_start is None else self.epsilon_start

    @property
    def epsilon_end_value(self) -> float:
        return self.env_spec.eps_end if self.epsilon_end is None else self.epsilon_end

    @property
    def epsilon_decay_steps(self) -> int:
        return self.env_spec.eps_decay_steps if self.epsilon_steps is None else self.epsilon_steps


class Metrics(NamedTuple):
    """What a run reports. Curves have ``num_log_points`` entries; NaN marks "no data yet"."""

    env_steps: jax.Array  # [L] int32 transitions per agent at each log point
    episode_return: jax.Array  # [L] mean over envs of their last `return_window` completed episodes (NaN: none)
    episodes: jax.Array  # [L] int32 completed episodes so far, all envs
    loss: jax.Array  # [L] mean loss of the updates in the interval (NaN: none; non-finite losses show)
    q_mean: jax.Array  # [L] mean over sampled batches of max_a Q(theta, s_t) (NaN: no update yet)
    epsilon: jax.Array  # [L] exploration rate at each log point
    final_return: jax.Array  # [] mean of the last `return_window` completed episodes per env (NaN: none)
    fitness: jax.Array  # [] mean of clip((R - r_min) / (r_max - r_min), 0, 1) over those episodes (0: none)
    finite: jax.Array  # [] bool: every loss and gradient was finite (no update skipped)
    nonfinite_updates: jax.Array  # [] int32 updates skipped for a non-finite loss or gradient


class TrainState(NamedTuple):
    """The scan carry of one agent."""

    params: Any
    target_params: Any
    opt_state: Any
    env_state: Any  # [E] batched env state
    obs: jax.Array  # [E, *obs_shape]
    buffer: replay.ReplayBuffer
    key: jax.Array
    iteration: jax.Array  # int32 vectorized env steps done
    updates: jax.Array  # int32 gradient updates applied or attempted after learning_starts
    ep_return: jax.Array  # [E] return of the running episode
    recent: jax.Array  # [E, K] last K completed returns per env (a ring)
    ep_count: jax.Array  # [E] int32 completed episodes per env
    nonfinite: jax.Array  # int32 skipped updates


class StepStats(NamedTuple):
    """Per-iteration values, averaged into one log point."""

    loss: jax.Array  # sum of this iteration's attempted update losses
    q: jax.Array  # sum of their batch-mean max-Q
    count: jax.Array  # number of attempted updates


TrainFn = Callable[[LossParams, jax.Array], Metrics]


def make_train(cfg: DQNConfig, loss_fn: LossFn) -> TrainFn:
    """Builds the pure training function of a DQN agent whose loss is ``loss_fn``.

    Args:
      cfg: static settings (env, budget, network, optimizer, schedule).
      loss_fn: ``loss_fn(loss_params, inputs) -> [B] or []``; ``inputs`` holds
        ``LOSS_INPUTS`` for one sampled batch (shapes in ``discolab.rl.losses``).
        The trainer minimizes its mean.

    Returns:
      ``train(loss_params, key) -> Metrics``: pure, traceable, vmappable over
      ``loss_params`` (any pytree, e.g. an encoded program) and over ``key``.
    """
    env, env_params = envs.make(cfg.env_id)
    num_actions = env.num_actions
    obs_space = env.observation_space(env_params)
    obs_shape = tuple(obs_space.shape)
    obs_dtype = jnp.dtype(getattr(obs_space, "dtype", jnp.float32))
    spec = cfg.env_spec
    network = QNetwork(num_actions=num_actions, hidden=cfg.hidden, obs_ndim=len(obs_shape))
    tx = optax.adam(cfg.learning_rate)
    if cfg.max_grad_norm is not None:
        tx = optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), tx)
    n_envs, window = cfg.num_envs, cfg.return_window
    eps_start, eps_end, eps_steps = cfg.epsilon_start_value, cfg.epsilon_end_value, cfg.epsilon_decay_steps

    def epsilon(iteration: jax.Array) -> jax.Array:
        frac = jnp.clip(iteration * n_envs / eps_steps, 0.0, 1.0)
        return eps_start + (eps_end - eps_start) * frac

    def init(key: jax.Array) -> TrainState:
        key, k_net, k_env = jax.random.split(key, 3)
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_env, n_envs), env_params)
        params = network.init(k_net, obs[0])
        return TrainState(
            params=params,
            target_params=params,
            opt_state=tx.init(params),
            env_state=env_state,
            obs=obs,
            buffer=replay.init(cfg.buffer_size, obs_shape, obs_dtype),
            key=key,
            iteration=jnp.zeros((), jnp.int32),
            updates=jnp.zeros((), jnp.int32),
            ep_return=jnp.zeros((n_envs,), jnp.float32),
            recent=jnp.zeros((n_envs, window), jnp.float32),
            ep_count=jnp.zeros((n_envs,), jnp.int32),
            nonfinite=jnp.zeros((), jnp.int32),
        )

    def learn(loss_params: LossParams, state: TrainState, key: jax.Array) -> tuple[TrainState, StepStats]:
        """One gradient update on a sampled batch, skipped if not finite or too early."""
        batch = replay.sample(state.buffer, key, cfg.batch_size)
        both = jnp.concatenate([batch.obs, batch.next_obs])  # [2B, ...]
        q_target = jax.lax.stop_gradient(network.apply(state.target_params, both))
        q_tm1_target, q_t_target = jnp.split(q_target, 2)
        discount_t = cfg.gamma * (1.0 - batch.terminated.astype(jnp.float32))

        def loss_of(params: Any) -> tuple[jax.Array, jax.Array]:
            q_tm1, q_t_online = jnp.split(network.apply(params, both), 2)
            inputs = {
                "q_tm1": q_tm1,
                "q_t_target": q_t_target,
                "q_t_online": q_t_online,
                "q_tm1_target": q_tm1_target,
                "a_tm1": batch.action,
                "r_t": batch.reward,
                "discount_t": discount_t,
            }
            loss = jnp.mean(jnp.asarray(loss_fn(loss_params, inputs), jnp.float32))
            return loss, jnp.mean(jnp.max(q_tm1, axis=-1))

        (loss, q_mean), grads = jax.value_and_grad(loss_of, has_aux=True)(state.params)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)

        ready = (state.iteration * n_envs >= cfg.learning_starts) & (state.buffer.size >= cfg.batch_size)
        ok = jnp.isfinite(loss) & tree.all_finite(grads)
        apply = ready & ok
        n_updates = state.updates + ready.astype(jnp.int32)
        sync = ready & (n_updates % cfg.target_update == 0)
        params = tree.where(apply, params, state.params)
        state = state._replace(
            params=params,
            opt_state=tree.where(apply, opt_state, state.opt_state),
            target_params=tree.where(sync, params, state.target_params),
            updates=n_updates,
            nonfinite=state.nonfinite + (ready & ~ok).astype(jnp.int32),
        )
        zero = jnp.zeros((), jnp.float32)
        stats = StepStats(
            loss=jnp.where(ready, loss, zero), q=jnp.where(ready, q_mean, zero), count=ready.astype(jnp.int32)
        )
        return state, stats

    def iterate(loss_params: LossParams, state: TrainState, _: None) -> tuple[TrainState, StepStats]:
        """One vectorized env step, its transitions stored, then the updates."""
        key, k_explore, k_act, k_step, k_learn = jax.random.split(state.key, 5)
        q = network.apply(state.params, state.obs)  # [E, A]
        greedy = jnp.argmax(q, axis=-1)
        random_action = jax.random.randint(k_act, (n_envs,), 0, num_actions)
        explore = jax.random.uniform(k_explore, (n_envs,)) < epsilon(state.iteration)
        action = jnp.where(explore, random_action, greedy).astype(jnp.int32)

        obs, env_state, reward, terminated, truncated, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
            jax.random.split(k_step, n_envs), state.env_state, action, env_params
        )
        reward = reward.astype(jnp.float32)
        buffer = replay.add(
            state.buffer,
            replay.Transition(state.obs, action, reward, terminated, info["final_observation"]),
        )

        done = terminated | truncated
        ep_return = state.ep_return + reward
        slot = jax.nn.one_hot(state.ep_count % window, window, dtype=jnp.bool_) & done[:, None]  # [E, K]
        recent = jnp.where(slot, ep_return[:, None], state.recent)
        state = state._replace(
            env_state=env_state,
            obs=obs,
            buffer=buffer,
            key=key,
            iteration=state.iteration + 1,
            ep_return=jnp.where(done, 0.0, ep_return),
            recent=recent,
            ep_count=state.ep_count + done.astype(jnp.int32),
        )
        state, stats = jax.lax.scan(
            functools.partial(learn, loss_params), state, jax.random.split(k_learn, cfg.updates_per_step)
        )
        return state, jax.tree.map(jnp.sum, stats)

    def recent_valid(state: TrainState) -> jax.Array:
        return jnp.arange(window)[None, :] < jnp.minimum(state.ep_count, window)[:, None]  # [E, K]

    def mean_recent_return(state: TrainState) -> jax.Array:
        valid = recent_valid(state)
        n = jnp.sum(valid)
        return jnp.where(n > 0, jnp.sum(jnp.where(valid, state.recent, 0.0)) / jnp.maximum(n, 1), jnp.nan)

    def log_point(loss_params: LossParams, state: TrainState, _: None) -> tuple[TrainState, dict]:
        state, stats = jax.lax.scan(functools.partial(iterate, loss_params), state, None, cfg.log_every)
        count = jnp.sum(stats.count)
        per_update = lambda total: jnp.where(count > 0, jnp.sum(total) / jnp.maximum(count, 1), jnp.nan)  # noqa: E731
        point = {
            "env_steps": state.iteration * n_envs,
            "episode_return": mean_recent_return(state),
            "episodes": jnp.sum(state.ep_count),
            "loss": per_update(stats.loss),
            "q_mean": per_update(stats.q),
            "epsilon": epsilon(state.iteration),
        }
        return state, point

    def train(loss_params: LossParams, key: jax.Array) -> Metrics:
        state = init(key)
        state, curves = jax.lax.scan(functools.partial(log_point, loss_params), state, None, cfg.num_log_points)
        valid = recent_valid(state)
        n = jnp.sum(valid)
        normalized = spec.normalize(state.recent)
        fitness = jnp.where(n > 0, jnp.sum(jnp.where(valid, normalized, 0.0)) / jnp.maximum(n, 1), 0.0)
        return Metrics(
            **curves,
            final_return=mean_recent_return(state),
            fitness=fitness,
            finite=state.nonfinite == 0,
            nonfinite_updates=state.nonfinite,
        )

    return train
