"""The regression domain: find a formula for the Nguyen benchmark or a user's CSV.

A candidate is a formula over the inputs ``x0``, ``x1`` (Nguyen) or the CSV's
feature names. Every batch is scored in one interpreter call on the training
and held-out points together. The ``interpreter`` setting picks which:

- ``numpy`` (:mod:`discolab.graph.interpret_host`): the live nodes only, on
  the host, with no compile. At these sizes (hundreds of formulas on hundreds
  of points) a batch runs as fast as the compiled call, so a search on a CPU
  saves the 0.2-0.4 s compile of each shape (docs/benchmarks.md).
- ``jax`` (:mod:`discolab.graph.interpret_forward`): one jitted call per
  batch, padded to a bucket size (the next power of two, at least 32) so that
  batches of varying size reuse a handful of compiled functions; a batch
  reuses a larger bucket the domain has already compiled, up to
  ``MAX_PAD_FACTOR`` times its own, since a compile costs more than running a
  few hundred padding rows (the outputs do not depend on the padding). For an
  accelerator, or data large enough to pay for the compile.
- ``auto`` (the default): ``numpy`` when JAX runs on the CPU and every op has
  a numpy form, else ``jax``.

The two agree to within float32 rounding (transcendentals differ in the last
bits), so a formula's score can differ in the 7th digit between them.

Scores:

- NRMSE = RMSE / std(y) on each split, each split scaled by its own targets'
  standard deviation (a split whose targets are all equal falls back to the
  std of all targets). ``fitness = 1 / (1 + NRMSE_test)``, maximized, in (0, 1].
- A formula that is non-finite at any point gets status ``non_finite`` and
  fitness 0.0, the floor; a program that breaks the space gets ``invalid``.
  Failed evaluations carry only the ``fitness`` objective.
- ``details["recovered"]`` says whether the formula is the truth; it is
  checked only when ``nrmse_test < 1e-4`` (an exact formula's float32 NRMSE
  is about 1e-7) and is False otherwise.

Exact recovery (Nguyen): the program, run by the interpreter in float64 on a
dense grid (see ``nguyen.grid``), matches the truth within
``recovery_tolerance * max(1, max|truth|)``: one batched float64 run per batch
of candidates (no float32 screen first: with ``jax``, its compile cost more
than the float64 runs it saved).
``simplifies_to`` (sympy simplification of the difference to 0) is available
for reports but not used inside a search: simplify has no time limit and
stalled a search for minutes on one 20-node trigonometric formula.
For CSV data there is no truth: recovered means ``nrmse_test <
recovery_tolerance``.

Config: ``problem`` and ``csv`` are exclusive. Giving ``csv`` alone switches
``problem`` off (its default only applies when no CSV is named); giving both
explicitly is an error, as are the CSV-only fields (``target``, ``features``,
``test_fraction``) set beside a Nguyen problem.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, NamedTuple

import jax
import numpy as np
import pydantic
from pydantic import Field

from discolab.domains import nguyen, tabular
from discolab.domains.base import Evaluation, Stage, Status, check_float_ops
from discolab.domains.registry import register
from discolab.domains.tabular import DataError
from discolab.graph import EncodedPrograms, Program, SearchSpace, ValueType, encode
from discolab.graph.interpret_forward import forward_interpreter
from discolab.graph.interpret_host import interpret_host, missing_host_ops
from discolab.graph.ops import get as get_op
from discolab.graph.program import is_valid

__all__ = [
    "ArrayScores", "DataError", "RegressionConfig", "RegressionDomain", "Split", "bucket_size", "nrmse",
    "simplifies_to",
]

#: Candidates below this held-out NRMSE get the (slow) exact-recovery check.
RECOVERY_CHECK_NRMSE = 1e-4
#: sympy.simplify is tried only on differences with at most this many ops.
SIMPLIFY_MAX_OPS = 40
#: Smallest padded batch; batches pad to the next power of two above it.
MIN_BUCKET = 32
#: A batch pads to an already compiled bucket up to this many times its own bucket.
MAX_PAD_FACTOR = 16
#: Programs per call of the dense-grid recovery check (a fixed shape: one compile).
GRID_CHUNK = 32
#: With the numpy interpreter, every GRID_SCREEN_STRIDE-th grid point screens the candidates first.
GRID_SCREEN_STRIDE = 16
FINGERPRINT_POINTS_PER_VAR = 16
FINGERPRINT_SEED = 20240601
CSV_ONLY_FIELDS = ("target", "features", "test_fraction")

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class RegressionConfig(pydantic.BaseModel, frozen=True, extra="forbid"):
    """Config of the ``regression`` domain (a ``[domain]`` section of a study)."""

    problem: str | None = Field(
        "nguyen-1", description="Nguyen problem, 'nguyen-1' .. 'nguyen-12'; off when `csv` is given."
    )
    csv: str | None = Field(None, description="Path of a numeric CSV with a header row; replaces `problem`.")
    target: str = Field("y", description="CSV column to predict.")
    features: tuple[str, ...] | None = Field(
        None, description="CSV columns used as inputs, in order; default every column but the target."
    )
    test_fraction: float = Field(0.25, gt=0.0, lt=1.0, description="Share of CSV rows held out for scoring.")
    ops: tuple[str, ...] = Field(
        ("add", "sub", "mul", "div", "sin", "cos", "exp", "log"), min_length=1,
        description="Ops a formula may use (see discolab.graph.ops).",
    )
    constants: tuple[FiniteFloat, ...] = Field(
        (1.0,), max_length=64, description="Constants a formula may read."
    )
    max_nodes: int = Field(20, ge=1, le=256, description="Most op nodes in a formula.")
    n_test: int = Field(200, ge=1, le=1_000_000, description="Held-out points drawn for a Nguyen problem.")
    data_seed: int = Field(0, ge=0, description="Seed of the Nguyen points and of the CSV train/test split.")
    recovery_tolerance: float = Field(
        1e-6, gt=0.0, lt=1.0, description="Relative max error under which a formula counts as the truth."
    )
    recovery_check: bool = Field(
        True,
        description=(
            "Check each candidate for exact recovery during the search (`details.recovered`). Off: the "
            "search computes the fitness only, as other symbolic-regression tools do; check a stored "
            "program afterwards with `RegressionDomain.is_recovered`."
        ),
    )

    interpreter: Literal["auto", "numpy", "jax"] = Field(
        "auto",
        description=(
            "Where formulas run: 'numpy' (the live nodes on the host, no compile), 'jax' (one jitted call "
            "per batch: for an accelerator or large data), 'auto' (numpy when JAX runs on the CPU)."
        ),
    )

    @pydantic.field_validator("problem")
    @classmethod
    def _known_problem(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                nguyen.get(value)
            except KeyError as err:
                raise ValueError(err.args[0]) from None
        return value

    @pydantic.field_validator("ops")
    @classmethod
    def _known_ops(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        check_float_ops(value, "regression formulas")
        return value

    @pydantic.model_validator(mode="after")
    def _numpy_forms(self) -> RegressionConfig:
        if self.interpreter == "numpy":
            missing = [name for name in self.ops if get_op(name).host is None]
            if missing:
                raise ValueError(f"interpreter 'numpy': ops {missing} have no numpy form; use 'jax' or 'auto'")
        return self

    @pydantic.model_validator(mode="before")
    @classmethod
    def _csv_replaces_default_problem(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("csv") is not None and "problem" not in data:
            return {**data, "problem": None}
        return data

    @pydantic.model_validator(mode="after")
    def _one_source(self) -> RegressionConfig:
        if (self.problem is None) == (self.csv is None):
            raise ValueError("give exactly one of `problem` (a Nguyen problem) and `csv` (a data file)")
        if self.problem is not None:
            misplaced = [f for f in CSV_ONLY_FIELDS if f in self.model_fields_set]
            if misplaced:
                raise ValueError(f"{', '.join(misplaced)} apply to `csv` data only, not to {self.problem!r}")
        return self


class Split(NamedTuple):
    """One split of the data: float64 inputs by name (each ``[n]``) and the target ``[n]``."""

    inputs: dict[str, np.ndarray]
    target: np.ndarray


def bucket_size(n: int, minimum: int = MIN_BUCKET) -> int:
    """The padded batch size for ``n`` programs: the next power of two, at least ``minimum``.

    >>> bucket_size(3), bucket_size(40)
    (32, 64)
    """
    return max(minimum, 1 << max(n - 1, 0).bit_length())


def nrmse(outputs: np.ndarray, target: np.ndarray, scale: float) -> np.ndarray:
    """RMSE of each row of ``outputs [P, n]`` against ``target [n]``, over ``scale``."""
    with np.errstate(all="ignore"):
        return np.sqrt(np.mean((outputs - target[None]) ** 2, axis=-1)) / scale


def _scale(split_target: np.ndarray, all_targets: np.ndarray) -> float:
    std = float(np.std(split_target))
    return std if std > 0 else float(np.std(all_targets))


class RegressionDomain:
    """Symbolic regression on a Nguyen problem or a CSV file.

    Attributes:
      name: ``"regression"``.
      config: the validated config.
      problem: the Nguyen problem, or None for CSV data.
      variables: input names, in order.
      space: formulas over ``variables``; each must read at least one of them.
      train, test: the data splits (float64).
      truth: the sympy truth (Nguyen), or None (CSV).
      fitness_floor: 0.0, the fitness of failed candidates.
    """

    name = "regression"
    fitness_floor = 0.0

    def __init__(self, config: RegressionConfig | None = None) -> None:
        config = config or RegressionConfig()
        self.config = config
        if config.problem is not None:
            problem = nguyen.get(config.problem)
            self.problem: nguyen.NguyenProblem | None = problem
            self.variables = problem.variables
            train_x, train_y = nguyen.sample(problem, problem.n_train, config.data_seed, nguyen.TRAIN_STREAM)
            test_x, test_y = nguyen.sample(problem, config.n_test, config.data_seed, nguyen.TEST_STREAM)
            self.truth = nguyen.truth(problem)
            self._grid = nguyen.grid(problem)  # [g, vars]
            self._grid_truth = nguyen.evaluate_truth(problem, self._grid)  # [g]
            box = [(problem.low, problem.high)] * problem.n_vars
        else:
            assert config.csv is not None
            table = tabular.load_csv(config.csv, config.target, config.features)
            self.problem = None
            self.variables = table.features
            train_rows, test_rows = tabular.split(len(table.y), config.test_fraction, config.data_seed)
            train_x, train_y = table.x[train_rows], table.y[train_rows]
            test_x, test_y = table.x[test_rows], table.y[test_rows]
            self.truth = None
            box = [(float(lo), float(hi)) for lo, hi in zip(train_x.min(0), train_x.max(0))]

        self.space = SearchSpace(
            inputs=tuple((v, ValueType.FLOAT) for v in self.variables),
            ops=config.ops,
            constants=config.constants,
            max_nodes=config.max_nodes,
            required_inputs=self.variables,
        )
        self.train = Split({v: train_x[:, i] for i, v in enumerate(self.variables)}, train_y)
        self.test = Split({v: test_x[:, i] for i, v in enumerate(self.variables)}, test_y)
        all_y = np.concatenate([train_y, test_y])
        self._scales = (_scale(train_y, all_y), _scale(test_y, all_y))
        # Train and test points in one array per input: one interpreter call per batch.
        self._inputs = {
            v: np.concatenate([train_x[:, i], test_x[:, i]]).astype(np.float32)  # on the host: a device cast compiles
            for i, v in enumerate(self.variables)
        }
        self._buckets: set[int] = set()  # padded sizes this domain has run (and so compiled)
        self.interpreter = _pick_interpreter(config.interpreter, self.space)
        rng = np.random.default_rng(FINGERPRINT_SEED)
        n = FINGERPRINT_POINTS_PER_VAR * len(self.variables)
        self._fingerprint = {
            v: rng.uniform(lo, hi, n).astype(np.float32) for v, (lo, hi) in zip(self.variables, box)
        }

    def stages(self) -> Sequence[Stage]:
        """One stage: score on the held-out points."""
        return (Stage("heldout", self.evaluate),)

    def fingerprint_inputs(self) -> dict[str, np.ndarray]:
        """Fixed random points inside the data's range: 16 per variable, float32.

        Drawn inside the range, not on [-100, 100], so that formulas which agree
        where the data lives (``sqrt|x|`` and ``exp(log|x| / 2)`` on [0, 4], which
        part ways only for negative x) share a fingerprint.
        """
        return {k: v.copy() for k, v in self._fingerprint.items()}

    def _run(self, programs: Sequence[Program], inputs: Mapping[str, Any], pad_to: int | None = None,
             dead_nodes: bool = True) -> np.ndarray:
        """Outputs ``[len(programs), n]`` of one interpreter call, as float64.

        With ``jax``, the call is bucketed (or padded to ``pad_to``); ``dead_nodes=False`` runs the programs
        pruned: the same outputs in fewer interpreter steps. ``numpy`` runs only the live nodes anyway.
        """
        if self.interpreter == "numpy":
            return np.asarray(interpret_host(self.space, encode(programs, self.space), inputs), np.float64)
        encoded = encode(programs, self.space, pad_to=pad_to or self._bucket(len(programs)), dead_nodes=dead_nodes)
        # Forward only, one value type: the batch-axis interpreter (3x faster than the naive one here, same
        # outputs). Host arrays go to the jitted call as they are: jnp.asarray first would add a transfer.
        out = forward_interpreter(self.space)(encoded, inputs)
        return np.asarray(out, np.float64)[: len(programs)]

    def _bucket(self, n: int) -> int:
        """The padded size for ``n`` programs.

        The smallest bucket this domain ran before that holds them, if at most ``MAX_PAD_FACTOR``
        times their own (a study's smaller batches then cost no compile), else ``bucket_size(n)``.
        """
        own = bucket_size(n)
        size = min((b for b in self._buckets if own <= b <= own * MAX_PAD_FACTOR), default=own)
        self._buckets.add(size)
        return size

    def evaluate(
        self, programs: Sequence[Program], seed: int = 0, previous: Sequence[Evaluation] | None = None
    ) -> list[Evaluation]:
        """Scores ``programs`` in one batched call; returns their evaluations in order.

        ``seed`` and ``previous`` are unused: the data is fixed by ``data_seed``
        and there is a single stage, so a score is a pure function of the program.
        """
        if not programs:
            return []
        start = time.perf_counter()
        valid = [i for i, p in enumerate(programs) if is_valid(p, self.space)]
        results: list[tuple[Status, dict[str, float], bool]] = [
            (Status.INVALID, {"fitness": self.fitness_floor}, False)
        ] * len(programs)
        if valid:
            outputs = self._run([programs[i] for i in valid], self._inputs)  # [V, train + test]
            finite, err_train, err_test = self._errors(outputs)
            close = finite & (err_test < RECOVERY_CHECK_NRMSE) & self.config.recovery_check
            recovered_flags = self.recovery_flags([programs[i] for i in valid], close)
            # As Python floats and bools once (the same values as float(err_test[k]) one by one).
            columns = zip(valid, finite.tolist(), err_test.tolist(), err_train.tolist(), recovered_flags.tolist())
            for i, is_finite, test, train, flag in columns:
                if not is_finite:
                    results[i] = (Status.NON_FINITE, {"fitness": self.fitness_floor}, False)
                    continue
                scores = {"fitness": 1.0 / (1.0 + test), "nrmse_test": test, "nrmse_train": train}
                recovered = flag and (self.problem is not None or test < self.config.recovery_tolerance)
                results[i] = (Status.OK, scores, recovered)
        seconds = (time.perf_counter() - start) / len(programs)
        checked = self.config.recovery_check
        return [
            Evaluation(scores["fitness"], status, scores, {"recovered": recovered} if checked else {}, seconds)
            for status, scores, recovered in results
        ]

    def is_recovered(self, program: Program) -> bool:
        """Whether ``program`` is the truth (Nguyen) or fits the held-out data exactly (CSV)."""
        if not is_valid(program, self.space):
            return False
        if self.problem is None:
            n_train = len(self.train.target)
            outputs = self._run([program], self._inputs)[:, n_train:]
            err = nrmse(outputs, self.test.target, self._scales[1])[0]
            return bool(np.isfinite(err) and err < self.config.recovery_tolerance)
        return bool(self._exact_on_grid([program])[0])

    def _errors(self, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row of ``outputs [P, train + test]``: all finite, NRMSE on train, NRMSE on test."""
        n_train = len(self.train.target)
        finite = np.isfinite(outputs).all(axis=-1)
        err_train = nrmse(outputs[:, :n_train], self.train.target, self._scales[0])
        err_test = nrmse(outputs[:, n_train:], self.test.target, self._scales[1])
        return finite, err_train, err_test

    def array_scorer(self, extra_inputs: Mapping[str, np.ndarray]) -> ArrayScorer:
        """Scores encoded programs (the arrays engine's path) and runs them on ``extra_inputs`` in the same call.

        The scores are those of ``evaluate`` (the same interpreter on the same
        points); one compiled call per batch also yields each program's outputs
        on ``extra_inputs`` (the fingerprint points), so a batch costs one call.
        The caller builds valid programs: no validation here.
        """
        n_points = len(self.train.target) + len(self.test.target)
        # Joined on the host: an eager jnp op here would compile a kernel of its own.
        inputs = {v: np.concatenate([self._inputs[v], np.asarray(extra_inputs[v], np.float32)])
                  for v in self.variables}
        if self.interpreter == "numpy":
            def run(encoded: EncodedPrograms, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
                return interpret_host(self.space, encoded, inputs)
        else:
            run = forward_interpreter(self.space)

        def score(encoded: EncodedPrograms, count: int) -> tuple[ArrayScores, np.ndarray]:
            # Padding rows repeat the first program: the host interpreter shares their nodes, at no cost.
            outputs = np.asarray(run(encoded, inputs), np.float64)[:count]
            finite, err_train, err_test = self._errors(outputs[:, :n_points])
            with np.errstate(all="ignore"):
                fitness = np.where(finite, 1.0 / (1.0 + err_test), self.fitness_floor)
            close = finite & (err_test < RECOVERY_CHECK_NRMSE) & self.config.recovery_check
            if self.problem is None:  # CSV data: recovered means within the tolerance (as in evaluate)
                close &= err_test < self.config.recovery_tolerance
            scores = ArrayScores(finite, fitness, err_train, err_test, close, self.config.recovery_check)
            return scores, outputs[:, n_points:]

        return score

    def recovery_flags(self, programs: Sequence[Program], close: np.ndarray) -> np.ndarray:
        """Exact recovery of the programs flagged ``close`` (the others are not recovered)."""
        close = np.asarray(close, bool)
        if self.problem is None or not close.any():
            return close
        flags = close.copy()
        flags[np.flatnonzero(close)] = self._exact_on_grid([p for p, c in zip(programs, close) if c])
        return flags

    def _exact_on_grid(self, programs: Sequence[Program]) -> np.ndarray:
        """Whether each program matches the truth on the dense grid.

        The programs run in float64 (batched calls of GRID_CHUNK) and must
        match within ``recovery_tolerance * max(1, max|truth|)``. Only
        candidates get here (held-out NRMSE below 1e-4), a few dozen per batch
        at most, so a float32 screen first would save little work and cost one
        more compile per search. No sympy on this path: a converged population
        offers hundreds of exact variants per batch, and a sympy build and
        lambdify cost about 8 ms each.
        """
        bound = self.config.recovery_tolerance * max(1.0, float(np.max(np.abs(self._grid_truth))))
        if self.interpreter == "numpy":
            # A screen on a strided subset of the grid first: a miss there is a miss on the grid (the same
            # float64 values at those points), and most near misses show it (two thirds of the candidates
            # of a converged Nguyen-10 search). With no compile to pay, the extra call is free.
            stride, grid = GRID_SCREEN_STRIDE, self._grid_inputs(np.float64)
            screen = {v: x[::stride] for v, x in grid.items()}
            flags = _within(self._run(programs, screen), self._grid_truth[::stride], bound)
            passed = np.flatnonzero(flags)
            if len(passed):
                values = self._run([programs[i] for i in passed], grid)
                flags[passed] = _within(values, self._grid_truth, bound)
            return flags
        with jax.enable_x64(True):
            values = self._run_chunked(programs, self._grid_inputs(np.float64))
        return _within(values, self._grid_truth, bound)

    def _run_chunked(self, programs: Sequence[Program], inputs: Mapping[str, Any]) -> np.ndarray:
        """Like ``_run`` in fixed chunks of GRID_CHUNK programs: one compile per dtype, whatever the count."""
        chunks = [programs[i : i + GRID_CHUNK] for i in range(0, len(programs), GRID_CHUNK)]
        # Pruned: a chunk then takes as many steps as its longest live program (the grid is large).
        return np.concatenate([self._run(chunk, inputs, pad_to=GRID_CHUNK, dead_nodes=False) for chunk in chunks])

    def _grid_inputs(self, dtype: type) -> dict[str, np.ndarray]:
        return {v: self._grid[:, i].astype(dtype) for i, v in enumerate(self.variables)}


def _pick_interpreter(setting: str, space: SearchSpace) -> str:
    """``auto``: numpy on a CPU backend when every op has a numpy form (no compile), else jax."""
    if setting != "auto":
        return setting
    return "numpy" if jax.default_backend() == "cpu" and not missing_host_ops(space) else "jax"


class ArrayScores(NamedTuple):
    """Scores of a batch of encoded programs, one entry per program (see ``array_scorer``)."""

    finite: np.ndarray  # [P] bool: status ok, else non_finite with the floor fitness
    fitness: np.ndarray  # [P] float64: 1 / (1 + nrmse_test), the floor where not finite
    nrmse_train: np.ndarray
    nrmse_test: np.ndarray
    close: np.ndarray  # [P] bool: finite with nrmse_test < RECOVERY_CHECK_NRMSE (check recovery)
    recovery_checked: bool = True  # False: the config's recovery_check is off (no `recovered` detail)


ArrayScorer = Callable[[EncodedPrograms, int], tuple[ArrayScores, np.ndarray]]


def simplifies_to(expr: Any, truth: Any, max_ops: int = SIMPLIFY_MAX_OPS) -> bool:
    """Whether sympy proves ``expr == truth``; False when unproven, too big or sympy fails.

    The op cap bounds the time: simplify can run for minutes on large expressions.

    >>> import sympy
    >>> x = sympy.Symbol("x0", real=True)
    >>> simplifies_to(x * (x + 1), x**2 + x), simplifies_to(sympy.sin(x), x)
    (True, False)
    """
    import sympy

    try:
        diff = expr - truth
        if sympy.count_ops(diff) > max_ops:
            return False
        return bool(sympy.simplify(diff) == 0)
    except Exception:  # noqa: BLE001  (a sympy failure means "not proven")
        return False


def _within(values: np.ndarray, truth: np.ndarray, bound: float) -> np.ndarray:
    """Per row of ``values [n, g]``: max absolute error within ``bound`` (any NaN fails)."""
    with np.errstate(all="ignore"):
        return np.all(np.abs(values - truth) <= bound, axis=-1)


register("regression", RegressionConfig, RegressionDomain)
