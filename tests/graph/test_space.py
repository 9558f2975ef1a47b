"""SearchSpace: slot layout, hashing/equality, serialization and validation errors."""

from __future__ import annotations

import pytest
from graphtest_support import A, F, L, P, dqn_space, regression_space

from discolab.graph import SearchSpace, ValueType


def test_slot_layout_inputs_then_constants():
    space = regression_space()
    assert space.n_fixed == 5
    assert space.slot_types == (F,) * 5
    assert space.slot_names == ("x0", "x1", "1", "2", "-0.5")
    assert space.max_arity == 2
    assert space.types == (F,)


def test_mixed_space_types(spaces):
    space = spaces["dqn"]
    assert space.slot_types[:5] == (L, A, F, F, L)
    assert set(space.types) == {F, L, A, P}
    assert space.types[:3] == (L, A, F)  # fixed-slot types first, in slot order


def test_inputs_are_normalized_and_spaces_hash_by_value():
    a = SearchSpace(inputs=[["x", "float"]], ops=["add", "neg"], constants=[1], max_nodes=3)
    b = SearchSpace(inputs=(("x", F),), ops=("add", "neg"), constants=(1.0,), max_nodes=3)
    assert a == b and hash(a) == hash(b)
    assert a.inputs == (("x", F),) and isinstance(a.constants[0], float)
    assert a != SearchSpace(inputs=(("x", F),), ops=("add", "neg"), constants=(1.0,), max_nodes=4)
    assert str(ValueType.LIST) == "list"


def test_to_dict_round_trips(spaces):
    for space in spaces.values():
        again = SearchSpace(**space.to_dict())
        assert again == space


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"inputs": (("x", F),), "ops": ("add", "nonexistent_op")}, KeyError, "unknown op 'nonexistent_op'"),
        ({"inputs": (("x", F), ("x", F)), "ops": ("add",)}, ValueError, r"duplicate input names in \['x', 'x'\]"),
        ({"inputs": (("x", F),), "ops": ("add", "add")}, ValueError, "duplicate ops"),
        ({"inputs": (("x", F),), "ops": ("add",), "max_nodes": 0}, ValueError, "max_nodes must be >= 1, got 0"),
        ({"inputs": (), "ops": ("add",)}, ValueError, "at least one input"),
        ({"inputs": (("x", F),), "ops": ()}, ValueError, "at least one op"),
        # Only FLOAT ops, but the space wants a LIST.
        ({"inputs": (("x", F),), "ops": ("add",), "output_type": L}, ValueError,
         "no op produces the output type list"),
        ({"inputs": (("x", F),), "ops": ("add",), "required_inputs": ("y",)}, ValueError,
         "required input 'y' is not an input"),
        ({"inputs": (("x", F),), "ops": ("add",), "output_type": "vector"}, ValueError, "vector"),
    ],
)
def test_invalid_spaces_name_the_problem(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        SearchSpace(**kwargs)


def test_output_type_needs_an_op_over_the_fixed_slots(mixed_ops):
    # testonly_max_list makes a FLOAT from a LIST, but there is no LIST input.
    with pytest.raises(ValueError, match="no op produces the output type float"):
        SearchSpace(inputs=(("x", A),), ops=("testonly_max_list",))


def test_unknown_op_error_lists_known_ops():
    with pytest.raises(KeyError) as info:
        SearchSpace(inputs=(("x", F),), ops=("sinh",))
    assert "sinh" in str(info.value) and "known:" in str(info.value) and "tanh" in str(info.value)


def test_required_input_that_cannot_reach_the_output_is_rejected(mixed_ops):
    # No op reads a LIST, so the output can never depend on q.
    with pytest.raises(ValueError, match=r"required inputs \['q'\]"):
        SearchSpace(inputs=(("x", F), ("q", L)), ops=("add",), required_inputs=("q",))
    # pi reaches a FLOAT only through two ops (log_prob then max_list): one node is too few.
    with pytest.raises(ValueError, match="no chain of at most 1 ops"):
        SearchSpace(inputs=(("x", F), ("pi", P)), ops=("add", "testonly_log_prob", "testonly_max_list"),
                    max_nodes=1, required_inputs=("pi",))
    SearchSpace(inputs=(("x", F), ("pi", P)), ops=("add", "testonly_log_prob", "testonly_max_list"),
                max_nodes=2, required_inputs=("pi",))
    dqn_space()  # the DQN-like space is satisfiable
