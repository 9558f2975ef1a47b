"""What an RL-DARTS study shows: arm statistics, random-search efficiency and the alphas' story.

Every number here is computed from the store, so ``discolab darts show`` and
the reproduction scripts report the same figures.

- ``arm_stats``: mean final return over seeds with a 95% bootstrap confidence
  interval (percentile, 10,000 resamples, fixed seed).
- ``random_search_to_match``: how many random cells random search must train
  before its best cell matches a target mean return; the expectation over the
  order in which the random cells are drawn, computed exactly from order
  statistics of the stored random arms (no resampling).
- ``alpha_story``: for each kept (edge, op) of the final cell, its softmax
  weight at the first and last update, against the mean weight of the ops
  the cell drops (does DARTS up-weight the operations it keeps?).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from discolab.darts.genotype import Genotype
from discolab.darts.ops import OP_SETS
from discolab.darts.store import ArmRecord, Segment

__all__ = ["AlphaStory", "ArmStats", "alpha_story", "edge_index", "arm_stats", "bootstrap_ci", "random_search_to_match",
           "weights_over_training"]


class ArmStats(NamedTuple):
    name: str
    kind: str
    mean: float
    low: float
    high: float
    seeds: int
    param_count: int
    seconds_per_agent: float


def bootstrap_ci(values: Sequence[float], level: float = 0.95, resamples: int = 10_000,
                 seed: int = 0) -> tuple[float, float, float]:
    """``(mean, low, high)``: the percentile bootstrap interval of the mean; NaN runs count as missing."""
    x = np.asarray([v for v in values if math.isfinite(v)], np.float64)
    if x.size == 0:
        return (math.nan, math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, (resamples, x.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return float(x.mean()), float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def arm_stats(arms: Sequence[ArmRecord]) -> list[ArmStats]:
    out = []
    for arm in arms:
        mean, low, high = bootstrap_ci(arm.final_returns)
        agents = max(len(arm.seeds), 1)
        out.append(ArmStats(arm.name, arm.kind, mean, low, high, len(arm.seeds), arm.param_count,
                            arm.run_s / agents))
    return out


def random_search_to_match(random_means: Sequence[float], target: float) -> tuple[float | None, list[float]]:
    """Expected number of random cells drawn (without replacement) until one reaches ``target``.

    Returns ``(expected draws or None when no stored random cell reaches the
    target, P(best of the first k >= target) for k = 1..n)``.
    """
    means = np.asarray([m if math.isfinite(m) else -math.inf for m in random_means])
    n = means.size
    good = int((means >= target).sum())
    # P(none of the first k is good) = C(n - good, k) / C(n, k).
    p_none = [math.comb(n - good, k) / math.comb(n, k) for k in range(1, n + 1)]
    curve = [1.0 - p for p in p_none]
    if good == 0:
        return None, curve
    # E[first good draw] for good successes among n, drawn without replacement.
    return (n + 1) / (good + 1), curve


class AlphaStory(NamedTuple):
    cell: str
    kept: list[tuple[int, str, float, float]]  # (edge, op, first weight, last weight)
    dropped_first: float  # mean weight of every other non-zero (edge, op) at the first update
    dropped_last: float

    @property
    def kept_rose(self) -> int:
        return sum(last > first for _, _, first, last in self.kept)


def weights_over_training(segments: Sequence[Segment], cell: str, seed_index: int = 0) -> np.ndarray:
    """The softmax weights ``[updates, edges, ops]`` of one cell type over the supernet phase."""
    parts = [np.asarray(seg.metrics["tracked"][cell], np.float64)[seed_index] for seg in segments]
    return np.concatenate(parts, axis=0)


def edge_index(node: int, source: int) -> int:
    """DARTS edge order: node i (0-based) has edges from states 0 .. i + 1, laid out node by node."""
    return sum(2 + j for j in range(node)) + source


def alpha_story(segments: Sequence[Segment], genotype: Genotype, seed_index: int = 0) -> list[AlphaStory]:
    ops = OP_SETS[genotype.op_set]
    stories = []
    for cell, edges in (("normal", genotype.normal), ("reduce", genotype.reduce)):
        if "tracked" not in segments[0].metrics or cell not in segments[0].metrics["tracked"]:
            continue
        w = weights_over_training(segments, cell, seed_index)
        kept_mask = np.zeros(w.shape[1:], bool)
        kept = []
        for i, (op, source) in enumerate(edges):
            node = i // 2
            e, o = edge_index(node, source), ops.index(op)
            kept_mask[e, o] = True
            kept.append((e, op, float(w[0, e, o]), float(w[-1, e, o])))
        other = ~kept_mask
        other[:, ops.index("zero")] = False
        stories.append(AlphaStory(cell, kept, float(w[0][other].mean()), float(w[-1][other].mean())))
    return stories


def summary(arms: Sequence[ArmRecord], segments: Sequence[Segment], genotypes: Sequence[Genotype],
            search_seconds: float, search_agents: int) -> dict[str, Any]:
    """Everything ``show`` prints and the reproduction records, as plain data."""
    stats = {s.name: s for s in arm_stats(arms)}
    random_means = [s.mean for s in stats.values() if s.kind == "random"]
    out: dict[str, Any] = {"arms": [s._asdict() for s in stats.values()]}
    darts = [s for s in stats.values() if s.kind == "darts"]
    fixed_agent_s = float(np.mean([s.seconds_per_agent for s in darts])) if darts else math.nan
    out["supernet_seconds_per_agent"] = search_seconds / max(search_agents, 1)
    out["compute_ratio_supernet_to_fixed"] = out["supernet_seconds_per_agent"] / fixed_agent_s if darts else None
    if darts and random_means:
        target = darts[0].mean
        expected, curve = random_search_to_match(random_means, target)
        out["random_to_match"] = {"target": target, "expected_cells": expected, "p_match_by_k": curve,
                                  "random_better": int(sum(m >= target for m in random_means)),
                                  "random_total": len(random_means)}
    baseline = stats.get("baseline")
    if darts and baseline is not None and baseline.mean:
        out["darts_over_baseline"] = darts[0].mean / baseline.mean if baseline.mean > 0 else None
    if segments and genotypes:
        out["alpha_story"] = [
            {"cell": s.cell, "kept": s.kept, "kept_rose": s.kept_rose, "kept_total": len(s.kept),
             "kept_first_mean": float(np.mean([k[2] for k in s.kept])),
             "kept_last_mean": float(np.mean([k[3] for k in s.kept])),
             "uniform": 1.0 / len(OP_SETS[genotypes[0].op_set]),
             "dropped_first": s.dropped_first, "dropped_last": s.dropped_last}
            for s in alpha_story(segments, genotypes[0])
        ]
    return out
