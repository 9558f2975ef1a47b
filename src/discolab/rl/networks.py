"""Networks of the RL substrate: an MLP Q-network, PPO's actor-critic with its encoders, SAC's actor and critic.

Example:
    >>> import jax, jax.numpy as jnp
    >>> net = QNetwork(num_actions=2, hidden=(8, 8))
    >>> params = net.init(jax.random.key(0), jnp.zeros((4,)))
    >>> net.apply(params, jnp.zeros((3, 4))).shape
    (3, 2)
    >>> ac = ActorCritic(MLPEncoder((8, 8)), num_actions=2, hidden=16)
    >>> logits, value = ac.apply(ac.init(jax.random.key(0), jnp.zeros((1, 4))), jnp.zeros((3, 4)))
    >>> logits.shape, value.shape
    ((3, 2), (3,))
    >>> actor, critic = TanhGaussianActor(action_dim=1, hidden=(8, 8)), ContinuousQNetwork(hidden=(8, 8))
    >>> mean, log_std = actor.apply(actor.init(jax.random.key(0), jnp.zeros((3,))), jnp.zeros((5, 3)))
    >>> q = critic.apply(critic.init(jax.random.key(0), jnp.zeros((3,)), jnp.zeros((1,))), jnp.zeros((5, 3)), mean)
    >>> mean.shape, log_std.shape, q.shape
    ((5, 1), (5, 1), (5,))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


class QNetwork(nn.Module):
    """``obs [..., *obs_shape] -> Q [..., num_actions]``: ReLU MLP (paper: 256x256).

    Observations are flattened (MiniGrid grids included) and cast to float32.

    Attributes:
      num_actions: size of the discrete action space.
      hidden: widths of the hidden layers.
      obs_ndim: number of trailing observation axes to flatten (1 for vectors).
    """

    num_actions: int
    hidden: Sequence[int] = (256, 256)
    obs_ndim: int = 1

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = jnp.asarray(obs, jnp.float32)
        batch_shape = x.shape[: x.ndim - self.obs_ndim]
        x = x.reshape((*batch_shape, -1))
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(self.num_actions)(x)


def _orthogonal(scale: float) -> nn.initializers.Initializer:
    """Flax's orthogonal initializer, with its QR run one matrix at a time under ``vmap``.

    A vmapped init (a population of agents) batches the QR into one LAPACK
    call that fans its matrices out over XLA:CPU's intra-op thread pool and
    waits for them from inside that pool. When two such calls start at once
    on a 2-thread pool, both threads wait for work only they could do, and
    the program never returns (jaxlib 0.10.2; gdb shows both pool threads
    in ``jax::ParallelBatchMap``). Mapping over the batch sequentially gives
    the same matrices and never re-enters the pool.
    """
    base = nn.initializers.orthogonal(scale)

    def init(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        return _one_at_a_time(lambda k: base(k, shape, dtype))(key)

    return init


def _one_at_a_time(fn: Callable[[jax.Array], jax.Array]) -> Callable[[jax.Array], jax.Array]:
    """``fn`` of one argument, evaluated by ``lax.map`` instead of batched when it is vmapped."""
    wrapped = jax.custom_batching.custom_vmap(fn)

    @wrapped.def_vmap
    def _rule(axis_size: int, in_batched: list[bool], x: jax.Array) -> tuple[jax.Array, bool]:
        del axis_size
        if not in_batched[0]:
            return wrapped(x), False
        return jax.lax.map(wrapped, x), True

    return wrapped


class MLPEncoder(nn.Module):
    """``obs [B, ...] -> features [B, hidden[-1]]``: a tanh MLP on flattened observations (purejaxrl's CartPole torso).

    Attributes:
      hidden: widths of the hidden layers.
    """

    hidden: Sequence[int] = (64, 64)

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = jnp.asarray(obs, jnp.float32).reshape((obs.shape[0], -1))
        for width in self.hidden:
            x = nn.tanh(nn.Dense(width, kernel_init=_orthogonal(np.sqrt(2)), bias_init=nn.initializers.zeros)(x))
        return x


class MinAtarCNN(nn.Module):
    """``obs [B, 10, 10, C] -> features [B, 10 * 10 * features]``: the MinAtar paper's torso, one 3x3 conv + ReLU.

    Attributes:
      features: output channels of the convolution (MinAtar: 16).
    """

    features: int = 16

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = jnp.asarray(obs, jnp.float32)
        x = nn.relu(nn.Conv(self.features, (3, 3), padding="SAME", kernel_init=_orthogonal(np.sqrt(2)))(x))
        return x.reshape((x.shape[0], -1))


class ActorCritic(nn.Module):
    """``obs [B, ...] -> (logits [B, A], value [B])``: a shared encoder, then a policy head and a value head.

    The heads follow purejaxrl's initialization: orthogonal with scale
    sqrt(2) on hidden layers, 0.01 on the logits (a near-uniform first
    policy) and 1.0 on the value. The encoder is any module mapping a batch
    of observations to features; its output is flattened per example, so a
    DARTS cell can put its architecture weights in its own collection.

    Attributes:
      encoder: the feature extractor (``MLPEncoder``, ``MinAtarCNN``, a cell).
      num_actions: size of the discrete action space.
      hidden: width of the one ReLU hidden layer of each head; 0: linear heads.
    """

    encoder: nn.Module
    num_actions: int
    hidden: int = 256

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        features = self.encoder(jnp.asarray(obs, jnp.float32))
        features = features.reshape((features.shape[0], -1))

        def head(out: int, scale: float) -> jax.Array:
            x = features
            if self.hidden > 0:
                x = nn.relu(nn.Dense(self.hidden, kernel_init=_orthogonal(np.sqrt(2)))(x))
            return nn.Dense(out, kernel_init=_orthogonal(scale))(x)

        logits = head(self.num_actions, 0.01)
        value = head(1, 1.0)[:, 0]
        return logits, value


class TanhGaussianActor(nn.Module):
    """``obs [..., D] -> (mean [..., A], log_std [..., A])``: SAC's Gaussian policy head before the tanh squash.

    A ReLU MLP with two linear outputs. ``log_std`` is clipped to
    ``[log_std_min, log_std_max]`` (SB3 and CleanRL clip too): a very small
    std makes ``log pi`` blow up and a very large one makes every squashed
    action +-1. Sampling, the tanh squash and its log-prob correction live in
    ``discolab.rl.sac`` (they need a key and the action bounds).

    Attributes:
      action_dim: size of the action vector.
      hidden: widths of the hidden layers (SAC paper: 256x256).
      log_std_min: lower clip of the log standard deviation.
      log_std_max: upper clip of the log standard deviation.
    """

    action_dim: int
    hidden: Sequence[int] = (256, 256)
    log_std_min: float = -5.0
    log_std_max: float = 2.0

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = jnp.asarray(obs, jnp.float32)
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
        mean = nn.Dense(self.action_dim)(x)
        log_std = jnp.clip(nn.Dense(self.action_dim)(x), self.log_std_min, self.log_std_max)
        return mean, log_std


class ContinuousQNetwork(nn.Module):
    """``(obs [..., D], action [..., A]) -> Q [...]``: a ReLU MLP on the concatenated observation and action.

    SAC's twin critics are two parameter sets of this one module, initialized
    and applied under ``jax.vmap`` (a leading axis of 2 on every leaf).

    Attributes:
      hidden: widths of the hidden layers (SAC paper: 256x256).
    """

    hidden: Sequence[int] = (256, 256)

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        x = jnp.concatenate([jnp.asarray(obs, jnp.float32), jnp.asarray(action, jnp.float32)], axis=-1)
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(1)(x)[..., 0]
