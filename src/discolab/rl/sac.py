"""SAC with the actor loss and the critic loss as parameters: the trainer a search over SAC's losses (MetaPG) runs.

``make_sac(cfg, actor_loss, critic_loss, eval_params)`` builds the
environment and the networks once and returns ``train(loss_params, key) ->
SACMetrics``, a pure traceable function (``dqn.make_train``'s shape). Nothing
in it syncs with the host, so

    run = jax.jit(jax.vmap(jax.vmap(train, (None, 0)), (0, None)))

trains a ``[programs, seeds]`` grid in one compiled call, where the leading
axis of every ``loss_params`` leaf is the program axis. Both losses receive
the same ``loss_params`` (a program encodes both, or either ignores it).

The agent: a tanh-squashed Gaussian policy (``TanhGaussianActor``), twin
critics (two parameter sets of one ``ContinuousQNetwork``, vmapped) and
their Polyak-averaged targets (``tau``), a uniform replay buffer
(``discolab.rl.replay`` with float action rows), one Adam per network.
One iteration = one step of ``num_envs`` vectorized envs (auto-reset;
uniform random actions until ``learning_starts`` transitions, as SB3 does,
then policy samples), the transitions stored, then ``updates_per_step``
updates, each on its own batch: the critic update, then the actor update
against the just-updated critics, then the target update (SB3's order).

The entropy temperature ``alpha`` is FIXED (``SACConfig.alpha``), as in the
graph encoding of SAC in the MetaPG line: alpha is an input of the losses,
not learned, so a searched loss can rescale or ignore it but no separate
temperature loss runs. Log-probabilities are those of the squashed action
in ``[-1, 1]^A`` before scaling to the env's bounds (SB3's convention), so
one alpha means the same on envs with different bounds.

The losses see one sampled batch as the dict of ``SAC_LOSS_INPUTS``, every
entry a float array ``[B]``:

* ``q_sa``: critic update: critic i's ``Q_i(s_t, a_t)`` (the critic loss is
  called once per twin, under vmap, and the two means summed; gradient to
  that critic); actor update: ``min_i Q_i(s_t, a_t)``, stop-gradient.
* ``q_pi``: ``min_i Q_i(s_t, a~)``, ``a~ ~ pi(.|s_t)`` reparameterized;
  gradient to the actor (through ``a~``) in the actor update, stop-gradient
  in the critic update.
* ``q_next``: ``min_i Q'_i(s_{t+1}, a'~)`` of the target critics,
  ``a'~ ~ pi(.|s_{t+1})``; stop-gradient.
* ``logp_pi``: ``log pi(a~|s_t)``; gradient to the actor in the actor
  update, stop-gradient in the critic update. ``logp_next``: ``log
  pi(a'~|s_{t+1})``; stop-gradient.
* ``alpha``: the fixed temperature; ``r``: the reward; ``discount``:
  ``gamma * (1 - terminated)``. gymnax separates termination from
  truncation, so a time limit (Pendulum's only ending) keeps the bootstrap.

The critic update differentiates the critic loss w.r.t. the critic params
only, the actor update the actor loss w.r.t. the actor params only. A loss
whose value or gradient is not finite never raises: that update (critic or
actor, each on its own) is skipped, params and optimizer state kept by
``jnp.where``, training goes on, and ``SACMetrics.finite`` is False.

After training the deterministic policy (``tanh`` of the mean, scaled) plays
``eval_episodes`` episodes on the training env params and on each of
``eval_params`` (held-out physics, e.g. ``envs.with_params("Pendulum-v1",
{"m": 1.3, "l": 1.2})``), vmapped over their stacked pytree.

Example:
    >>> cfg = SACConfig(total_steps=6_000, num_envs=2, env_overrides={"m": 1.2})
    >>> cfg.num_iterations, cfg.log_every, cfg.env_overrides
    (3000, 60, (('m', 1.2),))
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from pydantic import BaseModel, Field, field_validator, model_validator

from discolab.rl import envs, replay, tree
from discolab.rl.budget import StepBudget
from discolab.rl.networks import ContinuousQNetwork, TanhGaussianActor
from discolab.rl.types import LossFn, LossInputs, LossParams

#: The keys of the dict both SAC losses receive, in a fixed order; every entry is a float array [B].
SAC_LOSS_INPUTS = ("q_sa", "q_pi", "q_next", "logp_pi", "logp_next", "alpha", "r", "discount")


def sac_critic_loss(loss_params: LossParams, inputs: LossInputs) -> jax.Array:
    """SAC's soft Bellman error: ``0.5 * (q_sa - (r + discount * (q_next - alpha * logp_next)))^2`` per sample."""
    del loss_params
    target = inputs["r"] + inputs["discount"] * (inputs["q_next"] - inputs["alpha"] * inputs["logp_next"])
    return 0.5 * (inputs["q_sa"] - target) ** 2


def sac_actor_loss(loss_params: LossParams, inputs: LossInputs) -> jax.Array:
    """SAC's policy loss: ``alpha * logp_pi - q_pi`` per sample (the KL to the soft-Q Boltzmann policy)."""
    del loss_params
    return inputs["alpha"] * inputs["logp_pi"] - inputs["q_pi"]


class SACConfig(StepBudget, BaseModel, frozen=True, extra="forbid"):
    """Static settings of a SAC run (hashable: they key the compiled function).

    Defaults learn Pendulum-v1 quickly on a CPU: 5,000 transitions bring
    each of 8 seeds to an evaluation return between -110 and -180 (random:
    about -1220), in about 12 s for all 8 vmapped on 2 busy cores. Against
    the paper they use 64x64 nets, lr 1e-3, batch 128, tau 0.01 (0.005 left
    one of 4 seeds near -550 at 8,000 transitions) and 500 warm-up
    transitions. Paper settings (Haarnoja et al. 2018):
    256x256 MLPs, Adam 3e-4, batch 256, buffer 1e6, tau 0.005, gamma 0.99,
    one env and one update per step.
    """

    env_id: str = Field("Pendulum-v1", description="Registered continuous-action environment (envs.names()).")
    env_overrides: tuple[tuple[str, float], ...] = Field(
        (), description="Env-params fields replaced for training, e.g. {'m': 1.3}; stored as sorted (field, value)."
    )
    total_steps: int | None = Field(
        None, gt=0, description="Env transitions per agent, summed over its envs; None: the env table's train_steps."
    )
    num_envs: int = Field(1, ge=1, description="Vectorized environments per agent (auto-reset).")
    hidden: tuple[int, ...] = Field((64, 64), description="Hidden ReLU widths of the actor and each critic.")
    actor_lr: float = Field(1e-3, gt=0, description="Adam learning rate of the actor.")
    critic_lr: float = Field(1e-3, gt=0, description="Adam learning rate of the twin critics.")
    batch_size: int = Field(128, ge=1, description="Transitions per sampled batch.")
    buffer_size: int = Field(50_000, ge=1, description="Replay capacity in transitions (a multiple of num_envs).")
    learning_starts: int = Field(
        500, ge=0, description="Transitions of uniform random actions stored before the first update."
    )
    updates_per_step: int = Field(1, ge=1, description="Critic + actor updates per vectorized env step.")
    tau: float = Field(0.01, gt=0, le=1, description="Polyak rate of the target critics, per update.")
    gamma: float = Field(0.99, ge=0, le=1, description="Discount factor.")
    alpha: float = Field(0.2, ge=0, description="Fixed entropy temperature (not learned).")
    num_logs: int = Field(50, ge=1, description="Points on each metric curve (log interval = iterations / num_logs).")
    eval_episodes: int = Field(10, ge=1, description="Deterministic-policy episodes per evaluated env params.")

    @field_validator("env_overrides", mode="before")
    @classmethod
    def _sorted_pairs(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            value = value.items()
        return tuple(sorted((str(k), v) for k, v in value))

    @model_validator(mode="after")
    def _check(self) -> SACConfig:
        row = envs.spec(self.env_id)  # unknown names list the known ones
        if not row.continuous:
            continuous = [n for n, r in envs.table().items() if r.continuous]
            raise ValueError(f"{self.env_id} has discrete actions; SAC needs a continuous one: {continuous}")
        envs.with_params(self.env_id, dict(self.env_overrides))  # unknown fields list the env's fields
        self.check_budget()
        return self

    @property
    def env_params(self) -> Any:
        """The training env params: the env's defaults with ``env_overrides``."""
        return envs.with_params(self.env_id, dict(self.env_overrides))



class SACMetrics(NamedTuple):
    """What a run reports. Curves have ``num_log_points`` entries; NaN marks "no data yet"."""

    env_steps: jax.Array  # [L] int32 transitions per agent at each log point
    curve: jax.Array  # [L] mean return of the training episodes ended in the interval (last value carried; NaN: none)
    episodes: jax.Array  # [L] int32 completed training episodes so far, all envs
    critic_loss: jax.Array  # [L] mean critic loss (sum over the twins) of the updates in the interval (NaN: none)
    actor_loss: jax.Array  # [L] mean actor loss of the updates in the interval (NaN: none)
    q_mean: jax.Array  # [L] mean Q_i(s_t, a_t) over twins and batches (NaN: no update yet)
    entropy: jax.Array  # [L] mean -logp_pi of the actor updates (squashed-action density; NaN: none)
    final_return: jax.Array  # [] mean deterministic-policy return on the training env params
    eval_returns: jax.Array  # [n_eval_params] the same on each held-out env params ([0] if none given)
    finite: jax.Array  # [] bool: every loss and gradient was finite (no update skipped)
    nonfinite_updates: jax.Array  # [] int32 critic and actor updates skipped for a non-finite loss or gradient


class SACState(NamedTuple):
    """The scan carry of one agent."""

    actor_params: Any
    critic_params: Any  # twin critics: a leading axis of 2 on every leaf
    target_params: Any  # Polyak averages of critic_params
    actor_opt: Any
    critic_opt: Any
    env_state: Any  # [E] batched env state
    obs: jax.Array  # [E, D]
    buffer: replay.ReplayBuffer  # action rows are float [A] in [-1, 1]
    key: jax.Array
    iteration: jax.Array  # int32 vectorized env steps done
    ep_return: jax.Array  # [E] return of the running episode
    last_return: jax.Array  # [] the curve's last value (NaN before the first completed episode)
    episodes: jax.Array  # int32 completed episodes, all envs
    nonfinite: jax.Array  # int32 skipped updates


class StepStats(NamedTuple):
    """Per-iteration sums, combined into one log point."""

    critic_loss: jax.Array  # sum over this iteration's attempted updates
    actor_loss: jax.Array
    q: jax.Array
    entropy: jax.Array
    count: jax.Array  # attempted updates
    ended_return: jax.Array  # sum of the returns of episodes that ended
    ended: jax.Array  # number of episodes that ended


SACTrainFn = Callable[[LossParams, jax.Array], SACMetrics]


def _stack(trees: Sequence[Any]) -> Any:
    return jax.tree.map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *trees)


def make_sac(
    cfg: SACConfig,
    actor_loss: LossFn,
    critic_loss: LossFn,
    eval_params: Sequence[Any] | None = None,
) -> SACTrainFn:
    """Builds the pure training function of a SAC agent whose losses are ``actor_loss`` and ``critic_loss``.

    Args:
      cfg: static settings (env, budget, networks, optimizers, temperature).
      actor_loss: ``actor_loss(loss_params, inputs) -> [B] or []``; ``inputs``
        holds ``SAC_LOSS_INPUTS`` for one batch. The trainer minimizes its
        mean w.r.t. the actor params.
      critic_loss: the same signature; called once per twin critic (vmapped,
        ``q_sa`` that critic's value), the two means summed and minimized
        w.r.t. the critic params.
      eval_params: held-out env params (e.g. from ``envs.with_params``) on
        which the final deterministic policy is also evaluated; all of one
        env's params type. None or empty: ``eval_returns`` is ``[0]``.

    Returns:
      ``train(loss_params, key) -> SACMetrics``: pure, traceable, vmappable
      over ``loss_params`` (any pytree, e.g. an encoded program) and ``key``.
    """
    env, _ = envs.make(cfg.env_id)
    env_params = cfg.env_params
    action_dim = cfg.env_spec.action_dim
    obs_shape = tuple(env.observation_space(env_params).shape)
    space = env.action_space(env_params)
    low = jnp.broadcast_to(jnp.asarray(space.low, jnp.float32), (action_dim,))
    high = jnp.broadcast_to(jnp.asarray(space.high, jnp.float32), (action_dim,))
    held_out = list(eval_params or [])
    # One static horizon for every evaluation: episodes that end earlier stop counting reward.
    eval_steps = max(int(p.max_steps_in_episode) for p in [env_params, *held_out])
    stacked_eval = _stack(held_out) if held_out else None

    actor = TanhGaussianActor(action_dim=action_dim, hidden=cfg.hidden)
    critic = ContinuousQNetwork(hidden=cfg.hidden)
    actor_tx, critic_tx = optax.adam(cfg.actor_lr), optax.adam(cfg.critic_lr)
    n_envs, batch_size = cfg.num_envs, cfg.batch_size

    def to_env(squashed: jax.Array) -> jax.Array:
        """``[-1, 1]^A`` -> the env's action bounds."""
        return low + 0.5 * (squashed + 1.0) * (high - low)

    def sample_action(actor_params: Any, obs: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Reparameterized ``(tanh(u), log pi(tanh(u)|obs))``, ``u ~ N(mean, std)``; both ``[..., A]`` / ``[...]``."""
        mean, log_std = actor.apply(actor_params, obs)
        noise = jax.random.normal(key, mean.shape)
        u = mean + jnp.exp(log_std) * noise
        log_normal = -0.5 * noise**2 - log_std - 0.5 * jnp.log(2.0 * jnp.pi)
        # log(1 - tanh(u)^2) in a form that stays finite for large |u|.
        log_jacobian = 2.0 * (jnp.log(2.0) - u - jax.nn.softplus(-2.0 * u))
        return jnp.tanh(u), jnp.sum(log_normal - log_jacobian, axis=-1)

    def q_twin(critic_params: Any, obs: jax.Array, action: jax.Array) -> jax.Array:
        """``[2, B]``: both critics' values."""
        return jax.vmap(critic.apply, in_axes=(0, None, None))(critic_params, obs, action)

    def init(key: jax.Array) -> SACState:
        key, k_actor, k_critic, k_env = jax.random.split(key, 4)
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_env, n_envs), env_params)
        actor_params = actor.init(k_actor, obs[0])
        critic_params = jax.vmap(critic.init, in_axes=(0, None, None))(
            jax.random.split(k_critic, 2), obs[0], jnp.zeros((action_dim,), jnp.float32)
        )
        buffer = replay.init(cfg.buffer_size, obs_shape, jnp.float32)
        buffer = buffer._replace(data=buffer.data._replace(action=jnp.zeros((cfg.buffer_size, action_dim))))
        return SACState(
            actor_params=actor_params,
            critic_params=critic_params,
            target_params=critic_params,
            actor_opt=actor_tx.init(actor_params),
            critic_opt=critic_tx.init(critic_params),
            env_state=env_state,
            obs=obs,
            buffer=buffer,
            key=key,
            iteration=jnp.zeros((), jnp.int32),
            ep_return=jnp.zeros((n_envs,), jnp.float32),
            last_return=jnp.full((), jnp.nan, jnp.float32),
            episodes=jnp.zeros((), jnp.int32),
            nonfinite=jnp.zeros((), jnp.int32),
        )

    def learn(loss_params: LossParams, state: SACState, key: jax.Array) -> tuple[SACState, StepStats]:
        """One critic update, one actor update and the target update on one batch; skipped if too early."""
        k_batch, k_next, k_pi = jax.random.split(key, 3)
        batch = replay.sample(state.buffer, k_batch, batch_size)
        obs, action = batch.obs, batch.action

        a_next, logp_next = sample_action(state.actor_params, batch.next_obs, k_next)
        q_next = jnp.min(q_twin(state.target_params, batch.next_obs, a_next), axis=0)
        a_pi, logp_pi = sample_action(state.actor_params, obs, k_pi)
        q_pi = jnp.min(q_twin(state.critic_params, obs, a_pi), axis=0)
        common = jax.lax.stop_gradient({
            "q_pi": q_pi,
            "q_next": q_next,
            "logp_pi": logp_pi,
            "logp_next": logp_next,
            "alpha": jnp.full((batch_size,), cfg.alpha, jnp.float32),
            "r": batch.reward,
            "discount": cfg.gamma * (1.0 - batch.terminated.astype(jnp.float32)),
        })
        ready = (state.iteration * n_envs >= cfg.learning_starts) & (state.buffer.size >= batch_size)

        def critic_objective(critic_params: Any) -> tuple[jax.Array, jax.Array]:
            q_sa = q_twin(critic_params, obs, action)  # [2, B]
            per_twin = jax.vmap(
                lambda q: jnp.mean(jnp.asarray(critic_loss(loss_params, {**common, "q_sa": q}), jnp.float32))
            )(q_sa)
            return jnp.sum(per_twin), jnp.mean(q_sa)

        (c_loss, q_mean), c_grads = jax.value_and_grad(critic_objective, has_aux=True)(state.critic_params)
        updates, critic_opt = critic_tx.update(c_grads, state.critic_opt, state.critic_params)
        c_ok = jnp.isfinite(c_loss) & tree.all_finite(c_grads)
        c_apply = ready & c_ok
        critic_params = tree.where(c_apply, optax.apply_updates(state.critic_params, updates), state.critic_params)
        critic_opt = tree.where(c_apply, critic_opt, state.critic_opt)

        frozen_critics = jax.lax.stop_gradient(critic_params)
        q_sa_min = jnp.min(q_twin(frozen_critics, obs, action), axis=0)

        def actor_objective(actor_params: Any) -> tuple[jax.Array, jax.Array]:
            a_pi, logp_pi = sample_action(actor_params, obs, k_pi)  # the critic update's a~, now differentiable
            inputs = {
                **common,
                "q_sa": q_sa_min,
                "q_pi": jnp.min(q_twin(frozen_critics, obs, a_pi), axis=0),
                "logp_pi": logp_pi,
            }
            return jnp.mean(jnp.asarray(actor_loss(loss_params, inputs), jnp.float32)), -jnp.mean(logp_pi)

        (a_loss, entropy), a_grads = jax.value_and_grad(actor_objective, has_aux=True)(state.actor_params)
        updates, actor_opt = actor_tx.update(a_grads, state.actor_opt, state.actor_params)
        a_ok = jnp.isfinite(a_loss) & tree.all_finite(a_grads)
        a_apply = ready & a_ok
        actor_params = tree.where(a_apply, optax.apply_updates(state.actor_params, updates), state.actor_params)
        actor_opt = tree.where(a_apply, actor_opt, state.actor_opt)

        polyak = optax.incremental_update(critic_params, state.target_params, cfg.tau)
        state = state._replace(
            actor_params=actor_params,
            critic_params=critic_params,
            target_params=tree.where(ready, polyak, state.target_params),
            actor_opt=actor_opt,
            critic_opt=critic_opt,
            nonfinite=state.nonfinite + (ready & ~c_ok).astype(jnp.int32) + (ready & ~a_ok).astype(jnp.int32),
        )
        zero = jnp.zeros((), jnp.float32)
        stats = StepStats(
            critic_loss=jnp.where(ready, c_loss, zero),
            actor_loss=jnp.where(ready, a_loss, zero),
            q=jnp.where(ready, q_mean, zero),
            entropy=jnp.where(ready, entropy, zero),
            count=ready.astype(jnp.int32),
            ended_return=zero,
            ended=jnp.zeros((), jnp.int32),
        )
        return state, stats

    def iterate(loss_params: LossParams, state: SACState, _: None) -> tuple[SACState, StepStats]:
        """One vectorized env step, its transitions stored, then the updates."""
        key, k_random, k_policy, k_step, k_learn = jax.random.split(state.key, 5)
        policy_action, _ = sample_action(state.actor_params, state.obs, k_policy)
        random_action = jax.random.uniform(k_random, (n_envs, action_dim), minval=-1.0, maxval=1.0)
        warmup = state.iteration * n_envs < cfg.learning_starts
        action = jnp.where(warmup, random_action, policy_action)  # [E, A] in [-1, 1]

        obs, env_state, reward, terminated, truncated, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
            jax.random.split(k_step, n_envs), state.env_state, to_env(action), env_params
        )
        reward = reward.astype(jnp.float32)
        buffer = replay.add(
            state.buffer, replay.Transition(state.obs, action, reward, terminated, info["final_observation"])
        )
        done = terminated | truncated
        ep_return = state.ep_return + reward
        state = state._replace(
            env_state=env_state,
            obs=obs,
            buffer=buffer,
            key=key,
            iteration=state.iteration + 1,
            ep_return=jnp.where(done, 0.0, ep_return),
            episodes=state.episodes + jnp.sum(done, dtype=jnp.int32),
        )
        state, stats = jax.lax.scan(
            functools.partial(learn, loss_params), state, jax.random.split(k_learn, cfg.updates_per_step)
        )
        stats = jax.tree.map(jnp.sum, stats)._replace(
            ended_return=jnp.sum(jnp.where(done, ep_return, 0.0)), ended=jnp.sum(done, dtype=jnp.int32)
        )
        return state, stats

    def log_point(loss_params: LossParams, state: SACState, _: None) -> tuple[SACState, dict]:
        state, stats = jax.lax.scan(functools.partial(iterate, loss_params), state, None, cfg.log_every)
        count, ended = jnp.sum(stats.count), jnp.sum(stats.ended)

        def per_update(total: jax.Array) -> jax.Array:
            return jnp.where(count > 0, jnp.sum(total) / jnp.maximum(count, 1), jnp.nan)

        last_return = jnp.where(ended > 0, jnp.sum(stats.ended_return) / jnp.maximum(ended, 1), state.last_return)
        state = state._replace(last_return=last_return)
        point = {
            "env_steps": state.iteration * n_envs,
            "curve": last_return,
            "episodes": state.episodes,
            "critic_loss": per_update(stats.critic_loss),
            "actor_loss": per_update(stats.actor_loss),
            "q_mean": per_update(stats.q),
            "entropy": per_update(stats.entropy),
        }
        return state, point

    def evaluate(actor_params: Any, params: Any, key: jax.Array) -> jax.Array:
        """Mean return of ``eval_episodes`` deterministic episodes on env ``params``."""
        n = cfg.eval_episodes
        k_reset, k_run = jax.random.split(key)
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_reset, n), params)

        def step(carry: tuple, key: jax.Array) -> tuple[tuple, None]:
            obs, env_state, ret, alive = carry
            mean, _ = actor.apply(actor_params, obs)
            obs, env_state, reward, terminated, truncated, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(key, n), env_state, to_env(jnp.tanh(mean)), params
            )
            ret = ret + jnp.where(alive, reward.astype(jnp.float32), 0.0)
            return (obs, env_state, ret, alive & ~(terminated | truncated)), None

        carry = (obs, env_state, jnp.zeros((n,), jnp.float32), jnp.ones((n,), jnp.bool_))
        (_, _, ret, _), _ = jax.lax.scan(step, carry, jax.random.split(k_run, eval_steps))
        return jnp.mean(ret)

    def train(loss_params: LossParams, key: jax.Array) -> SACMetrics:
        key, k_eval = jax.random.split(key)
        state = init(key)
        state, curves = jax.lax.scan(functools.partial(log_point, loss_params), state, None, cfg.num_log_points)
        # The same eval key everywhere: held-out and training returns differ by the physics, not the starts.
        final_return = evaluate(state.actor_params, env_params, k_eval)
        if stacked_eval is None:
            eval_returns = jnp.zeros((0,), jnp.float32)
        else:
            eval_returns = jax.vmap(evaluate, in_axes=(None, 0, None))(state.actor_params, stacked_eval, k_eval)
        return SACMetrics(
            **curves,
            final_return=final_return,
            eval_returns=eval_returns,
            finite=state.nonfinite == 0,
            nonfinite_updates=state.nonfinite,
        )

    return train
