"""The batched interpreter: a batch of programs as integer arrays, one jitted call.

Programs of a space are encoded as ``op_ids [P, N]`` and ``args [P, N, A]``
(``N = max_nodes``, ``A`` the space's largest arity), padded with no-op
nodes. The interpreter keeps one register bank per value type and walks the
nodes in a loop: at each node it computes every op of the space on arguments
gathered from the banks and keeps the one the program names. Because programs
are data, not code, a new batch never recompiles.

Two implementations share the encoding (docs/interpreter.md measures them):

- :func:`interpret_one` (the default) has its own reverse pass
  (``jax.custom_vjp``). The forward loop saves nothing but its bank of
  values; the backward loop walks the nodes in reverse and applies, at each
  live node, the VJP of the op the node names to the cotangent of its slot
  (the VJPs of the other ops are computed and dropped by ``where``, so an
  op's infinite derivative never meets a zero cotangent). JAX's own reverse
  mode through the naive loop saves a residual per op per node; on CPU each
  becomes a kernel launch, and those launches, not arithmetic, were the
  cost. All types share one bank of "lanes" (``[slots, *batch, A]``; FLOAT
  and ACTION values broadcast over the actions), so a node costs one gather
  per argument, one write and, backward, one scatter-add per argument.
- :func:`interpret_one_naive`, the first design, kept as the reference:
  ``lax.scan`` over all ``max_nodes`` nodes, JAX's reverse mode, each op fed
  neutral arguments unless named (protected ops keep unselected values and
  gradients finite).

Under ``vmap`` the VJP interpreter takes a :class:`BatchPlan` of the whole
batch (unbatched): both loops stop after the batch's longest program
(``n_steps``). At a node where every program names an op of one group (cheap
ops of one signature, or one costly op) a ``lax.switch`` runs that group
alone; programs of a batch often share nodes (the bootstrap generator's all
start from DQN). At the other nodes every op runs, each costly op
(transcendental, reduction, gather; :func:`compile_jaxpr.is_costly`) in a
``lax.cond`` that runs it only where some program of the batch names it.
Reductions over the few actions of a LIST are unrolled into elementwise code
(:func:`compile_jaxpr.unrolled`), so they fuse with their neighbours instead
of each being a kernel.

The VJP interpreter supports reverse mode (``grad``, ``vjp``), ``vmap`` and
``jit``; it has no forward mode (``jvp``) and no second derivatives. ACTION
values get no cotangent (they are indices: piecewise constant).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from discolab.graph.encoding import (  # noqa: F401  (re-exported: the interpreter's API)
    Banks, BatchPlan, EncodedPrograms, Inputs, _bank_shapes, _check_inputs, _init_banks, _input_dtype, encode,
    plan_batch,
)
from discolab.graph.interpret_vjp import interpret_one  # noqa: F401
from discolab.graph.program import Program
from discolab.graph.space import SearchSpace
from discolab.graph.types import ValueType


# ---- the naive interpreter (the reference) ----------------------------------------------

#: What an op that a node does not name reads instead of its arguments: inside
#: every protected op's safe domain; action 0 is a valid index.
_NEUTRAL = {ValueType.FLOAT: 1.0, ValueType.LIST: 1.0, ValueType.PROB: 1.0, ValueType.ACTION: 0.0}


def interpret_one_naive(
    space: SearchSpace, op_ids: jax.Array, args: jax.Array, output: jax.Array, inputs: Inputs
) -> jax.Array:
    """The first design, kept as the reference: ``lax.scan`` over all nodes, JAX's reverse mode."""
    _check_inputs(space, inputs)
    shapes = _bank_shapes(space, inputs)
    xs = tuple(inputs[n] for n, _ in space.inputs)
    dtype = _input_dtype(xs)
    banks = _init_banks(space, shapes, dtype, xs)

    op_defs = space.op_defs
    by_type = {t: [k for k, op in enumerate(op_defs) if op.out_type == t] for t in shapes}
    # Position of each op inside its output type's group: the select index.
    local = np.zeros(len(op_defs), np.int32)
    for ks in by_type.values():
        for pos, k in enumerate(ks):
            local[k] = pos
    local = jnp.asarray(local)

    def step(banks: dict, node: tuple) -> tuple[dict, None]:
        i, op_id, arg = node
        slot = space.n_fixed + i
        real = slot <= output  # padding nodes after the output compute nothing
        results = []
        for k, op in enumerate(op_defs):
            # Ops the node does not name read a neutral constant, not its arguments:
            # their values and local derivatives stay finite, so the zero
            # cotangent they get never meets an inf (0 * inf would be NaN in
            # the gradient of the named op's arguments).
            chosen = real & (op_id == k)
            operands = [jnp.where(chosen, banks[t][arg[j]], _NEUTRAL[t]) for j, t in enumerate(op.in_types)]
            results.append(jnp.asarray(op.fn(*operands), dtype))
        new = dict(banks)
        for t, ks in by_type.items():
            if not ks:
                continue
            value = jnp.stack([results[k] for k in ks])[local[op_id]]
            new[t] = jax.lax.dynamic_update_index_in_dim(banks[t], value, slot, 0)
        return new, None

    nodes = (jnp.arange(space.max_nodes), op_ids, args)
    banks, _ = jax.lax.scan(step, banks, nodes)
    return banks[space.output_type][output]


# ---- batches -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def batched_interpreter(space: SearchSpace, naive: bool = False) -> Callable[[EncodedPrograms, Inputs], jax.Array]:
    """The jitted ``(encoded, inputs) -> outputs [P, ...]`` of a space.

    Cached per space so every caller shares one compiled function; it
    recompiles only for new input shapes or a new batch size. ``naive``
    selects the reference interpreter (:func:`interpret_one_naive`).
    """

    def run(encoded: EncodedPrograms, inputs: Inputs) -> jax.Array:
        if naive:
            one = functools.partial(interpret_one_naive, space)
            return jax.vmap(one, in_axes=(0, 0, 0, None))(encoded.op_ids, encoded.args, encoded.output, inputs)
        one = functools.partial(interpret_one, space, plan=plan_batch(encoded, space))
        return jax.vmap(one, in_axes=(0, 0, 0, None))(encoded.op_ids, encoded.args, encoded.output, inputs)

    return jax.jit(run)


def interpret(programs: Sequence[Program], space: SearchSpace, inputs: Inputs) -> jax.Array:
    """Convenience: encode and run ``programs``; returns ``[len(programs), ...]``."""
    encoded = encode(programs, space)
    return batched_interpreter(space)(EncodedPrograms(*map(jnp.asarray, encoded)), inputs)
