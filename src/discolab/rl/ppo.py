"""PPO as one pure function: the whole run is a ``lax.scan`` over updates, the state an explicit pytree.

``make_ppo(env, env_params, network, cfg)`` returns three functions:

- ``init(key) -> PPOState``: network variables, optimizer state, the
  vectorized envs after reset;
- ``run(state, num_updates) -> (state, metrics)``: ``num_updates`` PPO
  updates (jitted, ``num_updates`` static). Everything a run depends on is in
  the state, its key included, so ``run(run(s, 3)[0], 2)`` equals
  ``run(s, 5)`` bit for bit: a study serializes the state
  (``flax.serialization.to_bytes``) and continues where it stopped;
- ``train(key) = run(init(key), cfg.num_updates)``: pure, so
  ``jax.jit(jax.vmap(ppo.train))(keys)`` trains many seeds in one call.

One update (purejaxrl's ``ppo.py``): ``rollout_steps`` steps of ``num_envs``
auto-resetting envs with the current policy, GAE, then ``update_epochs``
passes over the ``rollout_steps * num_envs`` transitions in
``num_minibatches`` shuffled minibatches. The loss is the clipped surrogate
(advantages normalized per minibatch), plus ``vf_coef`` times the clipped
value loss, minus ``ent_coef`` times the entropy.

Episode ends: GAE stops bootstrapping at ``terminated | truncated``, as
purejaxrl does. For a time limit this is the usual small bias (the value of
the cut-off state is taken as 0) and keeps one value pass per step; the envs
we train on end almost always by ``terminated`` or at a limit the policy
rarely reaches while learning.

Gradients are taken with respect to the whole flax variables dict, every
collection, so an architecture search can keep its weights in a collection
of their own (``{"params": ..., "arch": ...}``) and give them their own
optimizer with ``optax.multi_transform`` (pass it as ``tx``). Networks with
mutable state (batch norm) are not supported.

Example:
    >>> from discolab.rl import envs
    >>> from discolab.rl.networks import ActorCritic, MLPEncoder
    >>> env, env_params = envs.make("CartPole-v1")
    >>> cfg = PPOConfig(num_envs=4, rollout_steps=16, total_steps=128, num_minibatches=2)
    >>> ppo = make_ppo(env, env_params, ActorCritic(MLPEncoder((8,)), env.num_actions, hidden=8), cfg)
    >>> state, metrics = ppo.train(jax.random.key(0))
    >>> cfg.num_updates, metrics["loss"].shape, int(state.update)
    (2, (2,), 2)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

Metrics = dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """Static settings of a PPO run (hashable). Defaults: purejaxrl's MinAtar-scale settings.

    Attributes:
      num_envs: vectorized environments (auto-reset).
      rollout_steps: steps per env per update.
      total_steps: env transitions of the whole run, summed over envs;
        ``num_updates = total_steps // (num_envs * rollout_steps)``.
      update_epochs: passes over each rollout.
      num_minibatches: minibatches per pass; must divide
        ``num_envs * rollout_steps``.
      gamma: discount factor.
      gae_lambda: GAE's lambda.
      clip_eps: PPO's ratio clip, also the value clip.
      ent_coef: weight of the entropy bonus.
      vf_coef: weight of the value loss.
      max_grad_norm: global-norm gradient clip of the default optimizer.
      lr: Adam's learning rate of the default optimizer.
      anneal_lr: decay the default optimizer's rate linearly to 0 over the run.
    """

    num_envs: int = 64
    rollout_steps: int = 128
    total_steps: int = 1_000_000
    update_epochs: int = 4
    num_minibatches: int = 8
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    lr: float = 5e-4
    anneal_lr: bool = True

    def __post_init__(self) -> None:
        for name in ("num_envs", "rollout_steps", "total_steps", "update_epochs", "num_minibatches"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)!r}")
        for name in ("clip_eps", "max_grad_norm", "lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        for name in ("ent_coef", "vf_coef"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)!r}")
        if self.batch_size % self.num_minibatches:
            raise ValueError(
                f"num_minibatches {self.num_minibatches} must divide num_envs * rollout_steps = {self.batch_size}"
            )
        if self.num_updates < 1:
            raise ValueError(
                f"total_steps {self.total_steps} is less than one update of num_envs * rollout_steps = "
                f"{self.batch_size} transitions"
            )

    @property
    def batch_size(self) -> int:
        """Transitions per update (one rollout of all envs)."""
        return self.num_envs * self.rollout_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    @property
    def num_updates(self) -> int:
        """Updates of a whole run: ``total_steps // (num_envs * rollout_steps)``."""
        return self.total_steps // self.batch_size


class PPOState(NamedTuple):
    """Everything a run needs to continue bit for bit (a pytree; serialize it with flax)."""

    variables: Any  # the network's flax variables, every collection trained
    opt_state: Any
    env_state: Any  # [E] batched env state
    obs: jax.Array  # [E, *obs_shape] the next observation of each env
    key: jax.Array  # uint32 raw key data (jax.random.key_data): flax.serialization cannot write typed keys
    update: jax.Array  # [] int32 updates done
    episode_return: jax.Array  # [E] float32 return so far of each env's running episode


class PPO(NamedTuple):
    """The three functions of a PPO agent (see the module docstring)."""

    init: Callable[[jax.Array], PPOState]
    run: Callable[[PPOState, int], tuple[PPOState, Metrics]]
    train: Callable[[jax.Array], tuple[PPOState, Metrics]]


class _Rollout(NamedTuple):
    obs: jax.Array  # [T, E, *obs_shape]
    action: jax.Array  # [T, E] int32
    log_prob: jax.Array  # [T, E]
    value: jax.Array  # [T, E]
    reward: jax.Array  # [T, E]
    done: jax.Array  # [T, E] bool: terminated | truncated
    ended_return: jax.Array  # [T, E] return of the episode that ended at this step (0 where none)


class _Batch(NamedTuple):
    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    advantage: jax.Array
    target: jax.Array


def _typed(key: jax.Array) -> jax.Array:
    """A typed key from a typed one or from a legacy ``uint32[2]`` one (``jax.random.PRNGKey``)."""
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    return jax.random.wrap_key_data(key)


def default_tx(cfg: PPOConfig) -> optax.GradientTransformation:
    """Global-norm clip then Adam (eps 1e-5), the rate annealed linearly to 0 when ``cfg.anneal_lr``.

    The schedule reads the optimizer's own step count and drops once per
    update (purejaxrl's: ``lr * (1 - (count // (epochs * minibatches)) /
    num_updates)``), so a resumed run continues the same schedule. Reuse it
    for the network's label inside ``optax.multi_transform``.
    """
    steps_per_update = cfg.update_epochs * cfg.num_minibatches

    def schedule(count: jax.Array) -> jax.Array:
        frac = 1.0 - (count // steps_per_update) / cfg.num_updates
        return cfg.lr * jnp.maximum(frac, 0.0)

    lr = schedule if cfg.anneal_lr else cfg.lr
    return optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), optax.adam(lr, eps=1e-5))


def gae(
    reward: jax.Array, value: jax.Array, done: jax.Array, last_value: jax.Array, gamma: float, gae_lambda: float
) -> tuple[jax.Array, jax.Array]:
    """Generalized advantage estimates and value targets of a ``[T, E]`` rollout.

    ``done[t]`` ends the episode after step ``t``: no bootstrap from ``t + 1``.
    """
    not_done = 1.0 - done.astype(jnp.float32)

    def back(carry: tuple[jax.Array, jax.Array], x: tuple) -> tuple[tuple[jax.Array, jax.Array], jax.Array]:
        next_adv, next_value = carry
        r, v, nd = x
        delta = r + gamma * next_value * nd - v
        adv = delta + gamma * gae_lambda * nd * next_adv
        return (adv, v), adv

    _, advantage = jax.lax.scan(back, (jnp.zeros_like(last_value), last_value), (reward, value, not_done),
                                reverse=True)
    return advantage, advantage + value


def make_ppo(
    env: Any,
    env_params: Any,
    network: nn.Module,
    cfg: PPOConfig,
    tx: optax.GradientTransformation | None = None,
    track: Callable[[Any], Any] | None = None,
) -> PPO:
    """Builds the pure functions of a PPO agent.

    Args:
      env: a gymnax-API environment (see ``discolab.rl.envs``) with discrete
        actions.
      env_params: its params.
      network: ``network.apply(variables, obs [B, ...]) -> (logits [B, A],
        value [B])``; ``network.init(key, obs)`` makes the variables.
      cfg: static settings.
      tx: the optimizer of the whole variables dict; ``None``:
        ``default_tx(cfg)``.
      track: ``track(variables) -> pytree`` recorded after every update as
        ``metrics["tracked"]`` (e.g. the softmax of architecture weights).

    Returns:
      ``PPO(init, run, train)``. ``run``'s metrics are arrays with a leading
      axis of ``num_updates``: ``return`` (mean return of the episodes that
      ended during the update's rollout; NaN if none), ``episodes`` (their
      count), ``steps`` (env transitions so far), and the means over the
      update's minibatches of ``loss``, ``entropy``, ``value_loss``,
      ``approx_kl``; plus ``tracked`` when ``track`` is given.
    """
    tx = default_tx(cfg) if tx is None else tx
    n_envs, n_steps = cfg.num_envs, cfg.rollout_steps
    n_mb, mb_size = cfg.num_minibatches, cfg.minibatch_size
    vstep = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def init(key: jax.Array) -> PPOState:
        key, k_net, k_env = jax.random.split(_typed(key), 3)
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_env, n_envs), env_params)
        variables = network.init(k_net, obs)
        return PPOState(
            variables=variables,
            opt_state=tx.init(variables),
            env_state=env_state,
            obs=obs,
            key=jax.random.key_data(key),
            update=jnp.zeros((), jnp.int32),
            episode_return=jnp.zeros((n_envs,), jnp.float32),
        )

    def rollout(state: PPOState, key: jax.Array) -> tuple[PPOState, _Rollout]:
        def step(carry: tuple, key: jax.Array) -> tuple[tuple, _Rollout]:
            env_state, obs, ep_return = carry
            k_act, k_env = jax.random.split(key)
            logits, value = network.apply(state.variables, obs)
            action = jax.random.categorical(k_act, logits).astype(jnp.int32)
            log_prob = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], axis=-1)[:, 0]
            next_obs, env_state, reward, terminated, truncated, _ = vstep(
                jax.random.split(k_env, n_envs), env_state, action, env_params
            )
            reward = reward.astype(jnp.float32)
            done = terminated | truncated
            ep_return = ep_return + reward
            out = _Rollout(obs, action, log_prob, value, reward, done, jnp.where(done, ep_return, 0.0))
            return (env_state, next_obs, jnp.where(done, 0.0, ep_return)), out

        carry = (state.env_state, state.obs, state.episode_return)
        (env_state, obs, ep_return), traj = jax.lax.scan(step, carry, jax.random.split(key, n_steps))
        return state._replace(env_state=env_state, obs=obs, episode_return=ep_return), traj

    def loss_fn(variables: Any, mb: _Batch) -> tuple[jax.Array, tuple[jax.Array, jax.Array, jax.Array]]:
        logits, value = network.apply(variables, mb.obs)
        log_probs = jax.nn.log_softmax(logits)
        log_prob = jnp.take_along_axis(log_probs, mb.action[:, None], axis=-1)[:, 0]
        entropy = jnp.mean(-jnp.sum(jnp.exp(log_probs) * log_probs, axis=-1))

        value_clipped = mb.value + jnp.clip(value - mb.value, -cfg.clip_eps, cfg.clip_eps)
        value_loss = 0.5 * jnp.mean(jnp.maximum(jnp.square(value - mb.target), jnp.square(value_clipped - mb.target)))

        log_ratio = log_prob - mb.log_prob
        ratio = jnp.exp(log_ratio)
        adv = (mb.advantage - mb.advantage.mean()) / (mb.advantage.std() + 1e-8)
        surrogate = jnp.minimum(ratio * adv, jnp.clip(ratio, 1.0 - cfg.clip_eps, 1.0 + cfg.clip_eps) * adv)
        loss = -jnp.mean(surrogate) + cfg.vf_coef * value_loss - cfg.ent_coef * entropy
        approx_kl = jnp.mean((ratio - 1.0) - log_ratio)
        return loss, (value_loss, entropy, approx_kl)

    def minibatch_step(carry: tuple[Any, Any], mb: _Batch) -> tuple[tuple[Any, Any], jax.Array]:
        variables, opt_state = carry
        (loss, (value_loss, entropy, approx_kl)), grads = jax.value_and_grad(loss_fn, has_aux=True)(variables, mb)
        updates, opt_state = tx.update(grads, opt_state, variables)
        variables = optax.apply_updates(variables, updates)
        return (variables, opt_state), jnp.stack([loss, entropy, value_loss, approx_kl])

    def update(state: PPOState, _: None) -> tuple[PPOState, Metrics]:
        key, k_roll, k_epochs = jax.random.split(jax.random.wrap_key_data(state.key), 3)
        state, traj = rollout(state, k_roll)
        _, last_value = network.apply(state.variables, state.obs)
        advantage, target = gae(traj.reward, traj.value, traj.done, last_value, cfg.gamma, cfg.gae_lambda)
        flat = _Batch(traj.obs, traj.action, traj.log_prob, traj.value, advantage, target)
        flat = jax.tree.map(lambda x: x.reshape((cfg.batch_size, *x.shape[2:])), flat)

        def epoch(carry: tuple[Any, Any], key: jax.Array) -> tuple[tuple[Any, Any], jax.Array]:
            perm = jax.random.permutation(key, cfg.batch_size)
            batches = jax.tree.map(lambda x: x[perm].reshape((n_mb, mb_size, *x.shape[1:])), flat)
            return jax.lax.scan(minibatch_step, carry, batches)

        (variables, opt_state), stats = jax.lax.scan(
            epoch, (state.variables, state.opt_state), jax.random.split(k_epochs, cfg.update_epochs)
        )
        stats = jnp.mean(stats, axis=(0, 1))  # [4]
        n_update = state.update + 1
        state = state._replace(variables=variables, opt_state=opt_state, key=jax.random.key_data(key), update=n_update)

        ended = jnp.sum(traj.done.astype(jnp.int32))
        metrics = {
            "return": jnp.where(ended > 0, jnp.sum(traj.ended_return) / jnp.maximum(ended, 1), jnp.nan),
            "episodes": ended,
            "steps": n_update * cfg.batch_size,
            "loss": stats[0],
            "entropy": stats[1],
            "value_loss": stats[2],
            "approx_kl": stats[3],
        }
        if track is not None:
            metrics["tracked"] = track(variables)
        return state, metrics

    def run_(state: PPOState, num_updates: int) -> tuple[PPOState, Metrics]:
        return jax.lax.scan(update, state, None, num_updates)

    def train(key: jax.Array) -> tuple[PPOState, Metrics]:
        return run_(init(key), cfg.num_updates)

    return PPO(init=jax.jit(init), run=jax.jit(run_, static_argnums=1), train=jax.jit(train))


def final_return(metrics: Metrics, frac: float = 0.1) -> jax.Array:
    """The score of a run: the NaN-aware mean of ``metrics["return"]`` over its last ``frac`` of updates.

    Works on ``[U]`` metrics and on ``[..., U]`` ones from ``vmap`` (one score
    per leading index). At least one update counts; NaN where no episode
    ended in that window.
    """
    if not 0.0 < frac <= 1.0:
        raise ValueError(f"frac must lie in (0, 1], got {frac!r}")
    returns = jnp.asarray(metrics["return"])
    last = max(1, math.ceil(frac * returns.shape[-1]))
    window = returns[..., -last:]
    counts = jnp.sum(~jnp.isnan(window), axis=-1)
    total = jnp.sum(jnp.where(jnp.isnan(window), 0.0, window), axis=-1)
    return jnp.where(counts > 0, total / jnp.maximum(counts, 1), jnp.nan)
