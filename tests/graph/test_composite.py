"""Candidates of several programs: every graph function takes a (ProgramTuple, CompositeSpace)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from discolab.graph import (
    CompositeSpace, InvalidProgram, Program, ProgramTuple, SearchSpace, decode, fingerprints, is_valid, mutate,
    prune, random_inputs, random_program, space_from_dict, structural_hash, to_infix, to_source, to_sympy, validate,
)

PART = SearchSpace(inputs=(("x", "float"), ("y", "float")), ops=("add", "mul", "sub", "sin"), constants=(1.0,),
                   max_nodes=6, required_inputs=("x",))
SPACE = CompositeSpace((("actor", PART), ("critic", PART)))
INPUTS = {name: random_inputs(PART, seed=k) for k, name in enumerate(SPACE.names)}


def pair(a: list, c: list) -> ProgramTuple:
    return ProgramTuple((Program.from_nodes(a), Program.from_nodes(c)))


X_PLUS_Y = [("add", [0, 1])]
Y_PLUS_X = [("add", [1, 0])]
X_TIMES_Y = [("mul", [0, 1])]


def test_json_round_trip_and_decode_dispatch():
    p = pair(X_PLUS_Y, X_TIMES_Y)
    assert decode(p.to_json()) == p
    assert decode(p.parts[0].to_json()) == p.parts[0]
    assert json.loads(p.to_json()) == {"parts": [[["add", [0, 1]]], [["mul", [0, 1]]]]}
    assert len(p) == 2
    with pytest.raises(InvalidProgram, match="malformed"):
        decode('{"parts": 3}')


def test_space_round_trip_and_errors():
    assert space_from_dict(SPACE.to_dict()) == SPACE
    assert space_from_dict(PART.to_dict()) == PART
    with pytest.raises(ValueError, match="duplicate part names"):
        CompositeSpace((("a", PART), ("a", PART)))
    with pytest.raises(KeyError, match="no part 'policy'"):
        SPACE.part("policy")


def test_validate_names_the_part():
    validate(pair(X_PLUS_Y, X_TIMES_Y), SPACE)
    with pytest.raises(InvalidProgram, match="critic: .*op 'div' is not in the space"):
        validate(pair(X_PLUS_Y, [("div", [0, 1])]), SPACE)
    with pytest.raises(InvalidProgram, match="the space has parts"):
        validate(ProgramTuple((Program.from_nodes(X_PLUS_Y),)), SPACE)
    assert not is_valid(Program.from_nodes(X_PLUS_Y), SPACE)


def test_hash_is_per_part_and_ignores_commutative_order():
    h = structural_hash(pair(X_PLUS_Y, X_TIMES_Y), SPACE)
    assert h == structural_hash(pair(Y_PLUS_X, X_TIMES_Y), SPACE)
    assert h != structural_hash(pair(X_TIMES_Y, X_PLUS_Y), SPACE)  # the parts' roles matter
    assert h != structural_hash(pair(X_PLUS_Y, X_PLUS_Y), SPACE)


def test_fingerprint_matches_only_when_every_part_matches():
    double = [("add", [0, 0])]
    two_x = [("mul", [0, 2]), ("add", [3, 0])]  # x*1 + x
    fps = fingerprints([pair(double, X_TIMES_Y), pair(two_x, X_TIMES_Y), pair(double, X_PLUS_Y)], SPACE, INPUTS)
    assert fps[0] == fps[1]
    assert fps[0] != fps[2]


def test_renderings_name_the_parts():
    p = pair(X_PLUS_Y, X_TIMES_Y)
    assert to_infix(p, SPACE) == "actor: x + y | critic: x * y"
    source = to_source(p, SPACE, name="loss")
    assert "def loss_actor(x, y):" in source and "def loss_critic(x, y):" in source
    namespace: dict = {}
    exec(source, namespace)
    assert float(namespace["loss_critic"](2.0, 3.0)) == 6.0
    exprs = to_sympy(p, SPACE)
    assert set(exprs) == {"actor", "critic"} and str(exprs["critic"]) == "x*y"


def test_prune_prunes_each_part():
    dead = [("sin", [1]), ("add", [0, 1])]
    assert prune(pair(dead, dead), SPACE) == pair(X_PLUS_Y, X_PLUS_Y)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_random_and_mutated_tuples_are_valid_and_change_one_part(seed):
    rng = np.random.default_rng(seed)
    p = random_program(SPACE, rng)
    validate(p, SPACE)
    child = mutate(p, SPACE, rng)
    validate(child, SPACE)
    changed = [a != b for a, b in zip(p.parts, child.parts)]
    assert sum(changed) <= 1
