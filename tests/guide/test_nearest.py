"""The nearest-function look-up: twins share a score, it orders by function, it refuses what it cannot run."""

from __future__ import annotations

import numpy as np
import pytest

from discolab import guide
from discolab.graph import Program, SearchSpace, random_program

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


def test_diverging_and_constant_outputs_are_scored_without_error():
    blowup = Program.from_nodes([("mul", [0, 0])] + [("mul", [2 + k, 2 + k]) for k in range(7)])  # x^256
    zero = Program.from_nodes([("sub", [0, 0])])
    predictor = guide.fit_nearest(SPACE, [blowup, zero], [1.0, 0.0], POINTS)
    scores = predictor.predict([blowup, zero, Program.from_nodes([("sin", [0])])])
    assert np.isfinite(scores).all() and scores[0] == 1.0


@pytest.mark.parametrize("space, pattern", [
    (SearchSpace(inputs=(("x0", "float"),), ops=("add", "argmax_a"), max_nodes=4), "nearest"),
])
def test_a_space_it_cannot_run_is_refused_with_a_message(space, pattern):
    with pytest.raises((ValueError, KeyError), match=pattern):
        guide.fit_nearest(space, [Program.from_nodes([("add", [0, 0])])], [1.0], POINTS)


def test_bad_points_and_fitness_are_named():
    program = Program.from_nodes([("add", [0, 0])])
    with pytest.raises(ValueError, match="points"):
        guide.fit_nearest(SPACE, [program], [1.0], np.zeros((2, 4)))
    with pytest.raises(ValueError, match="finite"):
        guide.fit_nearest(SPACE, [program], [float("nan")], POINTS)
