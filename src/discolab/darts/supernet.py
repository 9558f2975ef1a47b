"""The DARTS supernet image encoder for RL agents (RL-DARTS, PAPERS.md section 4).

``obs [B, H, W, C] -> features [B, H' * W' * channels]``: a 3x3 stem conv to
``channels``, then one cell per entry of ``layout`` (``"normal"`` or
``"reduce"``), then flatten. Like DARTS, a cell reads the outputs of the two
previous cells (the stem feeds both at first), preprocesses each to
``channels`` with ReLU-1x1 conv (a factorized reduce for ``c_{k-2}`` when it
is larger than ``c_{k-1}``, i.e. after a reduction cell), sums MixedOp edges
into ``nodes`` intermediate nodes, and concatenates them. Unlike DARTS, the
concat is projected back to ``channels`` by a 1x1 conv ("project") and
reduction cells do not double the width: every cell has the same width, so
features stay small on 10x10 MinAtar frames (one reduction: 5x5).

Architecture logits live in their own flax collection ``"arch"``
(``alpha_normal``, ``alpha_reduce``: ``[num_edges, num_ops]``, init
``1e-3 * N(0, 1)`` as DARTS), shared by all cells of a kind, so a caller
trains them with their own optimizer (``optax.multi_transform`` keyed on the
top-level collection). Mixing weights are ``softmax(alpha / temperature)``.

Example:
    >>> import jax, jax.numpy as jnp
    >>> enc = SupernetEncoder(op_set="small", channels=4, nodes=2)
    >>> variables = enc.init(jax.random.key(0), jnp.zeros((1, 10, 10, 3)))
    >>> sorted(variables), variables["arch"]["alpha_normal"].shape
    (['arch', 'params'], (5, 5))
    >>> enc.apply(variables, jnp.zeros((2, 10, 10, 3))).shape
    (2, 100)
    >>> arch_weights(variables)["normal"].sum(-1).round(4).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from discolab.darts.genotype import edge_index, num_edges
from discolab.darts.ops import FactorizedReduce, ReLUConv, make_op, op_names

CELL_KINDS = ("normal", "reduce")


class MixedOp(nn.Module):
    """``sum_k w_k op_k(x)`` over the ops of ``op_set``; each op is a child named by its op name.

    ``zero`` contributes nothing and is skipped (its weight still matters
    through the softmax).
    """

    op_set: str
    channels: int
    stride: int = 1

    @nn.compact
    def __call__(self, x: jax.Array, weights: jax.Array) -> jax.Array:
        out = None
        for k, name in enumerate(op_names(self.op_set)):
            if name == "zero":
                continue
            y = weights[k] * make_op(name, self.channels, self.stride, module_name=name)(x)
            out = y if out is None else out + y
        return out


def preprocess(s0: jax.Array, s1: jax.Array, channels: int) -> tuple[jax.Array, jax.Array]:
    """A cell's input states to ``channels`` (call inside a compact method: children ``preprocess0/1``)."""
    if s0.shape[-3:-1] != s1.shape[-3:-1]:
        s0 = FactorizedReduce(channels, name="preprocess0")(s0)
        if s0.shape[-3:-1] != s1.shape[-3:-1]:
            raise ValueError(f"cell inputs of shapes {s0.shape} and {s1.shape} differ by more than one reduction")
    else:
        s0 = ReLUConv(channels, name="preprocess0")(s0)
    return s0, ReLUConv(channels, name="preprocess1")(s1)


def project(states: Sequence[jax.Array], channels: int) -> jax.Array:
    """The cell output: its intermediate nodes concatenated, then a 1x1 conv ``project`` to ``channels``."""
    return nn.Conv(channels, (1, 1), name="project")(jnp.concatenate(list(states), axis=-1))


def encode(obs: jax.Array, channels: int, layout: Sequence[str],
           cell: Callable[[str, int, jax.Array, jax.Array], jax.Array]) -> jax.Array:
    """Stem, the cells of ``layout`` (``cell(kind, index, s0, s1)``), flatten; any leading batch axes."""
    for kind in layout:
        if kind not in CELL_KINDS:
            raise ValueError(f"unknown cell kind {kind!r} in layout; known: {CELL_KINDS}")
    x = jnp.asarray(obs, jnp.float32)
    lead = x.shape[:-3]
    x = x.reshape((-1, *x.shape[-3:]))
    s0 = s1 = nn.Conv(channels, (3, 3), padding="SAME", name="stem")(x)
    for k, kind in enumerate(layout):
        s0, s1 = s1, cell(kind, k, s0, s1)
    return s1.reshape((*lead, -1))


class SearchCell(nn.Module):
    """A DARTS search cell: every state feeds every later node through a MixedOp ``edge_{e}``."""

    op_set: str
    channels: int
    nodes: int
    reduction: bool = False

    @nn.compact
    def __call__(self, s0: jax.Array, s1: jax.Array, weights: jax.Array) -> jax.Array:
        states = list(preprocess(s0, s1, self.channels))
        for i in range(self.nodes):
            total = None
            for j in range(i + 2):
                e = edge_index(i, j)
                stride = 2 if self.reduction and j < 2 else 1
                y = MixedOp(self.op_set, self.channels, stride, name=f"edge_{e}")(states[j], weights[e])
                total = y if total is None else total + y
            states.append(total)
        return project(states[2:], self.channels)


class SupernetEncoder(nn.Module):
    """The searchable encoder; params in ``"params"``, alphas in ``"arch"`` (see the module docstring).

    Attributes:
      op_set: ``"small"`` or ``"darts"`` (``ops.OP_SETS``).
      channels: width of the stem and every cell.
      nodes: intermediate nodes per cell.
      layout: the cells, in order; cell ``k`` is the child ``f"{kind}_{k}"``.
      temperature: softmax temperature of the mixing weights.
    """

    op_set: str = "small"
    channels: int = 16
    nodes: int = 3
    layout: tuple[str, ...] = ("normal", "reduce")
    temperature: float = 1.0

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        shape = (num_edges(self.nodes), len(op_names(self.op_set)))
        weights = {}
        for kind in CELL_KINDS:
            alpha = self.variable("arch", f"alpha_{kind}",
                                  lambda: 1e-3 * jax.random.normal(self.make_rng("params"), shape, jnp.float32))
            weights[kind] = jax.nn.softmax(alpha.value / self.temperature, axis=-1)

        def cell(kind: str, k: int, s0: jax.Array, s1: jax.Array) -> jax.Array:
            module = SearchCell(self.op_set, self.channels, self.nodes, kind == "reduce", name=f"{kind}_{k}")
            return module(s0, s1, weights[kind])

        return encode(obs, self.channels, self.layout, cell)


def _find_alphas(tree: Mapping) -> dict[str, jax.Array]:
    """The ``alpha_normal``/``alpha_reduce`` leaves of an ``"arch"`` tree, at any depth (encoder nested in a model)."""
    found: dict[str, jax.Array] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            for k, v in _find_alphas(value).items():
                if k in found:
                    raise ValueError(f"several supernets in one variable tree ({k} twice)")
                found[k] = v
        elif key in ("alpha_normal", "alpha_reduce"):
            found[key.removeprefix("alpha_")] = value
    return found


def arch_weights(variables: Mapping, temperature: float = 1.0) -> dict[str, jax.Array]:
    """``{"normal": w, "reduce": w}``: the mixing softmaxes of a supernet's variables.

    Takes the whole variable dict (or just its ``"arch"`` collection); the
    supernet may sit anywhere inside the model. Pure: record it over training.
    """
    tree = variables["arch"] if "arch" in variables else variables
    alphas = _find_alphas(tree)
    if set(alphas) != set(CELL_KINDS):
        raise ValueError(f"no supernet alphas in these variables (found {sorted(alphas)})")
    return {kind: jax.nn.softmax(jnp.asarray(a) / temperature, axis=-1) for kind, a in alphas.items()}
