"""The optimizer domain: Adam scores 1, SGD less on an ill-conditioned task, divergence scores the floor."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest

from discolab import domains
from discolab.domains import Status
from discolab.domains.optimizer import OptimizerConfig, OptimizerDomain
from discolab.domains.optimizer_tasks import make_task
from discolab.graph import Program

# Slots: g = 0, m = 1, v = 2, constants 1.0 = 3 and 0.1 = 4, first node = 5.
ADAM = Program.from_nodes([("sqrt", (2,)), ("div", (1, 5))])
SGD = Program.from_nodes([("add", (0, 0)), ("neg", (5,)), ("neg", (6,))])  # 2g: read through three nodes
MOMENTUM = Program.from_nodes([("mul", (1, 3))])
ASCENT = Program.from_nodes([("neg", (1,))])  # climbs the loss
BLOWUP = Program.from_nodes([("square", (1,)), ("div", (5, 4)), ("square", (6,)), ("square", (7,)),
                             ("div", (8, 0))])  # huge steps: the weights leave float32


@pytest.fixture(scope="module")
def domain() -> OptimizerDomain:
    return OptimizerDomain(OptimizerConfig(steps=60, program_batch=4))


def test_adam_scores_one_and_sgd_less_on_the_ill_conditioned_task(domain: OptimizerDomain) -> None:
    adam, sgd, momentum = domain.evaluate([ADAM, SGD, MOMENTUM])
    assert adam.status is Status.OK
    assert adam.fitness == pytest.approx(1.0, abs=0.02)  # the reference, up to the division's epsilon
    assert all(adam.objectives[f"score_{t}"] == pytest.approx(1.0, abs=0.02) for t in domain.config.tasks)
    assert sgd.objectives["score_ill_conditioned_logistic"] < 0.9 < adam.objectives["score_ill_conditioned_logistic"]
    assert 0.0 < momentum.fitness < adam.fitness
    assert set(adam.details) == {"loss_teacher_mlp", "loss_ill_conditioned_logistic"}


def test_failures_score_the_floor_and_never_break_the_batch(domain: OptimizerDomain) -> None:
    ascent, blowup, adam, invalid = domain.evaluate([ASCENT, BLOWUP, ADAM, Program.from_nodes([("neg", (3,))])])
    assert ascent.status is Status.OK and ascent.fitness == 0.0  # worse than the start: clipped to 0
    assert blowup.status is Status.NON_FINITE and blowup.fitness == domain.fitness_floor
    assert any(v is None for v in blowup.details.values())  # stored as JSON null, not NaN
    assert invalid.status is Status.INVALID  # reads no statistic
    assert adam.fitness == pytest.approx(1.0, abs=0.02)


def test_a_score_does_not_depend_on_the_batch_or_the_seed(domain: OptimizerDomain) -> None:
    alone = domain.evaluate([MOMENTUM], seed=0)[0]
    crowded = domain.evaluate([ADAM, BLOWUP, SGD, ASCENT, ADAM, MOMENTUM], seed=7)[-1]  # two chunks of 4
    assert crowded.fitness == pytest.approx(alone.fitness, rel=1e-5)


def test_tasks_are_fixed_by_their_seed() -> None:
    a, b, c = make_task("teacher_mlp", 0), make_task("teacher_mlp", 0), make_task("teacher_mlp", 1)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.y, c.y)
    with pytest.raises(KeyError, match="unknown optimizer task 'mnist'"):
        make_task("mnist", 0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tasks": ["teacher_mlp", "mnist"]}, "unknown optimizer tasks \\['mnist'\\]"),
        ({"ops": ["add", "batch_mean"]}, "'batch_mean' mixes weights"),
        ({"ops": ["add", "softmax"]}, "does not map floats to a float"),
        ({"steps": 0}, "steps"),
        ({"learning_rates": [0.01, -1.0]}, "finite and positive"),
    ],
)
def test_bad_config_names_the_field(fields: dict, message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        domains.validate_config("optimizer", fields)


def test_a_learning_rate_where_adam_diverges_is_refused() -> None:
    with pytest.raises(ValueError, match="Adam makes no progress"):
        OptimizerDomain(OptimizerConfig(tasks=("teacher_mlp",), steps=20, learning_rates=(10.0,), program_batch=1))
