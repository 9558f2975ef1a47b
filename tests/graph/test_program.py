"""Program: validation messages, the JSON round trip, live slots and pruning."""

from __future__ import annotations

import json

import numpy as np
import pytest
from graphtest_support import regression_space
from hypothesis import given, settings
from hypothesis import strategies as st

from discolab.graph import (
    InvalidProgram, Node, Program, interpret, is_valid, live_slots, mutate, prune, random_program, structural_hash,
    validate,
)

SPACE_NAMES = ("regression", "dqn", "prob_chain")
seeds = st.integers(0, 2**32 - 1)

# Regression space slots: x0=0, x1=1, constants 1.0=2, 2.0=3, -0.5=4, first node=5.
R = regression_space()


def test_json_round_trip_of_a_known_program():
    program = Program.from_nodes([("add", [0, 3]), ("mul", [5, 1])])
    text = program.to_json()
    assert json.loads(text) == [["add", [0, 3]], ["mul", [5, 1]]]
    assert Program.from_json(text) == program
    assert program.nodes[1] == Node("mul", (5, 1))
    assert len(program) == 2


@pytest.mark.parametrize("text", ["not json", "[[\"add\"]]", "[[\"add\", 3]]", "[1, 2]", "[[\"add\", [\"a\", 1]]]"])
def test_malformed_json_is_an_invalid_program(text):
    with pytest.raises(InvalidProgram, match="malformed"):
        Program.from_json(text)


def test_programs_are_immutable_values():
    a = Program.from_nodes([("add", [0, 1])])
    b = Program((Node("add", (0, 1)),))
    assert a == b and hash(a) == hash(b)
    with pytest.raises(AttributeError):
        a.nodes = ()  # type: ignore[misc]


@pytest.mark.parametrize(
    ("nodes", "pattern"),
    [
        ([], "program has no nodes"),
        ([("frobnicate", [0, 1])], r"node 0: op 'frobnicate' is not in the space"),
        # A registered op that the space does not allow.
        ([("add", [0, 1]), ("testonly_nosym", [5])], r"node 1: op 'testonly_nosym' is not in the space"),
        ([("add", [0])], r"node 0: op 'add' takes 2 arguments, got 1"),
        ([("neg", [0, 1])], r"node 0: op 'neg' takes 1 arguments, got 2"),
        ([("add", [0, 5])], r"node 0: argument 1 reads slot 5, which is not earlier"),  # its own slot
        ([("add", [0, 1]), ("add", [5, 7])], r"node 1: argument 1 reads slot 7, which is not earlier"),
        ([("add", [-1, 0])], r"node 0: argument 0 reads slot -1"),
        ([("add", [0, 1])] * 13, "program has 13 nodes; the space allows 12"),
        # The output ignores the required input x0.
        ([("mul", [1, 3])], r"output does not depend on any of \['x0'\]"),
        # x0 is read, but only by a dead node.
        ([("neg", [0]), ("mul", [1, 3])], r"output does not depend on any of \['x0'\]"),
    ],
)
def test_validation_errors_name_the_problem(mixed_ops, nodes, pattern):
    program = Program.from_nodes(nodes)
    with pytest.raises(InvalidProgram, match=pattern):
        validate(program, R)
    assert not is_valid(program, R)


def test_validation_names_the_wrong_type_and_its_slot(spaces):
    space = spaces["dqn"]  # slots: q_tm1=0 (list), a_tm1=1 (action), r_t=2, discount=3, q_t=4 (list)
    program = Program.from_nodes([("testonly_max_list", [0]), ("add", [0, 2])])
    with pytest.raises(InvalidProgram, match=r"node 1: op 'add' argument 0 wants float, slot 0 holds list"):
        validate(program, space)
    program = Program.from_nodes([("testonly_select", [0, 2])])
    with pytest.raises(InvalidProgram, match=r"argument 1 wants action, slot 2 holds float"):
        validate(program, space)


def test_validation_names_the_output_type(spaces):
    space = spaces["dqn"]
    program = Program.from_nodes([("testonly_argmax", [0])])
    with pytest.raises(InvalidProgram, match="output is action; the space wants float"):
        validate(program, space)
    validate(Program.from_nodes([("testonly_argmax", [0]), ("testonly_select", [0, 7])]), space)


def test_live_slots_and_prune_of_a_known_program():
    # v5 = sin(x1) is dead; v6 = x0 + 2; v7 = v6 * x0 is the output.
    program = Program.from_nodes([("sin", [1]), ("add", [0, 3]), ("mul", [6, 0])])
    validate(program, R)
    assert live_slots(program, R) == {0, 3, 6, 7}
    pruned = prune(program, R)
    assert pruned == Program.from_nodes([("add", [0, 3]), ("mul", [5, 0])])
    assert prune(pruned, R) == pruned


@pytest.mark.parametrize("name", SPACE_NAMES)
@settings(max_examples=40, deadline=None)
@given(seed=seeds)
def test_json_round_trip_of_random_and_mutated_programs(spaces, name, seed):
    space = spaces[name]
    rng = np.random.default_rng(seed)
    program = random_program(space, rng)
    for _ in range(5):
        assert Program.from_json(program.to_json()) == program
        program = mutate(program, space, rng)


@pytest.mark.parametrize("name", SPACE_NAMES)
@settings(max_examples=30, deadline=None)
@given(seed=seeds)
def test_prune_is_valid_minimal_and_keeps_hash(spaces, name, seed):
    space = spaces[name]
    program = random_program(space, np.random.default_rng(seed))
    pruned = prune(program, space)
    validate(pruned, space)
    assert len(pruned) <= len(program)
    assert structural_hash(pruned, space) == structural_hash(program, space)
    # Every node of a pruned program is live.
    assert live_slots(pruned, space) >= set(range(space.n_fixed, space.n_fixed + len(pruned)))
    assert prune(pruned, space) == pruned


@settings(max_examples=30, deadline=None)
@given(seed=seeds)
def test_prune_keeps_interpreted_values(spaces, seed):
    space = spaces["regression"]
    rng = np.random.default_rng(seed)
    program = random_program(space, rng)
    inputs = {n: rng.uniform(-3, 3, 8).astype(np.float32) for n, _ in space.inputs}
    out = np.asarray(interpret([program, prune(program, space)], space, inputs))
    np.testing.assert_array_equal(out[0], out[1])


def _live_reference(program: Program, n_fixed: int) -> set[int]:
    """live_slots as first written, without caches."""
    live = {n_fixed + len(program.nodes) - 1}
    for i in range(len(program.nodes) - 1, -1, -1):
        if n_fixed + i in live:
            live.update(program.nodes[i].args)
    return live


def test_cached_derived_data_cannot_go_stale(spaces):
    # The JSON and liveness a program caches are functions of its nodes, which never change:
    # the program and its nodes are frozen, and the nodes are held in a tuple even if given as a list.
    program = Program([Node("sin", (1,)), Node("add", (0, 3)), Node("mul", (6, 0))])  # type: ignore[arg-type]
    assert isinstance(program.nodes, tuple) and program == Program.from_nodes(
        [("sin", [1]), ("add", [0, 3]), ("mul", [6, 0])])
    with pytest.raises(AttributeError):
        program.nodes = ()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        program.nodes[0].args = (0,)  # type: ignore[misc]
    first = program.to_json()
    assert program.to_json() is first  # cached
    assert first == json.dumps([[n.op, list(n.args)] for n in program.nodes], separators=(",", ":"))
    live = live_slots(program, R)
    assert live == {0, 3, 6, 7} == _live_reference(program, R.n_fixed)
    live.add(99)  # a caller's copy: the cache is not touched
    assert live_slots(program, R) == {0, 3, 6, 7}
    # The same nodes under a space with other fixed slots: liveness is recomputed for it.
    tiny = spaces["tiny"]  # one input: the nodes read other slots there
    assert live_slots(program, tiny) == _live_reference(program, tiny.n_fixed)
    assert live_slots(program, R) == {0, 3, 6, 7}


@pytest.mark.parametrize("name", SPACE_NAMES)
def test_cached_data_equals_fresh_computation_and_is_not_pickled(spaces, name):
    import pickle

    space = spaces[name]
    rng = np.random.default_rng(5)
    program = random_program(space, rng)
    for _ in range(30):
        program = mutate(program, space, rng)
        fresh = Program.from_json(program.to_json())  # an equal program with no caches yet
        assert live_slots(program, space) == live_slots(fresh, space) == _live_reference(fresh, space.n_fixed)
        assert structural_hash(program, space) == structural_hash(fresh, space)
        assert is_valid(program, space) and is_valid(fresh, space)
    copy = pickle.loads(pickle.dumps(program))
    assert copy == program and set(vars(copy)) == {"nodes"}
    assert copy.to_json() == program.to_json() and live_slots(copy, space) == live_slots(program, space)
