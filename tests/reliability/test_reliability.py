"""Reliability in CI: SIGKILL at random moments, arbitrary programs through the whole pipeline.

bench/reliability_soak.py runs the same checks at soak scale (20 kills, 10,000 programs).
"""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from reliability_support import check_program, kill_trial, node_lists, reference_study, valid_node_lists

from discolab.domains import make as make_domain
from discolab.domains.dqn_loss import make_space as dqn_space
from discolab.domains.regression import RegressionConfig
from discolab.graph import Program, random_program

EVALUATIONS = 3000


@pytest.fixture(scope="module")
def env(subprocess_env) -> dict[str, str]:
    return subprocess_env  # one compilation cache for the kills and resumes (tests/conftest.py)


def test_sigkill_at_random_moments_then_resume(tmp_path, env):
    reference = reference_study(tmp_path, 3, EVALUATIONS, 7, env)
    rng = np.random.default_rng(2026)
    # One kill before the study exists (imports take seconds), two at random moments of the search.
    moments = [0.3, *rng.uniform(2.5, 7.0, 2)]
    trials = [kill_trial(tmp_path, 3, t, reference, evaluations=EVALUATIONS, problem=7, env=env) for t in moments]
    assert all(t.evaluations == EVALUATIONS for t in trials)
    assert all(t.equal_to_uninterrupted for t in trials)  # the kill changed nothing, row for row
    assert trials[0].committed_at_kill == -1


REGRESSION = make_domain("regression", RegressionConfig(problem="nguyen-5", max_nodes=8))
DQN_SPACE = dqn_space(max_nodes=8)


SPACES = {"regression": REGRESSION.space, "dqn_loss": DQN_SPACE}


@pytest.mark.parametrize("name", sorted(SPACES))
@pytest.mark.parametrize("kind", ["arbitrary", "valid"])
def test_programs_never_crash_the_pipeline(name, kind):
    space = SPACES[name]
    seen = {"invalid": 0, "valid": 0}

    @settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(nodes=node_lists(space) if kind == "arbitrary" else valid_node_lists(space))
    def run(nodes):
        seen[check_program(nodes, space)] += 1

    run()
    if kind == "valid":
        assert seen == {"invalid": 0, "valid": 80}
    else:
        assert seen["invalid"] > 0


def test_overflowing_programs_get_a_status_and_a_finite_score():
    """exp(exp(exp(x)))^2 overflows float32 unprotected: it is scored (near zero), never a crash."""
    space = REGRESSION.space
    rng = np.random.default_rng(0)
    n0 = len(space.inputs) + len(space.constants)
    blowup = Program.from_nodes([("exp", (0,)), ("exp", (n0,)), ("exp", (n0 + 1,)), ("mul", (n0 + 2, n0 + 2))])
    programs = [blowup, *(random_program(space, rng) for _ in range(31))]
    (stage,) = REGRESSION.stages()
    evaluations = stage.evaluate(programs, 0, None)
    assert len(evaluations) == 32
    assert all(np.isfinite(e.fitness) and e.status for e in evaluations)
    assert str(evaluations[0].status) == "ok" and evaluations[0].fitness < 1e-6
