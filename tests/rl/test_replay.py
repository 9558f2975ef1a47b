"""The replay buffer: a ring of arrays that samples what was added."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from discolab.rl import replay


def _rows(start: int, n: int) -> replay.Transition:
    ids = jnp.arange(start, start + n, dtype=jnp.float32)
    return replay.Transition(
        obs=jnp.stack([ids, -ids], axis=1),
        action=jnp.arange(start, start + n, dtype=jnp.int32) % 3,
        reward=ids,
        terminated=(jnp.arange(start, start + n) % 2 == 0),
        next_obs=jnp.stack([ids + 0.5, -ids], axis=1),
    )


def test_samples_what_was_added() -> None:
    buf = replay.init(capacity=8, obs_shape=(2,))
    buf = jax.jit(replay.add)(buf, _rows(0, 4))
    assert int(buf.size) == 4 and int(buf.position) == 4
    batch = replay.sample(buf, jax.random.key(0), 256)
    ids = np.asarray(batch.reward)
    assert set(ids.astype(int)) == {0, 1, 2, 3}  # only filled rows, each seen
    # Every field of a sampled row belongs to the same transition.
    np.testing.assert_array_equal(batch.obs[:, 0], ids)
    np.testing.assert_array_equal(batch.next_obs[:, 0], ids + 0.5)
    np.testing.assert_array_equal(batch.action, ids.astype(int) % 3)
    np.testing.assert_array_equal(batch.terminated, ids.astype(int) % 2 == 0)


def test_ring_overwrites_the_oldest() -> None:
    buf = replay.init(capacity=8, obs_shape=(2,))
    for start in (0, 4, 8):
        buf = replay.add(buf, _rows(start, 4))
    assert int(buf.size) == 8 and int(buf.position) == 4
    ids = set(np.asarray(replay.sample(buf, jax.random.key(1), 512).reward).astype(int))
    assert ids == set(range(4, 12))


def test_capacity_must_be_a_multiple_of_the_write() -> None:
    with pytest.raises(ValueError, match="multiple"):
        replay.add(replay.init(capacity=6, obs_shape=(2,)), _rows(0, 4))


def test_keeps_observation_dtype() -> None:
    buf = replay.init(capacity=4, obs_shape=(3, 3), obs_dtype=jnp.uint8)
    t = replay.Transition(jnp.full((2, 3, 3), 7, jnp.uint8), jnp.zeros(2, jnp.int32), jnp.zeros(2),
                          jnp.zeros(2, bool), jnp.ones((2, 3, 3), jnp.uint8))
    buf = replay.add(buf, t)
    assert buf.data.obs.dtype == jnp.uint8 and int(buf.data.obs[1, 2, 2]) == 7
