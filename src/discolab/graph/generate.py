"""Random programs that are valid by construction.

Every choice is drawn only among type-valid options, so no program is ever
resampled; the single repair step (rewiring one argument to a required input,
or, where no live argument has a required input's type, replacing a live node
by the shortest chain of ops from one) keeps ``required_inputs`` satisfied
without rejection.
"""

from __future__ import annotations

import functools

import numpy as np

from discolab.graph import composite
from discolab.graph import ops as ops_lib
from discolab.graph.program import Node, Program, depends_on, live_slots
from discolab.graph.space import SearchSpace, dependency_chain
from discolab.graph.types import ValueType


def slots_of_type(types: list[ValueType] | tuple[ValueType, ...], want: ValueType, below: int) -> list[int]:
    return [s for s in range(below) if types[s] == want]


def by_type(types: list[ValueType] | tuple[ValueType, ...]) -> dict[ValueType, list[int]]:
    """Slots grouped by the type they hold."""
    groups: dict[ValueType, list[int]] = {}
    for slot, t in enumerate(types):
        groups.setdefault(t, []).append(slot)
    return groups


def pick_one(items: list, rng: np.random.Generator):
    # rng.random() is several times cheaper than rng.integers() per call.
    return items[int(rng.random() * len(items))]


@functools.lru_cache(maxsize=4096)
def candidate_ops(
    space: SearchSpace, available: frozenset[ValueType], out_type: ValueType | None
) -> tuple[ops_lib.Op, ...]:
    """Ops whose arguments all have an available type (memoized: a pure function of its keys)."""
    return tuple(
        op for op in space.op_defs
        if all(t in available for t in op.in_types) and (out_type is None or op.out_type == out_type)
    )


def _node_from(
    space: SearchSpace, groups: dict[ValueType, list[int]], rng: np.random.Generator, out_type: ValueType | None
) -> Node | None:
    choices = candidate_ops(space, frozenset(groups), out_type)
    if not choices:
        return None
    op = pick_one(choices, rng)
    return Node(op.name, tuple(pick_one(groups[t], rng) for t in op.in_types))


def random_node(
    space: SearchSpace,
    types: list[ValueType],
    rng: np.random.Generator,
    out_type: ValueType | None = None,
) -> Node | None:
    """A random op node reading slots ``< len(types)``; None if none fits."""
    return _node_from(space, by_type(types), rng, out_type)


def random_program(space: SearchSpace, rng: np.random.Generator, n_nodes: int | None = None) -> Program:
    """A random valid program with ``n_nodes`` nodes (random in [1, max_nodes] if None).

    For a composite space, a tuple of random programs (``n_nodes`` applies to each part).
    """
    if composite.is_composite(space):
        return composite.ProgramTuple(tuple(random_program(s, rng, n_nodes) for _, s in space.parts))
    if n_nodes is None:
        n_nodes = int(rng.integers(1, space.max_nodes + 1))
    n_nodes = max(1, min(n_nodes, space.max_nodes))
    groups = by_type(space.slot_types)
    slot = space.n_fixed
    nodes: list[Node] = []
    for i in range(n_nodes):
        want = space.output_type if i == n_nodes - 1 else None
        node = _node_from(space, groups, rng, want)
        if node is None:  # no op of the wanted type reads these types: read the fixed slots
            node = _node_from(space, by_type(space.slot_types), rng, space.output_type)
            # The space guarantees an output op over the fixed slots.
            assert node is not None
        nodes.append(node)
        groups.setdefault(ops_lib.get(node.op).out_type, []).append(slot)
        slot += 1
    return ensure_required(Program(tuple(nodes)), space, rng)


def ensure_required(program: Program, space: SearchSpace, rng: np.random.Generator) -> Program:
    """Rewires one live argument to a required input if the output ignores them all.

    Where no live argument has a required input's type (a FLOAT loss that must
    read a LIST of Q-values, say), a live node is replaced by a chain of ops
    from a required input instead (see ``_bridge_required``).
    """
    if depends_on(program, space, space.required_inputs):
        return program
    n_fixed = space.n_fixed
    required = [i for i, (n, _) in enumerate(space.inputs) if n in space.required_inputs]
    live = live_slots(program, space)
    options = []  # (node index, argument position, replacement slot)
    for i, node in enumerate(program.nodes):
        if n_fixed + i not in live:
            continue
        op = ops_lib.get(node.op)
        for j, t in enumerate(op.in_types):
            options += [(i, j, s) for s in required if space.slot_types[s] == t]
    if not options:
        # No live argument can hold a required input's type: replace a live
        # node by a chain of ops that carries a required input to its type.
        return _bridge_required(program, space, required, rng)
    i, j, s = options[rng.integers(len(options))]
    node = program.nodes[i]
    args = list(node.args)
    args[j] = s
    nodes = list(program.nodes)
    nodes[i] = Node(node.op, tuple(args))
    return Program(tuple(nodes))


def _bridge_required(
    program: Program, space: SearchSpace, required: list[int], rng: np.random.Generator
) -> Program:
    """Replaces a live node by the shortest op chain from a required input to its type.

    Among live nodes whose chain fits in ``max_nodes``, one with the shortest
    chain is drawn; if none fits, the program becomes the chain to the output
    alone. The chain's other arguments read slots before the replaced node.
    """
    n_fixed = space.n_fixed
    types = list(space.slot_types) + [ops_lib.get(n.op).out_type for n in program.nodes]
    start = {space.slot_types[s] for s in required}
    # Shuffled so the chain's ops vary: in op order, every bridged program of the
    # Evolving-RL space read the same first list reduction (40% of random
    # programs collapsed to max_a(q_tm1)).
    op_defs = tuple(space.op_defs[k] for k in rng.permutation(len(space.op_defs)))
    live = live_slots(program, space)
    best: list[tuple[int, list]] = []
    for i in range(len(program.nodes)):
        if n_fixed + i not in live:
            continue
        chain = dependency_chain(op_defs, start, set(types[: n_fixed + i]), types[n_fixed + i])
        if chain is None or len(program.nodes) + len(chain) - 1 > space.max_nodes:
            continue
        if best and len(chain) > len(best[0][1]):
            continue
        if best and len(chain) < len(best[0][1]):
            best = []
        best.append((i, chain))
    if best:
        i, chain = best[rng.integers(len(best))]
        prefix, suffix = program.nodes[:i], program.nodes[i + 1 :]
    else:
        chain = dependency_chain(op_defs, start, set(space.slot_types), space.output_type)
        if chain is None or len(chain) > space.max_nodes:
            raise ValueError(f"search space cannot make the output depend on {list(space.required_inputs)}")
        i, prefix, suffix = 0, (), ()
    links: list[Node] = []
    for op, j, t in chain:
        args = []
        for k, u in enumerate(op.in_types):
            if k != j:
                args.append(int(rng.choice(slots_of_type(types, u, n_fixed + i))))
            elif links:
                args.append(n_fixed + i + len(links) - 1)
            else:
                args.append(int(rng.choice([s for s in required if space.slot_types[s] == t])))
        links.append(Node(op.name, tuple(args)))
    at, by = n_fixed + i, len(chain) - 1
    return Program((*prefix, *links, *(Node(n.op, tuple(a + by if a >= at else a for a in n.args)) for n in suffix)))
