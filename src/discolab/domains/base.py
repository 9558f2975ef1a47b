"""What a search domain is: a search space plus a batched, staged evaluator."""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from discolab.graph import Program, SearchSpace
from discolab.graph import ops as ops_lib
from discolab.graph.types import ValueType


class Status(str, enum.Enum):
    """Outcome of evaluating one candidate."""

    OK = "ok"
    HURDLE_FAILED = "hurdle_failed"
    INVALID = "invalid"
    NON_FINITE = "non_finite"
    ERROR = "error"
    TIMEOUT = "timeout"

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """The scores of one candidate.

    Attributes:
      fitness: the scalar the searcher maximizes; failures carry the domain's
        floor, never NaN.
      status: ok, or why the candidate failed.
      objectives: named scores (fitness included under the domain's names).
      details: anything else worth storing (per-environment returns, flags).
      seconds: evaluation time attributed to this candidate.
    """

    fitness: float
    status: Status = Status.OK
    objectives: Mapping[str, float] = dataclasses.field(default_factory=dict)
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
        if not math.isfinite(self.fitness):
            raise ValueError("Evaluation.fitness must be finite: score failures at the domain's floor")


def check_op_names(names: Sequence[str]) -> tuple[ops_lib.Op, ...]:
    """The ops named in a config; ValueError names an unknown or repeated op.

    Shared by the domains' config validators, so every domain reports a bad
    op the same way (``unknown op 'sinh'; known: ...``).
    """
    found = []
    for name in names:
        try:
            found.append(ops_lib.get(name))
        except KeyError as err:
            raise ValueError(err.args[0]) from None
    if len(set(names)) != len(names):
        raise ValueError(f"ops repeat a name: {list(names)}")
    return tuple(found)


def check_float_ops(names: Sequence[str], purpose: str) -> tuple[ops_lib.Op, ...]:
    """Like :func:`check_op_names`, and every op must map floats to a float (``purpose`` says who needs that)."""
    found = check_op_names(names)
    for op in found:
        if op.out_type != ValueType.FLOAT or any(t != ValueType.FLOAT for t in op.in_types):
            raise ValueError(f"op {op.name!r} does not map floats to a float; {purpose} need one")
    return found


StageFn = Callable[[Sequence[Program], int, Sequence[Evaluation] | None], list[Evaluation]]


@dataclasses.dataclass(frozen=True)
class Stage:
    """One step of a staged evaluation (the Evolving-RL hurdle is a stage).

    ``evaluate(programs, seed, previous)`` returns the cumulative evaluation of
    each program after this stage (``previous`` holds the last stage's
    evaluations, or None for the first). A program continues to the next
    stage only if its fitness is at least ``threshold``; otherwise the study
    stores its evaluation with status ``hurdle_failed``.
    """

    name: str
    evaluate: StageFn
    threshold: float | None = None


class Domain(Protocol):
    """A search space and how to score its programs."""

    name: str
    space: SearchSpace
    fitness_floor: float

    def stages(self) -> Sequence[Stage]:
        """The evaluation stages, in order; most domains have one."""
        ...

    def fingerprint_inputs(self) -> Mapping[str, np.ndarray]:
        """Fixed inputs on which functional fingerprints are computed."""
        ...

    # Optional: ``random_program(rng) -> Program``. A domain that defines it
    # decides what a fresh program is (Evolving RL's bootstrap mode starts
    # from DQN); the study hands it to the searcher.
