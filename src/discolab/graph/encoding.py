"""Programs as integer arrays, the plan of a batch, and the register banks the interpreters share.

A batch of programs of one space becomes ``op_ids [P, N]`` and ``args [P, N,
A]`` (``N = max_nodes``, ``A`` the space's largest arity), padded with no-op
nodes; :mod:`discolab.graph.interpret` runs it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from discolab.graph.program import Program, prune
from discolab.graph.space import SearchSpace
from discolab.graph.types import ValueType

Inputs = Mapping[str, jax.Array]
Banks = dict[ValueType, jax.Array]


class EncodedPrograms(NamedTuple):
    """Programs as padded integer arrays (numpy on the host, jax on device)."""

    op_ids: np.ndarray  # [P, N] index into space.ops
    args: np.ndarray  # [P, N, A] argument slots
    output: np.ndarray  # [P] slot of the output node


def encode(
    programs: Sequence[Program], space: SearchSpace, pad_to: int | None = None, dead_nodes: bool = True
) -> EncodedPrograms:
    """Encodes programs; pads the batch to ``pad_to`` by repeating the first.

    ``dead_nodes=False`` encodes each program without the nodes its output
    does not read (:func:`discolab.graph.prune`: same values and gradients,
    fewer nodes for the interpreter to run).
    """
    n, a = space.max_nodes, max(space.max_arity, 1)
    count = max(len(programs), pad_to or 0)
    if count == 0:
        return EncodedPrograms(np.zeros((0, n), np.int32), np.zeros((0, n, a), np.int32), np.zeros((0,), np.int32))
    index = {name: k for k, name in enumerate(space.ops)}
    rows = [_encoded_row(program if dead_nodes else prune(program, space), space, index) for program in programs]
    rows += rows[:1] * (count - len(programs))  # padding repeats the first program
    # One conversion per array: numpy item assignment per node cost more than the interpreter call.
    op_ids = np.array([ops for ops, _, _ in rows], np.int32)
    args = np.array([flat for _, flat, _ in rows], np.int32).reshape(count, n, a)
    output = np.array([out for _, _, out in rows], np.int32)
    return EncodedPrograms(op_ids, args, output)


def _encoded_row(program: Program, space: SearchSpace, index: Mapping[str, int]) -> tuple[list[int], list[int], int]:
    """One program's op ids ``[N]``, flat argument slots ``[N * A]`` and output slot.

    Kept on the program for its space: a study encodes each new program twice (its fingerprint,
    then its score), and a program never changes.
    """
    cached = program.__dict__.get("_encoded")
    if cached is not None and cached[0] is space:
        return cached[1]
    n, a = space.max_nodes, max(space.max_arity, 1)
    nodes = program.nodes
    if len(nodes) > n:
        raise IndexError(f"program has {len(nodes)} nodes; the space encodes at most {n}")
    ops = [index[node.op] for node in nodes] + [0] * (n - len(nodes))
    flat: list[int] = []
    for node in nodes:
        if len(node.args) > a:
            raise ValueError(f"op {node.op!r} has {len(node.args)} arguments; the space's ops take at most {a}")
        flat += node.args
        flat += [0] * (a - len(node.args))
    row = (ops, flat + [0] * (a * (n - len(nodes))), space.n_fixed + len(nodes) - 1)
    program.__dict__["_encoded"] = (space, row)
    return row


class BatchPlan(NamedTuple):
    """What a whole batch needs, computed outside ``vmap`` and shared by its programs (unbatched).

    Attributes:
      n_steps: nodes to run: the batch's longest program (int32 scalar).
      present: ``[N, K]`` bool, whether any program of the batch names op ``k`` at node ``i``; the
        interpreter skips (``lax.cond``) the costly ops that none names.
    """

    n_steps: jax.Array
    present: jax.Array


def plan_batch(encoded: EncodedPrograms, space: SearchSpace) -> BatchPlan:
    """The :class:`BatchPlan` of an encoded batch (traceable: call it inside the jitted function).

    >>> from discolab.graph import Program, SearchSpace
    >>> space = SearchSpace(inputs=(("x", "float"),), ops=("add", "sin"), max_nodes=4)
    >>> short, long = Program.from_nodes([("sin", [0])]), Program.from_nodes([("add", [0, 0]), ("sin", [1])])
    >>> plan = plan_batch(encode([short, long], space), space)
    >>> int(plan.n_steps), plan.present.shape, bool(plan.present[1, 1]), bool(plan.present[1, 0])
    (2, (4, 2), True, False)
    """
    longest = jnp.max(jnp.asarray(encoded.output)) - space.n_fixed + 1
    n_steps = jnp.clip(longest, 1, space.max_nodes).astype(jnp.int32)
    op_ids = jnp.asarray(encoded.op_ids)  # [P, N]
    real = jnp.arange(space.max_nodes)[None, :] <= (jnp.asarray(encoded.output) - space.n_fixed)[:, None]  # no padding
    named = (op_ids[:, :, None] == jnp.arange(len(space.ops))[None, None, :]) & real[:, :, None]
    present = jnp.any(named, axis=0)
    return BatchPlan(n_steps, present)


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


def _check_inputs(space: SearchSpace, inputs: Inputs) -> None:
    missing = [n for n, _ in space.inputs if n not in inputs]
    if missing:
        raise KeyError(f"missing program inputs {missing}")


def _input_dtype(xs: Sequence[Any]) -> Any:
    return jnp.result_type(*(jnp.asarray(x).dtype for x in xs), jnp.float32)


def _init_banks(space: SearchSpace, shapes: Mapping[ValueType, tuple[int, ...]], dtype: Any,
                xs: Sequence[Any]) -> Banks:
    """``[slots, *shape]`` per type: inputs and constants in their slots, zeros elsewhere."""
    n_slots = space.n_fixed + space.max_nodes
    banks = {t: jnp.zeros((n_slots, *shape), dtype) for t, shape in shapes.items()}
    for slot, ((_, t), x) in enumerate(zip(space.inputs, xs)):
        banks[t] = banks[t].at[slot].set(jnp.broadcast_to(jnp.asarray(x, dtype), shapes[t]))
    for k, c in enumerate(space.constants):
        slot = len(space.inputs) + k
        banks[ValueType.FLOAT] = banks[ValueType.FLOAT].at[slot].set(jnp.full(shapes[ValueType.FLOAT], c, dtype))
    return banks
