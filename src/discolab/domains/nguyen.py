"""The Nguyen symbolic-regression benchmark, generated from its definitions.

Nguyen-1..12 (Uy et al. 2011, "Semantically-based crossover in genetic
programming", as listed in section 3 of PAPERS.md) are the benchmark that
Nguyen-style program search reports on. Nothing is downloaded: each problem
is a sympy truth expression, a sampling range and a training-point count, and
the points are drawn here.

Choices (the original table is from memory; later papers change ranges and
point counts, these are the original ones):

- Variables are named ``x0`` (and ``x1``), the program input names; the
  paper's ``y`` is ``x1``.
- N1-N6: 20 training points uniform in [-1, 1]; N7: 20 in [0, 2]; N8: 20 in
  [0, 4]; N9, N10, N12: 100 points uniform in [-1, 1]^2; N11: 100 in [0, 1]^2.
- Training points come from ``numpy.random.default_rng([data_seed, 0])``,
  held-out points (``n_test``, 200 by default) from ``[data_seed, 1]``: fresh
  points from the same range, so changing ``n_test`` never changes the
  training set.
- Truth values are computed in float64 from the sympy expression itself
  (``lambdify``), so the table has one source of truth.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

#: Seed-stream tags: training and held-out points never share a stream.
TRAIN_STREAM, TEST_STREAM = 0, 1


@dataclasses.dataclass(frozen=True)
class NguyenProblem:
    """One benchmark problem.

    Attributes:
      name: registry key, ``"nguyen-1"`` .. ``"nguyen-12"``.
      formula: the truth in sympy syntax over ``x0`` (and ``x1``).
      n_vars: number of input variables (1 or 2).
      low, high: every variable is drawn uniform in [low, high].
      n_train: training-point count.
    """

    name: str
    formula: str
    n_vars: int
    low: float
    high: float
    n_train: int

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(f"x{i}" for i in range(self.n_vars))


def _p(k: int, formula: str, n_vars: int, low: float, high: float) -> NguyenProblem:
    return NguyenProblem(f"nguyen-{k}", formula, n_vars, low, high, 20 if n_vars == 1 else 100)


PROBLEMS: dict[str, NguyenProblem] = {
    p.name: p
    for p in (
        _p(1, "x0**3 + x0**2 + x0", 1, -1.0, 1.0),
        _p(2, "x0**4 + x0**3 + x0**2 + x0", 1, -1.0, 1.0),
        _p(3, "x0**5 + x0**4 + x0**3 + x0**2 + x0", 1, -1.0, 1.0),
        _p(4, "x0**6 + x0**5 + x0**4 + x0**3 + x0**2 + x0", 1, -1.0, 1.0),
        _p(5, "sin(x0**2)*cos(x0) - 1", 1, -1.0, 1.0),
        _p(6, "sin(x0) + sin(x0 + x0**2)", 1, -1.0, 1.0),
        _p(7, "log(x0 + 1) + log(x0**2 + 1)", 1, 0.0, 2.0),
        _p(8, "sqrt(x0)", 1, 0.0, 4.0),
        _p(9, "sin(x0) + sin(x1**2)", 2, -1.0, 1.0),
        _p(10, "2*sin(x0)*cos(x1)", 2, -1.0, 1.0),
        _p(11, "x0**x1", 2, 0.0, 1.0),
        _p(12, "x0**4 - x0**3 + x1**2/2 - x1", 2, -1.0, 1.0),
    )
}


def get(name: str) -> NguyenProblem:
    """The problem called ``name``; the error lists the known problems.

    >>> get("nguyen-8").formula
    'sqrt(x0)'
    """
    try:
        return PROBLEMS[name]
    except KeyError:
        raise KeyError(f"unknown problem {name!r}; known: {', '.join(PROBLEMS)}") from None


def symbols(n_vars: int) -> tuple[Any, ...]:
    """The sympy symbols ``x0..``, real like those of ``graph.render.to_sympy``.

    Real symbols matter: ``truth - to_sympy(program)`` cancels only when both
    sides use the same symbol objects' assumptions.
    """
    import sympy

    return tuple(sympy.Symbol(f"x{i}", real=True) for i in range(n_vars))


def truth(problem: NguyenProblem) -> Any:
    """The sympy expression of the problem's target function."""
    import sympy

    syms = symbols(problem.n_vars)
    return sympy.sympify(problem.formula, locals={str(s): s for s in syms})


def evaluate_truth(problem: NguyenProblem, points: np.ndarray) -> np.ndarray:
    """Target values in float64 at ``points [n, n_vars]``."""
    import sympy

    fn = sympy.lambdify(symbols(problem.n_vars), truth(problem), "numpy")
    with np.errstate(all="ignore"):
        values = fn(*(points[:, i] for i in range(problem.n_vars)))
    return np.broadcast_to(np.asarray(values, np.float64), points.shape[:1]).copy()


def sample(problem: NguyenProblem, n: int, data_seed: int, stream: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniform in the problem's box and their targets: ``([n, n_vars], [n])``."""
    rng = np.random.default_rng([data_seed, stream])
    points = rng.uniform(problem.low, problem.high, (n, problem.n_vars))
    return points, evaluate_truth(problem, points)


def grid(problem: NguyenProblem, per_axis: int | None = None) -> np.ndarray:
    """A dense check grid ``[n, n_vars]``: 2,000 points in 1-D, 60x60 in 2-D.

    Points sit at the centres of equal cells, so the box's edges (``x = 0``
    for N7, N8, N11), where protected ops and the mathematics part ways
    (``log|0|``, ``0**0``), are never sampled.
    """
    per_axis = per_axis or (2000 if problem.n_vars == 1 else 60)
    step = (problem.high - problem.low) / per_axis
    axis = problem.low + step * (np.arange(per_axis) + 0.5)
    mesh = np.meshgrid(*([axis] * problem.n_vars), indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=-1)
