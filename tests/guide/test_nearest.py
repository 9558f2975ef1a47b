"""The nearest-function look-up: twins share a score in any single-program space, it orders by function."""

from __future__ import annotations

import numpy as np
import pytest

from discolab import guide
from discolab.graph import Program, SearchSpace, random_program
from discolab.graph.composite import CompositeSpace
from discolab.graph.fingerprint import random_inputs

SPACE = SearchSpace(inputs=(("x0", "float"),), ops=("add", "sub", "mul", "sin", "cos"), constants=(1.0,),
                    max_nodes=8)
POINTS = np.linspace(-2.0, 2.0, 32)[None, :]


def test_a_program_gets_the_score_of_the_archive_program_computing_the_same_function():
    x_plus_x = Program.from_nodes([("add", [0, 0])])
    sine = Program.from_nodes([("sin", [0])])
    cosine = Program.from_nodes([("cos", [0])])
    predictor = guide.fit_nearest(SPACE, [x_plus_x, sine, cosine], [5.0, 2.0, -1.0], POINTS)
    twice_x = Program.from_nodes([("add", [0, 1]), ("sub", [2, 1]), ("add", [3, 0])])  # (x + 1 - 1) + x
    sine_again = Program.from_nodes([("mul", [0, 1]), ("sin", [2])])  # sin(x * 1)
    assert predictor.predict([twice_x, sine_again, cosine]).tolist() == [5.0, 2.0, -1.0]
    p = predictor.compare([twice_x, sine_again], [sine_again, twice_x])
    assert p[0] > 0.99 and p[1] < 0.01 and np.allclose(p[0] + p[1], 1.0)


def test_it_orders_held_out_programs_by_a_functional_score():
    # Score: closeness to sin(x) + x at the points; held-out programs are ranked by the look-up.
    rng = np.random.default_rng(0)
    programs = [random_program(SPACE, rng) for _ in range(600)]
    x = POINTS[0]
    target = np.sin(x) + x

    def score(program: Program) -> float:
        out = guide.nearest.directions(SPACE, [program], POINTS)[0]
        return float(out @ (target / np.linalg.norm(target)))

    fitness = [score(p) for p in programs]
    predictor = guide.fit_nearest(SPACE, programs[:400], fitness[:400], POINTS, neighbours=3)
    accuracy, pairs = guide.pair_accuracy(predictor, programs[400:], fitness[400:], rng)
    assert pairs > 500 and accuracy > 0.8, accuracy


def test_value_nearness_tells_apart_formulas_that_point_the_same_way():
    # x and 3x point the same way: a direction look-up cannot tell them apart, a value look-up can.
    x = Program.from_nodes([("mul", [0, 1])])                        # x * 1
    three_x = Program.from_nodes([("add", [0, 0]), ("add", [2, 0])])  # x + x + x
    near_three_x = Program.from_nodes([("add", [0, 0]), ("add", [2, 0]), ("sub", [3, 1]), ("add", [4, 1])])
    by_value = guide.fit_nearest(SPACE, [x, three_x], [1.0, 3.0], POINTS, nearness="value")
    by_direction = guide.fit_nearest(SPACE, [x, three_x], [1.0, 3.0], POINTS, neighbours=2)
    assert by_value.predict([near_three_x, x]).tolist() == [3.0, 1.0]
    assert by_direction.predict([near_three_x]).tolist() == [2.0]  # both neighbours at cosine 1 weigh alike
    # x + 1 sits nearer x than 3x does (distance of asinh outputs), so it takes x's score; two neighbours weigh
    # by inverse distance, so the nearer counts more.
    x_plus_one = Program.from_nodes([("add", [0, 1])])
    two = guide.fit_nearest(SPACE, [x, three_x], [1.0, 3.0], POINTS, neighbours=2, nearness="value")
    assert by_value.predict([x_plus_one]).tolist() == [1.0]
    assert 1.0 < two.predict([x_plus_one])[0] < 2.0
    with pytest.raises(ValueError, match="nearness"):
        guide.fit_nearest(SPACE, [x], [1.0], POINTS, nearness="cosine")  # type: ignore[arg-type]


def test_diverging_and_constant_outputs_are_scored_without_error():
    blowup = Program.from_nodes([("mul", [0, 0])] + [("mul", [2 + k, 2 + k]) for k in range(7)])  # x^256
    zero = Program.from_nodes([("sub", [0, 0])])
    for nearness in ("direction", "value"):
        predictor = guide.fit_nearest(SPACE, [blowup, zero], [1.0, 0.0], POINTS, nearness=nearness)
        scores = predictor.predict([blowup, zero, Program.from_nodes([("sin", [0])])])
        assert np.isfinite(scores).all() and scores[0] == 1.0, nearness
        # an all-zero output has no direction (near nothing: the archive's mean); its value is exactly zero's
        assert scores[1] == (0.5 if nearness == "direction" else 0.0), nearness


def test_a_space_of_several_types_is_looked_up_at_its_fingerprint_inputs():
    # Q-value lists, an action and floats, as in the DQN losses: the jitted interpreter runs what numpy cannot.
    space = SearchSpace(inputs=(("q", "list"), ("a", "action"), ("r", "float")),
                        ops=("add", "mul", "max_a", "select"), constants=(0.5,), max_nodes=6)
    points = guide.nearest.probe_points(space, 8, random_inputs(space, n=10))
    assert isinstance(points, dict) and points["q"].shape == (8, 4) and points["r"].shape == (8,)
    q_max_plus_r = Program.from_nodes([("max_a", [0]), ("add", [4, 2])])   # max_a q + r
    r_plus_q_max = Program.from_nodes([("max_a", [0]), ("add", [2, 4])])   # r + max_a q: the same function
    q_of_a = Program.from_nodes([("select", [0, 1])])                      # q[a]
    predictor = guide.fit_nearest(space, [q_max_plus_r, q_of_a], [2.0, -1.0], points)
    assert predictor.predict([r_plus_q_max, q_of_a]).tolist() == [2.0, -1.0]
    assert predictor.compare([r_plus_q_max], [q_of_a])[0] > 0.99
    with pytest.raises(ValueError, match="mapping"):
        guide.fit_nearest(space, [q_of_a], [1.0], np.zeros((3, 8)))
    with pytest.raises(ValueError, match="fingerprint inputs"):
        guide.nearest.probe_points(space, 8, None)


def test_more_probe_points_than_the_study_gives_are_drawn_inside_its_range():
    space = SearchSpace(inputs=(("x0", "float"), ("x1", "float")), ops=("add",), constants=(), max_nodes=2)
    inputs = {"x0": np.linspace(0.0, 4.0, 16), "x1": np.linspace(-1.0, 1.0, 16)}
    points = guide.nearest.probe_points(space, 64, inputs)
    assert points.shape == (2, 64)
    assert np.array_equal(points[:, :16], np.stack([inputs["x0"], inputs["x1"]]))  # the study's own first
    assert points[0].min() >= 0.0 and points[0].max() <= 4.0 and points[1].min() >= -1.0 and points[1].max() <= 1.0
    assert len(np.unique(points[0])) == 64  # new points, not repeats
    assert np.array_equal(points, guide.nearest.probe_points(space, 64, inputs))  # fixed: a search replays


def test_a_composite_space_is_refused_with_a_message():
    space = CompositeSpace((("actor", SPACE), ("critic", SPACE)))
    with pytest.raises(ValueError, match="composite space .*actor, critic"):
        guide.nearest.probe_points(space, 8, None)


def test_bad_points_and_fitness_are_named():
    program = Program.from_nodes([("add", [0, 0])])
    with pytest.raises(ValueError, match="points"):
        guide.fit_nearest(SPACE, [program], [1.0], np.zeros((2, 4)))
    with pytest.raises(ValueError, match="finite"):
        guide.fit_nearest(SPACE, [program], [float("nan")], POINTS)


@pytest.mark.parametrize("nearness", ["direction", "value"])
def test_a_program_compared_with_its_nearest_archive_program_ties_at_exactly_one_half(nearness):
    # Its predicted score is that program's score; a weighted mean can miss it in the last bits, which
    # must not decide a screen's "better than the parent" (the threshold is one half).
    rng = np.random.default_rng(1)
    archive = [random_program(SPACE, rng) for _ in range(60)]
    predictor = guide.fit_nearest(SPACE, archive, rng.random(60).tolist(), POINTS, nearness=nearness)
    queries = [random_program(SPACE, rng) for _ in range(300)]
    similarity = -predictor._distances(guide.nearest.values(SPACE, queries, POINTS)) if nearness == "value" \
        else guide.nearest.directions(SPACE, queries, POINTS) @ predictor.archive.T
    top_two = -np.sort(-similarity, axis=1)[:, :2]
    clear = top_two[:, 0] - top_two[:, 1] > 1e-6  # one nearest program ...
    if nearness == "direction":
        clear &= top_two[:, 0] > 0  # ... pointing our way (else the archive's mean score is predicted)
    assert clear.sum() > 50
    nearest = [archive[k] for k in similarity.argmax(axis=1)[clear]]
    p = predictor.compare([q for q, keep in zip(queries, clear) if keep], nearest)
    assert (p == 0.5).all(), p[p != 0.5]
