"""Regularized evolution (Real et al. 2019), the searcher of Evolving RL.

The population is a queue: each child joins at the back and the oldest
member leaves, whatever its fitness. Parents are tournament winners; a
child is a mutation of its parent with probability ``mutation_probability``,
else a fresh random program. With ``crossover_probability`` above 0 (an
option; the paper's searcher has none), a child that would be mutated is
instead, with that probability, a subtree crossover of its parent with the
winner of a second tournament (``graph.crossover``). A batch of ``n``
proposals is drawn from the same population, so with batches the search is
the asynchronous variant the paper ran on many workers.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pydantic

from discolab.graph import Program, SearchSpace, crossover, decode, mutate
from discolab.search.base import (
    FreshProgram, Proposal, Result, clean_fitness, default_fresh, fresh_unless_mutating, register, rng_from_state,
    rng_state,
)


class RegularizedEvolutionConfig(pydantic.BaseModel, frozen=True, extra="forbid"):
    """Options of regularized evolution (defaults as in Evolving RL)."""

    population_size: int = pydantic.Field(300, ge=2, le=1_000_000, description="Members kept; the oldest leaves.")
    tournament_size: int = pydantic.Field(25, ge=1, le=1_000_000, description="Members sampled per tournament.")
    mutation_probability: float = pydantic.Field(
        0.95, ge=0.0, le=1.0, description="Chance a child is a mutation of its parent, else a random program."
    )
    crossover_probability: float = pydantic.Field(
        0.0, ge=0.0, le=1.0,
        description="Chance a child that would be mutated is a crossover with a second tournament winner instead.",
    )

    @pydantic.model_validator(mode="after")
    def _tournament_fits(self) -> "RegularizedEvolutionConfig":
        if self.tournament_size > self.population_size:
            raise ValueError(
                f"tournament_size ({self.tournament_size}) exceeds population_size ({self.population_size})"
            )
        return self


@functools.lru_cache(maxsize=8192)
def _decode(program_json: str) -> Program:
    """Parses a member's JSON; memoized (a pure function) because winners win many times."""
    return decode(program_json)


class RegularizedEvolution:
    """Ask/tell regularized evolution; the state is a JSON-ready dict.

    State: ``rng`` (numpy bit-generator state), ``population`` (a list of
    ``[id, program_json, fitness]``, oldest first), ``asked`` (random programs
    proposed while the population fills).
    """

    def __init__(
        self,
        space: SearchSpace,
        config: RegularizedEvolutionConfig,
        fitness_floor: float = 0.0,
        fresh: FreshProgram | None = None,
    ):
        self.space = space
        self.fresh = default_fresh(space, fresh)
        self.config = config
        self.fitness_floor = fitness_floor
        # Member JSON -> the told program: a winner is mutated as told, not decoded again (decoding,
        # per new member, cost more than its mutations). Equal programs mutate alike, so this is
        # a cache only: a resumed search, which starts without it, decodes and asks the same.
        self._members: dict[str, Program] = {}

    def init(self, seed: int) -> dict[str, Any]:
        return {"rng": rng_state(np.random.default_rng(seed)), "population": [], "asked": 0}

    def ask(self, state: dict[str, Any], n: int) -> tuple[list[Proposal], dict[str, Any]]:
        rng = rng_from_state(state)
        population = state["population"]
        asked = state["asked"]
        size, tournament = self.config.population_size, min(self.config.tournament_size, len(population))
        fitness = [m[2] for m in population]
        proposals = []
        for _ in range(n):
            fresh, asked = fresh_unless_mutating(self.fresh, rng, len(population), asked, size,
                                                 self.config.mutation_probability)
            if fresh is not None:
                proposals.append(fresh)
                continue
            parent_id, parent = self._tournament(population, fitness, tournament, rng)
            child = None
            if self.config.crossover_probability and rng.random() < self.config.crossover_probability:
                child = crossover(parent, self._tournament(population, fitness, tournament, rng)[1], self.space, rng)
            if child is None:  # no crossover drawn, or none that changes the parent
                child = mutate(parent, self.space, rng)
            proposals.append(Proposal(child, parent_id))
        return proposals, {**state, "rng": rng_state(rng), "asked": asked}

    def _tournament(self, population: list, fitness: list[float], size: int,
                    rng: np.random.Generator) -> tuple[int, Program]:
        """The winner of a tournament of ``size`` distinct members: its id and program."""
        picks = rng.choice(len(population), size=size, replace=False)
        # Ties go to the youngest member, which favours exploration: the largest (fitness, index).
        picks = picks.tolist()
        _, winner = max(zip(map(fitness.__getitem__, picks), picks))
        member_id, member_json, _ = population[winner]
        member = self._members.get(member_json)
        return member_id, _decode(member_json) if member is None else member

    def tell(self, state: dict[str, Any], results: Sequence[Result]) -> tuple[dict[str, Any], dict[str, float]]:
        population = list(state["population"])
        members = dict(self._members)
        for r in results:
            population.append([r.id, r.program.to_json(), clean_fitness(r.fitness, self.fitness_floor)])
            members[r.program.to_json()] = r.program
        population = population[-self.config.population_size :]
        self._members = {m[1]: members[m[1]] for m in population if m[1] in members}
        best = max((m[2] for m in population), default=self.fitness_floor)
        return {**state, "population": population}, {"population_best": best, "population": len(population)}


register("regularized_evolution", RegularizedEvolutionConfig, RegularizedEvolution)
