"""The batched interpreter: a batch of programs as integer arrays, one jitted call.

Programs of a space are encoded as ``op_ids [P, N]`` and ``args [P, N, A]``
(``N = max_nodes``, ``A`` the space's largest arity), padded with no-op
nodes. The interpreter walks the nodes in ``lax.scan``: at each node it
computes every op of the space on arguments gathered from one register bank
per value type and keeps the one the program names. Because programs are
data, not code, a new batch never recompiles; because every op is protected,
the unselected results never poison values or gradients.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from discolab.graph.program import Program
from discolab.graph.space import SearchSpace
from discolab.graph.types import ValueType

Inputs = Mapping[str, jax.Array]


class EncodedPrograms(NamedTuple):
    """Programs as padded integer arrays (numpy on the host, jax on device)."""

    op_ids: np.ndarray  # [P, N] index into space.ops
    args: np.ndarray  # [P, N, A] argument slots
    output: np.ndarray  # [P] slot of the output node


def encode(programs: Sequence[Program], space: SearchSpace, pad_to: int | None = None) -> EncodedPrograms:
    """Encodes programs; pads the batch to ``pad_to`` by repeating the first."""
    n, a = space.max_nodes, max(space.max_arity, 1)
    count = max(len(programs), pad_to or 0)
    op_ids = np.zeros((count, n), np.int32)
    args = np.zeros((count, n, a), np.int32)
    output = np.zeros((count,), np.int32)
    index = {name: k for k, name in enumerate(space.ops)}
    for p in range(count):
        program = programs[p] if p < len(programs) else programs[0]
        for i, node in enumerate(program.nodes):
            op_ids[p, i] = index[node.op]
            args[p, i, : len(node.args)] = node.args
        output[p] = space.n_fixed + len(program.nodes) - 1
    return EncodedPrograms(op_ids, args, output)


def _bank_shapes(space: SearchSpace, inputs: Inputs) -> dict[ValueType, tuple[int, ...]]:
    """Shape of one value of each type, read off the inputs."""
    batch: tuple[int, ...] | None = None
    actions: int | None = None
    for name, t in space.inputs:
        shape = tuple(jnp.shape(inputs[name]))
        if t in (ValueType.LIST, ValueType.PROB):
            batch, actions = shape[:-1], shape[-1]
        elif batch is None:
            batch = shape
    assert batch is not None
    shapes = {ValueType.FLOAT: batch, ValueType.ACTION: batch}
    if actions is not None:
        shapes[ValueType.LIST] = shapes[ValueType.PROB] = (*batch, actions)
    missing = [t for t in space.types if t not in shapes]
    if missing:
        raise ValueError(f"cannot infer the shape of {missing} from the inputs of this space")
    return {t: shapes[t] for t in space.types}


#: What an op that a node does not name reads instead of its arguments: inside
#: every protected op's safe domain; action 0 is a valid index.
_NEUTRAL = {ValueType.FLOAT: 1.0, ValueType.LIST: 1.0, ValueType.PROB: 1.0, ValueType.ACTION: 0.0}


def interpret_one(
    space: SearchSpace, op_ids: jax.Array, args: jax.Array, output: jax.Array, inputs: Inputs
) -> jax.Array:
    """Runs one encoded program on ``inputs`` (a dict of arrays by input name)."""
    missing = [n for n, _ in space.inputs if n not in inputs]
    if missing:
        raise KeyError(f"missing program inputs {missing}")
    shapes = _bank_shapes(space, inputs)
    n_slots = space.n_fixed + space.max_nodes
    dtype = jnp.result_type(*(jnp.asarray(inputs[n]).dtype for n, _ in space.inputs), jnp.float32)
    banks = {t: jnp.zeros((n_slots, *shape), dtype) for t, shape in shapes.items()}
    for slot, (name, t) in enumerate(space.inputs):
        banks[t] = banks[t].at[slot].set(jnp.broadcast_to(jnp.asarray(inputs[name], dtype), shapes[t]))
    for k, c in enumerate(space.constants):
        slot = len(space.inputs) + k
        banks[ValueType.FLOAT] = banks[ValueType.FLOAT].at[slot].set(jnp.full(shapes[ValueType.FLOAT], c, dtype))

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


@functools.lru_cache(maxsize=64)
def batched_interpreter(space: SearchSpace) -> Callable[[EncodedPrograms, Inputs], jax.Array]:
    """The jitted ``(encoded, inputs) -> outputs [P, ...]`` of a space.

    Cached per space so every caller shares one compiled function; it
    recompiles only for new input shapes or a new batch size.
    """

    def run(encoded: EncodedPrograms, inputs: Inputs) -> jax.Array:
        one = functools.partial(interpret_one, space)
        return jax.vmap(one, in_axes=(0, 0, 0, None))(encoded.op_ids, encoded.args, encoded.output, inputs)

    return jax.jit(run)


def interpret(programs: Sequence[Program], space: SearchSpace, inputs: Inputs) -> jax.Array:
    """Convenience: encode and run ``programs``; returns ``[len(programs), ...]``."""
    encoded = encode(programs, space)
    return batched_interpreter(space)(EncodedPrograms(*map(jnp.asarray, encoded)), inputs)
