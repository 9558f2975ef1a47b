"""Training and inference of the program predictors, jitted and batched.

:func:`fit` trains a predictor from scratch on an archive of evaluated
programs: ONE jitted call that runs every optimizer step in ``lax.scan``.
The archive is padded to ``archive_size`` graphs, so training compiles once
per (space, config); pairs (binary) or programs (regression) are drawn inside
the scan with ``jax.random`` from the given seed. The result is a pure
function of ``(programs, fitness, seed, config)`` on a given device, which is
what lets a searcher rebuild it after a resume instead of storing weights.

:meth:`Predictor.compare` scores pairs in batches padded to power-of-two
buckets (:func:`discolab.guide.features.bucket`), so inference compiles a
handful of times per search. Both record their wall seconds
(:attr:`Predictor.seconds`, :attr:`Engine.train_seconds`): the predictor's
compute is part of every wall-clock figure.

Example:
    >>> from discolab.graph import SearchSpace, random_program
    >>> import numpy as np
    >>> space = SearchSpace(inputs=(("x0", "float"),), ops=("add", "mul", "sin"), max_nodes=6)
    >>> rng = np.random.default_rng(0)
    >>> programs = [random_program(space, rng) for _ in range(40)]
    >>> config = PredictorConfig(train_steps=5, pair_batch=8, archive_size=64, dim=8, heads=2)
    >>> predictor = fit(space, config, programs, [float(len(p)) for p in programs], seed=0)
    >>> p = predictor.compare(programs[:3], programs[3:6])
    >>> p.shape, bool(((p >= 0) & (p <= 1)).all())
    ((3,), True)
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Sequence
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax

from discolab.graph import Program, SearchSpace
from discolab.guide.features import Featurizer, GraphBatch, bucket
from discolab.guide.model import PairDiscriminator, ScoreRegressor
from discolab.guide.nearest import NearestPredictor

#: The regression head's score difference is scaled by this before the sigmoid (ranks lie in [0, 1]).
REGRESSION_TEMPERATURE = 0.05


@dataclasses.dataclass(frozen=True)
class PredictorConfig:
    """How a predictor is built and trained (hashable: it keys the compiled functions).

    Attributes:
      kind: ``"binary"`` (pairwise discriminator) or ``"regression"`` (one score per program).
      dim: width of the node states.
      layers: GraphGPS layers.
      heads: attention heads per layer.
      train_steps: optimizer steps per fit (from scratch).
      pair_batch: pairs per step (the regression head sees twice as many programs).
      learning_rate: AdamW step size.
      archive_size: graphs the training archive is padded to (the most programs a fit uses).
      parent_pair_share: share of each binary training batch drawn from the (child, parent) pairs
        given to :func:`fit` (the pairs a screen asks about), when there are any; the rest are
        random pairs of the archive.
      probes: probe points per node (:class:`discolab.guide.features.Featurizer`); 0: off.
      probe_points: each input's ``probes`` probe values (e.g. the domain's own input statistics);
        empty: standard normal.
    """

    kind: Literal["binary", "regression"] = "binary"
    dim: int = 32
    layers: int = 2
    heads: int = 4
    train_steps: int = 200
    pair_batch: int = 64
    learning_rate: float = 2e-3
    archive_size: int = 1024
    parent_pair_share: float = 0.0
    probes: int = 0
    probe_points: tuple[tuple[float, ...], ...] = ()


def _take(graphs: GraphBatch, idx: jax.Array) -> GraphBatch:
    return GraphBatch(*(x[idx] for x in graphs))


class Engine:
    """The jitted train and compare functions of one (space, config); built once, see :func:`engine`."""

    def __init__(self, space: SearchSpace, config: PredictorConfig):
        self.space = space
        self.config = config
        self.featurizer = Featurizer(space, config.probes, config.probe_points)
        f = self.featurizer
        kwargs = dict(n_tokens=f.n_tokens, n_types=f.n_types, dim=config.dim, layers=config.layers, heads=config.heads)
        self.model = PairDiscriminator(**kwargs) if config.kind == "binary" else ScoreRegressor(**kwargs)
        self.optimizer = optax.adamw(config.learning_rate, weight_decay=1e-4)
        self.train = jax.jit(self._train)
        self.logits = jax.jit(self._logits)
        self.train_seconds = 0.0

    def _init(self, key: jax.Array, graphs: GraphBatch):
        one = _take(graphs, jnp.zeros(1, jnp.int32))
        return self.model.init(key, one, one) if self.config.kind == "binary" else self.model.init(key, one)

    def _loss(self, params, graphs: GraphBatch, targets: jax.Array, count: jax.Array, lineage: jax.Array,
              lineage_count: jax.Array, key: jax.Array) -> jax.Array:
        b = self.config.pair_batch
        if self.config.kind == "binary":
            idx = jax.random.randint(key, (2, b), 0, count)
            key_lineage, key_pick, key_flip = (jax.random.fold_in(key, k) for k in (1, 2, 3))
            # A share of the pairs are (child, parent) pairs, in random order: the screen's question.
            pick = jax.random.randint(key_lineage, (b,), 0, jnp.maximum(lineage_count, 1))
            flip = jax.random.bernoulli(key_flip, 0.5, (b,))
            pair = jnp.where(flip[:, None], lineage[pick][:, ::-1], lineage[pick]).T
            use = (jax.random.uniform(key_pick, (b,)) < self.config.parent_pair_share) & (lineage_count > 0)
            idx = jnp.where(use[None, :], pair, idx)
            fa, fb = targets[idx[0]], targets[idx[1]]
            weight = (fa != fb).astype(jnp.float32)  # ties say nothing about the order
            logit = self.model.apply(params, _take(graphs, idx[0]), _take(graphs, idx[1]))
            losses = optax.sigmoid_binary_cross_entropy(logit, (fa > fb).astype(jnp.float32))
            return (losses * weight).sum() / jnp.maximum(weight.sum(), 1.0)
        idx = jax.random.randint(key, (2 * b,), 0, count)
        score = self.model.apply(params, _take(graphs, idx))
        return jnp.mean((score - targets[idx]) ** 2)

    def _train(self, key: jax.Array, graphs: GraphBatch, targets: jax.Array, count: jax.Array, lineage: jax.Array,
               lineage_count: jax.Array):
        # graphs [archive_size, ...], targets [archive_size]; entries past `count` are padding;
        # lineage [archive_size, 2] (child, parent) rows into the archive, rows past `lineage_count` padding.
        key_init, key_steps = jax.random.split(key)
        params = self._init(key_init, graphs)
        opt_state = self.optimizer.init(params)

        def step(carry, k):
            params, opt_state = carry
            loss, grads = jax.value_and_grad(self._loss)(params, graphs, targets, count, lineage, lineage_count, k)
            updates, opt_state = self.optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, _), losses = jax.lax.scan(step, (params, opt_state),
                                           jax.random.split(key_steps, self.config.train_steps))
        return params, losses

    def _logits(self, params, a: GraphBatch, b: GraphBatch) -> jax.Array:
        if self.config.kind == "binary":
            return self.model.apply(params, a, b)
        scores = self.model.apply(params, GraphBatch(*(jnp.concatenate([x, y]) for x, y in zip(a, b))))
        sa, sb = jnp.split(scores, 2)
        return (sa - sb) / REGRESSION_TEMPERATURE


@functools.lru_cache(maxsize=16)
def engine(space: SearchSpace, config: PredictorConfig) -> Engine:
    """The compiled functions of ``(space, config)``, shared by every search in the process."""
    return Engine(space, config)


@dataclasses.dataclass
class Predictor:
    """Trained parameters and their engine; ``compare`` says how likely A beats B.

    Attributes:
      engine: the compiled functions.
      params: the trained parameters.
      final_loss: mean training loss over the last tenth of the steps.
      seconds: wall seconds spent in :meth:`compare` so far.
    """

    engine: Engine
    params: object
    final_loss: float
    seconds: float = 0.0

    def compare(self, a: Sequence[Program], b: Sequence[Program]) -> np.ndarray:
        """``P(a[i] is better than b[i])`` for each pair, ``[len(a)]`` float64, one padded call."""
        if len(a) != len(b):
            raise ValueError(f"compare: {len(a)} programs against {len(b)}")
        if not a:
            return np.zeros(0)
        start = time.perf_counter()
        f = self.engine.featurizer
        size = bucket(len(a))
        logits = self.engine.logits(self.params, f.batch(a, size), f.batch(b, size))
        p = np.asarray(jax.nn.sigmoid(logits), np.float64)[: len(a)]
        self.seconds += time.perf_counter() - start
        return p


def rank_targets(fitness: np.ndarray) -> np.ndarray:
    """Fitness ranks scaled to [0, 1], ties sharing their mean rank (the regression head's target).

    >>> rank_targets(np.array([3.0, 1.0, 1.0, 2.0])).tolist()
    [1.0, 0.16666666666666666, 0.16666666666666666, 0.6666666666666666]
    """
    n = len(fitness)
    if n < 2:
        return np.zeros(n)
    order = np.argsort(fitness, kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(n, dtype=np.float64)
    for value in np.unique(fitness):  # ties share their mean rank
        same = fitness == value
        ranks[same] = ranks[same].mean()
    return ranks / (n - 1)


def lineage_rows(lineage: Sequence[tuple[int, int]], dropped: int, n: int, limit: int) -> np.ndarray:
    """``(child, parent)`` pairs re-indexed after the oldest ``dropped`` of ``n`` programs are cut.

    Pairs that touch a cut program or an index past ``n`` are left out; at most
    ``limit`` (the newest) are kept. Returns ``[k, 2]`` int32.

    >>> lineage_rows([(1, 0), (3, 1), (4, 2)], dropped=2, n=5, limit=8).tolist()
    [[2, 0]]
    """
    rows = [(c - dropped, p - dropped) for c, p in lineage if min(c, p) >= dropped and max(c, p) < n]
    return np.array(rows[-limit:] if limit else [], np.int32).reshape(-1, 2)


def fit(space: SearchSpace, config: PredictorConfig, programs: Sequence[Program], fitness: Sequence[float],
        seed: int, lineage: Sequence[tuple[int, int]] = ()) -> Predictor:
    """Trains a predictor from scratch on the newest ``config.archive_size`` programs.

    Args:
      space: the programs' space.
      config: architecture and training settings.
      programs: evaluated programs, oldest first.
      fitness: their finite fitness (higher is better).
      seed: the training seed; the result is a pure function of the arguments.
      lineage: ``(child, parent)`` index pairs into ``programs``: a ``config.parent_pair_share``
        of each binary training batch is drawn from them (pairs touching a dropped, older
        program are ignored).

    Returns:
      The trained :class:`Predictor`.
    """
    if len(programs) != len(fitness):
        raise ValueError(f"fit: {len(programs)} programs but {len(fitness)} fitness values")
    if len(programs) < 2:
        raise ValueError("fit: needs at least two programs")
    dropped = max(0, len(programs) - config.archive_size)
    rows = lineage_rows(lineage, dropped, len(programs), config.archive_size)
    programs, fitness = list(programs)[dropped:], np.asarray(fitness, np.float64)[dropped:]
    if not np.isfinite(fitness).all():
        raise ValueError("fit: fitness must be finite (failed programs count as the floor)")
    e = engine(space, config)
    start = time.perf_counter()
    graphs = e.featurizer.batch(programs, config.archive_size)
    targets = np.zeros(config.archive_size, np.float32)
    targets[: len(programs)] = rank_targets(fitness) if config.kind == "regression" else fitness
    padded = np.zeros((config.archive_size, 2), np.int32)
    padded[: len(rows)] = rows
    params, losses = e.train(jax.random.key(seed), graphs, targets, jnp.int32(len(programs)), padded,
                             jnp.int32(len(rows)))
    losses = np.asarray(losses)
    e.train_seconds += time.perf_counter() - start
    tail = losses[-max(1, len(losses) // 10):]
    return Predictor(e, params, float(tail.mean()))


def pair_accuracy(predictor: Predictor | NearestPredictor, programs: Sequence[Program], fitness: Sequence[float],
                  rng: np.random.Generator, max_pairs: int = 1024) -> tuple[float, int]:
    """Share of pairs of unequal fitness whose order the predictor gets right, and the pair count.

    Pairs are all ``i < j`` with ``fitness[i] != fitness[j]``, or ``max_pairs``
    of them drawn by ``rng`` when there are more. Returns ``(nan, 0)`` with no pair.
    """
    f = np.asarray(fitness, np.float64)
    i, j = np.triu_indices(len(f), k=1)
    keep = f[i] != f[j]
    i, j = i[keep], j[keep]
    if len(i) == 0:
        return float("nan"), 0
    if len(i) > max_pairs:
        pick = np.sort(rng.choice(len(i), size=max_pairs, replace=False))
        i, j = i[pick], j[pick]
    p = predictor.compare([programs[k] for k in i], [programs[k] for k in j])
    return float(np.mean((p > 0.5) == (f[i] > f[j]))), len(i)
