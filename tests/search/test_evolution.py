"""Regularized evolution keeps the programs it was told: a cache that never changes what it asks."""

from __future__ import annotations

import json

import pytest

from discolab import search
from discolab.graph import Program, SearchSpace, decode
from discolab.search import Result

SPACE = SearchSpace(
    inputs=(("x0", "float"), ("x1", "float")),
    ops=("add", "sub", "mul", "div", "sin", "cos", "exp", "log"),
    constants=(1.0,),
    max_nodes=10,
    required_inputs=("x0",),
)


def make(crossover_probability: float = 0.0):
    return search.make("regularized_evolution", SPACE, {"population_size": 12, "tournament_size": 4,
                                                        "crossover_probability": crossover_probability})


def fitness(program: Program) -> float:
    """Deterministic, with ties (many programs share a length)."""
    return float(len(program) % 5)


@pytest.mark.parametrize("crossover_probability", [0.0, 0.5])
def test_told_members_are_mutated_as_told_and_a_fresh_searcher_asks_the_same(crossover_probability):
    cached = make(crossover_probability)
    state = cached.init(3)
    next_id = 0
    for _ in range(8):
        # A fresh searcher (as after a resume) has no told programs: it decodes the members' JSON.
        fresh = make(crossover_probability)
        proposals, after = cached.ask(state, 9)
        again, fresh_after = fresh.ask(json.loads(json.dumps(state)), 9)
        assert [(p.program, p.parent_id) for p in proposals] == [(p.program, p.parent_id) for p in again]
        assert json.dumps(after) == json.dumps(fresh_after)
        results = [Result(next_id + k, p.program, fitness(p.program)) for k, p in enumerate(proposals)]
        next_id += len(results)
        state, _ = cached.tell(json.loads(json.dumps(after)), results)
        # The cache holds the current members only, each equal to its JSON.
        members = {m[1] for m in state["population"]}
        assert set(cached._members) <= members
        assert all(decode(text) == program for text, program in cached._members.items())
    told = {r.program.to_json(): r.program for r in results}
    assert any(cached._members.get(text) is program for text, program in told.items())  # the told objects


@pytest.mark.parametrize("crossover_probability", [0.0, 1.0])
def test_crossover_joins_two_members_that_one_mutation_cannot(crossover_probability):
    """Members sin(sin(sin(x0))) and cos(cos(cos(x0))): one mutation changes one node, so a child with
    two sines and two cosines needs material from both. A crossover gives one about 1 time in 9 (the
    parents differ, the innermost sine is replaced, by a cone of two or three cosines): ~22 of 200."""
    sines = Program.from_nodes([("sin", [0]), ("sin", [3]), ("sin", [4])])
    cosines = Program.from_nodes([("cos", [0]), ("cos", [3]), ("cos", [4])])
    searcher = make(crossover_probability)
    state = searcher.init(0)
    state, _ = searcher.tell(state, [Result(i, p, 1.0) for i, p in enumerate([sines, cosines] * 6)])
    proposals, _ = searcher.ask(state, 200)
    mixed = [p for p in proposals if min(sum(n.op == op for n in p.program.nodes) for op in ("sin", "cos")) >= 2]
    assert (len(mixed) >= 10) if crossover_probability else not mixed
