"""A GraphGPS-style encoder of program graphs and the two predictor heads.

Each layer adds a local message-passing update and a global attention update
to the node states (Rampasek et al. 2022, "Recipe for a General, Powerful,
Scalable Graph Transformer"): the local part sends messages along argument
edges in both directions with one weight matrix per argument position and
direction, so ``sub(a, b)`` and ``sub(b, a)`` differ; the global part is
masked multi-head self-attention over all real nodes, which lets distant
parts of a program interact in one layer. A feed-forward block follows. The
graph embedding joins the masked mean of the node states and the output
node's state; every step is permutation-equivariant and the readout is
invariant, so a renumbering of the nodes does not change the embedding.

Heads (PAPERS.md section 3):

- :class:`PairDiscriminator`: ``P(A better than B) = sigmoid(s(A, B) - s(B, A))``
  with ``s`` an MLP over ``[e_A, e_B, e_A * e_B, e_A - e_B]``; antisymmetric by
  construction, so ``P(A > B) = 1 - P(B > A)`` exactly.
- :class:`ScoreRegressor`: one score per program (regressed onto the
  archive's fitness ranks); a pair is compared by the score difference.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import linen as nn

from discolab.guide.features import GraphBatch


class GPSLayer(nn.Module):
    """One GraphGPS layer: ``h + local(h) + global(h)``, then ``h + ffn(h)``, each layer-normed."""

    dim: int
    heads: int

    @nn.compact
    def __call__(self, h: jax.Array, g: GraphBatch) -> jax.Array:
        # h [G, N, D]; g.adj [G, P, N, N]
        positions = g.adj.shape[1]
        init = nn.initializers.lecun_normal()
        w_in = self.param("w_args", init, (positions, self.dim, self.dim))  # from argument p to its reader
        w_out = self.param("w_readers", init, (positions, self.dim, self.dim))  # from a reader to its argument p
        messages = (jnp.einsum("gpij,gjd,pde->gie", g.adj, h, w_in)
                    + jnp.einsum("gpji,gjd,pde->gie", g.adj, h, w_out))
        local = nn.LayerNorm()(h + nn.Dense(self.dim)(nn.relu(messages + nn.Dense(self.dim)(h))))
        pair_mask = (g.mask[:, None, :, None] * g.mask[:, None, None, :]) > 0  # [G, 1, N, N]
        attended = nn.MultiHeadDotProductAttention(num_heads=self.heads, qkv_features=self.dim)(
            h, h, mask=pair_mask)
        glob = nn.LayerNorm()(h + attended)
        h = local + glob
        h = nn.LayerNorm()(h + nn.Dense(self.dim)(nn.relu(nn.Dense(2 * self.dim)(h))))
        return h * g.mask[..., None]


class GraphEncoder(nn.Module):
    """Program graphs ``[G, ...]`` -> embeddings ``[G, 2 * dim]``."""

    n_tokens: int
    n_types: int
    dim: int = 32
    layers: int = 2
    heads: int = 4

    @nn.compact
    def __call__(self, g: GraphBatch) -> jax.Array:
        h = (nn.Embed(self.n_tokens, self.dim)(g.tokens) + nn.Embed(self.n_types, self.dim)(g.types)
             + g.output[..., None] * self.param("output_flag", nn.initializers.normal(1.0), (self.dim,)))
        if g.values.shape[-1]:  # probe values (features.py), when on
            h = h + nn.Dense(self.dim)(g.values)
        h = h * g.mask[..., None]
        for _ in range(self.layers):
            h = GPSLayer(self.dim, self.heads)(h, g)
        count = jnp.maximum(g.mask.sum(-1, keepdims=True), 1.0)
        mean = h.sum(1) / count  # [G, D]
        out = jnp.einsum("gn,gnd->gd", g.output, h)  # the output node's state
        return jnp.concatenate([mean, out], axis=-1)


def _mlp(x: jax.Array, dim: int) -> jax.Array:
    x = nn.relu(nn.Dense(dim)(x))
    x = nn.relu(nn.Dense(dim)(x))
    return nn.Dense(1)(x)[..., 0]


class PairDiscriminator(nn.Module):
    """``(graphs A [G], graphs B [G]) -> logit [G]`` of "A is better than B"; antisymmetric."""

    n_tokens: int
    n_types: int
    dim: int = 32
    layers: int = 2
    heads: int = 4

    @nn.compact
    def __call__(self, a: GraphBatch, b: GraphBatch) -> jax.Array:
        encoder = GraphEncoder(self.n_tokens, self.n_types, self.dim, self.layers, self.heads)
        both = encoder(jax.tree.map(lambda x, y: jnp.concatenate([x, y]), a, b))
        ea, eb = jnp.split(both, 2)
        head = nn.Sequential([nn.Dense(2 * self.dim), nn.relu, nn.Dense(self.dim), nn.relu, nn.Dense(1)])

        def score(x: jax.Array, y: jax.Array) -> jax.Array:
            return head(jnp.concatenate([x, y, x * y, x - y], axis=-1))[..., 0]

        return score(ea, eb) - score(eb, ea)


class ScoreRegressor(nn.Module):
    """``graphs [G] -> score [G]``; trained onto fitness ranks, compared by difference."""

    n_tokens: int
    n_types: int
    dim: int = 32
    layers: int = 2
    heads: int = 4

    @nn.compact
    def __call__(self, g: GraphBatch) -> jax.Array:
        e = GraphEncoder(self.n_tokens, self.n_types, self.dim, self.layers, self.heads)(g)
        return _mlp(e, 2 * self.dim)
