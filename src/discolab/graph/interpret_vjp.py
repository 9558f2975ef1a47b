"""The default interpreter: one program, its own reverse pass (see :mod:`discolab.graph.interpret`)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from discolab.graph.compile_jaxpr import is_costly, unrolled
from discolab.graph.encoding import BatchPlan, Inputs, _bank_shapes, _check_inputs, _input_dtype
from discolab.graph.space import SearchSpace
from discolab.graph.types import ValueType


# ---- the VJP interpreter (default) ------------------------------------------------------
#
# One bank of "lanes" ``[slots, *batch, A]`` holds the values of every type: LIST and PROB values
# fill a lane, FLOAT and ACTION values are broadcast over its last axis (and read back from
# column 0). One bank instead of one per type means one gather per argument position, one write
# per node and one scatter-add per argument position backward: on CPU the cost is kernels.

_WIDE = (ValueType.LIST, ValueType.PROB)


def _lane_shape(shapes: Mapping[ValueType, tuple[int, ...]]) -> tuple[int, ...]:
    """The shape of one lane: a LIST's, or ``(*batch, 1)`` in a space without lists."""
    for t in _WIDE:
        if t in shapes:
            return shapes[t]
    return (*next(iter(shapes.values())), 1)


def _to_lane(x: jax.Array, t: ValueType, lane: tuple[int, ...]) -> jax.Array:
    """A value of type ``t`` as a lane (FLOAT and ACTION broadcast over the actions)."""
    return x if t in _WIDE else jnp.broadcast_to(x[..., None], lane)


def _from_lane(x: jax.Array, t: ValueType) -> jax.Array:
    """The value of type ``t`` a lane holds (column 0 for FLOAT and ACTION)."""
    return x if t in _WIDE else x[..., 0]


def _ct_lane(c: jax.Array, t: ValueType, lane: tuple[int, ...]) -> jax.Array:
    """A cotangent as a lane: FLOAT ones in column 0 (what :func:`_from_lane` reads), zeros elsewhere."""
    if t in _WIDE:
        return c
    column = jax.lax.broadcasted_iota(jnp.int32, lane, len(lane) - 1)
    return jnp.where(column == 0, c[..., None], 0).astype(c.dtype)


def _groups(space: SearchSpace) -> list[tuple[int, ...]]:
    """The ops a node's fast path runs together: cheap ops by signature (one fused kernel), costly ones alone."""
    by_signature: dict[tuple, list[int]] = {}
    groups: list[tuple[int, ...]] = []
    for k, op in enumerate(space.op_defs):
        if is_costly(op.name):
            groups.append((k,))
        else:
            by_signature.setdefault((op.in_types, op.out_type), []).append(k)
    return [tuple(ks) for ks in by_signature.values()] + groups


def _dispatch(present: jax.Array, groups: Sequence[tuple[int, ...]]) -> jax.Array:
    """Per node: the group of the ops the batch names there if they all fall in one, else ``len(groups)`` (mixed).

    Programs of one batch often share nodes (the bootstrap generator's start from DQN); at such a
    node the interpreter runs that op's group alone instead of every op.
    """
    member = np.zeros((present.shape[1], len(groups)), np.int32)
    for m, ks in enumerate(groups):
        member[list(ks), m] = 1
    named = (present.astype(jnp.int32) @ jnp.asarray(member)) > 0  # [N, G]
    single = jnp.sum(named, axis=1) == 1
    return jnp.where(single, jnp.argmax(named, axis=1), len(groups)).astype(jnp.int32)


def _lanes(bank: jax.Array, arg: jax.Array, n: int) -> list[jax.Array]:
    """The lanes at ``arg[0 .. n-1]``."""
    return [jax.lax.dynamic_index_in_dim(bank, arg[j], 0, keepdims=False) for j in range(n)]


def _lane_bank(space: SearchSpace, xs: tuple) -> tuple[jax.Array, tuple[int, ...]]:
    """The bank ``[slots, *lane]``: inputs and constants in their slots, zeros elsewhere; and the lane shape."""
    shapes = _bank_shapes(space, dict(zip((n for n, _ in space.inputs), xs)))
    dtype = _input_dtype(xs)
    lane = _lane_shape(shapes)
    bank = jnp.zeros((space.n_fixed + space.max_nodes, *lane), dtype)
    for slot, ((_, t), x) in enumerate(zip(space.inputs, xs)):
        bank = bank.at[slot].set(_to_lane(jnp.broadcast_to(jnp.asarray(x, dtype), shapes[t]), t, lane))
    for k, c in enumerate(space.constants):
        bank = bank.at[len(space.inputs) + k].set(jnp.full(lane, c, dtype))
    return bank, lane


def _forward(space: SearchSpace, n_steps: Any, present: jax.Array | None, op_ids: jax.Array, args: jax.Array,
             xs: tuple, unroll: bool = False) -> jax.Array:
    """Runs nodes ``0 .. n_steps-1``; returns the bank (every slot's value).

    ``unroll`` (no plan): all ``max_nodes`` nodes as a Python loop, straight-line code with
    static slots, instead of a ``fori_loop``.
    """
    if unroll:
        n_steps = space.max_nodes  # custom_vjp hands the count over as a tracer
    bank, lane = _lane_bank(space, xs)
    dtype = bank.dtype
    op_defs = space.op_defs
    width = args.shape[-1]
    types = sorted({op.out_type for op in op_defs}, key=list(ValueType).index)
    kind = jnp.asarray([types.index(op.out_type) for op in op_defs], jnp.int32)

    def run(k: int, operands: Sequence[jax.Array]) -> jax.Array:
        return jnp.asarray(op_defs[k].fn(*operands), dtype)

    fns = [unrolled(functools.partial(run, k)) for k in range(len(op_defs))]
    need = sorted({(j, t) for op in op_defs for j, t in enumerate(op.in_types)}, key=lambda p: (p[0], p[1].value))

    def mixed(i: jax.Array, op_id: jax.Array, lanes: Sequence[jax.Array]) -> jax.Array:
        """Every op (costly ones only where some program names them); the named one's value."""
        operand = {(j, t): _from_lane(lanes[j], t) for j, t in need}
        by_type = []
        for t in types:
            value = None
            for k, op in enumerate(op_defs):
                if op.out_type != t:
                    continue
                operands = tuple(operand[j, u] for j, u in enumerate(op.in_types))
                if present is not None and is_costly(op.name):
                    zeros = lambda a, t=t: jnp.zeros(lane if t in _WIDE else lane[:-1], dtype)  # noqa: E731
                    result = jax.lax.cond(present[i, k], fns[k], zeros, operands)
                else:
                    result = fns[k](operands)
                value = result if value is None else jnp.where(op_id == k, result, value)
            by_type.append(_to_lane(value, t, lane))
        value = by_type[0]
        for m in range(1, len(types)):
            value = jnp.where(kind[op_id] == m, by_type[m], value)
        return value

    def write(bank: jax.Array, value: jax.Array, i: jax.Array) -> jax.Array:
        return jax.lax.dynamic_update_index_in_dim(bank, value, space.n_fixed + i, 0)

    if unroll:
        for i in range(n_steps):
            bank = write(bank, mixed(i, op_ids[i], _lanes(bank, args[i], width)), i)
        return bank
    if present is None:
        # Each iteration writes node i, then reads node i+1's operands from the bank it wrote: a read
        # after the write, so XLA updates the carried bank in place instead of copying it.
        last = space.max_nodes - 1

        def node(i: jax.Array, carry: tuple[jax.Array, list]) -> tuple[jax.Array, list]:
            bank, lanes = carry
            new = write(bank, mixed(i, op_ids[i], lanes), i)
            return new, _lanes(new, args[jnp.minimum(i + 1, last)], width)

        bank, _ = jax.lax.fori_loop(0, n_steps, node, (bank, _lanes(bank, args[0], width)))
        return bank

    # With a plan: one switch per node, on the op all programs name there, or on "mixed".
    def fast(ks: tuple[int, ...]) -> Callable[[jax.Array, jax.Array, jax.Array, jax.Array], jax.Array]:
        op = op_defs[ks[0]]  # the group's ops share a signature

        def branch(bank: jax.Array, i: jax.Array, op_id: jax.Array, arg: jax.Array) -> jax.Array:
            operands = tuple(_from_lane(x, t) for x, t in zip(_lanes(bank, arg, op.arity), op.in_types))
            value = fns[ks[0]](operands)
            for k in ks[1:]:
                value = jnp.where(op_id == k, fns[k](operands), value)
            return _to_lane(value, op.out_type, lane)

        return branch

    def general(bank: jax.Array, i: jax.Array, op_id: jax.Array, arg: jax.Array) -> jax.Array:
        return mixed(i, op_id, _lanes(bank, arg, width))

    groups = _groups(space)
    branches = [fast(ks) for ks in groups] + [general]
    dispatch = _dispatch(present, groups)

    def node_switch(i: jax.Array, bank: jax.Array) -> jax.Array:
        return write(bank, jax.lax.switch(dispatch[i], branches, bank, i, op_ids[i], args[i]), i)

    return jax.lax.fori_loop(0, n_steps, node_switch, bank)


def _backward(space: SearchSpace, n_steps: Any, present: jax.Array | None, op_ids: jax.Array, args: jax.Array,
              output: jax.Array, bank: jax.Array, g: jax.Array, unroll: bool = False) -> jax.Array:
    """Cotangents of every slot (a bank), given ``g``, the output's: the nodes in reverse, live ones only.

    ACTION values (action indices) are piecewise constant: they get no cotangent, and the ops
    that make them (``argmax_a``) pass none on.
    """
    if unroll:
        n_steps = space.max_nodes  # static, so each step's node index is too
    op_defs = space.op_defs
    lane = bank.shape[1:]
    width = args.shape[-1]
    slots = jnp.arange(space.n_fixed + space.max_nodes)
    arity = jnp.asarray([op.arity for op in op_defs], jnp.int32)
    smooth = {t for t in space.types if t != ValueType.ACTION}
    head = _ct_lane(jnp.asarray(g, bank.dtype), space.output_type, lane)
    cts = jnp.where((slots == output).reshape((-1,) + (1,) * len(lane)), head[None], 0)
    live = slots == output

    def pull_of(k: int) -> Callable[[tuple, jax.Array], tuple]:
        op = op_defs[k]

        @unrolled
        def pull(lanes: tuple, ct_lane: jax.Array) -> tuple:
            ct = _from_lane(ct_lane, op.out_type)
            x = tuple(_from_lane(v, t) for v, t in zip(lanes, op.in_types))
            _, vjp = jax.vjp(lambda *a: jnp.asarray(op.fn(*a), ct.dtype), *x)
            return tuple(_ct_lane(c, t, lane) for c, t in zip(vjp(ct), op.in_types))

        return pull

    # Ops that pass a cotangent on: smooth output, some smooth input.
    pulls = {k: pull_of(k) for k, op in enumerate(op_defs)
             if op.out_type in smooth and any(u in smooth for u in op.in_types)}

    def contributions(k: int, lanes: Sequence[jax.Array], g: jax.Array, named: jax.Array,
                      i: jax.Array) -> dict[int, jax.Array]:
        """Op ``k``'s cotangents of its smooth arguments (lanes) by position, zero where the node does not name it."""
        op = op_defs[k]
        operands = tuple(lanes[: op.arity])
        if present is not None and is_costly(op.name):
            skip = lambda a, ct: tuple(jnp.zeros_like(x) for x in a)  # noqa: E731
            pulled = jax.lax.cond(present[i, k], pulls[k], skip, operands, g)
        else:
            pulled = pulls[k](operands, g)
        return {j: jnp.where(named, c, 0) for j, (u, c) in enumerate(zip(op.in_types, pulled)) if u in smooth}

    def mixed(i: jax.Array, op_id: jax.Array, arg: jax.Array, g: jax.Array, is_live: jax.Array) -> list:
        lanes = _lanes(bank, arg, width)
        acc: dict[int, jax.Array] = {}
        for k in pulls:
            for j, c in contributions(k, lanes, g, is_live & (op_id == k), i).items():
                acc[j] = acc[j] + c if j in acc else c
        return [acc.get(j, jnp.zeros(lane, bank.dtype)) for j in range(width)]

    def scatter(cts: jax.Array, acc: Sequence[jax.Array], arg: jax.Array) -> jax.Array:
        for j, c in enumerate(acc):
            cts = cts.at[arg[j]].add(c)
        return cts

    def step(r: jax.Array, carry: tuple, acc_of: Callable) -> tuple:
        # The scatters into the cotangent bank come before the read of the next node's cotangent,
        # which reads their result, so XLA updates the bank in place.
        cts, live, g = carry
        i = n_steps - 1 - r
        slot = space.n_fixed + i
        op_id, arg = op_ids[i], args[i]
        is_live = live[slot]
        cts = scatter(cts, acc_of(i, op_id, arg, g, is_live), arg)
        for j in range(width):
            live = live | (is_live & (j < arity[op_id]) & (slots == arg[j]))
        return cts, live, jax.lax.dynamic_index_in_dim(cts, jnp.maximum(slot - 1, 0), 0, keepdims=False)

    start = (cts, live, jax.lax.dynamic_index_in_dim(cts, space.n_fixed + n_steps - 1, 0, keepdims=False))
    if unroll:
        carry = start
        for r in range(n_steps):
            carry = step(r, carry, mixed)
        return carry[0]
    if present is None:
        cts, _, _ = jax.lax.fori_loop(0, n_steps, lambda r, c: step(r, c, mixed), start)
        return cts

    def fast(ks: tuple[int, ...]) -> Callable:
        op = op_defs[ks[0]]  # the group's ops share a signature

        def branch(i: jax.Array, op_id: jax.Array, arg: jax.Array, g: jax.Array, is_live: jax.Array) -> list:
            lanes = _lanes(bank, arg, op.arity)
            acc: dict[int, jax.Array] = {}
            for k in ks:
                if k in pulls:
                    for j, c in contributions(k, lanes, g, is_live & (op_id == k), i).items():
                        acc[j] = acc[j] + c if j in acc else c
            return [acc.get(j, jnp.zeros(lane, bank.dtype)) for j in range(width)]

        return branch

    groups = _groups(space)
    branches = [fast(ks) for ks in groups] + [mixed]
    dispatch = _dispatch(present, groups)

    def switched(i: jax.Array, op_id: jax.Array, arg: jax.Array, g: jax.Array, is_live: jax.Array) -> list:
        return jax.lax.switch(dispatch[i], branches, i, op_id, arg, g, is_live)

    cts, _, _ = jax.lax.fori_loop(0, n_steps, lambda r, c: step(r, c, switched), start)
    return cts


def _unbroadcast(c: jax.Array, x: jax.Array) -> jax.Array:
    """Sums a bank-shaped cotangent back to the shape of the input ``x`` it was broadcast from."""
    lead = c.ndim - x.ndim
    c = c.sum(axis=tuple(range(lead))) if lead else c
    ones = tuple(k for k, (a, b) in enumerate(zip(x.shape, c.shape)) if a == 1 and b != 1)
    return (c.sum(axis=ones, keepdims=True) if ones else c).reshape(x.shape).astype(x.dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _run(space: SearchSpace, unroll: bool, n_steps: Any, present: jax.Array | None, op_ids: jax.Array,
         args: jax.Array, output: jax.Array, xs: tuple) -> jax.Array:
    return _from_lane(_forward(space, n_steps, present, op_ids, args, xs, unroll)[output], space.output_type)


def _run_fwd(space: SearchSpace, unroll: bool, n_steps: Any, present: jax.Array | None, op_ids: jax.Array,
             args: jax.Array, output: jax.Array, xs: tuple) -> tuple[jax.Array, tuple]:
    bank = _forward(space, n_steps, present, op_ids, args, xs, unroll)
    return _from_lane(bank[output], space.output_type), (n_steps, present, op_ids, args, output, bank, xs)


def _run_bwd(space: SearchSpace, unroll: bool, residuals: tuple, g: jax.Array) -> tuple:
    n_steps, present, op_ids, args, output, bank, xs = residuals
    cts = _backward(space, n_steps, present, op_ids, args, output, bank, g, unroll)
    grads = tuple(
        _unbroadcast(_from_lane(cts[slot], t), jnp.asarray(x))
        if t != ValueType.ACTION and jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact) else None
        for slot, ((_, t), x) in enumerate(zip(space.inputs, xs))
    )
    return None, None, None, None, None, grads


_run.defvjp(_run_fwd, _run_bwd)


def interpret_one(
    space: SearchSpace, op_ids: jax.Array, args: jax.Array, output: jax.Array, inputs: Inputs,
    plan: BatchPlan | None = None, unroll: bool = False,
) -> jax.Array:
    """Runs one encoded program on ``inputs`` (a dict of arrays by input name).

    Args:
      space: the programs' space (static).
      op_ids, args, output: one row of :class:`EncodedPrograms`.
      inputs: the program inputs by name.
      plan: under ``vmap``, the unbatched :func:`plan_batch` of the whole
        batch: every program stops after the longest one, and costly ops
        that no program names at a node are skipped there. None: run all
        ``max_nodes`` nodes and every op (right for any batch).
      unroll: without a plan only: the node loops as straight-line code
        (every node, every op, static slots) instead of ``fori_loop``s. On a
        GPU a loop costs a device-to-host copy of its condition per
        iteration, and a ``switch`` or ``cond`` one per call; straight-line
        code has none, and costs a longer compile.

    Returns:
      The output slot's value; differentiable (reverse mode) in every
      floating-point input.
    """
    _check_inputs(space, inputs)
    xs = tuple(jnp.asarray(inputs[n]) for n, _ in space.inputs)
    if plan is None:
        return _run(space, unroll, space.max_nodes, None, op_ids, args, output, xs)
    if unroll:
        raise ValueError("interpret_one: unroll needs plan=None (a plan's node count is data, not a static length)")
    return _run(space, False, plan.n_steps, plan.present, op_ids, args, output, xs)
