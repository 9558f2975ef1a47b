"""Ask/tell searchers with explicit, JSON-serializable state."""

from discolab.search import evolution as _evolution  # noqa: F401  (registers)
from discolab.search import guided as _guided  # noqa: F401  (registers)
from discolab.search import nsga2 as _nsga2  # noqa: F401  (registers)
from discolab.search import random_search as _random_search  # noqa: F401  (registers)
from discolab.search.base import Proposal, Result, Searcher, known, make, register
from discolab.search.evolution import RegularizedEvolution, RegularizedEvolutionConfig
from discolab.search.nsga2 import NSGA2, NSGA2Config, Objective, pareto_front, rank_and_crowding, survivors
from discolab.search.random_search import RandomSearch, RandomSearchConfig

__all__ = [
    "NSGA2", "NSGA2Config", "Objective", "Proposal", "RandomSearch", "RandomSearchConfig", "RegularizedEvolution",
    "RegularizedEvolutionConfig", "Result", "Searcher", "known", "make", "pareto_front", "rank_and_crowding",
    "register", "survivors",
]
