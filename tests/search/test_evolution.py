"""Regularized evolution keeps the programs it was told: a cache that never changes what it asks."""

from __future__ import annotations

import json

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


def make():
    return search.make("regularized_evolution", SPACE, {"population_size": 12, "tournament_size": 4})


def fitness(program: Program) -> float:
    """Deterministic, with ties (many programs share a length)."""
    return float(len(program) % 5)


def test_told_members_are_mutated_as_told_and_a_fresh_searcher_asks_the_same():
    cached = make()
    state = cached.init(3)
    next_id = 0
    for _ in range(8):
        # A fresh searcher (as after a resume) has no told programs: it decodes the members' JSON.
        fresh = make()
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
