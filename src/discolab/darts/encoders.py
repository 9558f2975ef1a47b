"""The hand-designed baseline encoder (a small IMPALA CNN) and a parameter counter.

RL-DARTS compares discovered cells with the IMPALA CNN (Espeholt et al. 2018):
stages of conv 3x3 -> max pool 3x3 stride 2 -> residual blocks (ReLU-conv-
ReLU-conv + skip). For 10x10 MinAtar frames two stages suffice (10 -> 5 -> 3).

Parameter counts (measured, obs with 4 channels, ``param_count``):

- ``ImpalaSmall()`` (channels (16, 32), 1 block per stage): 28,368; features 3*3*32 = 288.
- ``FixedCellEncoder`` (small op set, channels 16, nodes 3, normal + reduce):
  3,248 plus 2,320 per conv3x3 edge (of 12) plus 272 per stride-2 skip: from
  3,248 (no conv) to 31,088 (all conv3x3); about 10,400 for a uniform random
  genotype (mean of 200); 17,168 with half the edges conv3x3. Features 5*5*16 = 400.
- ``SupernetEncoder`` (same settings): 46,640 params plus 90 alphas.

So ImpalaSmall is within 2x of any discretized cell with at least 5 of its
12 edges conv3x3 (DARTS-trained cells tend to keep convs); a cell of only
parameter-free ops is far smaller.

Example:
    >>> import jax, jax.numpy as jnp
    >>> enc = ImpalaSmall()
    >>> variables = enc.init(jax.random.key(0), jnp.zeros((1, 10, 10, 4)))
    >>> param_count(variables), enc.apply(variables, jnp.zeros((2, 10, 10, 4))).shape
    (28368, (2, 288))
"""

from __future__ import annotations

from collections.abc import Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


class ResidualBlock(nn.Module):
    """IMPALA's ``x + conv(relu(conv(relu(x))))``."""

    channels: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        y = nn.Conv(self.channels, (3, 3), padding="SAME")(nn.relu(x))
        y = nn.Conv(self.channels, (3, 3), padding="SAME")(nn.relu(y))
        return x + y


class ImpalaSmall(nn.Module):
    """``obs [B, H, W, C] -> features [B, F]``: IMPALA stages sized for 10x10 frames; no BatchNorm.

    Attributes:
      channels: width of each stage (each halves the resolution, ceil).
      blocks: residual blocks per stage.
    """

    channels: tuple[int, ...] = (16, 32)
    blocks: int = 1

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = jnp.asarray(obs, jnp.float32)
        lead = x.shape[:-3]
        x = x.reshape((-1, *x.shape[-3:]))
        for width in self.channels:
            x = nn.Conv(width, (3, 3), padding="SAME")(x)
            x = nn.max_pool(x, (3, 3), strides=(2, 2), padding="SAME")
            for _ in range(self.blocks):
                x = ResidualBlock(width)(x)
        return nn.relu(x).reshape((*lead, -1))


def param_count(variables: Mapping, collections: tuple[str, ...] = ("params",)) -> int:
    """Number of scalars in the given collections (default: trainable ``"params"``, not ``"arch"``)."""
    return sum(int(np.prod(np.shape(leaf))) for c in collections if c in variables
               for leaf in jax.tree.leaves(variables[c]))
