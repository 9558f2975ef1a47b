"""Functional fingerprints: equal for algebraically equal programs, different otherwise."""

from __future__ import annotations

import numpy as np
import pytest
from graphtest_support import regression_space

from discolab.graph import Program, fingerprints, hash_outputs, prune, random_inputs, random_program

# Slots: x0=0, x1=1, constants 1.0=2, 2.0=3, -0.5=4, first node=5.
SPACE = regression_space()
INPUTS = random_inputs(SPACE, seed=0)
PAD = 16  # one batch size for every call here: one compile


def fp(*programs_nodes) -> list[str]:
    programs = [Program.from_nodes(nodes) for nodes in programs_nodes]
    return fingerprints(programs, SPACE, INPUTS, pad_to=PAD)


def test_random_inputs_follow_the_space(spaces):
    inputs = random_inputs(spaces["dqn"], seed=3, n=7, actions=5)
    assert inputs["q_tm1"].shape == (7, 5) and inputs["r_t"].shape == (7,)
    assert all(v.dtype == np.float32 for v in inputs.values())
    actions = inputs["a_tm1"]
    assert np.all(actions == np.round(actions)) and actions.min() >= 0 and actions.max() <= 4
    assert np.all((inputs["r_t"] >= -100) & (inputs["r_t"] <= 100))
    again = random_inputs(spaces["dqn"], seed=3, n=7, actions=5)
    assert all(np.array_equal(inputs[k], again[k]) for k in inputs)
    other = random_inputs(spaces["dqn"], seed=4, n=7, actions=5)
    assert not np.array_equal(inputs["r_t"], other["r_t"])
    probs = random_inputs(spaces["prob_chain"], n=6)["pi"]
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-6)


def test_algebraically_equal_programs_share_a_fingerprint():
    x_plus_x, two_x = [("add", [0, 0])], [("mul", [0, 3])]
    x_times_x, square = [("mul", [0, 0])], [("square", [0])]
    same_x = [("max", [0, 0])]  # max(x, x) is x
    neg_neg = [("neg", [0]), ("neg", [5])]
    prints = fp(x_plus_x, two_x, x_times_x, square, same_x, neg_neg)
    assert prints[0] == prints[1]
    assert prints[2] == prints[3]
    assert prints[4] == prints[5]
    assert prints[4] != prints[2]  # x vs x * x
    assert len({prints[0], prints[2], prints[4]}) == 3


def test_different_programs_differ():
    prints = fp([("add", [0, 1])], [("sub", [0, 1])], [("sub", [1, 0])], [("mul", [0, 1])], [("sin", [0])],
                [("cos", [0])], [("add", [0, 2])])
    assert len(set(prints)) == len(prints)


def test_fingerprint_ignores_dead_code_and_padding():
    live = [("add", [0, 3]), ("mul", [5, 1])]
    with_dead = [("add", [0, 3]), ("exp", [1]), ("mul", [5, 1])]
    a, b = fp(live, with_dead)
    assert a == b
    program = Program.from_nodes(with_dead)
    assert fingerprints([program], SPACE, INPUTS, pad_to=PAD) == fingerprints([program], SPACE, INPUTS, pad_to=PAD)
    assert fingerprints([], SPACE, INPUTS) == []


def test_fingerprints_of_random_programs_match_their_pruned_forms():
    rng = np.random.default_rng(0)
    programs = [random_program(SPACE, rng) for _ in range(PAD // 2)]
    prints = fingerprints(programs + [prune(p, SPACE) for p in programs], SPACE, INPUTS, pad_to=PAD)
    assert prints[: PAD // 2] == prints[PAD // 2 :]


def test_hash_outputs_rounds_and_handles_non_finite():
    base = np.array([1.0, -2.5, 1e-3, 123456.0])
    assert hash_outputs(base) == hash_outputs(base * (1 + 1e-9))  # below the rounding
    assert hash_outputs(base) != hash_outputs(base * (1 + 1e-3))
    assert hash_outputs(np.array([0.0])) == hash_outputs(np.array([-0.0]))
    nan = hash_outputs(np.array([np.nan, 1.0]))
    assert nan == hash_outputs(np.array([np.nan, 1.0]))
    assert len({nan, hash_outputs(np.array([np.inf, 1.0])), hash_outputs(np.array([-np.inf, 1.0]))}) == 3
    assert len(hash_outputs(base)) == 32


@pytest.mark.parametrize("seed", [0, 1])
def test_fingerprint_is_deterministic(seed):
    rng = np.random.default_rng(seed)
    programs = [random_program(SPACE, rng) for _ in range(PAD)]
    assert fingerprints(programs, SPACE, INPUTS) == fingerprints(programs, SPACE, INPUTS, pad_to=PAD)


def test_batch_fingerprints_equal_hashing_each_row():
    # fingerprints rounds the batch's outputs at once; each must equal hash_outputs of its own row.
    from discolab.graph.interpret import batched_interpreter, encode

    rng = np.random.default_rng(3)
    squares = [("mul", [0, 0])] + [("mul", [k, k]) for k in range(5, 9)]  # x0^32: inf for most inputs
    overflow = Program.from_nodes([*squares, ("sub", [9, 9])])  # inf - inf: NaN
    programs = [random_program(SPACE, rng) for _ in range(PAD - 1)] + [overflow]
    outputs = np.asarray(batched_interpreter(SPACE, naive=True)(encode(programs, SPACE, pad_to=PAD), INPUTS))
    assert np.isnan(outputs[-1]).any()
    assert fingerprints(programs, SPACE, INPUTS, pad_to=PAD) == [hash_outputs(outputs[p]) for p in range(PAD)]
