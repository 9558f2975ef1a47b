"""The discretized encoder: the supernet with only a genotype's edges, each with its single op.

Same stem, preprocessing, projection and names as ``SupernetEncoder``; a kept
edge ``e`` is the child ``edge_{e}`` holding one op named by the op, so its
parameter path is the supernet's MixedOp child path. That makes
``fixed_variables_from_supernet`` a pruning of the supernet's tree, and the
supernet run with ``one_hot_alphas(genotype)`` computes the same function.
Retraining from scratch (as the paper does) is ``FixedCellEncoder.init``.

Example:
    >>> import jax, jax.numpy as jnp, numpy as np
    >>> from discolab.darts.genotype import random_genotype
    >>> g = random_genotype(np.random.default_rng(0), "small", 2)
    >>> enc = FixedCellEncoder(g, channels=4)
    >>> variables = enc.init(jax.random.key(0), jnp.zeros((1, 10, 10, 3)))
    >>> enc.apply(variables, jnp.zeros((2, 10, 10, 3))).shape
    (2, 100)
"""

from __future__ import annotations

from collections.abc import Mapping

import flax.linen as nn
import jax

from discolab.darts.genotype import Cell, Genotype, edge_index
from discolab.darts.ops import make_op
from discolab.darts.supernet import encode, preprocess, project


class FixedEdge(nn.Module):
    """One kept edge: its op as a child named by the op (the supernet's MixedOp path)."""

    op: str
    channels: int
    stride: int = 1

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return make_op(self.op, self.channels, self.stride, module_name=self.op)(x)


class FixedCell(nn.Module):
    """A discrete cell: node ``i`` sums its two kept edges (``cell[2i]``, ``cell[2i + 1]``)."""

    cell: Cell
    channels: int
    nodes: int
    reduction: bool = False

    @nn.compact
    def __call__(self, s0: jax.Array, s1: jax.Array) -> jax.Array:
        states = list(preprocess(s0, s1, self.channels))
        for i in range(self.nodes):
            total = None
            for op, j in self.cell[2 * i : 2 * i + 2]:
                stride = 2 if self.reduction and j < 2 else 1
                y = FixedEdge(op, self.channels, stride, name=f"edge_{edge_index(i, j)}")(states[j])
                total = y if total is None else total + y
            states.append(total)
        return project(states[2:], self.channels)


class FixedCellEncoder(nn.Module):
    """``obs [B, H, W, C] -> features [B, F]`` with the genotype's cells (only a ``"params"`` collection).

    Attributes:
      genotype: the cells (``genotype.normal`` for ``"normal"`` entries of the layout, ``.reduce`` else).
      channels: width of the stem and every cell.
      layout: the cells, in order; cell ``k`` is the child ``f"{kind}_{k}"``.
    """

    genotype: Genotype
    channels: int = 16
    layout: tuple[str, ...] = ("normal", "reduce")

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        g = self.genotype

        def cell(kind: str, k: int, s0: jax.Array, s1: jax.Array) -> jax.Array:
            module = FixedCell(getattr(g, kind), self.channels, g.nodes, kind == "reduce", name=f"{kind}_{k}")
            return module(s0, s1)

        return encode(obs, self.channels, self.layout, cell)


def fixed_variables_from_supernet(supernet_variables: Mapping, genotype: Genotype) -> dict:
    """The ``FixedCellEncoder(genotype)`` variables holding the supernet's weights of the kept edges.

    ``supernet_variables`` are a ``SupernetEncoder``'s own variables (its
    ``"params"`` at top level; ``"arch"`` is ignored). The layout is read from
    the cell names (``normal_0``, ``reduce_1``, ...), so pass the same
    ``layout`` to both encoders.
    """
    params = supernet_variables["params"]
    out: dict = {}
    for name, sub in params.items():
        kind = name.partition("_")[0]
        if name == "stem":
            out[name] = sub
            continue
        if kind not in ("normal", "reduce"):
            raise ValueError(f"unexpected supernet child {name!r}")
        cell = {k: sub[k] for k in ("preprocess0", "preprocess1", "project")}
        for n, (op, j) in enumerate(getattr(genotype, kind)):
            edge = f"edge_{edge_index(n // 2, j)}"
            if op in sub.get(edge, {}):  # parameter-free ops have no entry
                cell[edge] = {op: sub[edge][op]}
        out[name] = cell
    return {"params": out}
