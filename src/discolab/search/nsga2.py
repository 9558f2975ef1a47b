"""NSGA-II (Deb et al. 2002) as an ask/tell searcher over programs.

The searcher of MetaPG: several named objectives, each maximized or
minimized (MetaPG maximizes performance and generalizability and minimizes
instability). Non-dominated sorting and crowding distance are pymoo's
(``NonDominatedSorting`` and the ``"cd"`` crowding function); pymoo
minimizes, so maximized objectives are negated before they reach it.

Algorithm:

* Fill: while fewer than ``population_size`` proposals have been asked and
  the population is not full, each proposal is a fresh program
  (``fresh(rng)``, uniform random programs by default).
* Then each proposal is, with probability ``mutation_probability``, a
  mutation (``graph.mutate``) of a parent chosen by tournament among
  ``tournament_size`` members drawn without replacement (binary tournament
  by default): the lower non-domination rank wins, then the larger crowding
  distance, then the younger member (larger id); otherwise it is a fresh
  program. A batch of ``n`` proposals is drawn from the same population.
* ``tell`` merges the told results into the population; when the union
  exceeds ``population_size`` it keeps ``population_size`` members by NSGA-II
  survival: whole fronts in rank order, the last front that does not fit cut
  by crowding distance (larger first, ties kept by the younger member). That
  is (mu + lambda) survival applied per told batch.

Objective values: objective ``name`` is read from ``Result.objectives``; the
objective named ``fitness`` falls back to ``Result.fitness`` when the domain
does not report it, so the default config (one maximized ``fitness``) works
on any domain. A missing, non-numeric or non-finite value counts as the
objective's ``floor`` (by default the searcher's ``fitness_floor``), which
should be at or beyond the worst real score, so failed candidates rank last.

Ranks and crowding distances are never stored (pymoo gives boundary points
an infinite crowding distance, which JSON cannot hold): they are recomputed
from the stored, finite objective values, so a resumed search asks exactly
what the killed one would have asked.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pydantic

from discolab.graph import Program, SearchSpace, decode, mutate
from discolab.search.base import (
    FreshProgram, Proposal, Result, default_fresh, fresh_unless_mutating, register, rng_from_state, rng_state,
)

Sense = Literal["max", "min"]


class Objective(pydantic.BaseModel, frozen=True, extra="forbid"):
    """One objective of NSGA-II: its name, its sense and the score a failure counts as."""

    name: str = pydantic.Field(description="The key in the evaluation's objectives (`fitness` falls back to fitness).")
    sense: Sense = pydantic.Field("max", description="`max` to maximize the objective, `min` to minimize it.")
    floor: pydantic.FiniteFloat | None = pydantic.Field(
        None,
        description="The value a missing or non-finite score counts as, the worst one; "
        "null: the searcher's fitness_floor.",
    )

    @pydantic.field_validator("name")
    @classmethod
    def _name_not_blank(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("an objective name must be non-empty")
        return name


class NSGA2Config(pydantic.BaseModel, frozen=True, extra="forbid"):
    """Options of NSGA-II."""

    population_size: int = pydantic.Field(32, ge=2, le=1_000_000, description="Members kept by NSGA-II survival.")
    objectives: tuple[Objective, ...] = pydantic.Field(
        (Objective(name="fitness", sense="max"),),
        min_length=1,
        description="The objectives, each {name, sense: max|min, floor}; names are unique.",
    )
    mutation_probability: float = pydantic.Field(
        0.95, ge=0.0, le=1.0, description="Chance a child is a mutation of its parent, else a fresh program."
    )
    tournament_size: int = pydantic.Field(
        2, ge=1, le=1_000_000, description="Members drawn per parent tournament (2: binary tournament)."
    )

    @pydantic.field_validator("objectives")
    @classmethod
    def _unique_names(cls, objectives: tuple[Objective, ...]) -> tuple[Objective, ...]:
        seen: set[str] = set()
        for o in objectives:
            if o.name in seen:
                raise ValueError(f"duplicate objective name {o.name!r}")
            seen.add(o.name)
        return objectives

    @pydantic.model_validator(mode="after")
    def _tournament_fits(self) -> "NSGA2Config":
        if self.tournament_size > self.population_size:
            raise ValueError(
                f"tournament_size ({self.tournament_size}) exceeds population_size ({self.population_size})"
            )
        return self


# ---------------------------------------------------------------------------- pymoo, for reuse


@functools.cache
def _pymoo() -> tuple[Any, Any]:
    """pymoo's sorter and NSGA-II crowding function, imported on first use (pymoo is slow to import)."""
    from pymoo.operators.survival.rank_and_crowding.metrics import get_crowding_function
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    return NonDominatedSorting(), get_crowding_function("cd")


def _minimized(values: Any, senses: Sequence[str]) -> np.ndarray:
    """``values`` [n, k] as pymoo's minimization problem: maximized columns negated."""
    f = np.asarray(values, dtype=np.float64)
    if f.ndim != 2:
        raise ValueError(f"values must be a 2-D array [points, objectives], got shape {f.shape}")
    if len(senses) != f.shape[1]:
        raise ValueError(f"{len(senses)} senses for {f.shape[1]} objectives")
    bad = [s for s in senses if s not in ("max", "min")]
    if bad:
        raise ValueError(f"a sense is 'max' or 'min', got {bad[0]!r}")
    if not np.all(np.isfinite(f)):
        raise ValueError("values must be finite (clean failed scores to a floor first)")
    sign = np.array([-1.0 if s == "max" else 1.0 for s in senses])
    return f * sign


def fronts(values: Any, senses: Sequence[str]) -> list[np.ndarray]:
    """The non-dominated fronts of ``values`` [n, k], best first, each an ascending index array (pymoo)."""
    f = _minimized(values, senses)
    if len(f) == 0:
        return []
    sorter, _ = _pymoo()
    return [np.sort(np.asarray(front, dtype=np.int64)) for front in sorter.do(f)]


def rank_and_crowding(values: Any, senses: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Non-domination rank (0 = Pareto front) and crowding distance within its front, per point.

    ``values`` is [n, k] finite scores, ``senses`` a ``"max"``/``"min"`` per
    column. Crowding is pymoo's NSGA-II distance (normalized per objective,
    averaged over objectives); boundary points and fronts of at most two
    points get ``inf``.
    """
    f = _minimized(values, senses)
    ranks = np.zeros(len(f), dtype=np.int64)
    crowding = np.zeros(len(f), dtype=np.float64)
    if len(f) == 0:
        return ranks, crowding
    sorter, crowd = _pymoo()
    for r, front in enumerate(sorter.do(f)):
        front = np.asarray(front, dtype=np.int64)
        ranks[front] = r
        crowding[front] = crowd.do(f[front], n_remove=0)
    return ranks, crowding


def pareto_front(values: Any, senses: Sequence[str]) -> np.ndarray:
    """Indices (ascending) of the non-dominated points of ``values`` [n, k]."""
    found = fronts(values, senses)
    return found[0] if found else np.zeros(0, dtype=np.int64)


def survivors(values: Any, senses: Sequence[str], n: int, ids: Sequence[int] | None = None) -> np.ndarray:
    """Indices (ascending) of the ``n`` points NSGA-II survival keeps.

    Whole fronts in rank order; the first front that does not fit is cut by
    crowding distance, larger first, ties kept by the larger id (``ids``
    defaults to the row index).
    """
    f = np.asarray(values, dtype=np.float64)
    ids = list(range(len(f))) if ids is None else [int(i) for i in ids]
    if len(ids) != len(f):
        raise ValueError(f"{len(ids)} ids for {len(f)} points")
    if n >= len(f):
        return np.arange(len(f), dtype=np.int64)
    _, crowd = _pymoo()
    kept: list[int] = []
    for front in fronts(f, senses):
        if len(kept) + len(front) <= n:
            kept.extend(int(i) for i in front)
            continue
        distance = crowd.do(_minimized(f[front], senses), n_remove=len(kept) + len(front) - n)
        order = sorted(range(len(front)), key=lambda j: (-distance[j], -ids[front[j]]))
        kept.extend(int(front[j]) for j in order[: n - len(kept)])
        break
    return np.array(sorted(kept), dtype=np.int64)


# ---------------------------------------------------------------------------- the searcher


@functools.lru_cache(maxsize=8192)
def _decode(program_json: str) -> Program:
    """Parses a member's JSON; memoized (a pure function) because winners win many times."""
    return decode(program_json)


def _clean(value: Any, floor: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return floor
    return v if math.isfinite(v) else floor


class NSGA2:
    """Ask/tell NSGA-II; the state is a JSON-ready dict.

    State: ``rng`` (numpy bit-generator state), ``population`` (a list of
    ``[id, program_json, [value per objective]]`` in the order members
    joined, values already cleaned to the floors), ``asked`` (fresh programs
    proposed while the population fills).
    """

    def __init__(
        self,
        space: SearchSpace,
        config: NSGA2Config,
        fitness_floor: float = 0.0,
        fresh: FreshProgram | None = None,
    ):
        self.space = space
        self.fresh = default_fresh(space, fresh)
        self.config = config
        self.fitness_floor = float(fitness_floor)
        self.names = tuple(o.name for o in config.objectives)
        self.senses = tuple(o.sense for o in config.objectives)
        self.floors = tuple(self.fitness_floor if o.floor is None else float(o.floor) for o in config.objectives)
        for name, floor in zip(self.names, self.floors):
            if not math.isfinite(floor):
                raise ValueError(f"objective {name!r}: the floor must be finite, got {floor}")

    def init(self, seed: int) -> dict[str, Any]:
        return {"rng": rng_state(np.random.default_rng(seed)), "population": [], "asked": 0}

    def values(self, result: Result) -> list[float]:
        """The result's cleaned value per objective, in config order."""
        objectives: Mapping[str, Any] = result.objectives or {}
        out = []
        for name, floor in zip(self.names, self.floors):
            if name in objectives:
                raw = objectives[name]
            elif name == "fitness":
                raw = result.fitness
            else:
                raw = None
            out.append(_clean(raw, floor))
        return out

    def ask(self, state: dict[str, Any], n: int) -> tuple[list[Proposal], dict[str, Any]]:
        rng = rng_from_state(state)
        population = state["population"]
        asked = state["asked"]
        size = self.config.population_size
        ranks = crowding = None
        proposals = []
        for _ in range(n):
            fresh, asked = fresh_unless_mutating(self.fresh, rng, len(population), asked, size,
                                                 self.config.mutation_probability)
            if fresh is not None:
                proposals.append(fresh)
                continue
            if ranks is None:
                ranks, crowding = rank_and_crowding([m[2] for m in population], self.senses)
            picks = rng.choice(len(population), size=min(self.config.tournament_size, len(population)), replace=False)
            winner = min(picks, key=lambda k: (ranks[k], -crowding[k], -population[k][0]))
            parent_id, parent_json, _ = population[winner]
            child = mutate(_decode(parent_json), self.space, rng)
            proposals.append(Proposal(child, parent_id))
        return proposals, {**state, "rng": rng_state(rng), "asked": asked}

    def tell(self, state: dict[str, Any], results: Sequence[Result]) -> tuple[dict[str, Any], dict[str, float]]:
        population = list(state["population"])
        for r in results:
            population.append([int(r.id), r.program.to_json(), self.values(r)])
        if len(population) > self.config.population_size:
            keep = survivors([m[2] for m in population], self.senses, self.config.population_size,
                             ids=[m[0] for m in population])
            population = [population[k] for k in keep]
        values = np.array([m[2] for m in population], dtype=np.float64).reshape(len(population), len(self.names))
        metrics: dict[str, float] = {"population": len(population),
                                     "front_size": len(pareto_front(values, self.senses))}
        for j, (name, sense, floor) in enumerate(zip(self.names, self.senses, self.floors)):
            column = values[:, j]
            best = floor if not len(column) else column.max() if sense == "max" else column.min()
            metrics[f"best_{name}"] = float(best)
        return {**state, "population": population}, metrics


register("nsga2", NSGA2Config, NSGA2)
