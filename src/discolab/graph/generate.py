"""Random programs that are valid by construction.

Every choice is drawn only among type-valid options, so no program is ever
resampled; the single repair step (rewiring one argument to a required input)
is what keeps ``required_inputs`` satisfied without rejection.
"""

from __future__ import annotations

import numpy as np

from discolab.graph import ops as ops_lib
from discolab.graph.program import Node, Program, depends_on, live_slots
from discolab.graph.space import SearchSpace
from discolab.graph.types import ValueType


def slots_of_type(types: list[ValueType] | tuple[ValueType, ...], want: ValueType, below: int) -> list[int]:
    return [s for s in range(below) if types[s] == want]


def random_node(
    space: SearchSpace,
    types: list[ValueType],
    rng: np.random.Generator,
    out_type: ValueType | None = None,
) -> Node | None:
    """A random op node reading slots ``< len(types)``; None if none fits."""
    available = set(types)
    choices = [
        op for op in space.op_defs
        if set(op.in_types) <= available and (out_type is None or op.out_type == out_type)
    ]
    if not choices:
        return None
    op = choices[rng.integers(len(choices))]
    args = tuple(int(rng.choice(slots_of_type(types, t, len(types)))) for t in op.in_types)
    return Node(op.name, args)


def random_program(space: SearchSpace, rng: np.random.Generator, n_nodes: int | None = None) -> Program:
    """A random valid program with ``n_nodes`` nodes (random in [1, max_nodes] if None)."""
    if n_nodes is None:
        n_nodes = int(rng.integers(1, space.max_nodes + 1))
    n_nodes = max(1, min(n_nodes, space.max_nodes))
    types = list(space.slot_types)
    nodes: list[Node] = []
    for i in range(n_nodes):
        want = space.output_type if i == n_nodes - 1 else None
        node = random_node(space, types, rng, want)
        if node is None:  # no op of the wanted type reads these types: end here
            node = random_node(space, list(space.slot_types), rng, space.output_type)
            # The space guarantees an output op over the fixed slots.
            assert node is not None
        nodes.append(node)
        types.append(ops_lib.get(node.op).out_type)
    return ensure_required(Program(tuple(nodes)), space, rng)


def ensure_required(program: Program, space: SearchSpace, rng: np.random.Generator) -> Program:
    """Rewires one live argument to a required input if the output ignores them all."""
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
        # No live argument can hold a required input's type: build the output
        # afresh from an op that reads one directly.
        raise ValueError(
            f"search space cannot make the output depend on {list(space.required_inputs)}"
        )
    i, j, s = options[rng.integers(len(options))]
    node = program.nodes[i]
    args = list(node.args)
    args[j] = s
    nodes = list(program.nodes)
    nodes[i] = Node(node.op, tuple(args))
    return Program(tuple(nodes))
