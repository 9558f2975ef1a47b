"""Ask/tell searchers with explicit, JSON-serializable state."""

from discolab.search import evolution as _evolution  # noqa: F401  (registers)
from discolab.search import guided as _guided  # noqa: F401  (registers)
from discolab.search import random_search as _random_search  # noqa: F401  (registers)
from discolab.search.base import Proposal, Result, Searcher, known, make, register
from discolab.search.evolution import RegularizedEvolution, RegularizedEvolutionConfig
from discolab.search.random_search import RandomSearch, RandomSearchConfig

__all__ = [
    "Proposal", "RandomSearch", "RandomSearchConfig", "RegularizedEvolution", "RegularizedEvolutionConfig",
    "Result", "Searcher", "known", "make", "register",
]
