"""Type-preserving mutation: change an op, rewire an argument, insert or delete a node.

Each kind is applied only where it can succeed, chosen among the kinds that
can, so a mutation always returns a valid program of the same space.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from discolab.graph import composite
from discolab.graph import ops as ops_lib
from discolab.graph.generate import pick_one, candidate_ops, ensure_required, random_node, slots_of_type
from discolab.graph.program import Node, Program, live_nodes, node_types
from discolab.graph.space import SearchSpace
from discolab.graph.types import ValueType

MUTATIONS = ("change_op", "rewire", "insert", "delete")


# A program's slot types and live nodes are cached on it: a tournament winner is mutated many times.
def _types(program: Program, space: SearchSpace) -> tuple[ValueType, ...]:
    return space.slot_types + node_types(program)


def _live_nodes(program: Program, space: SearchSpace) -> tuple[int, ...]:
    return live_nodes(program, space.n_fixed)


def _change_op(program: Program, space: SearchSpace, rng: np.random.Generator) -> Program | None:
    """Replaces the op of a random live node by another op of the same output type."""
    types = _types(program, space)
    n_fixed = space.n_fixed
    live = _live_nodes(program, space)
    for k in rng.permutation(len(live)):  # the first live node that has an alternative op
        i = live[k]
        old = program.nodes[i]
        old_op = ops_lib.get(old.op)
        ops = [op for op in candidate_ops(space, frozenset(types[: n_fixed + i]), old_op.out_type)
               if op.name != old.op]
        if not ops:
            continue
        op = pick_one(ops, rng)
        args = []
        for j, t in enumerate(op.in_types):
            if j < len(old.args) and old_op.in_types[j] == t:
                args.append(old.args[j])
            else:
                args.append(pick_one(slots_of_type(types, t, n_fixed + i), rng))
        nodes = list(program.nodes)
        nodes[i] = Node(op.name, tuple(args))
        return Program(tuple(nodes))
    return None


def _rewire(program: Program, space: SearchSpace, rng: np.random.Generator) -> Program | None:
    """Points one argument of a random live node at another earlier slot of its type."""
    types = _types(program, space)
    n_fixed = space.n_fixed
    live = _live_nodes(program, space)
    for k in rng.permutation(len(live)):  # the first live node with an argument that can move
        i = live[k]
        node = program.nodes[i]
        in_types = ops_lib.get(node.op).in_types
        for j in rng.permutation(len(in_types)):
            choices = [s for s in slots_of_type(types, in_types[j], n_fixed + i) if s != node.args[j]]
            if not choices:
                continue
            args = list(node.args)
            args[j] = pick_one(choices, rng)
            nodes = list(program.nodes)
            nodes[i] = Node(node.op, tuple(args))
            return Program(tuple(nodes))
    return None


def _shift(node: Node, at: int, by: int) -> Node:
    if not node.args or max(node.args) < at:  # unchanged: share the node (fewer objects, faster equality)
        return node
    return Node(node.op, tuple([a + by if a >= at else a for a in node.args]))


def _insert(program: Program, space: SearchSpace, rng: np.random.Generator) -> Program | None:
    """Inserts a new node before a live consumer and feeds one of its arguments."""
    if len(program.nodes) >= space.max_nodes:
        return None
    n_fixed = space.n_fixed
    types = _types(program, space)
    live = _live_nodes(program, space)
    consumer = live[rng.integers(len(live))]
    position = int(rng.integers(0, consumer + 1))  # new node index, before the consumer
    new = random_node(space, types[: n_fixed + position], rng)
    if new is None:
        return None
    new_type = ops_lib.get(new.op).out_type
    slot = n_fixed + position
    nodes = [*program.nodes[:position], new, *(_shift(n, slot, 1) for n in program.nodes[position:])]
    consumer += 1
    wants = ops_lib.get(nodes[consumer].op).in_types
    feeds = [j for j, t in enumerate(wants) if t == new_type]
    if feeds:
        j = feeds[rng.integers(len(feeds))]
        args = list(nodes[consumer].args)
        args[j] = slot
        nodes[consumer] = Node(nodes[consumer].op, tuple(args))
    return Program(tuple(nodes))


def _delete(program: Program, space: SearchSpace, rng: np.random.Generator) -> Program | None:
    """Removes a non-output node; its readers read an earlier slot of its type."""
    if len(program.nodes) < 2:
        return None
    n_fixed = space.n_fixed
    types = _types(program, space)
    # A node can go if an earlier slot has its type (one pass, tracking the types seen so far).
    seen = set(types[:n_fixed])
    options = []
    for i in range(len(program.nodes) - 1):
        t = types[n_fixed + i]
        if t in seen:
            options.append(i)
        seen.add(t)
    if not options:
        return None
    i = options[rng.integers(len(options))]
    slot = n_fixed + i
    choices = slots_of_type(types, types[slot], slot)
    replacement = choices[rng.integers(len(choices))]  # draws as rng.choice(choices) does, at a fifth the cost
    nodes = list(program.nodes[:i])  # earlier nodes read earlier slots only: shared as they are
    for node in program.nodes[i + 1 :]:
        if node.args and max(node.args) >= slot:  # else unchanged: shared
            node = Node(node.op, tuple([replacement if a == slot else (a - 1 if a > slot else a) for a in node.args]))
        nodes.append(node)
    return Program(tuple(nodes))


_KINDS: dict[str, Callable[[Program, SearchSpace, np.random.Generator], Program | None]] = {
    "change_op": _change_op,
    "rewire": _rewire,
    "insert": _insert,
    "delete": _delete,
}


def mutate(
    program: Program,
    space: SearchSpace,
    rng: np.random.Generator,
    kinds: tuple[str, ...] = MUTATIONS,
) -> Program:
    """One random type-preserving mutation of ``program``.

    Kinds are tried in a random order and the first that changes the program
    is used; the result always validates against ``space``. (The required-input
    repair can undo a kind's change, e.g. rewire an argument away from the only
    required input and then back: the next kind is tried then.) A program no
    kind changes (a single node over a single input, say) is returned unchanged.
    A tuple of programs (a composite space) changes one part, drawn uniformly;
    if that part cannot change, the next one in a random order is tried.
    """
    if composite.is_composite(space):
        parts = list(composite.zip_parts(program, space))
        for i in rng.permutation(len(parts)):
            _, part, part_space = parts[i]
            child = mutate(part, part_space, rng, kinds)
            if child != part:
                return composite.replace_part(program, int(i), child)
        return program
    for k in rng.permutation(len(kinds)):
        child = _KINDS[kinds[k]](program, space, rng)
        if child is not None:
            child = ensure_required(child, space, rng)
            if child != program:
                return child
    return program
