"""The stage runner: hurdles, failure statuses, exceptions as error rows; the executor registry."""

from __future__ import annotations

import re

import pytest

from discolab.domains import Evaluation, Stage, Status
from discolab.graph import Program
from discolab.study import ConfigError, LocalExecutor, make_executor, parse_config, register_executor, run_stages
from discolab.study.config import ExecutorSection

PROGRAMS = [Program.from_nodes([("add", (0, 0))] * (k + 1)) for k in range(5)]  # told apart by length


def scorer(name: str, scores: dict[int, float], status: dict[int, Status] | None = None, calls: list | None = None):
    """A stage scoring a program by its length; records what it was called with."""
    def evaluate(programs, seed, previous):
        if calls is not None:
            calls.append((name, [len(p) for p in programs], seed, previous))
        return [Evaluation(scores[len(p)], (status or {}).get(len(p), Status.OK), {name: scores[len(p)]})
                for p in programs]
    return evaluate


def test_hurdle_gates_the_next_stage():
    calls: list = []
    screen = Stage("screen", scorer("screen", {1: 0.1, 2: 0.6, 3: 0.5, 4: 0.9, 5: 0.2}, calls=calls), threshold=0.5)
    full = Stage("full", scorer("full", {2: 0.7, 3: 0.8, 4: 0.95}, calls=calls), threshold=0.99)
    out = run_stages([screen, full], PROGRAMS, 7, LocalExecutor(), fitness_floor=-1.0)
    assert out.failure is None
    assert [e.status for e in out.evaluations] == [
        Status.HURDLE_FAILED, Status.OK, Status.OK, Status.OK, Status.HURDLE_FAILED]  # last threshold gates nothing
    assert [e.fitness for e in out.evaluations] == [0.1, 0.7, 0.8, 0.95, 0.2]
    assert out.evaluations[0].objectives == {"screen": 0.1} and out.evaluations[0].details["hurdle"] == "screen"
    assert calls[1][:3] == ("full", [2, 3, 4], 7)  # the same seed; only those that passed
    assert [e.fitness for e in calls[1][3]] == [0.6, 0.5, 0.9]  # `previous` is their screen result


def test_failed_status_stops_without_becoming_hurdle_failed():
    screen = Stage("screen", scorer("screen", {k: 0.0 for k in range(1, 6)}, {2: Status.NON_FINITE}), threshold=None)
    full = Stage("full", scorer("full", {k: 1.0 for k in range(1, 6)}))
    out = run_stages([screen, full], PROGRAMS, 0, LocalExecutor(), fitness_floor=0.0)
    assert [e.status for e in out.evaluations] == [Status.OK, Status.NON_FINITE, Status.OK, Status.OK, Status.OK]
    assert [e.fitness for e in out.evaluations] == [1.0, 0.0, 1.0, 1.0, 1.0]


def test_exception_marks_that_stage_error_and_keeps_earlier_verdicts():
    def explode(programs, seed, previous):
        raise FloatingPointError("nan in the critic\nsecond line")

    screen = Stage("screen", scorer("screen", {1: 0.0, 2: 1.0, 3: 1.0, 4: 1.0, 5: 0.0}), threshold=0.5)
    out = run_stages([screen, Stage("train", explode)], PROGRAMS, 0, LocalExecutor(), fitness_floor=-5.0)
    assert [e.status for e in out.evaluations] == [
        Status.HURDLE_FAILED, Status.ERROR, Status.ERROR, Status.ERROR, Status.HURDLE_FAILED]
    error = out.evaluations[1]
    assert error.fitness == -5.0 and error.details["stage"] == "train"
    assert error.details["error"] == "FloatingPointError: nan in the critic"
    assert "explode" in error.details["traceback"]
    assert str(out.failure) == "stage 'train' raised FloatingPointError: nan in the critic"


def test_wrong_count_and_nan_fitness_are_errors():
    short = Stage("short", lambda programs, seed, previous: [Evaluation(1.0)])
    out = run_stages([short], PROGRAMS, 0, LocalExecutor(), fitness_floor=0.0)
    assert {e.status for e in out.evaluations} == {Status.ERROR}
    assert "returned 1 evaluations for 5 programs" in out.failure.error
    nan = Stage("nan", lambda programs, seed, previous: [Evaluation(float("nan")) for _ in programs])
    out = run_stages([nan], PROGRAMS, 0, LocalExecutor(), fitness_floor=0.0)
    assert {e.status for e in out.evaluations} == {Status.ERROR} and "finite" in out.failure.error


def test_no_programs_calls_nothing():
    calls: list = []
    out = run_stages([Stage("s", scorer("s", {}, calls=calls))], [], 0, LocalExecutor(), fitness_floor=0.0)
    assert out.evaluations == [] and calls == []


def test_executor_registry():
    assert isinstance(make_executor({}, ExecutorSection(), 0.0), LocalExecutor)
    with pytest.raises(ValueError, match="already registered"):
        register_executor("local", lambda config, settings, floor: LocalExecutor())


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"name": "dask"}, "executor.name"),
        ({"timeout_s": 5}, "timeout_s needs name = \"ray\""),
        ({"name": "ray", "workers": 0}, "executor.workers"),
        ({"name": "ray", "timeout_s": -1}, "executor.timeout_s"),
        ({"name": "ray", "retries": 3}, "executor.retries: unknown field"),
    ],
)
def test_bad_executor_tables_name_the_field(table, expected):
    with pytest.raises(ConfigError, match=re.escape(expected)):
        parse_config({"domain": {"name": "fake"}, "executor": table})
