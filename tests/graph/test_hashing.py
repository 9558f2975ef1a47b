"""Structural hash: stable under dead code, node order and commutative argument order."""

from __future__ import annotations

import numpy as np
import pytest
from graphtest_support import regression_space
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from discolab.graph import Node, Program, SearchSpace, ops, random_program, structural_hash, validate
from discolab.graph.generate import random_node

SPACE_NAMES = ("regression", "dqn", "prob_chain")
seeds = st.integers(0, 2**32 - 1)
R = regression_space()  # slots: x0=0, x1=1, constants 1.0=2, 2.0=3, -0.5=4, first node=5


def with_dead_node(program: Program, space: SearchSpace, rng: np.random.Generator) -> Program:
    """Inserts a random node that nothing reads, before the output; later slots shift by one."""
    position = int(rng.integers(0, len(program)))  # never after the output
    types = list(space.slot_types) + [ops.get(n.op).out_type for n in program.nodes]
    new = random_node(space, types[: space.n_fixed + position], rng)
    assert new is not None
    slot = space.n_fixed + position
    later = [Node(n.op, tuple(a + 1 if a >= slot else a for a in n.args)) for n in program.nodes[position:]]
    return Program((*program.nodes[:position], new, *later))


def with_commutative_args_reversed(program: Program) -> Program:
    return Program(tuple(
        Node(n.op, n.args[::-1]) if ops.get(n.op).commutative else n for n in program.nodes
    ))


def h(nodes, space=R) -> str:
    return structural_hash(Program.from_nodes(nodes), space)


def test_hash_is_a_32_hex_digest():
    digest = h([("add", [0, 1])])
    assert len(digest) == 32 and int(digest, 16) >= 0


def test_commutative_ops_ignore_argument_order_and_others_do_not():
    for op in ("add", "mul", "max", "min", "distance"):
        assert h([(op, [0, 1])]) == h([(op, [1, 0])]), op
    for op in ("sub", "div"):
        assert h([(op, [0, 1])]) != h([(op, [1, 0])]), op
    # Nested: (x0 - x1) * 2 == 2 * (x0 - x1) but != (x1 - x0) * 2.
    assert h([("sub", [0, 1]), ("mul", [5, 3])]) == h([("sub", [0, 1]), ("mul", [3, 5])])
    assert h([("sub", [0, 1]), ("mul", [5, 3])]) != h([("sub", [1, 0]), ("mul", [5, 3])])


def test_hash_distinguishes_ops_inputs_and_constants():
    digests = {h([("add", [0, 1])]), h([("mul", [0, 1])]), h([("add", [0, 0])]), h([("add", [0, 2])]),
               h([("add", [0, 3])]), h([("neg", [0])]), h([("neg", [0]), ("neg", [5])])}
    assert len(digests) == 7


def test_hash_ignores_node_order_and_dead_nodes():
    # sin(x0) + cos(x1), built in two orders, once with a dead node in between.
    a = [("sin", [0]), ("cos", [1]), ("add", [5, 6])]
    b = [("cos", [1]), ("sin", [0]), ("add", [6, 5])]
    c = [("cos", [1]), ("exp", [1]), ("sin", [0]), ("add", [7, 5])]
    for nodes in (a, b, c):
        validate(Program.from_nodes(nodes), R)
    assert h(a) == h(b) == h(c)


def test_hash_depends_on_the_space_input_names():
    other = SearchSpace(inputs=(("y0", "float"), ("y1", "float")), ops=R.ops, constants=R.constants)
    assert h([("add", [0, 1])]) != h([("add", [0, 1])], other)


@pytest.mark.parametrize("name", SPACE_NAMES)
@settings(max_examples=40, deadline=None)
@given(seed=seeds)
def test_hash_stable_under_dead_nodes_and_commutative_swaps(spaces, name, seed):
    space = spaces[name]
    rng = np.random.default_rng(seed)
    program = random_program(space, rng)
    assume(len(program) < space.max_nodes)
    digest = structural_hash(program, space)
    padded = with_dead_node(program, space, rng)
    validate(padded, space)
    assert structural_hash(padded, space) == digest
    swapped = with_commutative_args_reversed(program)
    validate(swapped, space)
    assert structural_hash(swapped, space) == digest


@settings(max_examples=40, deadline=None)
@given(seed=seeds)
def test_swapping_a_live_sub_changes_the_hash(seed):
    rng = np.random.default_rng(seed)
    program = random_program(R, rng)
    assume(len(program) < R.max_nodes)
    out = R.n_fixed + len(program) - 1
    ab = Program((*program.nodes, Node("sub", (out, 1))))  # out - x1
    ba = Program((*program.nodes, Node("sub", (1, out))))  # x1 - out
    assert structural_hash(ab, R) != structural_hash(ba, R)
