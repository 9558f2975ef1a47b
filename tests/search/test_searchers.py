"""Searchers: one contract for every registered searcher, then regularized evolution's behaviour."""

from __future__ import annotations

import functools
import json
import math

import jax.numpy as jnp
import numpy as np
import pydantic
import pytest

from discolab import search
from discolab.graph import EncodedPrograms, Program, SearchSpace, batched_interpreter, encode, is_valid
from discolab.search import Proposal, RegularizedEvolution, RegularizedEvolutionConfig, Result

SPACE = SearchSpace(
    inputs=(("x0", "float"), ("x1", "float")),
    ops=("add", "sub", "mul", "div", "neg", "square", "sin", "cos", "exp", "log"),
    constants=(1.0, 2.0),
    max_nodes=8,
    required_inputs=("x0",),
)
#: Small configs so that the contract reaches every phase (evolution's population fills in one batch).
SMALL = {"regularized_evolution": {"population_size": 8, "tournament_size": 3}}


def make(name: str, **overrides):
    return search.make(name, SPACE, {**SMALL.get(name, {}), **overrides})


def size_fitness(program: Program) -> float:
    """A cheap deterministic fitness: bigger programs score higher."""
    return float(len(program))


def loop(searcher, state, rounds: int, batch: int, start_id: int = 0, fitness=size_fitness):
    """Runs ask/tell rounds; returns the proposals of each round and the final state."""
    asked, next_id = [], start_id
    for _ in range(rounds):
        proposals, state = searcher.ask(state, batch)
        asked.append(proposals)
        results = [Result(next_id + k, p.program, fitness(p.program)) for k, p in enumerate(proposals)]
        next_id += len(results)
        state, metrics = searcher.tell(state, results)
        assert all(isinstance(v, (int, float)) for v in metrics.values())
    return asked, state


def json_round_trip(state: dict) -> dict:
    return json.loads(json.dumps(state, allow_nan=False))  # strict JSON: no NaN or inf in the state


# ---------------------------------------------------------------------------- the contract


def test_registry_lists_the_searchers():
    assert {"random", "regularized_evolution"} <= set(search.known())
    assert list(search.known()) == sorted(search.known())


def test_make_unknown_searcher_lists_the_known_ones():
    with pytest.raises(KeyError, match="unknown searcher 'annealing'; known: .*random"):
        search.make("annealing", SPACE)


def test_register_rejects_a_duplicate_name():
    with pytest.raises(ValueError, match="already registered"):
        search.register("random", search.RandomSearchConfig, search.RandomSearch)


# Searchers the tests register (tests/study/fake_domain.py: "test_scripted") replay a script, not this contract.
@pytest.fixture(params=[n for n in search.known() if not n.startswith("test_")])
def name(request) -> str:
    return request.param


def test_ask_returns_n_valid_proposals(name):
    searcher = make(name)
    state = searcher.init(0)
    for n in (0, 1, 5, 20):  # 20 is more than the small population: asked before any tell
        proposals, state = searcher.ask(state, n)
        assert len(proposals) == n
        for proposal in proposals:
            assert isinstance(proposal, Proposal)
            assert is_valid(proposal.program, SPACE)


def test_proposals_stay_valid_through_many_rounds(name):
    asked, _ = loop(make(name), make(name).init(1), rounds=12, batch=10)
    for proposals in asked:
        assert len(proposals) == 10
        assert all(is_valid(p.program, SPACE) for p in proposals)


def test_state_is_json_and_a_resumed_search_replays_exactly(name):
    searcher = make(name)
    _, state = loop(searcher, searcher.init(2), rounds=4, batch=6)
    restored = json_round_trip(state)
    # A fresh searcher object with the restored state: the resumed search, after a kill.
    live, _ = loop(searcher, state, rounds=5, batch=6, start_id=24)
    resumed, final = loop(make(name), restored, rounds=5, batch=6, start_id=24)
    assert live == resumed
    json_round_trip(final)


def test_same_seed_same_proposals_and_different_seed_different(name):
    a, _ = loop(make(name), make(name).init(3), rounds=4, batch=6)
    b, _ = loop(make(name), make(name).init(3), rounds=4, batch=6)
    c, _ = loop(make(name), make(name).init(4), rounds=4, batch=6)
    assert a == b
    assert a != c


def test_ask_does_not_mutate_the_given_state(name):
    searcher = make(name)
    _, state = loop(searcher, searcher.init(5), rounds=2, batch=6)
    snapshot = json.dumps(state, sort_keys=True)
    first, _ = searcher.ask(state, 6)
    second, _ = searcher.ask(state, 6)
    assert first == second  # asking twice from the same state is a replay
    assert json.dumps(state, sort_keys=True) == snapshot


def test_tell_accepts_failed_and_numpy_fitness(name):
    searcher = make(name)
    state = searcher.init(6)
    proposals, state = searcher.ask(state, 4)
    fitness = [math.nan, math.inf, np.float32(1.5), np.float64(-2.0)]
    results = [Result(k, p.program, f) for k, (p, f) in enumerate(zip(proposals, fitness))]
    state, metrics = searcher.tell(state, results)
    json_round_trip(state)
    assert all(math.isfinite(v) for v in metrics.values())
    proposals, _ = searcher.ask(state, 4)
    assert all(is_valid(p.program, SPACE) for p in proposals)


# ---------------------------------------------------------------------------- regularized evolution


def evolution(**config) -> RegularizedEvolution:
    return search.make("regularized_evolution", SPACE, config)


def test_defaults_follow_evolving_rl():
    config = RegularizedEvolutionConfig()
    assert (config.population_size, config.tournament_size, config.mutation_probability) == (300, 25, 0.95)


@pytest.mark.parametrize(
    ("config", "pattern"),
    [
        ({"population_size": 5, "tournament_size": 6}, r"tournament_size \(6\) exceeds population_size \(5\)"),
        ({"population_size": 1}, "population_size"),
        ({"tournament_size": 0}, "tournament_size"),
        ({"mutation_probability": 1.5}, "mutation_probability"),
        ({"mutation_probability": -0.1}, "mutation_probability"),
        ({"populaton_size": 10}, "populaton_size"),  # a typo is rejected, not ignored
    ],
)
def test_config_validation(config, pattern):
    with pytest.raises(pydantic.ValidationError, match=pattern):
        search.make("regularized_evolution", SPACE, config)


def test_population_is_capped_and_the_oldest_leaves_first():
    searcher = evolution(population_size=5, tournament_size=2)
    state = searcher.init(0)
    programs = [p.program for p in searcher.ask(state, 5)[0]]
    next_id = 0
    for batch in (3, 4, 1, 6):
        # The oldest members get the best fitness: they still leave first.
        results = [Result(next_id + k, programs[k % 5], 100.0 - next_id - k) for k in range(batch)]
        next_id += batch
        state, metrics = searcher.tell(state, results)
        ids = [member[0] for member in state["population"]]
        assert len(ids) <= 5 and metrics["population"] == len(ids)
        assert ids == list(range(max(0, next_id - 5), next_id))  # the youngest five, oldest first


def test_initial_population_is_random_then_children_have_parents():
    searcher = evolution(population_size=6, tournament_size=2, mutation_probability=1.0)
    state = searcher.init(0)
    first, state = searcher.ask(state, 6)
    assert all(p.parent_id is None for p in first)
    state, _ = searcher.tell(state, [Result(100 + k, p.program, float(k)) for k, p in enumerate(first)])
    children, _ = searcher.ask(state, 30)
    members = {m[0]: Program.from_json(m[1]) for m in state["population"]}
    assert all(c.parent_id in members for c in children)
    assert sum(c.program != members[c.parent_id] for c in children) >= 27  # a child is a mutation


def test_mutation_probability_zero_gives_only_random_programs():
    searcher = evolution(population_size=4, tournament_size=2, mutation_probability=0.0)
    asked, _ = loop(searcher, searcher.init(0), rounds=6, batch=4)
    assert all(p.parent_id is None for batch in asked for p in batch)
    assert len({p.program for batch in asked for p in batch}) > 12


def test_full_tournament_always_picks_the_best():
    searcher = evolution(population_size=5, tournament_size=5, mutation_probability=1.0)
    state = searcher.init(0)
    first, state = searcher.ask(state, 5)
    fitness = [0.5, 3.0, 1.0, 2.0, 0.0]
    state, metrics = searcher.tell(state, [Result(k, p.program, f) for k, (p, f) in enumerate(zip(first, fitness))])
    assert metrics["population_best"] == 3.0
    children, _ = searcher.ask(state, 20)
    assert {c.parent_id for c in children} == {1}


@pytest.mark.parametrize("failed", [math.nan, math.inf, -math.inf])
def test_failed_fitness_is_the_floor_and_never_wins(failed):
    searcher = search.make("regularized_evolution", SPACE, {"population_size": 4, "tournament_size": 4,
                                                            "mutation_probability": 1.0}, fitness_floor=-1.0)
    state = searcher.init(0)
    first, state = searcher.ask(state, 4)
    # The failed member is the youngest, which would win ties.
    fitness = [-0.5, -0.9, -0.7, failed]
    state, metrics = searcher.tell(state, [Result(k, p.program, f) for k, (p, f) in enumerate(zip(first, fitness))])
    assert state["population"][3][2] == -1.0
    assert metrics["population_best"] == -0.5
    json_round_trip(state)
    children, _ = searcher.ask(state, 20)
    assert {c.parent_id for c in children} == {0}


def test_more_asks_than_the_population_before_any_tell():
    searcher = evolution(population_size=4, tournament_size=2)
    state = searcher.init(0)
    proposals, state = searcher.ask(state, 10)
    assert len(proposals) == 10 and all(p.parent_id is None for p in proposals)
    assert all(is_valid(p.program, SPACE) for p in proposals)


# ---------------------------------------------------------------------------- does it search?

TARGET_INPUTS = {
    "x0": np.linspace(-2.0, 2.0, 32, dtype=np.float32),
    "x1": np.linspace(1.0, -1.0, 32, dtype=np.float32),
}
TARGET = TARGET_INPUTS["x0"] ** 2 * TARGET_INPUTS["x1"] + TARGET_INPUTS["x1"] - TARGET_INPUTS["x0"]
BATCH = 25


def regression_fitness(programs: list[Program]) -> list[float]:
    """Negative log mean squared error to TARGET; one batched interpreter call."""
    encoded = EncodedPrograms(*map(jnp.asarray, encode(programs, SPACE, pad_to=BATCH)))
    out = np.asarray(batched_interpreter(SPACE)(encoded, TARGET_INPUTS), np.float64)[: len(programs)]
    with np.errstate(all="ignore"):
        mse = np.mean((out - TARGET) ** 2, axis=1)
    return [-math.log1p(m) if math.isfinite(m) else math.nan for m in mse]


@functools.lru_cache(maxsize=None)
def best_found(name: str, seed: int, budget: int = 400) -> float:
    """The best fitness that searcher ``name`` finds in ``budget`` evaluations."""
    config = {"population_size": 20, "tournament_size": 5} if name == "regularized_evolution" else {}
    searcher = search.make(name, SPACE, config, fitness_floor=-1e9)
    state, best, next_id = searcher.init(seed), -math.inf, 0
    while next_id < budget:
        proposals, state = searcher.ask(state, BATCH)
        fitness = regression_fitness([p.program for p in proposals])
        state, _ = searcher.tell(state, [Result(next_id + k, p.program, f)
                                         for k, (p, f) in enumerate(zip(proposals, fitness))])
        next_id += len(proposals)
        best = max([best, *(f for f in fitness if math.isfinite(f))])
    return best


def test_evolution_beats_random_search_on_a_tiny_budget():
    # 400 evaluations towards x0^2 x1 + x1 - x0, eight seeds. Seeded, so the outcome is fixed; when
    # written, evolution's mean best was -0.32 and random search's -0.81 (-0.59 vs -0.83 on other seeds).
    seeds = range(8)
    evolved = [best_found("regularized_evolution", s) for s in seeds]
    random = [best_found("random", s) for s in seeds]
    assert np.mean(evolved) > np.mean(random) + 0.1, (evolved, random)
    assert sum(e > r for e, r in zip(evolved, random)) >= 4, (evolved, random)
