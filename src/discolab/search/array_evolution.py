"""Regularized evolution over a batch of programs held as arrays (the arrays engine's searcher).

The algorithm of :mod:`discolab.search.evolution` (population 300, tournament
25, mutation probability 0.95 by default; the population a queue; ties in a
tournament go to the youngest member), with tournaments, mutation and fresh
programs drawn for a whole batch at once by :mod:`discolab.graph.arrays`. The
random stream differs from the Program searcher's, so the two engines visit
different programs from the same seed; each is deterministic for its seed.

The state is explicit and round-trips through JSON in the Program searcher's
format (``rng``, ``population`` as ``[id, program_json, fitness]`` oldest
first, ``asked``), so a stored study shows the same searcher state whichever
engine wrote it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from discolab.graph import SearchSpace, decode
from discolab.graph.arrays import ArraySpace, ProgramArrays, array_space, concat, from_programs, mutate_arrays
from discolab.graph.arrays import random_arrays
from discolab.search.base import rng_from_state, rng_state
from discolab.search.evolution import RegularizedEvolutionConfig

@dataclasses.dataclass(frozen=True)
class ArrayEvolutionState:
    """The population (oldest first) and the random state after the last ask or tell."""

    rng: Mapping[str, Any]
    asked: int
    ids: np.ndarray  # [P] int64 store ids
    programs: ProgramArrays
    json: tuple[str, ...]
    fitness: np.ndarray  # [P] float64, non-finite already replaced by the floor

    def to_dict(self) -> dict[str, Any]:
        population = [[i, j, f] for i, j, f in zip(self.ids.tolist(), self.json, self.fitness.tolist())]
        return {"rng": dict(self.rng), "population": population, "asked": self.asked}


class ArrayEvolution:
    """Ask/tell regularized evolution on ``ProgramArrays``; ``ask`` returns children and parent ids."""

    def __init__(self, space: SearchSpace, config: RegularizedEvolutionConfig, fitness_floor: float = 0.0):
        if config.crossover_probability:
            raise ValueError("searcher.crossover_probability: the arrays engine has no crossover; set it to 0")
        self.space = space
        self.arrays: ArraySpace = array_space(space)
        self.config = config
        self.fitness_floor = fitness_floor

    def init(self, seed: int) -> ArrayEvolutionState:
        return self.from_dict({"rng": rng_state(np.random.default_rng(seed)), "population": [], "asked": 0})

    def from_dict(self, state: Mapping[str, Any]) -> ArrayEvolutionState:
        """The state stored by ``to_dict`` (or by the Program searcher: same format)."""
        population = state["population"]
        programs = [decode(member[1]) for member in population]
        return ArrayEvolutionState(
            rng=state["rng"], asked=int(state["asked"]),
            ids=np.array([m[0] for m in population], np.int64), programs=from_programs(programs, self.arrays),
            json=tuple(m[1] for m in population), fitness=np.array([m[2] for m in population], np.float64),
        )

    def ask(self, state: ArrayEvolutionState, n: int) -> tuple[ProgramArrays, np.ndarray, ArrayEvolutionState]:
        """``n`` children and their parents' ids (-1 for a fresh random program)."""
        if n <= 0:
            empty = random_arrays(np.random.default_rng(0), self.arrays, 0)
            return empty, np.zeros(0, np.int64), state
        rng = rng_from_state({"rng": state.rng})
        size = self.config.population_size
        members = len(state.ids)
        fill = min(n, size - state.asked) if members < size and state.asked < size else 0
        fresh = np.zeros(n, bool)
        fresh[:fill] = True
        if members == 0:
            fresh[:] = True
        else:
            fresh[fill:] = rng.random(n - fill) >= self.config.mutation_probability
        mutated = np.flatnonzero(~fresh)
        winners = self._tournaments(rng, state.fitness, len(mutated))
        parts, order = [], []
        if fresh.any():
            parts.append(random_arrays(rng, self.arrays, int(fresh.sum())))
            order.append(np.flatnonzero(fresh))
        if len(mutated):
            parts.append(mutate_arrays(rng, state.programs.take(winners), self.arrays))
            order.append(mutated)
        children = concat(parts).take(np.argsort(np.concatenate(order), kind="stable"))
        parents = np.full(n, -1, np.int64)
        parents[mutated] = state.ids[winners]
        state = dataclasses.replace(state, rng=rng_state(rng), asked=state.asked + fill)
        return children, parents, state

    def _tournaments(self, rng: np.random.Generator, fitness: np.ndarray, count: int) -> np.ndarray:
        """Winners (population rows) of ``count`` tournaments of distinct members; ties go to the youngest.

        Drawn without drawing the members: rank the population by (fitness,
        age); a tournament of ``k`` distinct members out of ``P`` is won by
        rank ``r`` or below with probability ``C(r + 1, k) / C(P, k)``, so one
        uniform draw per tournament, inverted through that distribution, gives
        a winner with exactly the law of drawing ``k`` members and keeping the best.
        """
        members = len(fitness)
        if count == 0 or members == 0:
            return np.zeros(0, np.intp)
        k = min(self.config.tournament_size, members)
        ranked = np.lexsort((np.arange(members), fitness))  # ascending fitness; among ties, the youngest last
        m = np.arange(k, members + 1)  # rank + 1 of a possible winner
        log_c = np.concatenate([[0.0], np.cumsum(np.log(m[1:]) - np.log(m[1:] - k))])  # log C(m, k)
        cdf = np.exp(log_c - log_c[-1])
        winners = np.minimum(np.searchsorted(cdf, rng.random(count), side="left"), len(cdf) - 1)
        return ranked[winners + k - 1]

    def tell(
        self, state: ArrayEvolutionState, ids: Sequence[int] | np.ndarray, programs: ProgramArrays,
        json: Sequence[str], fitness: np.ndarray,
    ) -> tuple[ArrayEvolutionState, dict[str, float]]:
        """Appends the told programs (in order) and drops the oldest beyond the population size."""
        fitness = np.where(np.isfinite(fitness), fitness, self.fitness_floor).astype(np.float64)
        keep = self.config.population_size
        state = dataclasses.replace(
            state,
            ids=np.concatenate([state.ids, np.asarray(ids, np.int64)])[-keep:],
            programs=concat([state.programs, programs]).take(slice_rows(len(state.ids) + len(programs), keep)),
            json=(state.json + tuple(json))[-keep:],
            fitness=np.concatenate([state.fitness, fitness])[-keep:],
        )
        best = float(state.fitness.max()) if len(state.fitness) else float(self.fitness_floor)
        return state, {"population_best": best, "population": float(len(state.ids))}


def slice_rows(total: int, keep: int) -> np.ndarray:
    """The row indices of the last ``keep`` of ``total`` rows."""
    return np.arange(max(0, total - keep), total)
