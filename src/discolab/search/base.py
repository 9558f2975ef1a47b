"""The ask/tell searcher protocol and its registry.

Searchers keep all their state, RNG included, in a value that serializes to
JSON, so a study can store it after every batch and a resumed search asks
exactly what the killed one would have asked.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pydantic

from discolab.graph import Program, SearchSpace, random_program


@dataclasses.dataclass(frozen=True)
class Proposal:
    """A program to evaluate and the stored id of the parent it was mutated from."""

    program: Program
    parent_id: int | None = None


@dataclasses.dataclass(frozen=True)
class Result:
    """What the searcher is told about one evaluated proposal.

    ``objectives`` holds the domain's named scores (a multi-objective
    searcher such as NSGA-II reads them; single-objective ones read
    ``fitness`` only).
    """

    id: int
    program: Program
    fitness: float
    objectives: Mapping[str, float] = dataclasses.field(default_factory=dict)


class Searcher(Protocol):
    """Ask/tell search over the programs of one space with explicit state."""

    def init(self, seed: int) -> dict[str, Any]:
        """The initial state (JSON-serializable)."""
        ...

    def ask(self, state: dict[str, Any], n: int) -> tuple[list[Proposal], dict[str, Any]]:
        """Up to ``n`` proposals (at least one) and the new state.

        A searcher may propose fewer than ``n``: guided evolution drops slots
        whose children were all predicted worse. The study loop stores what
        it gets and stops with an error if a searcher proposes nothing.
        """
        ...

    def tell(self, state: dict[str, Any], results: Sequence[Result]) -> tuple[dict[str, Any], dict[str, float]]:
        """The state after learning ``results``, and metrics."""
        ...


def clean_fitness(fitness: float, floor: float) -> float:
    """NaN or infinite fitness counts as the floor: failed runs never win."""
    return float(fitness) if math.isfinite(fitness) else float(floor)


def rng_from_state(state: dict[str, Any]) -> np.random.Generator:
    # A fixed seed, overwritten at once: default_rng() would first read OS entropy (about 1 ms).
    bit_generator = getattr(np.random, state["rng"].get("bit_generator", "PCG64"))(0)
    bit_generator.state = state["rng"]
    return np.random.Generator(bit_generator)


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    return rng.bit_generator.state


#: Draws a fresh program: ``graph.random_program`` by default; a domain may
#: supply its own (Evolving RL's bootstrap mode starts every program from DQN).
FreshProgram = Callable[[np.random.Generator], Program]

#: The domain's functional fingerprint of each program (``graph.fingerprints`` on the domain's own
#: inputs, as the study dedupes): a searcher that screens candidates can skip known functions.
Fingerprint = Callable[[Sequence[Program]], list[str]]

SearcherFactory = Callable[..., Searcher]


@dataclasses.dataclass(frozen=True)
class SearcherEntry:
    config: type[pydantic.BaseModel]
    factory: SearcherFactory
    uses_fingerprint: bool = False


_SEARCHERS: dict[str, SearcherEntry] = {}


def register(name: str, config: type[pydantic.BaseModel], factory: SearcherFactory,
             uses_fingerprint: bool = False) -> None:
    """Registers a searcher ``factory(space, config, fitness_floor, fresh=None)``; names are unique.

    With ``uses_fingerprint`` the factory also takes ``fingerprint=`` (a :data:`Fingerprint` or None)
    and ``inputs=`` (the inputs that fingerprint runs programs on, by input name, or None).
    """
    if name in _SEARCHERS:
        raise ValueError(f"searcher {name!r} is already registered")
    _SEARCHERS[name] = SearcherEntry(config, factory, uses_fingerprint)


def entry(name: str) -> SearcherEntry:
    try:
        return _SEARCHERS[name]
    except KeyError:
        raise KeyError(f"unknown searcher {name!r}; known: {', '.join(sorted(_SEARCHERS))}") from None


def known() -> tuple[str, ...]:
    return tuple(sorted(_SEARCHERS))


def make(
    name: str, space: SearchSpace, config: Any = None, fitness_floor: float = 0.0, fresh: FreshProgram | None = None,
    fingerprint: Fingerprint | None = None, inputs: Mapping[str, np.ndarray] | None = None,
) -> Searcher:
    """Builds a registered searcher; ``fresh`` replaces ``graph.random_program`` for new programs.

    ``fingerprint`` and its ``inputs`` reach only searchers registered with ``uses_fingerprint``
    (the others never look at a program's function before it is evaluated).
    """
    e = entry(name)
    if not isinstance(config, pydantic.BaseModel):
        config = e.config.model_validate(dict(config or {}))
    if e.uses_fingerprint:
        return e.factory(space, config, fitness_floor, fresh=fresh, fingerprint=fingerprint, inputs=inputs)
    return e.factory(space, config, fitness_floor, fresh=fresh)


def default_fresh(space: SearchSpace, fresh: FreshProgram | None) -> FreshProgram:
    """``fresh``, or uniform random programs of ``space``."""
    return fresh if fresh is not None else functools.partial(random_program, space)


def fresh_unless_mutating(fresh: FreshProgram, rng: np.random.Generator, population: int, asked: int,
                          population_size: int, mutation_probability: float) -> tuple[Proposal | None, int]:
    """The first steps of an evolutionary ask for one slot, shared by the evolutionary searchers.

    Fills the initial population with fresh programs, then draws a fresh one
    with probability ``1 - mutation_probability``. Returns the fresh proposal
    (or None: mutate a selected parent) and the updated count of initial asks.
    """
    if asked < population_size and population < population_size:
        return Proposal(fresh(rng)), asked + 1
    if not population or rng.random() >= mutation_probability:  # no population yet: nothing to mutate
        return Proposal(fresh(rng)), asked
    return None, asked
