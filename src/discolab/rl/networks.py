"""Networks of the RL substrate: an MLP Q-network.

Example:
    >>> import jax, jax.numpy as jnp
    >>> net = QNetwork(num_actions=2, hidden=(8, 8))
    >>> params = net.init(jax.random.key(0), jnp.zeros((4,)))
    >>> net.apply(params, jnp.zeros((3, 4))).shape
    (3, 2)
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


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
