"""Test-only domain and searcher for the study tests.

Kept in a plain module (not conftest) so the kill test's subprocess can
import it: ``sys.path.insert(0, this_dir); import fake_domain``.

The domain fits ``x + sin(x)`` on points drawn from the batch seed, so a
score depends on the seed the study derives; its options switch on the
behaviours under test (a hurdle stage, sleeping, raising, non-finite scores).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from typing import Any, Literal

import jax.numpy as jnp
import numpy as np
import pydantic

from discolab import domains, search
from discolab.domains import Evaluation, Stage, Status
from discolab.graph import (
    EncodedPrograms, Program, SearchSpace, ValueType, batched_interpreter, encode, random_inputs,
)
from discolab.search import Proposal, Result

PAD = 8  # evaluation batches are padded to a multiple of this: few compiles


class FakeConfig(pydantic.BaseModel, frozen=True, extra="forbid"):
    ops: tuple[str, ...] = ("add", "mul", "sin")
    constants: tuple[float, ...] = (1.0,)
    max_nodes: int = 4
    points: int = 16
    sleep: float = 0.0
    sleep_on: Literal["always", "odd_seed"] = "always"
    hurdle: float | None = None
    raise_on: Literal["never", "always", "odd_seed", "nan_fitness"] = "never"
    non_finite_above: float | None = None


class FakeDomain:
    """Symbolic regression of x + sin(x); fitness 1 / (1 + mse), floor 0."""

    name = "fake"
    fitness_floor = 0.0

    def __init__(self, config: FakeConfig):
        self.config = config
        self.space = SearchSpace(
            inputs=(("x", ValueType.FLOAT),), ops=config.ops, constants=config.constants,
            max_nodes=config.max_nodes, required_inputs=("x",),
        )

    def stages(self) -> tuple[Stage, ...]:
        full = Stage("full", functools.partial(self._evaluate, points=self.config.points))
        if self.config.hurdle is None:
            return (full,)
        return (Stage("screen", functools.partial(self._evaluate, points=4), self.config.hurdle), full)

    def fingerprint_inputs(self) -> dict[str, np.ndarray]:
        return random_inputs(self.space, seed=0)

    def _evaluate(
        self, programs: Sequence[Program], seed: int, previous: Sequence[Evaluation] | None, *, points: int
    ) -> list[Evaluation]:
        start = time.perf_counter()
        if self.config.sleep_on == "always" or seed % 2:
            time.sleep(self.config.sleep)
        if self.config.raise_on == "always" or (self.config.raise_on == "odd_seed" and seed % 2):
            raise RuntimeError(f"boom at seed {seed}")
        x = np.random.default_rng(seed).uniform(-2.0, 2.0, points).astype(np.float32)
        pad = PAD * math.ceil(len(programs) / PAD)
        encoded = EncodedPrograms(*map(jnp.asarray, encode(programs, self.space, pad_to=pad)))
        out = np.asarray(batched_interpreter(self.space)(encoded, {"x": jnp.asarray(x)}), np.float64)
        y = x.astype(np.float64) + np.sin(x.astype(np.float64))
        seconds = (time.perf_counter() - start) / max(len(programs), 1)
        evaluations = []
        for o in out[: len(programs)]:
            mse = float(np.mean((o - y) ** 2))
            limit = self.config.non_finite_above
            too_big = limit is not None and float(np.max(np.abs(o))) > limit
            if self.config.raise_on == "nan_fitness":
                evaluations.append(Evaluation(float("nan")))  # raises: NaN must be a status
            elif too_big or not math.isfinite(mse):
                evaluations.append(Evaluation(self.fitness_floor, Status.NON_FINITE, seconds=seconds))
            else:
                fitness = 1.0 / (1.0 + mse)
                evaluations.append(Evaluation(fitness, Status.OK, {"fitness": fitness, "mse": mse},
                                              {"points": points}, seconds))
        return evaluations


class ScriptedConfig(pydantic.BaseModel, frozen=True, extra="forbid"):
    programs: tuple[str, ...]  # Program JSON, proposed in a cycle


class ScriptedSearcher:
    """Proposes a fixed list of programs in a cycle and remembers what it was told."""

    def __init__(self, space: SearchSpace, config: ScriptedConfig, fitness_floor: float = 0.0, fresh=None):
        self.programs = [Program.from_json(p) for p in config.programs]

    def init(self, seed: int) -> dict[str, Any]:
        return {"next": 0, "told": []}

    def ask(self, state: dict[str, Any], n: int) -> tuple[list[Proposal], dict[str, Any]]:
        k = state["next"]
        proposals = [Proposal(self.programs[(k + i) % len(self.programs)]) for i in range(n)]
        return proposals, {**state, "next": k + n}

    def tell(self, state: dict[str, Any], results: Sequence[Result]) -> tuple[dict[str, Any], dict[str, float]]:
        told = state["told"] + [[r.id, r.fitness] for r in results]
        return {**state, "told": told}, {"told": float(len(told))}


if "fake" not in domains.known():
    domains.register("fake", FakeConfig, FakeDomain)
if "test_scripted" not in search.known():
    search.register("test_scripted", ScriptedConfig, ScriptedSearcher)
