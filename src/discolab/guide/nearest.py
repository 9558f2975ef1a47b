"""A predictor with no training: the archive's scores looked up by what a program computes.

Two programs that compute nearly the same function score nearly the same, whatever
their graphs look like. :func:`fit_nearest` keeps each archive program's output at
fixed probe inputs, scaled to unit length (a rule's overall scale is what a step-size
sweep absorbs), and predicts a program's score as the similarity-weighted mean score of
the ``neighbours`` archive programs whose outputs point most nearly the same way
(cosine similarity; only positive similarities weigh). With ``nearness="value"`` the
outputs keep their scale and offset (``asinh`` of each output, nearest by Euclidean
distance): where a score depends on the values themselves, as a regression's error
does, two formulas pointing the same way can score far apart (a phenotypic k-NN
surrogate, as in surrogate-assisted genetic programming). Not in the paper: a baseline
that tells how much of a learned screen a functional look-up already gives, and a
screen cheap enough to refit after every batch (a fit is a matrix of outputs).

A space of one value type whose ops all have numpy forms (regression, update rules)
runs on the host (:func:`discolab.graph.interpret_host.interpret_host`), with no
compile; any other single-program space (the DQN losses' Q-value lists and actions)
runs through the jitted interpreter at the study's fingerprint inputs.

Example:
    >>> from discolab.graph import Program, SearchSpace
    >>> space = SearchSpace(inputs=(("x0", "float"),), ops=("add", "mul", "sin"), constants=(2.0,), max_nodes=4)
    >>> double = Program.from_nodes([("add", [0, 0])])          # x + x
    >>> sine = Program.from_nodes([("sin", [0])])
    >>> twice = Program.from_nodes([("mul", [1, 0])])           # 2 * x: the same function as x + x
    >>> points = np.linspace(-2.0, 2.0, 16)[None, :]
    >>> predictor = fit_nearest(space, [double, sine], [3.0, 1.0], points)
    >>> predictor.predict([twice]).tolist()
    [3.0]
    >>> bool(predictor.compare([twice], [sine])[0] > 0.5)
    True
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from discolab.graph import Program, SearchSpace, composite
from discolab.graph.fingerprint import program_outputs
from discolab.graph.interpret_host import runs_on_host
from discolab.guide.features import Featurizer

#: Score differences are divided by this share of the archive's score spread before the sigmoid:
#: only the order and the 0.5 threshold matter to a screen, the scale just keeps P readable.
TEMPERATURE_SHARE = 0.1

#: Predicted scores closer than this share of their size are a tie (P = 0.5 exactly): a weighted mean
#: of one neighbour's score can differ from that score in its last bits, and a screen's threshold must
#: not pass or fail a child predicted to equal its parent by rounding.
TIE_TOLERANCE = 1e-9


#: Seeds the extra probe points drawn inside the range of a study's inputs (fixed: a search replays).
PROBE_SEED = 20261128

#: Points a look-up compares outputs at: ``[n_inputs, K]`` values of a one-type space's inputs, or, for
#: any space, a mapping of each input's name to ``K`` samples (a LIST input's are ``[K, actions]``).
Points = np.ndarray | Mapping[str, np.ndarray]

#: How nearness is read: ``direction`` (cosine of the unit outputs; scale-free) or ``value``
#: (Euclidean distance of ``asinh`` outputs; scale and offset count).
Nearness = Literal["direction", "value"]

#: A non-finite output counts as this value before ``asinh`` in ``value`` nearness (NaN as +).
NON_FINITE_VALUE = 1e30


def check_space(space: SearchSpace) -> None:
    """Raises ValueError naming the problem when the look-up cannot read ``space``'s programs."""
    if composite.is_composite(space):
        raise ValueError("predictor 'nearest' compares one program's outputs; a composite space (a tuple of "
                         f"programs per candidate: {', '.join(space.names)}) is not supported")


def probe_points(space: SearchSpace, probes: int, inputs: Mapping[str, np.ndarray] | None) -> Points:
    """The first ``probes`` samples of ``inputs`` (a study passes its fingerprint inputs, the domain's own
    input statistics), else ``probes`` standard-normal points: ``[n_inputs, K]`` for a space the host
    interpreter runs (asked for more than ``inputs`` holds, the rest uniform inside their range), a
    mapping of input name to samples for the others (several value types; at most what ``inputs`` holds)."""
    check_space(space)
    if not runs_on_host(space):
        if inputs is None:
            raise ValueError("predictor 'nearest' on a space of several value types compares outputs at the "
                             "study's fingerprint inputs; none were passed")
        k = min(probes, *(len(np.asarray(inputs[name])) for name, _ in space.inputs))
        return {name: np.asarray(inputs[name])[:k] for name, _ in space.inputs}
    if inputs is None:
        return Featurizer(space, probes).probe_inputs[: len(space.inputs)]
    rows = [np.asarray(inputs[name], np.float64).reshape(-1) for name, _ in space.inputs]
    k = min(probes, *(len(r) for r in rows))
    points = np.stack([r[:k] for r in rows])
    if probes > k:  # more than the study gave: the rest drawn uniformly inside the range of its samples
        rng = np.random.default_rng(PROBE_SEED)
        low, high = points.min(axis=1, keepdims=True), points.max(axis=1, keepdims=True)
        points = np.concatenate([points, low + (high - low) * rng.random((len(rows), probes - k))], axis=1)
    return points


def _as_inputs(space: SearchSpace, points: Points) -> dict[str, np.ndarray]:
    if isinstance(points, Mapping):
        return {name: np.asarray(points[name]) for name, _ in space.inputs}
    return {name: np.asarray(points[k], np.float64) for k, (name, _) in enumerate(space.inputs)}


def _outputs(space: SearchSpace, programs: Sequence[Program], points: Points) -> np.ndarray:
    """``[len(programs), K]`` raw outputs (float64, non-finite kept) at ``points``, flattened."""
    inputs = _as_inputs(space, points)
    if not programs:
        width = int(np.prod(np.asarray(inputs[space.inputs[0][0]]).shape[:1]))
        return np.zeros((0, width))
    with np.errstate(all="ignore"):
        # A jitted batch is padded to a power of two (at least 32): a search compiles a few sizes only.
        size = max(32, 1 << (len(programs) - 1).bit_length())
        return np.asarray(program_outputs(programs, space, inputs, pad_to=size), np.float64).reshape(len(programs), -1)


def values(space: SearchSpace, programs: Sequence[Program], points: Points) -> np.ndarray:
    """``[len(programs), K]``: ``asinh`` of each program's outputs at the points (linear near zero, logarithmic
    far from it, so one huge output does not drown the rest); non-finite outputs count as +-1e30 (NaN as +)."""
    out = np.nan_to_num(_outputs(space, programs, points), nan=NON_FINITE_VALUE, posinf=NON_FINITE_VALUE,
                        neginf=-NON_FINITE_VALUE)
    return np.arcsinh(out)


def directions(space: SearchSpace, programs: Sequence[Program], points: Points) -> np.ndarray:
    """``[len(programs), K]``: each program's output at the points, flattened and scaled to unit length.

    ``points`` is ``[n_inputs, K]`` (the space's inputs in order) or a mapping of input name to
    samples. Non-finite outputs count as zero where NaN and as +-1e30 where infinite; an all-zero
    output stays zero (it is near nothing).
    """
    out = np.nan_to_num(_outputs(space, programs, points), nan=0.0, posinf=1e30, neginf=-1e30)
    out = out / np.abs(out).max(axis=1, keepdims=True).clip(min=1e-300)  # no overflow in the norm
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return np.where(norm > 0, out / np.where(norm > 0, norm, 1.0), 0.0)


@dataclasses.dataclass
class NearestPredictor:
    """Predicted scores and pair probabilities from the archive's outputs; :attr:`seconds` is its time."""

    space: SearchSpace
    points: Points
    archive: np.ndarray  # [N, K] unit outputs (direction) or asinh outputs (value)
    fitness: np.ndarray  # [N]
    neighbours: int
    temperature: float
    nearness: Nearness = "direction"
    seconds: float = 0.0
    final_loss: float | None = None  # nothing is trained

    def predict(self, programs: Sequence[Program]) -> np.ndarray:
        """The similarity-weighted mean score of each program's nearest archive programs."""
        if not programs:
            return np.zeros(0)
        start = time.perf_counter()
        if self.nearness == "value":
            similarity = -self._distances(values(self.space, programs, self.points))
        else:
            similarity = directions(self.space, programs, self.points) @ self.archive.T
        k = min(self.neighbours, similarity.shape[1])
        top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        nearest = np.take_along_axis(similarity, top, axis=1)
        # direction: only positive cosines weigh; value: inverse distance (an exact twin takes all the weight)
        weight = np.maximum(nearest, 0.0) if self.nearness == "direction" else 1.0 / (1e-9 - nearest)
        total = weight.sum(axis=1)
        mean = self.fitness.mean()
        scores = np.where(total > 0, (self.fitness[top] * weight).sum(axis=1) / np.where(total > 0, total, 1.0), mean)
        self.seconds += time.perf_counter() - start
        return scores

    def _distances(self, queries: np.ndarray) -> np.ndarray:
        """``[Q, N]`` Euclidean distances of the queries' asinh outputs to the archive's."""
        squared = (queries**2).sum(1)[:, None] + (self.archive**2).sum(1)[None, :] - 2.0 * queries @ self.archive.T
        return np.sqrt(np.maximum(squared, 0.0))

    def compare(self, a: Sequence[Program], b: Sequence[Program]) -> np.ndarray:
        """``P(a[i] is better than b[i])``: a sigmoid of the predicted score difference."""
        if len(a) != len(b):
            raise ValueError(f"compare: {len(a)} programs against {len(b)}")
        if not a:
            return np.zeros(0)
        both = self.predict(list(a) + list(b))
        ours, theirs = both[: len(a)], both[len(a):]
        difference = ours - theirs
        tie = np.abs(difference) <= TIE_TOLERANCE * np.maximum(np.abs(ours), np.abs(theirs))
        margin = np.where(tie, 0.0, difference) / self.temperature
        return 1.0 / (1.0 + np.exp(-np.clip(margin, -50.0, 50.0)))


def fit_nearest(space: SearchSpace, programs: Sequence[Program], fitness: Sequence[float], points: Points,
                neighbours: int = 1, nearness: Nearness = "direction") -> NearestPredictor:
    """Keeps the archive's outputs at ``points`` (unit directions, or asinh values with ``nearness="value"``)
    and their finite fitness.

    ``points``: ``[n_inputs, K]`` values (a space the host runs), or a mapping of every input's name to
    ``K >= 1`` samples (any space; what :func:`probe_points` gives a space of several value types).
    """
    check_space(space)
    if isinstance(points, Mapping):
        names = [name for name, _ in space.inputs]
        missing = [name for name in names if name not in points]
        counts = {len(np.asarray(points[name])) for name in names if name not in missing}
        if missing or len(counts) != 1 or min(counts) < 1:
            raise ValueError(f"fit_nearest: points must give every input ({names}) the same number >= 1 of "
                             f"samples; missing {missing}, counts {sorted(counts)}")
        points = {name: np.asarray(points[name]) for name in names}
    else:
        points = np.asarray(points, np.float64)
        if points.ndim != 2 or points.shape[0] != len(space.inputs) or points.shape[1] < 1:
            raise ValueError(f"fit_nearest: points must be [n_inputs={len(space.inputs)}, K >= 1], "
                             f"got {points.shape}")
        if not runs_on_host(space):
            raise ValueError("fit_nearest: a space of several value types takes points as a mapping of input "
                             "name to samples (see probe_points)")
    if len(programs) != len(fitness) or not programs:
        raise ValueError(f"fit_nearest: {len(programs)} programs but {len(fitness)} fitness values (need >= 1)")
    if neighbours < 1:
        raise ValueError(f"fit_nearest: neighbours must be >= 1, got {neighbours}")
    if nearness not in ("direction", "value"):
        raise ValueError(f"fit_nearest: nearness must be 'direction' or 'value', got {nearness!r}")
    f = np.asarray(fitness, np.float64)
    if not np.isfinite(f).all():
        raise ValueError("fit_nearest: fitness must be finite (failed programs count as the floor)")
    start = time.perf_counter()
    archive = (values if nearness == "value" else directions)(space, programs, points)
    spread = float(f.std())
    predictor = NearestPredictor(space, points, archive, f, neighbours,
                                 temperature=TEMPERATURE_SHARE * spread if spread > 0 else 1.0, nearness=nearness)
    predictor.seconds = time.perf_counter() - start
    return predictor
