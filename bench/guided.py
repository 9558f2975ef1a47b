"""Guided evolution vs plain regularized evolution: evaluations and wall-clock to a common target.

Usage (the runs quoted in docs/reproductions.md (Guided evolution))::

    nice -n 10 .venv/bin/python bench/guided.py nguyen --seeds 10
    nice -n 10 .venv/bin/python bench/guided.py dqn --seeds 10 --arms re,binary
    taskset -c 0 .venv/bin/python bench/guided.py optimizer --seeds 5 --first-seed 0 --out /tmp/opt_0.json
    taskset -c 1 .venv/bin/python bench/guided.py optimizer --seeds 5 --first-seed 5 --out /tmp/opt_1.json
    .venv/bin/python bench/guided.py merge /tmp/opt_0.json /tmp/opt_1.json --out bench/results/guided_optimizer.json
    .venv/bin/python bench/guided.py plot bench/results/guided_nguyen.json   # figures only

Every run is a real study (config validated, SQLite store in a temp dir, the
study loop's dedupe), one after the other in this process, on study seeds
0..S-1 for every arm: the arms share their initial random population.

Arms: ``re`` (regularized evolution), ``binary`` (guided, GNN pair
discriminator), ``regression`` (guided, GNN score regressor), ``nearest``
(guided, the scores of the archive programs computing the most nearly the same
function: no training; needs ``probes`` in ``--guide``), ``oracle``
(guided, the true score as predictor: an upper bound; its oracle calls are not
counted as evaluations and not in its wall time; it rates a candidate 1, 0.5 or 0 as
it beats, ties or trails its parent, so ``pick = "best"`` and the "best" fallback
take the first such candidate), ``oracle_graded`` (the same, but ratings ordered by
the true score: ``pick = "best"`` takes the truly best candidate, the fallback
the least bad; the upper bound of a best-pick design), ``oracle:A`` (the same with
each answer flipped with probability 1 - A: a predictor of pair accuracy A on
exactly the pairs the screen asks about, mapping accuracy to speedup as the
paper's noisy-oracle ablation does) and ``random`` (guided, coin-flip
predictor). Guided arms wrap the same regularized evolution.

Measures, per arm:

- target: the lower median over seeds of plain RE's final best fitness
  (with 10 seeds, 6 RE runs reach it);
- evaluations to target: per run, the number of evaluated (non-duplicate)
  programs when its best first reaches the target (runs that never do are
  censored: infinite); the speedup is RE's median over the arm's median, with a
  95% bootstrap interval (seeds resampled per arm, the target recomputed);
- wall seconds to target: the study's elapsed time at the end of the batch that
  reached it; everything the study does is inside, the predictor's training and
  inference included. JAX compiles are paid once per process before timing (a
  warm-up run of every arm), as a persistent compilation cache makes them
  one-off; the guide's compile seconds are reported apart.

Writes bench/results/guided_<domain>.json (command, machine, versions, date,
per-run curves and the summary) and figures under docs/figures/guided/.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from bench_support import machine, versions

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
FIGURES = ROOT / "docs" / "figures" / "guided"
ARMS = ("re", "binary", "regression", "nearest", "oracle", "oracle_graded", "random")
ORACLE_SEARCHER = "guided_bench_oracle"
GRADED = "oracle_graded"
SPEEDUP_TARGET_EVALUATIONS = 3.7
SPEEDUP_TARGET_WALL = 2.0

#: The regularized evolution every arm runs (guided arms wrap it).
NGUYEN_RE = {"population_size": 300, "tournament_size": 25, "mutation_probability": 0.95}
OPTIMIZER_RE = {"population_size": 100, "tournament_size": 10, "mutation_probability": 0.95}
DQN_RE = {"population_size": 32, "tournament_size": 6, "mutation_probability": 0.95}


def nguyen_config(problem: str, seed: int, evaluations: int, searcher: dict[str, Any]) -> dict[str, Any]:
    return {
        "study": {"name": f"{problem}-{seed}", "seed": seed, "evaluations": evaluations, "batch_size": 250},
        "domain": {"name": "regression", "problem": problem, "ops": ["add", "sub", "mul", "div", "sin", "cos",
                                                                       "exp", "log"],
                   "constants": [1.0], "max_nodes": 20},
        "searcher": searcher,
    }


#: A deliberately small DQN-loss search (CPU-sized; docs/reproductions.md): CartPole-v0 as the hurdle,
#: Acrobot-v1 for the losses that pass it.
DQN_DOMAIN = {
    "name": "dqn_loss", "mode": "scratch", "train_envs": ["CartPole-v0", "Acrobot-v1"], "hurdle_env": "CartPole-v0",
    "hurdle_threshold": 0.2, "seeds": 1, "env_steps": {"CartPole-v0": 4000, "Acrobot-v1": 4000},
    "hidden": [32, 32], "program_batch": 16, "max_nodes": 12,
    "dqn": {"learning_rate": 3e-3, "num_envs": 8, "buffer_size": 2048, "learning_starts": 256, "target_update": 25},
}


def dqn_config(seed: int, evaluations: int, searcher: dict[str, Any],
               domain: dict[str, Any] | None = None) -> dict[str, Any]:
    """A DQN-loss study; ``domain`` fields replace ``DQN_DOMAIN``'s."""
    return {"study": {"name": f"dqn-{seed}", "seed": seed, "evaluations": evaluations, "batch_size": 16},
            "domain": {**DQN_DOMAIN, **(domain or {})}, "searcher": searcher}


def optimizer_config(seed: int, evaluations: int, searcher: dict[str, Any],
                     domain: dict[str, Any] | None = None) -> dict[str, Any]:
    """An update-rule search (the optimizer domain's defaults); ``domain`` fields replace them."""
    return {"study": {"name": f"optimizer-{seed}", "seed": seed, "evaluations": evaluations, "batch_size": 32},
            "domain": {"name": "optimizer", **(domain or {})}, "searcher": searcher}


def oracle_accuracy(arm: str) -> float | None:
    """The pair accuracy of an ``oracle``, ``oracle_graded`` or ``oracle:A`` arm, None for other arms.

    >>> oracle_accuracy("oracle"), oracle_accuracy("oracle:0.8"), oracle_accuracy("binary")
    (1.0, 0.8, None)
    """
    if arm in ("oracle", GRADED):
        return 1.0
    if arm.startswith("oracle:"):
        accuracy = float(arm.split(":", 1)[1])
        if not 0.5 <= accuracy <= 1.0:
            raise ValueError(f"arm {arm!r}: the oracle's accuracy must lie in [0.5, 1]")
        return accuracy
    return None


def searcher_for(arm: str, base: dict[str, Any], guide_options: dict[str, Any]) -> dict[str, Any]:
    if arm == "re":
        return {"name": "regularized_evolution", **base}
    accuracy = oracle_accuracy(arm)
    predictor = "binary" if accuracy is not None else arm  # oracle arms' searchers are registered by this file
    searcher = {"name": "guided", "base": {"name": "regularized_evolution", **base}, "predictor": predictor,
                **guide_options}
    if accuracy is not None:
        searcher["name"] = f"{ORACLE_SEARCHER}_graded" if arm == GRADED else f"{ORACLE_SEARCHER}_{accuracy:g}"
    return searcher


def register_oracle_searcher(oracle_for: Any, accuracy: float, graded: bool = False) -> None:
    """Registers guided evolution with the true score as predictor, right with probability ``accuracy``.

    Bench only: a study config cannot pass an oracle. A noisy answer is the
    exact one flipped (P -> 1 - P) with probability ``1 - accuracy``, drawn
    from the searcher's own RNG, so runs stay deterministic. ``graded``: the
    rating is ``0.5 + 0.5 d / (1 + |d|)`` of the true score difference ``d``
    (accepts exactly what the plain oracle accepts, but orders the candidates).
    """
    from discolab import search
    from discolab.search.guided import GuidedConfig, GuidedEvolution

    name = f"{ORACLE_SEARCHER}_graded" if graded else f"{ORACLE_SEARCHER}_{accuracy:g}"
    if name in search.known():
        return

    class NoisyOracle(GuidedEvolution):
        def _compare(self, candidates, currents, current_fitness, predictor, rng):  # type: ignore[no-untyped-def]
            p, truth = super()._compare(candidates, currents, current_fitness, predictor, rng)
            if graded:
                d = np.asarray(truth, np.float64) - np.asarray(current_fitness, np.float64)
                p = 0.5 + 0.5 * d / (1.0 + np.abs(d))
            if accuracy < 1.0:
                p = np.where(rng.random(len(p)) < accuracy, p, 1.0 - p)
            return p, truth

    def factory(space: Any, config: GuidedConfig, fitness_floor: float = 0.0, fresh: Any = None,
                fingerprint: Any = None, inputs: Any = None) -> GuidedEvolution:
        config = config.model_copy(update={"predictor": "oracle"})
        return NoisyOracle(space, config, fitness_floor, fresh=fresh, oracle=oracle_for(space), fingerprint=fingerprint)

    search.register(name, GuidedConfig, factory, uses_fingerprint=True)


class Oracle:
    """The true fitness of programs through the domain's stages at a fixed seed; not counted anywhere."""

    def __init__(self, domain: Any):
        self.domain = domain
        self.calls = 0
        self.seconds = 0.0

    def __call__(self, programs: Any) -> list[float]:
        from discolab.study.executor import LocalExecutor, run_stages

        start = time.perf_counter()
        staged = run_stages(self.domain.stages(), list(programs), 0, LocalExecutor(), self.domain.fitness_floor)
        self.calls += len(programs)
        self.seconds += time.perf_counter() - start
        return [e.fitness for e in staged.evaluations]


# ----------------------------------------------------------------------------- one run


def run_one(config_dict: dict[str, Any], workdir: str, oracle: Oracle | None = None) -> dict[str, Any]:
    from discolab.study import create_study, run_study
    from discolab.study.config import parse_config

    config = parse_config(config_dict)
    path = os.path.join(workdir, f"{config.study.name}-{config.searcher.name}-{time.monotonic_ns()}.db")
    batches: list[tuple[int, float, float | None]] = []
    oracle_s0 = oracle.seconds if oracle else 0.0
    cpu0, t0 = time.process_time(), time.perf_counter()
    create_study(path, config)
    created = time.perf_counter() - t0

    def on_batch(p: Any) -> None:
        spent = (oracle.seconds - oracle_s0) if oracle else 0.0  # an oracle is an upper bound, not a cost
        batches.append((p.evaluations, created + p.elapsed - spent, p.best_fitness))

    progress = run_study(path, on_batch=on_batch)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    fitness = [r[0] for r in conn.execute("SELECT fitness FROM programs WHERE duplicate_of IS NULL ORDER BY id")]
    metrics = [(json.loads(m), e) for m, e in conn.execute("SELECT metrics, evaluated FROM batches ORDER BY batch")]
    conn.close()
    best = np.maximum.accumulate(np.asarray(fitness, np.float64)).tolist()
    told, heldout, rejection, guide_s, beats = 0, [], [], 0.0, []
    for m, evaluated in metrics:
        told += evaluated
        if "guide_heldout_accuracy" in m:
            heldout.append((told, m["guide_heldout_accuracy"]))
        if "guide_rejection_rate" in m:
            rejection.append((told, m["guide_rejection_rate"]))
        if "guide_child_beats_parent" in m:
            beats.append((told, m["guide_child_beats_parent"]))
        guide_s += m.get("guide_seconds", 0.0)
    return {
        "seed": config.study.seed, "wall_s": wall - ((oracle.seconds - oracle_s0) if oracle else 0.0), "cpu_s": cpu,
        "evaluations": progress.evaluations, "proposals": progress.proposals, "duplicates": progress.duplicates,
        "final_best": best[-1] if best else None, "best_formula": progress.best_formula,
        "best_curve": best, "batches": batches, "guide_seconds": guide_s,
        "heldout_accuracy": heldout, "rejection_rate": rejection, "child_beats_parent": beats,
        "oracle_calls": oracle.calls if oracle else 0,
    }


# ----------------------------------------------------------------------------- summary


def evals_to(curve: list[float], target: float) -> float:
    """Evaluations when the best first reaches ``target`` (1-based), or inf."""
    arr = np.asarray(curve)
    hit = np.nonzero(arr >= target)[0]
    return float(hit[0] + 1) if len(hit) else math.inf


def wall_to(run: dict[str, Any], target: float) -> float:
    n = evals_to(run["best_curve"], target)
    if math.isinf(n):
        return math.inf
    return next(wall for evaluations, wall, _ in run["batches"] if evaluations >= n)


def target_of(re_runs: list[dict[str, Any]]) -> float:
    return statistics.median_low([r["final_best"] for r in re_runs])


def _median(values: list[float]) -> float:
    return float(np.median(np.asarray(values, np.float64)))  # inf-aware: censored runs sort last


def _ratio(a: float, b: float) -> float:
    if math.isinf(a) and math.isinf(b):
        return math.nan
    return a / b if b > 0 else math.inf


def speedups(re_runs: list[dict], runs: list[dict], rng: np.random.Generator, resamples: int = 2000) -> dict:
    target = target_of(re_runs)
    re_e = [evals_to(r["best_curve"], target) for r in re_runs]
    re_w = [wall_to(r, target) for r in re_runs]
    arm_e = [evals_to(r["best_curve"], target) for r in runs]
    arm_w = [wall_to(r, target) for r in runs]
    boot_e, boot_w = [], []
    for _ in range(resamples):
        a = rng.integers(len(re_runs), size=len(re_runs))
        b = rng.integers(len(runs), size=len(runs))
        t = target_of([re_runs[k] for k in a])
        boot_e.append(_ratio(_median([evals_to(re_runs[k]["best_curve"], t) for k in a]),
                             _median([evals_to(runs[k]["best_curve"], t) for k in b])))
        boot_w.append(_ratio(_median([wall_to(re_runs[k], t) for k in a]), _median([wall_to(runs[k], t) for k in b])))

    def ci(values: list[float]) -> list[float]:
        v = np.asarray([x for x in values if not math.isnan(x)])
        return [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] if len(v) else [math.nan, math.nan]

    return {
        "target": target,
        "reached": int(sum(not math.isinf(x) for x in arm_e)), "runs": len(runs),
        "median_evaluations_to_target": _median(arm_e), "re_median_evaluations_to_target": _median(re_e),
        "median_wall_s_to_target": _median(arm_w), "re_median_wall_s_to_target": _median(re_w),
        "evaluation_speedup": _ratio(_median(re_e), _median(arm_e)), "evaluation_speedup_ci95": ci(boot_e),
        "wall_speedup": _ratio(_median(re_w), _median(arm_w)), "wall_speedup_ci95": ci(boot_w),
        "evaluations_to_target": arm_e, "wall_s_to_target": arm_w,
        "median_final_best": _median([r["final_best"] for r in runs]),
        "median_wall_s": _median([r["wall_s"] for r in runs]),
        "median_guide_seconds": _median([r["guide_seconds"] for r in runs]),
        "median_guide_share_of_wall": _median([r["guide_seconds"] / r["wall_s"] for r in runs]),
        "mean_heldout_accuracy": _mean_metric(runs, "heldout_accuracy"),
        "mean_rejection_rate": _mean_metric(runs, "rejection_rate"),
        "mean_child_beats_parent": _mean_metric(runs, "child_beats_parent"),
        "median_duplicates": _median([r["duplicates"] for r in runs]),
        "median_evaluations_per_proposal": _median([r["evaluations"] / r["proposals"] for r in runs]),
        "early_targets": early_speedups(re_runs, runs),
    }


def early_speedups(re_runs: list[dict], runs: list[dict], shares: tuple[float, ...] = (0.125, 0.25, 0.5)) -> list:
    """Speedups at easier targets: RE's median best after a share of the budget (the curves' early part).

    A reviewer read the paper's gains as early speed rather than a better final program: this says
    whether the arm gets to what RE had early on, sooner. Point estimates only (no interval).
    """
    out = []
    for share in shares:
        budget = max(1, int(len(re_runs[0]["best_curve"]) * share))
        target = statistics.median_low([r["best_curve"][budget - 1] for r in re_runs])
        re_e = [evals_to(r["best_curve"], target) for r in re_runs]
        arm_e = [evals_to(r["best_curve"], target) for r in runs]
        out.append({"re_budget": budget, "target": target, "reached": int(sum(not math.isinf(x) for x in arm_e)),
                    "median_evaluations_to_target": _median(arm_e), "re_median_evaluations_to_target": _median(re_e),
                    "evaluation_speedup": _ratio(_median(re_e), _median(arm_e)),
                    "wall_speedup": _ratio(_median([wall_to(r, target) for r in re_runs]),
                                           _median([wall_to(r, target) for r in runs]))})
    return out


def _mean_metric(runs: list[dict], key: str) -> float | None:
    values = [v for r in runs for _, v in r[key]]
    return float(np.mean(values)) if values else None


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def compact(runs: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Runs with each best-so-far curve stored as its change points ``[[evaluations, best], ...]``."""
    out = {}
    for arm, arm_runs in runs.items():
        out[arm] = []
        for r in arm_runs:
            curve = r["best_curve"]
            steps = [[k + 1, v] for k, v in enumerate(curve) if k == 0 or v != curve[k - 1]]
            out[arm].append({**{k: v for k, v in r.items() if k != "best_curve"}, "best_steps": steps,
                             "curve_length": len(curve)})
    return out


def expand(runs: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Inverse of :func:`compact`."""
    out = {}
    for arm, arm_runs in runs.items():
        out[arm] = []
        for r in arm_runs:
            curve = np.empty(r["curve_length"])
            for (n, v), nxt in zip(r["best_steps"], r["best_steps"][1:] + [[r["curve_length"] + 1, None]]):
                curve[n - 1: nxt[0] - 1] = v
            out[arm].append({**r, "best_curve": curve.tolist()})
    return out


def _from_json(value: Any) -> Any:
    if value == "inf":
        return math.inf
    if isinstance(value, dict):
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


# ----------------------------------------------------------------------------- figures


def plot(result: dict[str, Any], out_dir: Path = FIGURES) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    name = result["domain_label"]
    runs = result["runs"]
    target = result["summary"]["re"]["target"] if "re" in result["summary"] else None
    written = []
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    for arm, arm_runs in runs.items():
        n = min(len(r["best_curve"]) for r in arm_runs)
        curves = np.asarray([r["best_curve"][:n] for r in arm_runs])
        x = np.arange(1, n + 1)
        med = np.median(curves, axis=0)
        axes[0].plot(x, med, label=arm)
        axes[0].fill_between(x, np.percentile(curves, 25, axis=0), np.percentile(curves, 75, axis=0), alpha=0.15)
        grid = np.linspace(0, max(r["batches"][-1][1] for r in arm_runs), 200)
        walls = []
        for r in arm_runs:
            t = np.asarray([b[1] for b in r["batches"]])
            v = np.asarray([b[2] if b[2] is not None else np.nan for b in r["batches"]], np.float64)
            idx = np.searchsorted(t, grid, side="right") - 1
            walls.append(np.where(idx >= 0, v[np.clip(idx, 0, None)], np.nan))
        walls = np.asarray(walls)
        axes[1].plot(grid, np.nanmedian(walls, axis=0), label=arm)
        acc = [(e, a) for r in arm_runs for e, a in r["heldout_accuracy"]]
        if acc:
            e, a = np.asarray(acc).T
            bins = np.linspace(0, e.max(), 11)
            which = np.digitize(e, bins)
            xs = [e[which == k].mean() for k in np.unique(which)]
            ys = [a[which == k].mean() for k in np.unique(which)]
            axes[2].plot(xs, ys, marker="o", label=arm)
    for ax, xlabel in zip(axes[:2], ("evaluations", "wall seconds (predictor included)")):
        ax.set_xlabel(xlabel)
        ax.set_ylabel("best fitness (median over seeds)")
        if target is not None:
            ax.axhline(target, color="grey", ls=":", lw=1, label="target (RE median final)")
        ax.legend()
    axes[0].set_xscale("log")
    axes[2].set_xlabel("evaluations")
    axes[2].set_ylabel("held-out pair accuracy (mean over seeds)")
    axes[2].axhline(0.5, color="grey", ls=":", lw=1)
    axes[2].legend()
    fig.suptitle(f"guided evolution, {name}: {len(next(iter(runs.values())))} seeds per arm")
    fig.tight_layout()
    path = out_dir / f"{result['domain']}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path))
    return written


# ----------------------------------------------------------------------------- main


def _setting(result: dict[str, Any]) -> list[Any]:
    """What the runs of two result files must share to be merged: budget, options, domain and batch size."""
    example = result["study_config_example"]
    return [result[k] for k in ("domain", "evaluations", "guide_options", "regularized_evolution")] + \
        [example["domain"], example["study"]["batch_size"]]


def merge(paths: list[Path], out: Path | None, figures: Path | None = None) -> int:
    """Joins the runs of several result files of one setting (seeds or arms split over processes) and re-summarizes.

    Parts may hold different arms (one process per arm and seed); a seed run
    twice in one arm is an error, as it would count twice.
    """
    parts = [_from_json(json.loads(p.read_text())) for p in paths]
    first = parts[0]
    for p, part in zip(paths, parts):
        if _setting(part) != _setting(first):
            raise SystemExit(f"merge: {p} ran another setting than {paths[0]}")
    arms = sorted(dict.fromkeys(arm for part in parts for arm in part["arms"]), key=lambda arm: arm != "re")
    runs = {arm: sorted((r for part in parts for r in expand(part["runs"]).get(arm, [])), key=lambda r: r["seed"])
            for arm in arms}
    for arm, arm_runs in runs.items():
        repeated = sorted(seed for seed, count in Counter(r["seed"] for r in arm_runs).items() if count > 1)
        if repeated:
            raise SystemExit(f"merge: arm {arm!r} has seed(s) {repeated} in more than one part")
    rng = np.random.default_rng(0)
    summary = {arm: speedups(runs["re"], runs[arm], rng) for arm in runs} if "re" in runs else {}
    result = {**first, "command": [part["command"] for part in parts], "date": [part["date"] for part in parts],
              "machine": [part["machine"] for part in parts], "total_s": [part["total_s"] for part in parts],
              "arms": arms, "seeds": max(len(arm_runs) for arm_runs in runs.values()), "summary": summary,
              "runs": runs,
              "merged_from": [str(p) for p in paths]}
    out = out or RESULTS / f"{first['domain']}.json"
    result["figures"] = plot(result, figures or (FIGURES if out.resolve().parent == RESULTS else out.parent))
    out.write_text(json.dumps(_json_safe({**result, "runs": compact(runs)}), indent=1))
    _print_summary(summary)
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("domain", choices=("nguyen", "optimizer", "dqn", "plot", "merge"))
    parser.add_argument("result", nargs="*", help="plot: the results JSON to draw; merge: the JSONs to join")
    parser.add_argument("--problem", default="nguyen-4", help="Nguyen problem (default nguyen-4)")
    parser.add_argument("--seeds", type=int, default=10, help="study seeds 0..N-1 per arm (default 10)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="start at this seed (split the seeds over processes, then `merge` the JSONs)")
    parser.add_argument("--evaluations", type=int, default=None,
                        help="evaluated programs per run (default: nguyen 4000, optimizer 2000, dqn 192)")
    parser.add_argument("--arms", default=None,
                        help=f"comma-separated arms of {ARMS} (default: nguyen all, dqn re,binary)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="programs per study batch, every arm (default: nguyen 250, optimizer 32, dqn 16)")
    parser.add_argument("--guide", default="{}", help="JSON of extra guided options (e.g. '{\"max_tries\": 8}')")
    parser.add_argument("--dqn-domain", default="{}",
                        help="dqn: JSON of domain fields that replace the small default's (e.g. "
                             "'{\"mode\": \"bootstrap\"}')")
    parser.add_argument("--optimizer-domain", default="{}",
                        help="optimizer: JSON of domain fields that replace the defaults (e.g. '{\"steps\": 300}')")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--figures", type=Path, default=None,
                        help="folder of the figure (default: docs/figures/guided for outputs under bench/results, "
                             "else the output's folder)")
    args = parser.parse_args(argv)
    if args.domain == "plot":
        result = _from_json(json.loads(Path(args.result[0]).read_text()))
        result["runs"] = expand(result["runs"])
        print("\n".join(plot(result, args.figures or FIGURES)))
        return 0
    if args.domain == "merge":
        return merge([Path(p) for p in args.result], args.out, args.figures)
    arms = (args.arms or ("re,binary,regression,oracle,random" if args.domain == "nguyen" else "re,binary")).split(",")
    for arm in arms:
        try:
            noisy = oracle_accuracy(arm) is not None
        except ValueError as err:
            parser.error(str(err))
        if arm not in ARMS and not noisy:
            parser.error(f"unknown arm {arm!r}; known: {', '.join(ARMS)} and oracle:A (A in [0.5, 1])")
    evaluations = args.evaluations or {"nguyen": 4000, "optimizer": 2000}.get(args.domain, 192)
    if args.domain == "optimizer":
        guide_options = {"min_archive": 200, "retrain_every": 250, "archive_size": 1024, "max_tries": 8,
                         "train_steps": 300, "fill": True}
        domain = json.loads(args.optimizer_domain)
        make = lambda seed, searcher: optimizer_config(seed, evaluations, searcher, domain)  # noqa: E731
        base = OPTIMIZER_RE
        label = "optimizer (teacher MLP, ill-conditioned logistic" + (f"; set: {', '.join(domain)})" if domain else ")")
    elif args.domain == "nguyen":
        guide_options = {"min_archive": 300, "retrain_every": 1000, "archive_size": 1024, "max_tries": 8,
                         "train_steps": 300}
        make = lambda seed, searcher: nguyen_config(args.problem, seed, evaluations, searcher)  # noqa: E731
        base = NGUYEN_RE
        label = args.problem
    else:
        guide_options = {"min_archive": 48, "retrain_every": 48, "archive_size": 512, "max_tries": 8,
                         "train_steps": 300}
        domain = json.loads(args.dqn_domain)
        make = lambda seed, searcher: dqn_config(seed, evaluations, searcher, domain)  # noqa: E731
        base = DQN_RE
        label = "dqn_loss (CartPole-v0 hurdle, Acrobot-v1" + (f"; set: {', '.join(domain)})" if domain else ")")
    guide_options.update(json.loads(args.guide))
    if args.batch_size is not None:
        if args.batch_size < 1:
            parser.error(f"--batch-size must be >= 1, got {args.batch_size}")
        make = _with_batch_size(make, args.batch_size)

    from discolab.study.config import parse_config

    oracle = None
    oracle_arms = {arm for arm in arms if oracle_accuracy(arm) is not None}
    if oracle_arms:
        oracle = Oracle(parse_config(make(0, {"name": "regularized_evolution"})).make_domain())
    for arm in oracle_arms:
        register_oracle_searcher(lambda space: oracle, oracle_accuracy(arm), graded=arm == GRADED)
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.perf_counter()
    runs: dict[str, list[dict[str, Any]]] = {arm: [] for arm in arms}
    warmup_s = {}
    with tempfile.TemporaryDirectory(prefix="discolab-guided-") as workdir:
        for arm in arms:  # every arm once on a short budget, so that no timed run pays a compile
            w0 = time.perf_counter()
            warm = make(10_000, searcher_for(arm, base, guide_options))
            short = guide_options["min_archive"] + 3 * warm["study"]["batch_size"]
            warm["study"]["evaluations"] = min(evaluations, short)
            run_one(warm, workdir, oracle if arm in oracle_arms else None)
            warmup_s[arm] = time.perf_counter() - w0
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for arm in arms:
                run = run_one(make(seed, searcher_for(arm, base, guide_options)), workdir,
                              oracle if arm in oracle_arms else None)
                runs[arm].append(run)
                print(f"seed {seed} {arm:>10}: best {run['final_best']:.6f} wall {run['wall_s']:7.1f}s "
                      f"guide {run['guide_seconds']:6.1f}s evals {run['evaluations']} "
                      f"{run['best_formula']}", flush=True)
    rng = np.random.default_rng(0)
    summary = {arm: speedups(runs["re"], runs[arm], rng) for arm in arms} if "re" in arms else {}
    result = {
        "command": " ".join([sys.executable, *sys.argv]),
        "date": started.isoformat(timespec="seconds"), "total_s": time.perf_counter() - t0,
        "machine": {**machine(), "load_avg": os.getloadavg()},
        "versions": versions(("discolab", "jax", "jaxlib", "flax", "optax", "numpy")),
        "domain": f"guided_{args.domain}", "domain_label": label,
        "evaluations": evaluations, "seeds": args.seeds, "arms": arms,
        "regularized_evolution": base, "guide_options": guide_options, "warmup_s": warmup_s,
        "study_config_example": make(0, searcher_for("binary", base, guide_options)),
        "targets": {"evaluation_speedup": SPEEDUP_TARGET_EVALUATIONS, "wall_speedup": SPEEDUP_TARGET_WALL},
        "summary": summary, "runs": runs,
    }
    out = args.out or RESULTS / f"guided_{args.domain}.json"
    # A trial run (--out elsewhere) leaves the docs' figures alone.
    result["figures"] = plot(result, args.figures or (FIGURES if out.resolve().parent == RESULTS else out.parent))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(_json_safe({**result, "runs": compact(runs)}), indent=1))
    _print_summary(summary)
    print(f"wrote {out}")
    return 0


def _with_batch_size(make: Any, batch_size: int) -> Any:
    """``make`` with every study's batch size replaced."""
    def sized(seed: int, searcher: dict[str, Any]) -> dict[str, Any]:
        config = make(seed, searcher)
        return {**config, "study": {**config["study"], "batch_size": batch_size}}
    return sized


def _print_summary(summary: dict[str, Any]) -> None:
    for arm, s in summary.items():
        print(f"{arm:>10}: reached {s['reached']}/{s['runs']}  evals->target {s['median_evaluations_to_target']}"
              f" (RE {s['re_median_evaluations_to_target']})  speedup {s['evaluation_speedup']:.2f} "
              f"CI {s['evaluation_speedup_ci95']}  wall speedup {s['wall_speedup']:.2f} CI {s['wall_speedup_ci95']}"
              f"  heldout acc {s['mean_heldout_accuracy']}")
        early = "; ".join(f"RE@{e['re_budget']} {e['target']:.4g}: {e['evaluation_speedup']:.2f}x "
                          f"({e['reached']}/{s['runs']})" for e in s.get("early_targets", []))
        if early:
            print(f"{'':>10}  easier targets: {early}")


if __name__ == "__main__":
    sys.exit(main())
