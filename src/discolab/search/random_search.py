"""Random search: every proposal is a fresh random program (the baseline)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pydantic

from discolab.graph import SearchSpace
from discolab.search.base import (
    FreshProgram, Proposal, Result, clean_fitness, default_fresh, register, rng_from_state, rng_state,
)


class RandomSearchConfig(pydantic.BaseModel, frozen=True, extra="forbid"):
    """Random search has no options."""


class RandomSearch:
    """Proposes independent random programs; the state holds the RNG and the best fitness."""

    def __init__(
        self,
        space: SearchSpace,
        config: RandomSearchConfig | None = None,
        fitness_floor: float = 0.0,
        fresh: FreshProgram | None = None,
    ):
        self.space = space
        self.fresh = default_fresh(space, fresh)
        self.fitness_floor = fitness_floor

    def init(self, seed: int) -> dict[str, Any]:
        return {"rng": rng_state(np.random.default_rng(seed)), "best": self.fitness_floor}

    def ask(self, state: dict[str, Any], n: int) -> tuple[list[Proposal], dict[str, Any]]:
        rng = rng_from_state(state)
        proposals = [Proposal(self.fresh(rng)) for _ in range(n)]
        return proposals, {**state, "rng": rng_state(rng)}

    def tell(self, state: dict[str, Any], results: Sequence[Result]) -> tuple[dict[str, Any], dict[str, float]]:
        best = max([state["best"], *(clean_fitness(r.fitness, self.fitness_floor) for r in results)])
        return {**state, "best": best}, {"best": best}


register("random", RandomSearchConfig, RandomSearch)
