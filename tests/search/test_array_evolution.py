"""Regularized evolution on arrays: the fill phase, tournaments, the queue, and a state that round-trips JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from discolab import search
from discolab.graph import decode, validate
from discolab.graph import arrays as ar
from discolab.search import Result
from discolab.search.array_evolution import ArrayEvolution, ArrayEvolutionState
from discolab.search.evolution import RegularizedEvolutionConfig

from test_evolution import SPACE  # the Program searcher's test space (one value type)

A = ar.array_space(SPACE)


def make(population_size: int = 12, tournament_size: int = 4, mutation_probability: float = 0.95,
         fitness_floor: float = 0.0) -> ArrayEvolution:
    config = RegularizedEvolutionConfig(population_size=population_size, tournament_size=tournament_size,
                                        mutation_probability=mutation_probability)
    return ArrayEvolution(SPACE, config, fitness_floor=fitness_floor)


def fitness_of(p: ar.ProgramArrays) -> np.ndarray:
    """Deterministic, with ties (many programs share a length)."""
    return (p.lengths % 5).astype(np.float64)


def tell(searcher: ArrayEvolution, state: ArrayEvolutionState, children: ar.ProgramArrays, first_id: int,
         fitness: np.ndarray | None = None) -> ArrayEvolutionState:
    ids = np.arange(first_id, first_id + len(children))
    fitness = fitness_of(children) if fitness is None else fitness
    state, _ = searcher.tell(state, ids, children, ar.to_json(children, A), fitness)
    return state


def assert_valid(children: ar.ProgramArrays) -> None:
    assert ar.equal_rows(ar.canonical(children, A), children).all()
    for program in ar.to_programs(children, A):
        validate(program, SPACE)


def run(searcher: ArrayEvolution, seed: int, generations: int, n: int) -> list[tuple[list[str], list[int]]]:
    """Asks and tells ``generations`` batches; each batch's children (JSON) and parent ids."""
    state = searcher.init(seed)
    out, next_id = [], 0
    for _ in range(generations):
        children, parents, state = searcher.ask(state, n)
        out.append((ar.to_json(children, A), parents.tolist()))
        state = tell(searcher, state, children, next_id)
        next_id += n
    return out


# -- 1. the fill phase, then mutation ------------------------------------------------


def test_fresh_programs_until_the_population_is_asked_then_mutated_children():
    size = 20
    searcher = make(population_size=size, tournament_size=5, mutation_probability=1.0)
    state = searcher.init(0)
    assert state.asked == 0 and len(state.ids) == 0
    fresh_counts, next_id = [], 0
    for step in range(6):
        children, parents, state = searcher.ask(state, 8)
        assert len(children) == len(parents) == 8
        assert_valid(children)
        fresh = parents == -1
        fresh_counts.append(int(fresh.sum()))
        # The fill's fresh programs lead the batch; every other child has a parent from the population ...
        assert (fresh == (np.arange(8) < fresh.sum())).all()
        members = {int(i): k for k, i in enumerate(state.ids)}
        assert set(parents[~fresh].tolist()) <= set(members)
        # ... and differs from it.
        rows = np.array([members[int(i)] for i in parents[~fresh]], np.intp)
        assert not ar.equal_rows(children.take(np.flatnonzero(~fresh)), state.programs.take(rows)).any()
        assert state.asked == min(size, 8 * (step + 1))
        state = tell(searcher, state, children, next_id)
        next_id += 8
    assert fresh_counts == [8, 8, 4, 0, 0, 0]  # exactly population_size fresh programs, the first ones asked


def test_asks_before_any_tell_are_fresh_and_count_toward_the_fill():
    searcher = make(population_size=10, tournament_size=3, mutation_probability=1.0)
    state = searcher.init(1)
    for asked in (6, 10, 10):
        children, parents, state = searcher.ask(state, 6)
        assert (parents == -1).all()  # nothing to mutate yet
        assert_valid(children)
        assert state.asked == asked


def test_mutation_probability_zero_gives_fresh_programs_only():
    searcher = make(population_size=6, tournament_size=2, mutation_probability=0.0)
    state = searcher.init(2)
    next_id = 0
    for _ in range(4):
        children, parents, state = searcher.ask(state, 6)
        assert (parents == -1).all()
        state = tell(searcher, state, children, next_id)
        next_id += 6


def test_mutation_probability_between_gives_both():
    searcher = make(population_size=10, tournament_size=3, mutation_probability=0.5)
    state = searcher.init(3)
    children, _, state = searcher.ask(state, 10)
    state = tell(searcher, state, children, 0)
    _, parents, _ = searcher.ask(state, 400)
    assert 120 < (parents == -1).sum() < 280


def test_fresh_and_mutated_children_sit_at_their_own_rows():
    """Every member is one program at the node cap: its mutations keep 9 or 10 nodes, fresh ones are shorter
    most of the time, so a child put at another slot's row shows."""
    searcher = make(population_size=10, tournament_size=3, mutation_probability=0.5)
    state = searcher.init(6)
    full = ar.random_arrays(np.random.default_rng(0), A, 1, np.array([SPACE.max_nodes]))
    members = full.take(np.zeros(10, np.intp))
    state, _ = searcher.tell(state, np.arange(10), members, ar.to_json(members, A), np.arange(10.0))
    children, parents, _ = searcher.ask(state, 300)
    mutated = parents != -1
    assert 0.3 < mutated.mean() < 0.7 and not (mutated[:150].all() or mutated[150:].all())
    assert (children.lengths[mutated] >= SPACE.max_nodes - 1).all()
    assert not ar.equal_rows(children.take(np.flatnonzero(mutated)), full.take(np.zeros(mutated.sum(), np.intp))).any()
    assert (children.lengths[~mutated] < SPACE.max_nodes - 1).sum() > 50


# -- 2. tournaments -----------------------------------------------------------------


def _population(searcher: ArrayEvolution, fitness: list[float], seed: int = 0) -> ArrayEvolutionState:
    state = searcher.init(seed)
    children, _, state = searcher.ask(state, len(fitness))
    return tell(searcher, state, children, 100, np.array(fitness, np.float64))


def test_a_whole_population_tournament_picks_the_fittest():
    searcher = make(population_size=10, tournament_size=10, mutation_probability=1.0)
    state = _population(searcher, [float(k) for k in range(10)])  # fitness grows with age order: youngest best
    children, parents, _ = searcher.ask(state, 50)
    assert (parents == state.ids[-1]).all()
    assert not ar.equal_rows(children, state.programs.take(np.full(50, 9))).any()


@pytest.mark.parametrize("fitness, winner", [
    ([1.0] * 10, 9),  # all tied: the youngest
    ([3, 5, 1, 5, 0, 2, 5, 4, 1, 0], 6),  # the youngest of the best
    ([9, 1, 1, 1, 1, 1, 1, 1, 1, 1], 0),  # the best, however old
])
def test_ties_go_to_the_youngest(fitness, winner):
    searcher = make(population_size=10, tournament_size=10, mutation_probability=1.0)
    state = _population(searcher, fitness)
    _, parents, _ = searcher.ask(state, 30)
    assert (parents == state.ids[winner]).all()


def test_small_tournaments_spread_over_the_population():
    """Tournaments of one member pick parents uniformly; of two, never the worst (members are distinct)."""
    fitness = [float(k) for k in range(10)]
    one = make(population_size=10, tournament_size=1, mutation_probability=1.0)
    state = _population(one, fitness)
    _, parents, _ = one.ask(state, 1000)
    counts = np.array([(parents == i).sum() for i in state.ids])
    assert (counts > 50).all()
    two = make(population_size=10, tournament_size=2, mutation_probability=1.0)
    state = _population(two, fitness)
    _, parents, _ = two.ask(state, 1000)
    assert state.ids[0] not in set(parents.tolist())  # the worst loses every pair
    assert (parents == state.ids[-1]).mean() > (parents == state.ids[1]).mean()


def test_tournament_winners_pick_the_youngest_best_of_distinct_members():
    whole = make(population_size=10, tournament_size=10, mutation_probability=1.0)
    for fitness, winner in (([float(k) for k in range(10)], 9), ([2.0] * 10, 9), ([5, 7, 7, 1, 0, 0, 0, 0, 0, 0], 2)):
        state = _population(whole, fitness)
        _, parents, _ = whole.ask(state, 20)
        assert (parents == state.ids[winner]).all()
    pairs = make(population_size=10, tournament_size=2, mutation_probability=1.0)
    state = _population(pairs, [float(k) for k in range(10)])
    _, parents, _ = pairs.ask(state, 500)
    assert state.ids[0] not in set(parents.tolist())  # two distinct members: the worst never wins
    assert len(set(parents.tolist())) == 9


@pytest.mark.parametrize("population, size", [(10, 3), (12, 5), (7, 1)])
def test_tournament_winners_follow_the_law_of_drawing_distinct_members(population, size):
    """The winner is drawn from the law of "k distinct members, keep the youngest best": exact by enumeration."""
    import itertools

    searcher = make(population_size=population, tournament_size=size)
    rng = np.random.default_rng(population)
    fitness = rng.integers(0, 4, population).astype(float)  # with ties
    exact = np.zeros(population)
    subsets = list(itertools.combinations(range(population), size))
    for subset in subsets:
        exact[max(subset, key=lambda i: (fitness[i], i))] += 1
    exact /= len(subsets)
    draws = 400_000
    observed = np.bincount(searcher._tournaments(rng, fitness, draws), minlength=population) / draws
    spread = np.sqrt(exact * (1 - exact) / draws)
    assert np.all(np.abs(observed - exact) <= 5 * spread + 1e-12)


# -- 3. tell ------------------------------------------------------------------------


def test_tell_keeps_the_youngest_members_and_floors_non_finite_fitness():
    searcher = make(population_size=5, tournament_size=2, fitness_floor=-3.0)
    state = searcher.init(0)
    children, _, state = searcher.ask(state, 4)
    state, metrics = searcher.tell(state, [0, 1, 2, 3], children, ar.to_json(children, A),
                                   np.array([1.0, np.nan, np.inf, -np.inf]))
    assert state.ids.tolist() == [0, 1, 2, 3]
    assert state.fitness.tolist() == [1.0, -3.0, -3.0, -3.0]
    assert metrics == {"population_best": 1.0, "population": 4.0}
    more, _, state = searcher.ask(state, 3)
    state, metrics = searcher.tell(state, [4, 5, 6], more, ar.to_json(more, A), np.array([0.5, 2.0, np.nan]))
    assert state.ids.tolist() == [2, 3, 4, 5, 6]  # the two oldest left
    assert state.fitness.tolist() == [-3.0, -3.0, 0.5, 2.0, -3.0]
    assert metrics == {"population_best": 2.0, "population": 5.0}
    everything = ar.concat([children, more])
    assert ar.equal_rows(state.programs, everything.take([2, 3, 4, 5, 6])).all()
    assert list(state.json) == ar.to_json(everything, A)[2:]
    # More told at once than the population holds: only the last ones stay.
    big, _, state = searcher.ask(state, 8)
    state, _ = searcher.tell(state, list(range(10, 18)), big, ar.to_json(big, A), np.zeros(8))
    assert state.ids.tolist() == [13, 14, 15, 16, 17]
    assert ar.equal_rows(state.programs, big.take([3, 4, 5, 6, 7])).all()


def test_an_empty_population_reports_the_floor():
    searcher = make(fitness_floor=-7.0)
    state = searcher.init(0)
    state, metrics = searcher.tell(state, [], ar.random_arrays(np.random.default_rng(0), A, 0), [], np.zeros(0))
    assert metrics == {"population_best": -7.0, "population": 0.0}


# -- 4. determinism and the stored state -----------------------------------------------


def test_a_state_restored_from_json_asks_the_same():
    searcher = make(population_size=12, tournament_size=4)
    state = searcher.init(5)
    next_id = 0
    for _ in range(8):
        restored = searcher.from_dict(json.loads(json.dumps(state.to_dict())))
        assert restored.to_dict() == state.to_dict()
        children, parents, after = searcher.ask(state, 9)
        again, again_parents, again_after = make(12, 4).ask(restored, 9)
        assert ar.equal_rows(children, again).all()
        np.testing.assert_array_equal(parents, again_parents)
        assert json.dumps(after.to_dict()) == json.dumps(again_after.to_dict())
        state = tell(searcher, after, children, next_id)
        next_id += 9
    assert len(state.ids) == 12 and (state.ids >= 0).all()
    # The stored members are the programs: their JSON decodes to the arrays' rows.
    assert ar.equal_rows(ar.from_programs([decode(j) for j in state.json], A), state.programs).all()


def test_the_same_seed_gives_the_same_search_and_another_seed_another():
    first = run(make(), seed=11, generations=6, n=7)
    assert first == run(make(), seed=11, generations=6, n=7)
    assert first != run(make(), seed=12, generations=6, n=7)


def test_each_ask_moves_the_random_state_on():
    searcher = make(population_size=6, tournament_size=2)
    state = searcher.init(4)
    children, _, state = searcher.ask(state, 6)
    state = tell(searcher, state, children, 0)
    first, _, after = searcher.ask(state, 6)
    second, _, _ = searcher.ask(after, 6)
    assert after.rng != state.rng
    assert not ar.equal_rows(first, second).all()
    again, _, _ = searcher.ask(state, 6)  # the state itself is not changed by asking from it
    assert ar.equal_rows(first, again).all()


def test_the_state_is_the_program_searchers_format():
    """A state either searcher stored is one the other can ask from."""
    config = {"population_size": 8, "tournament_size": 3}
    programs = search.make("regularized_evolution", SPACE, config)
    arrays = ArrayEvolution(SPACE, RegularizedEvolutionConfig(**config))
    state = programs.init(0)
    proposals, state = programs.ask(state, 8)
    state, _ = programs.tell(state, [Result(i, p.program, float(i % 3)) for i, p in enumerate(proposals)])
    restored = arrays.from_dict(json.loads(json.dumps(state)))
    assert restored.to_dict() == json.loads(json.dumps(state))
    children, parents, after = arrays.ask(restored, 5)
    assert set(parents.tolist()) <= set(range(8)) | {-1}
    assert_valid(children)
    after = tell(arrays, after, children, 8)
    proposals, _ = programs.ask(json.loads(json.dumps(after.to_dict())), 5)
    assert len(proposals) == 5


@pytest.mark.parametrize("told", [False, True])
def test_asking_for_nothing_gives_nothing(told):
    """As the Program searcher does (``RegularizedEvolution.ask(state, 0)`` returns ``[]``)."""
    searcher = make(population_size=6, tournament_size=2)
    state = searcher.init(0)
    if told:
        children, _, state = searcher.ask(state, 6)
        state = tell(searcher, state, children, 0)
    children, parents, after = searcher.ask(state, 0)
    assert len(children) == len(parents) == 0 and after.asked == state.asked


# -- 5. configuration -----------------------------------------------------------------


def test_crossover_is_refused():
    config = RegularizedEvolutionConfig(population_size=10, tournament_size=3, crossover_probability=0.2)
    with pytest.raises(ValueError, match="crossover_probability"):
        ArrayEvolution(SPACE, config)


def test_a_space_of_several_types_is_refused():
    from discolab.domains.dqn_loss import make_space

    with pytest.raises(ar.NotOneTypeSpace):
        ArrayEvolution(make_space(max_nodes=8), RegularizedEvolutionConfig())
