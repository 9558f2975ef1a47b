"""A forward-only interpreter for spaces of one value type: the arrays engine's scorer.

The naive interpreter (:func:`discolab.graph.interpret.interpret_one_naive`)
is written for one program and ``vmap``ped, and keeps every op's operands
finite for its reverse pass. Scoring a regression batch needs neither: here
the batch is an explicit axis, each node gathers its arguments for all
programs at once, runs each op of the space on them and keeps the named op's
result. The named op sees the same operands as in the naive interpreter, so
outputs are the same; the program is smaller, so it compiles and runs faster
(docs/benchmarks.md). No gradients: use the default interpreter for those.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp

from discolab.graph.encoding import EncodedPrograms
from discolab.graph.space import SearchSpace


def interpret_batch_forward(
    space: SearchSpace, op_ids: jax.Array, args: jax.Array, output: jax.Array, inputs: Mapping[str, jax.Array]
) -> jax.Array:
    """Outputs ``[P, n]`` of ``P`` encoded programs of a one-type space.

    Each input is ``[n]``, shared by all programs (a regression batch's data
    points), or ``[P, n]``, one row per program (an optimizer search's
    per-program gradients).
    """
    missing = [name for name, _ in space.inputs if name not in inputs]
    if missing:
        raise KeyError(f"missing program inputs {missing}")
    xs = [jnp.asarray(inputs[name]) for name, _ in space.inputs]
    dtype = jnp.result_type(*(x.dtype for x in xs), jnp.float32)
    n = xs[0].shape[-1]
    p = op_ids.shape[0]
    fixed = [jnp.broadcast_to(x.astype(dtype), (p, n)) for x in xs]
    fixed += [jnp.full((p, n), c, dtype) for c in space.constants]
    bank = jnp.zeros((p, space.n_fixed + space.max_nodes, n), dtype)
    bank = bank.at[:, : space.n_fixed].set(jnp.stack(fixed, axis=1))
    fns = [op.fn for op in space.op_defs]
    arities = [op.arity for op in space.op_defs]
    rows = jnp.arange(p)

    def step(bank: jax.Array, node: tuple[jax.Array, jax.Array, jax.Array]) -> tuple[jax.Array, None]:
        i, ops, arg = node  # ops [P], arg [P, A]
        operands = [bank[rows, arg[:, j]] for j in range(max(arities))]  # each [P, n]
        results = jnp.stack([jnp.asarray(fn(*operands[:k]), dtype) for fn, k in zip(fns, arities)])
        value = jnp.take_along_axis(results, ops[None, :, None], axis=0)[0]
        return bank.at[:, space.n_fixed + i].set(value), None

    nodes = (jnp.arange(space.max_nodes), op_ids.T, jnp.swapaxes(args, 0, 1))
    bank, _ = jax.lax.scan(step, bank, nodes)
    return bank[rows, output]


@functools.lru_cache(maxsize=64)
def forward_interpreter(space: SearchSpace) -> Callable[[EncodedPrograms, Mapping[str, jax.Array]], jax.Array]:
    """The jitted ``(encoded, inputs) -> outputs [P, n]`` of a one-type space (cached per space)."""

    def run(encoded: EncodedPrograms, inputs: Mapping[str, jax.Array]) -> jax.Array:
        return interpret_batch_forward(space, encoded.op_ids, encoded.args, encoded.output, inputs)

    return jax.jit(run)
