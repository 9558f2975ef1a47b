"""Predictor training: it learns a synthetic ordering, deterministically, and compiles once."""

from __future__ import annotations

import numpy as np
import pytest

from discolab.graph import SearchSpace, live_slots, random_program
from discolab.guide import PredictorConfig, fit, pair_accuracy, rank_targets

SPACE = SearchSpace(
    inputs=(("x0", "float"), ("x1", "float")), ops=("add", "sub", "mul", "div", "sin", "cos", "exp", "log"),
    constants=(1.0,), max_nodes=12, required_inputs=("x0",),
)
SMALL = PredictorConfig(dim=16, layers=1, heads=2, train_steps=80, pair_batch=32, archive_size=256,
                        learning_rate=3e-3)


def live_size(program) -> float:
    return float(len(live_slots(program, SPACE)))


def data(seed: int, n: int):
    rng = np.random.default_rng(seed)
    programs = [random_program(SPACE, rng) for _ in range(n)]
    return programs, [live_size(p) for p in programs]


@pytest.mark.parametrize("kind", ["binary", "regression"])
def test_learns_programs_ranked_by_size_to_high_heldout_accuracy(kind):
    programs, fitness = data(0, 200)
    held_programs, held_fitness = data(1, 80)  # other programs, never trained on
    predictor = fit(SPACE, PredictorConfig(**{**SMALL.__dict__, "kind": kind}), programs, fitness, seed=0)
    accuracy, pairs = pair_accuracy(predictor, held_programs, held_fitness, np.random.default_rng(0), max_pairs=500)
    assert pairs == 500
    assert accuracy > 0.9, accuracy


def test_fit_is_a_pure_function_of_its_arguments():
    programs, fitness = data(2, 64)
    a = fit(SPACE, SMALL, programs, fitness, seed=5).compare(programs[:20], programs[20:40])
    b = fit(SPACE, SMALL, programs, fitness, seed=5).compare(programs[:20], programs[20:40])
    c = fit(SPACE, SMALL, programs, fitness, seed=6).compare(programs[:20], programs[20:40])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_training_and_inference_compile_once_per_bucket():
    from discolab.guide import engine

    e = engine(SPACE, SMALL)
    programs, fitness = data(3, 100)
    predictor = fit(SPACE, SMALL, programs, fitness, seed=0)
    predictor.compare(programs[:16], programs[16:32])
    trains, logits = e.train._cache_size(), e.logits._cache_size()
    for n in (1, 5, 16):  # the same bucket
        predictor.compare(programs[:n], programs[n: 2 * n])
    fit(SPACE, SMALL, programs[:40], fitness[:40], seed=1)  # a smaller archive: the same padded shape
    assert (e.train._cache_size(), e.logits._cache_size()) == (trains, logits)
    assert trains == 1


def test_fit_rejects_bad_input():
    programs, fitness = data(4, 4)
    with pytest.raises(ValueError, match="finite"):
        fit(SPACE, SMALL, programs, [1.0, float("nan"), 2.0, 3.0], seed=0)
    with pytest.raises(ValueError, match="fitness values"):
        fit(SPACE, SMALL, programs, fitness[:3], seed=0)


def test_rank_targets_share_ties():
    assert rank_targets(np.array([5.0])).tolist() == [0.0]
    assert rank_targets(np.array([2.0, 2.0, 1.0])).tolist() == [0.75, 0.75, 0.0]
