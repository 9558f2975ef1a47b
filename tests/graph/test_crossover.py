"""Subtree crossover: children are valid, typed, and can join terms two parents found apart."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from discolab.graph import (
    CompositeSpace, Program, ProgramTuple, SearchSpace, crossover, mutate, random_program, to_infix, validate,
)
from discolab.graph.crossover import cone, graft

SPACE_NAMES = ("regression", "dqn", "prob_chain")
XY = SearchSpace(inputs=(("x", "float"), ("y", "float")), ops=("add", "mul", "sub", "sin", "cos"), constants=(1.0,),
                 max_nodes=6, required_inputs=("x", "y"))
# Slots 0: x, 1: y, 2: the constant 1.0; node i writes slot 3 + i.
SIN_X_PLUS_COS_X = Program.from_nodes([("sin", [0]), ("cos", [0]), ("add", [3, 4])])
SIN_Y_SQUARED = Program.from_nodes([("mul", [1, 1]), ("sin", [3])])


def test_graft_replaces_one_cone_and_rewires_its_readers():
    child = graft(SIN_X_PLUS_COS_X, 1, SIN_Y_SQUARED, 1, XY.n_fixed)
    validate(child, XY)
    assert to_infix(child, XY) == "sin(x) + sin((y * y))"


def test_cone_is_what_a_node_reads():
    program = Program.from_nodes([("sin", [0]), ("cos", [1]), ("mul", [3, 0]), ("add", [5, 2])])
    assert cone(program, 2, XY.n_fixed) == (0, 2)
    assert cone(program, 3, XY.n_fixed) == (0, 2, 3)
    assert cone(program, 1, XY.n_fixed) == (1,)


def test_random_crossover_reaches_the_sum_of_both_parents_terms():
    rng = np.random.default_rng(0)
    children = {to_infix(crossover(SIN_X_PLUS_COS_X, SIN_Y_SQUARED, XY, rng), XY) for _ in range(200)}
    assert "sin(x) + sin((y * y))" in children
    assert "sin((y * y)) + cos(x)" in children


def test_a_child_over_max_nodes_is_pruned_or_skipped():
    small = SearchSpace(inputs=XY.inputs, ops=XY.ops, constants=XY.constants, max_nodes=3, required_inputs=("x",))
    dead_then_sin = Program.from_nodes([("cos", [1]), ("sin", [0])])  # node 0 is dead
    deep = Program.from_nodes([("mul", [1, 1]), ("sin", [3]), ("cos", [4])])
    rng = np.random.default_rng(1)
    for _ in range(50):
        child = crossover(dead_then_sin, deep, small, rng)
        validate(child, small)
        assert len(child) <= 3


def test_none_where_every_graft_gives_the_recipient_back():
    x_times_y = Program.from_nodes([("mul", [0, 1])])
    assert crossover(x_times_y, x_times_y, XY, np.random.default_rng(0)) is None


@pytest.mark.parametrize("name", SPACE_NAMES)
@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_crossovers_of_evolved_programs_stay_valid(spaces, name, seed):
    space = spaces[name]
    rng = np.random.default_rng(seed)
    pool = []
    for _ in range(6):
        program = random_program(space, rng)
        for _ in range(int(rng.integers(0, 20))):
            program = mutate(program, space, rng)
        pool.append(program)
    changed = 0
    for _ in range(40):
        recipient, donor = (pool[i] for i in rng.choice(len(pool), 2))
        child = crossover(recipient, donor, space, rng)
        if child is None:
            continue
        validate(child, space)
        assert child != recipient
        assert len(child) <= space.max_nodes
        pool.append(child)
        changed += 1
    assert changed > 0


def test_composite_crossover_changes_one_part():
    space = CompositeSpace((("actor", XY), ("critic", XY)))
    recipient = ProgramTuple((SIN_X_PLUS_COS_X, SIN_X_PLUS_COS_X))
    donor = ProgramTuple((SIN_Y_SQUARED, SIN_Y_SQUARED))
    rng = np.random.default_rng(3)
    for _ in range(20):
        child = crossover(recipient, donor, space, rng)
        validate(child, space)
        assert sum(c != r for c, r in zip(child.parts, recipient.parts)) == 1
