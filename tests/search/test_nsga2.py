"""NSGA-II: ranks and crowding against pymoo and by hand, survival, failed scores, resume, config, registry."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pydantic
import pytest
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.operators.survival.rank_and_crowding import RankAndCrowding
from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

from discolab import search
from discolab.graph import Program, SearchSpace, is_valid
from discolab.search import NSGA2, NSGA2Config, Result, pareto_front, rank_and_crowding, survivors

SPACE = SearchSpace(
    inputs=(("x0", "float"), ("x1", "float")),
    ops=("add", "sub", "mul", "div", "neg", "square", "sin", "cos", "exp", "log"),
    constants=(1.0, 2.0),
    max_nodes=8,
    required_inputs=("x0",),
)

#: Three objectives as MetaPG names them, two maximized and one minimized.
OBJECTIVES = [
    {"name": "performance", "sense": "max", "floor": -10.0},
    {"name": "generalizability", "sense": "max", "floor": -10.0},
    {"name": "instability", "sense": "min", "floor": 100.0},
]


def nsga2(**config) -> NSGA2:
    return search.make("nsga2", SPACE, {"population_size": 8, "objectives": OBJECTIVES, **config})


def toy_objectives(program: Program, id_: int) -> dict[str, float]:
    """Conflicting cheap scores; every seventh candidate fails (a NaN and a missing score)."""
    ops = [n.op for n in program.nodes]
    trig = sum(op in ("sin", "cos") for op in ops)
    if id_ % 7 == 3:
        return {"performance": math.nan}
    return {
        "performance": len(program) / 3.0,
        "generalizability": len(set(ops)) / (1.0 + len(ops)),
        "instability": trig + 0.1 * ops.count("exp"),
    }


def loop(searcher, state, rounds: int, batch: int, start_id: int = 0, dump: bool = True):
    """ask/tell rounds with the toy objectives, the state JSON-dumped and reloaded after every tell."""
    asked, next_id = [], start_id
    for _ in range(rounds):
        proposals, state = searcher.ask(state, batch)
        asked.append(proposals)
        results = [Result(next_id + k, p.program, 0.0, toy_objectives(p.program, next_id + k))
                   for k, p in enumerate(proposals)]
        next_id += len(results)
        state, metrics = searcher.tell(state, results)
        assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in metrics.values()), metrics
        if dump:
            state = json.loads(json.dumps(state, allow_nan=False))
    return asked, state


def brute_ranks(values: np.ndarray, senses) -> np.ndarray:
    """Non-domination ranks by peeling fronts with an O(n^2) dominance check, independent of pymoo."""
    sign = np.array([1.0 if s == "max" else -1.0 for s in senses])
    v = values * sign  # larger is better in every column
    ranks = np.full(len(v), -1)
    rank = 0
    while (ranks < 0).any():
        left = np.where(ranks < 0)[0]
        front = [i for i in left
                 if not any(np.all(v[j] >= v[i]) and np.any(v[j] > v[i]) for j in left if j != i)]
        ranks[front] = rank
        rank += 1
    return ranks


# ---------------------------------------------------------------------------- ranks and crowding

#: Five points whose fronts and crowding are derived by hand in the tests below.
FIVE = np.array([[1.0, 5.0], [2.0, 4.0], [3.0, 3.0], [2.0, 2.0], [1.0, 1.0]])


@pytest.mark.parametrize(
    ("senses", "ranks"),
    [
        (["max", "max"], [0, 0, 0, 1, 2]),  # A, B, C trade off; B dominates D; everything dominates E
        (["min", "min"], [1, 2, 2, 1, 0]),  # E dominates all; D dominates B and C
        (["max", "min"], [2, 1, 0, 0, 0]),  # C, D, E on the front; C dominates B, B dominates A
    ],
)
def test_ranks_by_hand_follow_the_senses(senses, ranks):
    got_ranks, crowding = rank_and_crowding(FIVE, senses)
    assert got_ranks.tolist() == ranks
    # In each case the front of three has one inner point, one normalized unit from its neighbours on
    # both objectives: crowding (2/2 + 2/2) / 2 = 1; boundary points and fronts of one or two are inf.
    front = [i for i, r in enumerate(ranks) if r == 0]
    if len(front) == 3:
        assert sorted(crowding[front].tolist()) == [1.0, math.inf, math.inf]
    assert all(math.isinf(crowding[i]) for i, r in enumerate(ranks) if r > 0)
    assert pareto_front(FIVE, senses).tolist() == front


def test_crowding_by_hand_on_a_front_of_four():
    # On x + y = 10 (both maximized), each objective spans 10: the inner points are (4 - 0) / 10 = 0.4 and
    # (10 - 1) / 10 = 0.9 from their neighbours on both objectives. The last point is dominated.
    values = np.array([[0.0, 10.0], [1.0, 9.0], [4.0, 6.0], [10.0, 0.0], [0.0, 0.0]])
    ranks, crowding = rank_and_crowding(values, ["max", "max"])
    assert ranks.tolist() == [0, 0, 0, 0, 1]
    np.testing.assert_allclose(crowding, [math.inf, 0.4, 0.9, math.inf, math.inf])
    # Minimizing both, the lone dominated point leads and the line is the second front, same distances.
    ranks, crowding = rank_and_crowding(values, ["min", "min"])
    assert ranks.tolist() == [1, 1, 1, 1, 0]
    np.testing.assert_allclose(crowding[:4], [math.inf, 0.4, 0.9, math.inf])


#: Twelve hand-made points, 2-D and 3-D, with several fronts and a duplicate.
TWELVE_2D = np.array([[0, 9], [1, 8], [3, 7], [4, 4], [6, 3], [9, 0], [2, 2], [5, 1],
                      [1, 1], [3, 6], [4, 4], [8, 2]], dtype=float)
TWELVE_3D = np.array([[1, 2, 3], [3, 2, 1], [2, 2, 2], [0, 5, 4], [5, 0, 4], [4, 4, 0], [1, 1, 1],
                      [2, 3, 5], [3, 3, 3], [0, 0, 9], [6, 1, 2], [2, 5, 1]], dtype=float)


@pytest.mark.parametrize(
    ("values", "senses"),
    [(TWELVE_2D, s) for s in itertools.product(("max", "min"), repeat=2)]
    + [(TWELVE_3D, s) for s in (("max", "max", "max"), ("max", "min", "max"), ("min", "max", "min"))],
)
def test_ranks_and_crowding_equal_pymoo_and_brute_force(values, senses):
    ranks, crowding = rank_and_crowding(values, senses)
    assert ranks.tolist() == brute_ranks(values, senses).tolist()
    # pymoo directly: it minimizes, so maximized columns are negated by hand here.
    f = values * np.array([-1.0 if s == "max" else 1.0 for s in senses])
    fronts, rank = NonDominatedSorting().do(f, return_rank=True)
    assert ranks.tolist() == rank.tolist()
    for front in fronts:
        expected = calc_crowding_distance(f[front]) if len(front) > 2 else np.full(len(front), np.inf)
        np.testing.assert_array_equal(crowding[front], expected)
    assert len(set(ranks.tolist())) >= 3  # the points do make several fronts
    # A sense flipped changes the answer: the senses are not ignored.
    flipped = ["min" if s == "max" else "max" for s in senses]
    assert rank_and_crowding(values, flipped)[0].tolist() != ranks.tolist()


@pytest.mark.parametrize("n", [3, 4, 5, 7, 8, 10])
def test_survivors_equal_pymoo_survival(n):
    # Fronts of 5, 3, 3 and 1 points; each n cuts where crowding has no tie (pymoo breaks ties at random).
    senses = ["max", "min"]
    values = np.array([[0, 0], [1, 1], [3, 2.5], [6, 4], [10, 10], [2, 3], [5, 6], [9, 11.5], [1, 4],
                       [4, 8], [8, 12], [0, 5]], dtype=float)
    f = values * np.array([-1.0, 1.0])
    kept = RankAndCrowding().do(Problem(n_var=1, n_obj=2), Population.new("F", f), n_survive=n,
                                random_state=np.random.default_rng(0))
    pymoo_kept = sorted(int(np.where((f == k.F).all(axis=1))[0][0]) for k in kept)
    assert survivors(values, senses, n).tolist() == pymoo_kept


def test_survival_keeps_a_fitting_front_whole_and_cuts_the_last_by_crowding():
    # Front 0: the line x + y = 10 (both maximized), crowding [inf, 0.4, 0.9, inf]; front 1: the line x + y = 5.
    front0 = [[0, 10], [1, 9], [4, 6], [10, 0]]
    front1 = [[0, 5], [1, 4], [3, 2], [5, 0]]
    values = np.array(front1 + front0 + [[0, 0]], dtype=float)  # front 0 at rows 4..7, the worst at 8
    senses = ["max", "max"]
    assert survivors(values, senses, 4).tolist() == [4, 5, 6, 7]  # exactly the first front
    assert survivors(values, senses, 6).tolist() == [0, 3, 4, 5, 6, 7]  # + front 1's two boundary points
    # Front 1's inner crowding: row 1 (1, 4) is (3 - 0) / 5 = 0.6, row 2 (3, 2) is (5 - 1) / 5 = 0.8.
    _, crowding = rank_and_crowding(values, senses)
    np.testing.assert_allclose(crowding[[1, 2]], [0.6, 0.8])
    assert survivors(values, senses, 7).tolist() == [0, 2, 3, 4, 5, 6, 7]  # the larger crowding stays
    assert survivors(values, senses, 8).tolist() == list(range(8))  # the dominated point leaves first
    assert survivors(values, senses, 3).tolist() == [4, 6, 7]  # front 0 cut: 0.9 beats 0.4
    # Ties in crowding (both boundary points are inf) go to the larger id.
    assert survivors(values, senses, 1, ids=[0, 1, 2, 3, 4, 5, 6, 7, 8]).tolist() == [7]
    assert survivors(values, senses, 1, ids=[0, 1, 2, 3, 9, 5, 6, 7, 8]).tolist() == [4]


def test_tell_applies_survival_and_keeps_join_order():
    searcher = nsga2(population_size=4)
    state = searcher.init(0)
    programs = [p.program for p in searcher.ask(state, 4)[0]]
    scores = [(0, 10, 0), (1, 9, 0), (4, 6, 0), (10, 0, 0), (0, 5, 0), (1, 1, 0)]
    results = [Result(10 + k, programs[k % 4], 0.0, dict(zip(("performance", "generalizability", "instability"),
                                                              map(float, s)))) for k, s in enumerate(scores)]
    state, metrics = searcher.tell(state, results[:3])
    assert [m[0] for m in state["population"]] == [10, 11, 12]  # not full: all stay
    state, metrics = searcher.tell(state, results[3:])
    assert [m[0] for m in state["population"]] == [10, 11, 12, 13]  # the front of four, in join order
    assert metrics == {"population": 4, "front_size": 4, "best_performance": 10.0, "best_generalizability": 10.0,
                       "best_instability": 0.0}


# ---------------------------------------------------------------------------- the searcher


def test_state_round_trips_and_a_resumed_search_replays_exactly():
    searcher = nsga2()
    _, state = loop(searcher, searcher.init(2), rounds=4, batch=6)  # the fill, then children
    assert len(state["population"]) == 8
    dumped = json.dumps(state, allow_nan=False)
    live, live_state = loop(searcher, state, rounds=6, batch=6, start_id=24, dump=False)
    resumed, resumed_state = loop(nsga2(), json.loads(dumped), rounds=6, batch=6, start_id=24)
    assert live == resumed
    assert any(p.parent_id is not None for batch in live for p in batch)
    assert json.dumps(live_state, allow_nan=False) == json.dumps(resumed_state, allow_nan=False)
    assert all(is_valid(p.program, SPACE) for batch in live for p in batch)


def test_same_seed_replays_and_another_seed_differs():
    a, _ = loop(nsga2(), nsga2().init(3), rounds=4, batch=5)
    b, _ = loop(nsga2(), nsga2().init(3), rounds=4, batch=5)
    c, _ = loop(nsga2(), nsga2().init(4), rounds=4, batch=5)
    assert a == b and a != c


@pytest.mark.parametrize("failed", [{}, {"performance": math.nan}, {"performance": math.inf, "instability": None},
                                    {"performance": -math.inf, "generalizability": "x", "instability": math.nan}])
def test_failed_candidates_rank_last_and_are_never_parents(failed):
    searcher = nsga2(population_size=4, tournament_size=4, mutation_probability=1.0)
    state = searcher.init(0)
    first, state = searcher.ask(state, 5)
    good = [{"performance": 1.0, "generalizability": 0.5, "instability": 2.0},
            {"performance": 0.5, "generalizability": 1.0, "instability": 1.0},
            {"performance": -1.0, "generalizability": -1.0, "instability": 50.0}]
    # The failed candidate gets the largest id, which would win ties.
    objectives = [good[0], good[1], good[2], failed]
    results = [Result(k, p.program, math.nan, o) for k, (p, o) in enumerate(zip(first, objectives))]
    state, metrics = searcher.tell(state, results)
    assert state["population"][3][2] == [-10.0, -10.0, 100.0]  # every failed score is its floor
    ranks, _ = rank_and_crowding([m[2] for m in state["population"]], searcher.senses)
    assert ranks.tolist() == [0, 0, 1, 2]
    json.dumps(state, allow_nan=False)
    children, _ = searcher.ask(state, 30)
    assert {c.parent_id for c in children} == {1}  # full tournaments: the front's younger boundary point
    # Survival drops the failed member first.
    state, _ = searcher.tell(state, [Result(9, first[4].program, 0.0, good[2])])
    assert [m[0] for m in state["population"]] == [0, 1, 2, 9]


def test_default_objective_is_fitness_with_the_factory_floor():
    searcher = search.make("nsga2", SPACE, {"population_size": 3}, fitness_floor=-5.0)
    assert [(o.name, o.sense, o.floor) for o in NSGA2Config().objectives] == [("fitness", "max", None)]
    state = searcher.init(0)
    proposals, state = searcher.ask(state, 4)
    fitness = [2.0, math.nan, np.float32(1.5), np.float64(-2.0)]
    state, metrics = searcher.tell(state, [Result(k, p.program, f) for k, (p, f) in enumerate(zip(proposals, fitness))])
    assert [m[0] for m in state["population"]] == [0, 2, 3]
    assert metrics == {"population": 3, "front_size": 1, "best_fitness": 2.0}
    # A reported "fitness" objective wins over Result.fitness.
    state, metrics = searcher.tell(state, [Result(7, proposals[1].program, 0.0, {"fitness": 9.0})])
    assert [m[0] for m in state["population"]] == [0, 2, 7] and metrics["best_fitness"] == 9.0


def test_more_asks_than_the_population_before_any_tell_and_empty_tell():
    searcher = nsga2(population_size=4)
    state = searcher.init(0)
    proposals, state = searcher.ask(state, 10)
    assert len(proposals) == 10 and all(p.parent_id is None for p in proposals)
    state, metrics = searcher.tell(state, [])
    assert metrics == {"population": 0, "front_size": 0, "best_performance": -10.0, "best_generalizability": -10.0,
                       "best_instability": 100.0}


# ---------------------------------------------------------------------------- config and registry


@pytest.mark.parametrize(
    ("config", "pattern"),
    [
        ({"objectives": [{"name": "a"}, {"name": "a", "sense": "min"}]}, r"objectives\n.*duplicate objective name 'a'"),
        ({"objectives": [{"name": "a", "sense": "maximize"}]}, r"objectives\.0\.sense"),
        ({"objectives": [{"name": ""}]}, r"objectives\.0\.name"),
        ({"objectives": [{"name": "  "}]}, r"objectives\.0\.name"),
        ({"objectives": []}, "objectives"),
        ({"objectives": [{"name": "a", "floor": math.inf}]}, r"objectives\.0\.floor"),
        ({"objectives": [{"name": "a", "weight": 2}]}, r"objectives\.0\.weight"),
        ({"population_size": 1}, "population_size"),
        ({"population_size": 4, "tournament_size": 5}, r"tournament_size \(5\) exceeds population_size \(4\)"),
        ({"mutation_probability": 1.5}, "mutation_probability"),
        ({"populaton_size": 10}, "populaton_size"),
    ],
)
def test_config_validation(config, pattern):
    with pytest.raises(pydantic.ValidationError, match=pattern):
        search.make("nsga2", SPACE, config)


def test_registered_and_configured_by_name():
    assert "nsga2" in search.known()
    searcher = search.make("nsga2", SPACE, {"population_size": 6, "objectives": OBJECTIVES})
    assert isinstance(searcher, NSGA2)
    assert searcher.senses == ("max", "max", "min") and searcher.floors == (-10.0, -10.0, 100.0)
    assert search.make("nsga2", SPACE, NSGA2Config(population_size=6)).config.population_size == 6
    with pytest.raises(ValueError, match="floor must be finite"):
        search.make("nsga2", SPACE, {}, fitness_floor=-math.inf)


def test_helpers_reject_bad_input():
    with pytest.raises(ValueError, match="sense"):
        rank_and_crowding([[1.0, 2.0]], ["max", "maximize"])
    with pytest.raises(ValueError, match="2 senses for 3 objectives"):
        pareto_front([[1.0, 2.0, 3.0]], ["max", "min"])
    with pytest.raises(ValueError, match="finite"):
        rank_and_crowding([[1.0, math.nan]], ["max", "min"])
    ranks, crowding = rank_and_crowding(np.zeros((0, 2)), ["max", "min"])
    assert ranks.shape == crowding.shape == (0,)
