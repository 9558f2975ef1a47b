"""A scikit-learn style facade over a regression study (after PySR's ``PySRRegressor``).

``SymbolicRegressor(...).fit(X, y)`` runs a real, persistent study (the same
loop, store and dedupe as ``discolab search``) and exposes the result as a
table, a prediction function, a sympy expression and Python/JAX source.

>>> import numpy as np
>>> X = np.linspace(-1, 1, 64).reshape(-1, 1)
>>> reg = SymbolicRegressor(ops=("add", "mul"), max_nodes=4, evaluations=200, population_size=40,
...                         tournament_size=5, batch_size=50).fit(X, X[:, 0] * X[:, 0] + X[:, 0])
>>> reg.results_[0]["nrmse_test"] < 1e-6
True
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from discolab.graph import Program, SearchSpace, interpret, prune, to_infix, to_source, to_sympy
from discolab.study import Store, create_study, parse_config, run_study

DEFAULT_OPS = ("add", "sub", "mul", "div", "sin", "cos", "exp", "log")


class SymbolicRegressor:
    """Finds a formula ``y ~ f(X)`` by regularized evolution over typed programs.

    Args:
      ops: the allowed ops (names from ``discolab.graph.ops``).
      constants: fixed constants a formula may use.
      max_nodes: the most op nodes in a formula.
      evaluations: formulas to evaluate (duplicates reuse a score and do not count).
      batch_size: formulas per compiled call and per store transaction.
      population_size, tournament_size, mutation_probability, crossover_probability:
        regularized evolution (crossover is off by default, as in the paper).
      test_fraction: share of rows held out; the fitness is scored on them.
      seed: seed of the search and of the train/test split.
      engine: the study loop, ``"programs"`` or ``"arrays"`` (the batch as integer arrays, several
        times less host time per formula; no crossover).
      study: the study file to write (default: a fresh temporary folder). The data
        is saved beside it as ``<study>.csv`` so ``discolab resume`` works on it.
    """

    def __init__(
        self,
        ops: Sequence[str] = DEFAULT_OPS,
        constants: Sequence[float] = (1.0,),
        max_nodes: int = 20,
        evaluations: int = 10_000,
        batch_size: int = 500,
        population_size: int = 300,
        tournament_size: int = 25,
        mutation_probability: float = 0.95,
        crossover_probability: float = 0.0,
        test_fraction: float = 0.25,
        seed: int = 0,
        study: str | Path | None = None,
        engine: str = "programs",
    ):
        self.ops = tuple(ops)
        self.constants = tuple(constants)
        self.max_nodes = max_nodes
        self.evaluations = evaluations
        self.batch_size = batch_size
        self.population_size = population_size
        self.tournament_size = tournament_size
        self.mutation_probability = mutation_probability
        self.crossover_probability = crossover_probability
        self.test_fraction = test_fraction
        self.seed = seed
        self.study = study
        self.engine = engine

    def fit(self, X: np.ndarray, y: np.ndarray, feature_names: Sequence[str] | None = None) -> SymbolicRegressor:
        """Runs the search on rows ``X [n, features]`` and targets ``y [n]``."""
        X = np.asarray(X, np.float64)
        y = np.asarray(y, np.float64).ravel()
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(f"X must be [n, features] with n = len(y); got X {X.shape}, y {y.shape}")
        names = list(feature_names) if feature_names is not None else [f"x{i}" for i in range(X.shape[1])]
        if len(names) != X.shape[1]:
            raise ValueError(f"feature_names has {len(names)} names for {X.shape[1]} columns")
        target = "y" if "y" not in names else "target"
        path = Path(self.study) if self.study is not None else Path(tempfile.mkdtemp(prefix="discolab-")) / "fit.db"
        data = path.with_suffix(".csv")
        data.parent.mkdir(parents=True, exist_ok=True)
        np.savetxt(data, np.column_stack([X, y]), delimiter=",", header=",".join([*names, target]), comments="")
        config = parse_config({
            "study": {"name": "fit", "seed": self.seed, "evaluations": self.evaluations, "batch_size": self.batch_size,
                      "engine": self.engine},
            "domain": {"name": "regression", "csv": str(data), "target": target, "features": names,
                       "test_fraction": self.test_fraction, "ops": list(self.ops), "constants": list(self.constants),
                       "max_nodes": self.max_nodes, "data_seed": self.seed},
            "searcher": {"name": "regularized_evolution", "population_size": self.population_size,
                         "tournament_size": self.tournament_size,
                         "mutation_probability": self.mutation_probability,
                         "crossover_probability": self.crossover_probability},
        })
        create_study(path, config)
        run_study(path)
        with Store.open(path, readonly=True) as store:
            self.space_ = SearchSpace.from_dict(store.space())
            records = store.top(20)
        self.study_ = path
        self.feature_names_ = names
        self.results_ = [
            {"id": r.id, "fitness": r.fitness, **{k: v for k, v in r.objectives.items() if k != "fitness"},
             "nodes": len(prune(r.program, self.space_)), "formula": to_infix(prune(r.program, self.space_), self.space_)}
            for r in records
        ]
        self.program_: Program = prune(records[0].program, self.space_)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "program_"):
            raise RuntimeError("call fit(X, y) first")

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The best formula on rows ``X [n, features]``."""
        self._check_fitted()
        X = np.asarray(X, np.float32)
        inputs = {name: X[:, i] for i, name in enumerate(self.feature_names_)}
        return np.asarray(interpret([self.program_], self.space_, inputs)[0])

    def sympy(self) -> Any:
        """The best formula as a sympy expression (None if an op has no algebraic form)."""
        self._check_fitted()
        return to_sympy(self.program_, self.space_)

    def source(self) -> str:
        """The best formula as a self-contained Python/JAX module defining ``program``."""
        self._check_fitted()
        return to_source(self.program_, self.space_)
