"""A uniform replay buffer as fixed-size arrays: a pytree that lives in a scan carry.

The buffer is a ring of ``capacity`` transitions. Each write adds one row per
vectorized env; ``capacity`` must be a multiple of that width so a write is a
single ``dynamic_update_slice`` that never wraps. Sampling draws indices
uniformly from the filled part. Observations keep their dtype (uint8 grids
stay uint8).

Example:
    >>> import jax, jax.numpy as jnp
    >>> buf = init(capacity=4, obs_shape=(2,))
    >>> t = Transition(jnp.ones((2, 2)), jnp.array([0, 1]), jnp.array([1.0, 2.0]),
    ...                jnp.array([False, True]), jnp.zeros((2, 2)))
    >>> buf = add(buf, t)
    >>> int(buf.size), sample(buf, jax.random.key(0), 3).reward.shape
    (2, (3,))
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class Transition(NamedTuple):
    """One transition per row: ``[rows, ...]``."""

    obs: jax.Array  # [rows, *obs_shape] s_t
    action: jax.Array  # [rows] int32 a_t
    reward: jax.Array  # [rows] float32 r_{t+1}
    terminated: jax.Array  # [rows] bool: s_{t+1} is terminal (no bootstrap); truncation is not
    next_obs: jax.Array  # [rows, *obs_shape] s_{t+1} (the pre-reset observation at episode ends)


class ReplayBuffer(NamedTuple):
    """The ring of transitions and where the next write goes."""

    data: Transition  # [capacity, ...]
    position: jax.Array  # int32 scalar: next row to write
    size: jax.Array  # int32 scalar: filled rows (<= capacity)


def init(capacity: int, obs_shape: tuple[int, ...], obs_dtype: jnp.dtype = jnp.float32) -> ReplayBuffer:
    """An empty buffer of ``capacity`` rows."""
    data = Transition(
        obs=jnp.zeros((capacity, *obs_shape), obs_dtype),
        action=jnp.zeros((capacity,), jnp.int32),
        reward=jnp.zeros((capacity,), jnp.float32),
        terminated=jnp.zeros((capacity,), jnp.bool_),
        next_obs=jnp.zeros((capacity, *obs_shape), obs_dtype),
    )
    return ReplayBuffer(data, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def add(buffer: ReplayBuffer, batch: Transition) -> ReplayBuffer:
    """Writes ``batch`` (``rows`` transitions) at ``position``; ``capacity % rows`` must be 0."""
    capacity = buffer.data.reward.shape[0]
    rows = batch.reward.shape[0]
    if capacity % rows:
        raise ValueError(f"replay capacity {capacity} must be a multiple of the rows per write {rows}")

    def write(store: jax.Array, new: jax.Array) -> jax.Array:
        start = (buffer.position,) + (0,) * (store.ndim - 1)
        return jax.lax.dynamic_update_slice(store, new.astype(store.dtype), start)

    data = jax.tree.map(write, buffer.data, batch)
    return ReplayBuffer(
        data=data,
        position=(buffer.position + rows) % capacity,
        size=jnp.minimum(buffer.size + rows, capacity),
    )


def sample(buffer: ReplayBuffer, key: jax.Array, batch_size: int) -> Transition:
    """``batch_size`` transitions drawn uniformly (with replacement) from the filled rows.

    On an empty buffer it returns row 0 (zeros); callers gate learning on size.
    """
    idx = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buffer.size, 1))
    return jax.tree.map(lambda x: x[idx], buffer.data)
