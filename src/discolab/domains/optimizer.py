"""The optimizer domain: evolve an elementwise update rule (the Lion paper's search, small).

Guided evolution's headline figure (3.7x fewer evaluations) is on this kind
of search. A program maps per-weight statistics to an update direction ``d``
and training moves every weight by ``-learning_rate * d``. Its inputs, all
elementwise over the flattened weights:

- ``g``: the minibatch gradient;
- ``m``: the bias-corrected moving average of ``g`` (``beta1``);
- ``v``: the bias-corrected moving average of ``g^2`` (``beta2``).

So SGD is ``g``, momentum is ``m``, Adam is ``m / sqrt(v)`` (the protected
division adds 1e-10) and a sign-momentum rule is about ``tanh(m / sqrt(v))``.

Fitness: each task (:mod:`discolab.domains.optimizer_tasks`) trains from
fixed weights on fixed batches for ``steps`` steps at every step size of
``learning_rates`` and keeps the lowest final loss ``L_T``, as the Lion
paper's search tunes each program's step size (a rule is then not rewarded
for a constant factor that only rescales the step). The task's score is
``log(L0 / L_T) / log(L0 / L_adam)``, clipped to [0, 2], where ``L0`` is the
initial loss and ``L_adam`` Adam's best final loss over the same step sizes.
The fitness is the mean over tasks: 1.0 is as good as Adam, 0 is no
progress or worse. A rule whose final loss is non-finite at every step size
of some task gets status ``non_finite`` and fitness 0.0, the floor. Scores
are a pure function of the program: every rule trains the same weights on
the same batches (``data_seed``), and the study's seed is not used.

Cost: every batch of programs trains in one compiled call per task, padded
to ``program_batch`` programs, each run at every step size (one compile per
task and search).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pydantic
from pydantic import Field

from discolab.domains.base import Evaluation, Stage, Status, check_float_ops
from discolab.domains.optimizer_tasks import TASKS, Task, make_task, make_trainer
from discolab.domains.registry import register
from discolab.graph import Program, SearchSpace, ValueType, encode
from discolab.graph.interpret_forward import interpret_batch_forward
from discolab.graph.program import is_valid

__all__ = ["INPUTS", "OptimizerConfig", "OptimizerDomain"]

INPUTS = ("g", "m", "v")
#: The reference rule each task's score is normalized by (Adam, with a small epsilon).
ADAM_EPS = 1e-8
#: Task scores are clipped to [0, MAX_TASK_SCORE]: one runaway task cannot carry the mean.
MAX_TASK_SCORE = 2.0
FINGERPRINT_POINTS = 48
FINGERPRINT_SEED = 20240602


class OptimizerConfig(pydantic.BaseModel, frozen=True, extra="forbid"):
    """Config of the ``optimizer`` domain (a ``[domain]`` section of a study)."""

    tasks: tuple[str, ...] = Field(
        ("teacher_mlp", "ill_conditioned_logistic"), min_length=1,
        description=f"Training tasks that score a rule, of {list(TASKS)}.",
    )
    steps: int = Field(300, ge=1, le=100_000, description="Training steps per task.")
    learning_rates: tuple[float, ...] = Field(
        (0.001, 0.01, 0.1), min_length=1, max_length=16,
        description="Step sizes every rule trains with on every task; the best counts.",
    )
    beta1: float = Field(0.9, ge=0.0, lt=1.0, description="Decay of the gradient's moving average `m`.")
    beta2: float = Field(0.999, ge=0.0, lt=1.0, description="Decay of the squared gradient's moving average `v`.")
    ops: tuple[str, ...] = Field(
        ("add", "sub", "mul", "div", "sqrt", "square", "tanh", "neg"), min_length=1,
        description="Ops a rule may use (see discolab.graph.ops).",
    )
    constants: tuple[float, ...] = Field((1.0, 0.1), max_length=64, description="Constants a rule may read.")
    max_nodes: int = Field(10, ge=1, le=64, description="Most op nodes in a rule.")
    program_batch: int = Field(32, ge=1, le=4096, description="Rules trained per compiled call (padded).")
    data_seed: int = Field(0, ge=0, description="Seed of every task's weights, data and batches.")

    @pydantic.field_validator("tasks")
    @classmethod
    def _known_tasks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [t for t in value if t not in TASKS]
        if unknown:
            raise ValueError(f"unknown optimizer tasks {unknown}; known: {', '.join(TASKS)}")
        if len(set(value)) != len(value):
            raise ValueError(f"tasks repeat a name: {list(value)}")
        return value

    @pydantic.field_validator("ops")
    @classmethod
    def _float_ops(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for op in check_float_ops(value, "update rules"):
            if op.name in ("batch_mean", "batch_std"):
                raise ValueError(f"op {op.name!r} mixes weights: an update rule is elementwise")
        return value

    @pydantic.field_validator("learning_rates")
    @classmethod
    def _positive_rates(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not all(np.isfinite(value)) or min(value) <= 0:
            raise ValueError(f"learning rates must be finite and positive, got {list(value)}")
        return value

    @pydantic.field_validator("constants")
    @classmethod
    def _finite_constants(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not all(np.isfinite(value)):
            raise ValueError(f"constants must be finite, got {list(value)}")
        return value


class OptimizerDomain:
    """Evolve an elementwise update rule, scored against Adam on small training tasks.

    Attributes:
      name: ``"optimizer"``.
      config: the validated config.
      space: rules over ``g``, ``m``, ``v``; each must read at least one of them.
      tasks: the training tasks, in the config's order.
      reference_losses: Adam's best final loss on each task (the score's unit).
      initial_losses: each task's loss before training.
    """

    name = "optimizer"
    fitness_floor = 0.0

    def __init__(self, config: OptimizerConfig | None = None) -> None:
        config = config or OptimizerConfig()
        self.config = config
        self.space = SearchSpace(
            inputs=tuple((name, ValueType.FLOAT) for name in INPUTS),
            ops=config.ops,
            constants=config.constants,
            max_nodes=config.max_nodes,
            required_inputs=INPUTS,
        )
        self.tasks: tuple[Task, ...] = tuple(make_task(name, config.data_seed) for name in config.tasks)
        space = self.space

        def program_rule(rule_args: Any, g: jax.Array, m: jax.Array, v: jax.Array) -> jax.Array:
            op_ids, args, output = rule_args
            return interpret_batch_forward(space, op_ids, args, output, {"g": g, "m": m, "v": v})

        def adam(_: Any, g: jax.Array, m: jax.Array, v: jax.Array) -> jax.Array:
            return m / (jnp.sqrt(v) + ADAM_EPS)

        schedule = (config.steps, config.beta1, config.beta2)
        self._trainers = [make_trainer(task, program_rule, *schedule) for task in self.tasks]
        rates = np.asarray(config.learning_rates, np.float32)
        self._rates = np.tile(rates, config.program_batch)  # copy k: program k // L, step size k % L
        initial, reference = [], []
        for task in self.tasks:
            first, final = make_trainer(task, adam, *schedule)(None, rates)
            initial.append(float(first))
            reference.append(_best(np.asarray(final, np.float64)[None])[0])
        self.initial_losses = tuple(initial)
        self.reference_losses = tuple(reference)
        if not all(np.isfinite(reference)) or any(r >= i for r, i in zip(reference, initial)):
            raise ValueError(
                f"optimizer domain: Adam makes no progress on {list(config.tasks)} at learning_rates "
                f"{list(config.learning_rates)} (losses {initial} -> {reference}); the score would be undefined"
            )
        rng = np.random.default_rng(FINGERPRINT_SEED)
        g = rng.normal(size=FINGERPRINT_POINTS)
        self._fingerprint = {
            "g": g.astype(np.float32),
            "m": (0.5 * g + 0.5 * rng.normal(size=FINGERPRINT_POINTS)).astype(np.float32),
            "v": rng.uniform(0.01, 2.0, FINGERPRINT_POINTS).astype(np.float32),  # a second moment is positive
        }

    def stages(self) -> Sequence[Stage]:
        """One stage: train on every task."""
        return (Stage("train", self.evaluate),)

    def fingerprint_inputs(self) -> dict[str, np.ndarray]:
        """Fixed random statistics: ``v`` positive, ``m`` correlated with ``g``, as in training."""
        return {k: v.copy() for k, v in self._fingerprint.items()}

    def final_losses(self, programs: Sequence[Program]) -> np.ndarray:
        """Best final loss over the step sizes, ``[len(programs), tasks]``, in chunks of ``program_batch``."""
        size, n_rates = self.config.program_batch, len(self.config.learning_rates)
        chunks = []
        for start in range(0, len(programs), size):
            chunk = programs[start : start + size]
            encoded = encode(chunk, self.space, pad_to=size)
            rule_args = tuple(np.repeat(a, n_rates, axis=0) for a in (encoded.op_ids, encoded.args, encoded.output))
            per_task = []
            for train in self._trainers:
                final = np.asarray(train(rule_args, self._rates)[1], np.float64).reshape(size, n_rates)
                per_task.append(_best(final[: len(chunk)]))
            chunks.append(np.stack(per_task, axis=1))
        return np.concatenate(chunks) if chunks else np.zeros((0, len(self.tasks)))

    def task_scores(self, losses: np.ndarray) -> np.ndarray:
        """Per task ``log(L0 / L_T) / log(L0 / L_adam)`` clipped to [0, MAX_TASK_SCORE] (0 where non-finite)."""
        initial, reference = np.asarray(self.initial_losses), np.asarray(self.reference_losses)
        with np.errstate(all="ignore"):
            raw = np.log(initial / losses) / np.log(initial / reference)
        return np.where(np.isfinite(raw), np.clip(raw, 0.0, MAX_TASK_SCORE), 0.0)

    def evaluate(
        self, programs: Sequence[Program], seed: int = 0, previous: Sequence[Evaluation] | None = None
    ) -> list[Evaluation]:
        """Trains every program on every task; ``seed`` and ``previous`` are unused (scores are deterministic)."""
        if not programs:
            return []
        start = time.perf_counter()
        valid = [i for i, p in enumerate(programs) if is_valid(p, self.space)]
        losses = self.final_losses([programs[i] for i in valid])
        scores = self.task_scores(losses)
        seconds = (time.perf_counter() - start) / len(programs)
        floor = Evaluation(self.fitness_floor, Status.INVALID, {"fitness": self.fitness_floor}, {}, seconds)
        out = [floor] * len(programs)
        for row, i in enumerate(valid):
            # A non-finite loss is stored as None: the store writes strict JSON.
            details = {f"loss_{t.name}": float(loss) if np.isfinite(loss) else None
                       for t, loss in zip(self.tasks, losses[row])}
            if not np.isfinite(losses[row]).all():
                out[i] = Evaluation(self.fitness_floor, Status.NON_FINITE, {"fitness": self.fitness_floor}, details,
                                    seconds)
                continue
            fitness = float(np.mean(scores[row]))
            objectives = {"fitness": fitness, **{f"score_{t.name}": float(s) for t, s in zip(self.tasks, scores[row])}}
            out[i] = Evaluation(fitness, Status.OK, objectives, details, seconds)
        return out


def _best(losses: np.ndarray) -> np.ndarray:
    """Per row of ``losses [P, L]``: the lowest finite loss over the step sizes, NaN where none is finite."""
    finite = np.where(np.isfinite(losses), losses, np.inf)
    best = finite.min(axis=1)
    return np.where(np.isfinite(best), best, np.nan)


register("optimizer", OptimizerConfig, OptimizerDomain)
