"""Executors run a domain's stages on a batch; ``run_stages`` applies the hurdles.

The executor decides WHERE a stage runs (in this process, or on Ray: see
``ray_executor``); the
stage runner decides WHICH programs reach which stage. Keeping them apart
lets every executor share one hurdle rule and one failure rule.
"""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from discolab.domains.base import Evaluation, Stage, Status
from discolab.graph import Program
from discolab.study.config import ExecutorSection


class Executor(Protocol):
    """Runs one stage of a domain on a batch of programs."""

    def evaluate(
        self, stage: Stage, programs: Sequence[Program], seed: int, previous: Sequence[Evaluation] | None
    ) -> list[Evaluation]:
        """One evaluation per program, in order (may raise; the runner turns that into error rows)."""
        ...

    def close(self) -> None:
        """Releases workers; the study calls it when ``run_study`` returns."""
        ...

    def stats(self) -> dict[str, float]:
        """Running counts worth keeping with each batch (worker retries, timeouts); may be empty."""
        ...


class LocalExecutor:
    """Evaluates in this process: the batch is one compiled call of the domain."""

    def evaluate(
        self, stage: Stage, programs: Sequence[Program], seed: int, previous: Sequence[Evaluation] | None
    ) -> list[Evaluation]:
        return list(stage.evaluate(programs, seed, previous))

    def close(self) -> None:
        pass

    def stats(self) -> dict[str, float]:
        return {}


#: ``factory(study config as a dict, [executor] settings, fitness floor) -> Executor``.
ExecutorFactory = Callable[[Mapping[str, Any], ExecutorSection, float], Executor]
_EXECUTORS: dict[str, ExecutorFactory] = {}


def register_executor(name: str, factory: ExecutorFactory) -> None:
    """Registers an executor factory; a name can be registered once."""
    if name in _EXECUTORS:
        raise ValueError(f"executor {name!r} is already registered")
    _EXECUTORS[name] = factory


def make_executor(config: Mapping[str, Any], settings: ExecutorSection, fitness_floor: float) -> Executor:
    """The executor that ``settings.name`` names, for a study of ``config``."""
    try:
        factory = _EXECUTORS[settings.name]
    except KeyError:
        raise KeyError(f"unknown executor {settings.name!r}; known: {', '.join(sorted(_EXECUTORS))}") from None
    return factory(config, settings, fitness_floor)


def _ray_executor(config: Mapping[str, Any], settings: ExecutorSection, fitness_floor: float) -> Executor:
    from discolab.study.ray_executor import RayExecutor  # Ray is optional and slow to import

    return RayExecutor(config, settings, fitness_floor)


register_executor("local", lambda config, settings, fitness_floor: LocalExecutor())
register_executor("ray", _ray_executor)


@dataclasses.dataclass(frozen=True)
class StageFailure:
    """A stage that raised: its name and the exception as one line."""

    stage: str
    error: str

    def __str__(self) -> str:
        return f"stage {self.stage!r} raised {self.error}"


@dataclasses.dataclass(frozen=True)
class StagedEvaluation:
    """The final evaluation of each program, and the stage failure if one raised."""

    evaluations: list[Evaluation]
    failure: StageFailure | None = None


def run_stages(
    stages: Sequence[Stage],
    programs: Sequence[Program],
    seed: int,
    executor: Executor,
    fitness_floor: float,
) -> StagedEvaluation:
    """Runs the stages in order, each only on the programs that passed the last one.

    A program goes on to stage ``k + 1`` only if stage ``k`` left it with
    status ok and fitness at least ``stage.threshold`` (None: everyone
    passes; the last stage's threshold gates nothing). One that misses a
    threshold keeps that stage's fitness and objectives with status
    ``hurdle_failed``; one whose status is already a failure (non_finite,
    invalid, ...) stops with it. If a stage raises, or returns the wrong
    number of evaluations, the programs it was given get status ``error`` at
    ``fitness_floor``: a broken batch never crashes the study. Every stage
    gets the same ``seed``.
    """
    current: list[Evaluation | None] = [None] * len(programs)
    alive = list(range(len(programs)))
    for k, stage in enumerate(stages):
        if not alive:
            break
        previous = None if k == 0 else [current[i] for i in alive]
        try:
            evaluations = executor.evaluate(stage, [programs[i] for i in alive], seed, previous)
            if len(evaluations) != len(alive):
                raise ValueError(f"returned {len(evaluations)} evaluations for {len(alive)} programs")
        except Exception as err:  # noqa: BLE001  (any domain bug becomes error rows)
            failure = StageFailure(stage.name, _one_line(err))
            failed = _error_evaluation(stage.name, err, fitness_floor)
            for i in alive:
                current[i] = failed
            return StagedEvaluation(_complete(current, fitness_floor), failure)
        for i, evaluation in zip(alive, evaluations):
            current[i] = evaluation
        if k == len(stages) - 1:
            break
        passed = []
        for i in alive:
            evaluation = current[i]
            assert evaluation is not None
            if evaluation.status != Status.OK:
                continue
            if stage.threshold is None or evaluation.fitness >= stage.threshold:
                passed.append(i)
            else:
                current[i] = dataclasses.replace(
                    evaluation, status=Status.HURDLE_FAILED, details={**evaluation.details, "hurdle": stage.name}
                )
        alive = passed
    return StagedEvaluation(_complete(current, fitness_floor))


def _complete(current: list[Evaluation | None], fitness_floor: float) -> list[Evaluation]:
    """Fills the programs no stage reached (only possible with zero stages) with an error."""
    missing = Evaluation(fitness_floor, Status.ERROR, details={"error": "no stage evaluated this program"})
    return [e if e is not None else missing for e in current]


def _one_line(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}".strip()
    return text.splitlines()[0] if text else type(err).__name__


def _error_evaluation(stage: str, err: BaseException, fitness_floor: float) -> Evaluation:
    trace = "".join(traceback.format_exception(err))
    return Evaluation(
        fitness_floor, Status.ERROR, details={"stage": stage, "error": _one_line(err), "traceback": trace[-4000:]}
    )
