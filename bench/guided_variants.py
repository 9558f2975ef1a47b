"""Variants of the look-up screen on the optimizer search: evaluations to a fixed target, guided arm only.

``bench/guided.py`` reruns plain regularized evolution beside every guided run,
which doubles the cost of a check. Evaluations to a target are a pure function
of the study seed (the searcher and the domain are deterministic), so this
bench reuses the target and RE's evaluations-to-target of a stored 30-seed
result (``--reference``) and runs only the guided arm, on a shorter budget:
it screens ideas, the full bench confirms them. Each variant changes one thing
of the screen of ``bench/guided.py optimizer --arms nearest --guide BASE``:

- ``current``: the screen as it is (a check that the runs replay the reference);
- ``fresh``: parentless programs (RE's initial population) are screened too:
  the best-predicted of ``max_tries`` random programs is proposed;
- ``scaledup``: candidates whose outputs point the same way as an archive
  program's (cosine >= 1 - 1e-6: the same rule up to a positive scale, which
  the step-size sweep mostly absorbs) are rejected like repeats;
- ``trainpoints``: the look-up compares outputs at ``(g, m, v)`` triples seen
  while Adam trains the domain's tasks (real scales: g about 1e-2, v about
  1e-4) instead of the domain's fingerprint inputs;
- ``ensemble``: the look-up's P(child > parent) averaged with a GNN
  discriminator's (probes 16, 300 steps), the GNN refitted every 256
  evaluations on the archive told before then (the best pair offline,
  ``bench/guided_screen.py``);
- ``chain2``: the paper's hill-climbing reading: the first accepted candidate
  becomes the program the next one is screened against, up to 2 accepted
  mutations per slot (``pick = "first"``, ``max_accepted = 2``).

The look-up's variants replay exactly anywhere; ``ensemble`` replays only on
the same number of cores (a GNN fit's float reductions on the CPU depend on
XLA's thread count: seed 3 reached the target at 358 evaluations pinned to
one core, at 344 on two), so pin it to one core as below.

Usage (the runs quoted in docs/reproductions.md, Guided evolution)::

    taskset -c 0 .venv/bin/python bench/guided_variants.py fresh --first-seed 0 --seeds 15 --out /tmp/v_a.json
    taskset -c 1 .venv/bin/python bench/guided_variants.py fresh --first-seed 15 --seeds 15 --out /tmp/v_b.json
    .venv/bin/python bench/guided_variants.py merge /tmp/v_*.json --out bench/results/guided_variants.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_support import machine, versions

import guided as guided_bench

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "bench" / "results" / "guided_optimizer_nearest24_30seeds.json"
#: The look-up screen of the 30-seed reference run.
BASE = {"probes": 48, "min_archive": 32, "retrain_every": 32, "max_tries": 24, "pick": "best", "fallback": "best"}
VARIANTS: dict[str, dict[str, Any]] = {
    "current": {},
    "fresh": {"fresh": True},
    "scaledup": {"scaledup": 1e-6},
    "trainpoints": {"trainpoints": 48},
    "chain2": {"guide": {"pick": "first", "max_accepted": 2}},
    "ensemble": {"ensemble": {"probes": 16, "train_steps": 300}, "ensemble_every": 256},
}


def training_statistics(points: int, seed: int = 0, tasks: tuple[str, ...] = ("teacher_mlp", "ill_conditioned_logistic"),
                        steps: int = 300, learning_rate: float = 0.01, at: tuple[int, ...] = (1, 3, 10, 30, 100, 300),
                        beta1: float = 0.9, beta2: float = 0.999) -> np.ndarray:
    """``[3, points]`` ``(g, m_hat, v_hat)`` triples of single weights while Adam trains the tasks.

    Taken at the steps ``at``, spread evenly over tasks and steps, one weight drawn at random each.
    """
    import jax
    import jax.numpy as jnp
    from jax.flatten_util import ravel_pytree

    from discolab.domains.optimizer_tasks import make_task

    rng = np.random.default_rng([seed, 99])
    snapshots = []
    for name in tasks:
        task = make_task(name, 0)
        flat, unravel = ravel_pytree(jax.tree_util.tree_map(jnp.asarray, task.params))
        x, y = jnp.asarray(task.x), jnp.asarray(task.y)
        rows = np.random.default_rng([task.seed, 3]).integers(0, len(task.x), (steps, task.batch_size))
        grad = jax.jit(jax.grad(lambda f, xb, yb, task=task, unravel=unravel: task.loss(unravel(f), xb, yb)))
        m, v = jnp.zeros_like(flat), jnp.zeros_like(flat)
        for t in range(1, steps + 1):
            g = grad(flat, x[rows[t - 1]], y[rows[t - 1]])
            m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g
            m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
            if t in at:
                snapshots.append(np.stack([np.asarray(g), np.asarray(m_hat), np.asarray(v_hat)]))
            flat = flat - learning_rate * m_hat / (jnp.sqrt(v_hat) + 1e-8)
    columns = [snapshots[j % len(snapshots)][:, rng.integers(snapshots[j % len(snapshots)].shape[1])]
               for j in range(points)]
    return np.stack(columns, axis=1).astype(np.float64)


def guided_screen_base() -> dict[str, Any]:
    """The GNN settings of the optimizer search (``bench/guided_screen.py``'s base)."""
    from guided_screen import BASE_PREDICTOR

    return dict(BASE_PREDICTOR)


class Averaged:
    """Two predictors' P(a > b), averaged; ``final_loss`` is the GNN's."""

    def __init__(self, look: Any, gnn: Any):
        self.look, self.gnn = look, gnn
        self.final_loss = gnn.final_loss

    def compare(self, a: Any, b: Any) -> np.ndarray:
        return (np.asarray(self.look.compare(a, b)) + np.asarray(self.gnn.compare(a, b))) / 2.0


def register_variant(name: str, options: dict[str, Any]) -> str:
    """Registers guided evolution with one screen change (``options``) as searcher ``guided_<name>``."""
    from discolab import guide, search
    from discolab.guide.nearest import directions
    from discolab.search.guided import GuidedConfig, GuidedEvolution, Proposal, _decode, _lineage

    searcher = f"guided_{name}"

    class Variant(GuidedEvolution):
        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self._gnns: dict[str, Any] = {}  # ensemble: GNN fits by (seed, fit point), apart from the look-ups'
            if options.get("trainpoints"):
                self._points = training_statistics(options["trainpoints"])

        def _screen_proposals(self, state, proposals, parents, rng, last_ask, seen, fallback=None):  # type: ignore[no-untyped-def]
            if options.get("fresh") and self._screening(state) and seen is not None:
                predictor = self._predictor(state)
                screened = []
                for p in proposals:
                    if p.parent_id is None:
                        draws = [p.program] + [self.fresh(rng) for _ in range(self.config.max_tries - 1)]
                        draws = [d for d in draws if not seen.repeats(d)] or [p.program]
                        p = Proposal(draws[int(np.argmax(predictor.predict(draws)))])
                    screened.append(p)
                proposals = screened
            return super()._screen_proposals(state, proposals, parents, rng, last_ask, seen, fallback)

        def _predictor(self, state):  # type: ignore[no-untyped-def]
            look = super()._predictor(state)
            if look is None or not options.get("ensemble"):
                return look
            every = options["ensemble_every"]
            gnn_at = state["fit_at"] // every * every
            if gnn_at < every:
                return look
            key = f"{state['seed']}:{gnn_at}"
            if key not in self._gnns:
                start = state["archive_start"]
                entries = state["archive"][max(0, gnn_at - self.config.archive_size - start): gnn_at - start]
                config = guide.PredictorConfig(**{**guided_screen_base(), **options["ensemble"]})
                self._gnns[key] = guide.fit(self.space, config, [_decode(e[1]) for e in entries],
                                            [e[2] for e in entries], state["seed"], _lineage(entries))
            return Averaged(look, self._gnns[key])

        def _compare(self, candidates, currents, current_fitness, predictor, rng):  # type: ignore[no-untyped-def]
            p, truth = super()._compare(candidates, currents, current_fitness, predictor, rng)
            if isinstance(predictor, Averaged):
                predictor = predictor.look
            if predictor is not None and options.get("scaledup"):
                nearest = (directions(self.space, candidates, predictor.points) @ predictor.archive.T).max(axis=1)
                p = np.where(nearest >= 1.0 - options["scaledup"], 0.0, p)
            return p, truth

    def factory(space: Any, config: GuidedConfig, fitness_floor: float = 0.0, fresh: Any = None,
                fingerprint: Any = None, inputs: Any = None) -> GuidedEvolution:
        return Variant(space, config, fitness_floor, fresh=fresh, fingerprint=fingerprint, inputs=inputs)

    if searcher not in search.known():
        search.register(searcher, GuidedConfig, factory, uses_fingerprint=True)
    return searcher


def reference(path: Path) -> tuple[float, dict[int, float], dict[int, float]]:
    """The stored run's target and, per seed, RE's and the look-up's evaluations to it (none where the
    stored run has no look-up arm, e.g. ``guided_optimizer_6000.json``)."""
    stored = json.loads(path.read_text())
    runs = guided_bench.expand(stored["runs"])
    target = stored["summary"]["re"]["target"]
    to = lambda arm: {r["seed"]: guided_bench.evals_to(r["best_curve"], target)  # noqa: E731
                      for r in runs.get(arm, [])}
    return target, to("re"), to("nearest")


def summarize(target: float, re_to: dict[int, float], variant_to: dict[int, float], reference_to: dict[int, float],
              budget: int) -> dict[str, Any]:
    """The variant against the reference look-up on the same seeds, and what 3.7x asks of a median."""
    seeds = sorted(variant_to)
    re_median = float(np.median([re_to[s] for s in re_to]))
    needed = re_median / guided_bench.SPEEDUP_TARGET_EVALUATIONS
    capped = lambda v: v if v <= budget else math.inf  # noqa: E731  (the reference ran 2,000 evaluations)
    variant = [variant_to[s] for s in seeds]
    row = {
        "seeds": seeds, "target": target, "budget": budget, "re_median_all_reference_seeds": re_median,
        "evaluations_for_3.7x": needed, "variant_evaluations_to_target": variant,
        "variant_median": float(np.median(variant)), "variant_speedup": re_median / float(np.median(variant)),
        "variant_within_needed": sum(v <= needed for v in variant),
        "variant_reached": sum(math.isfinite(v) for v in variant),
    }
    if not all(s in reference_to for s in seeds):  # the stored run has no look-up on these seeds
        return {**row, **{f"reference_{k}": None for k in ("evaluations_to_target", "median", "speedup",
                                                            "within_needed", "reached")}}
    ref = [capped(reference_to[s]) for s in seeds]
    return {**row, "reference_evaluations_to_target": ref, "reference_median": float(np.median(ref)),
            "reference_speedup": re_median / float(np.median(ref)),
            "reference_within_needed": sum(v <= needed for v in ref),
            "reference_reached": sum(math.isfinite(v) for v in ref)}


def run(name: str, first_seed: int, seeds: int, budget: int, ref_path: Path) -> dict[str, Any]:
    options = VARIANTS[name]
    searcher_name = register_variant(name, options)
    target, re_to, ref_to = reference(ref_path)
    guide = {**BASE, **options.get("guide", {})}
    out: dict[int, float] = {}
    finals: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="discolab-variants-") as workdir:
        for seed in range(first_seed, first_seed + seeds):
            searcher = {"name": searcher_name, "base": {"name": "regularized_evolution", **guided_bench.OPTIMIZER_RE},
                        "predictor": "nearest", **guide}
            result = guided_bench.run_one(guided_bench.optimizer_config(seed, budget, searcher), workdir)
            out[seed] = guided_bench.evals_to(result["best_curve"], target)
            finals[seed] = result["final_best"]
            print(f"{name} seed {seed}: evaluations to target {out[seed]} (reference {ref_to[seed]}), "
                  f"final best {result['final_best']:.4f}", flush=True)
    return {"variant": name, "options": options, "guide": guide, "final_best": finals,
            **summarize(target, re_to, out, ref_to, budget)}


def _shown(path: Path) -> str:
    """``path`` relative to the repository when inside it (results files name no home folders)."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variant", choices=(*VARIANTS, "merge", "against"))
    parser.add_argument("parts", nargs="*", help="merge: the JSONs to join; against: bench/guided.py results")
    parser.add_argument("--arm", default="oracle", help="against: the arm of the results to score (default oracle)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=15)
    parser.add_argument("--evaluations", type=int, default=1000, help="budget per run (default 1000)")
    parser.add_argument("--reference", type=Path, default=REFERENCE)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.variant == "against":  # runs of bench/guided.py (any budget) scored against the reference's target
        target, re_to, ref_to = reference(args.reference)
        to, finals, budgets = {}, {}, set()
        for path in args.parts:
            stored = guided_bench._from_json(json.loads(Path(path).read_text()))
            budgets.add(stored["evaluations"])
            for r in guided_bench.expand(stored["runs"])[args.arm]:
                to[r["seed"]], finals[r["seed"]] = guided_bench.evals_to(r["best_curve"], target), r["final_best"]
        result = {"command": [" ".join([sys.executable, *sys.argv])],
                  "date": [datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")],
                  "machine": machine(), "versions": versions(("discolab", "jax", "jaxlib", "numpy")),
                  "reference": _shown(args.reference), "scored": [str(p) for p in args.parts],
                  "variants": [{"variant": f"{args.arm} (bench/guided.py)", "final_best": finals,
                                **summarize(target, re_to, to, ref_to, min(budgets))}]}
    elif args.variant == "merge":
        parts = [guided_bench._from_json(json.loads(Path(p).read_text())) for p in args.parts]
        by_variant: dict[str, list[dict[str, Any]]] = {}
        for part in parts:
            for row in part["variants"]:
                by_variant.setdefault(row["variant"], []).append(row)
        target, re_to, ref_to = reference(args.reference)
        merged = []
        for name, rows in by_variant.items():
            to = {int(s): v for row in rows for s, v in zip(row["seeds"], row["variant_evaluations_to_target"])}
            finals = {int(s): v for row in rows for s, v in row["final_best"].items()}
            merged.append({"variant": name, "options": rows[0]["options"], "guide": rows[0]["guide"],
                           "final_best": finals, **summarize(target, re_to, to, ref_to, rows[0]["budget"])})
        result = {**parts[0], "command": [c for p in parts for c in p["command"]],
                  "date": [d for p in parts for d in p["date"]], "variants": merged}
    else:
        started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        t0 = time.perf_counter()
        row = run(args.variant, args.first_seed, args.seeds, args.evaluations, args.reference)
        result = {"command": [" ".join([sys.executable, *sys.argv])], "date": [started],
                  "total_s": time.perf_counter() - t0, "machine": machine(),
                  "versions": versions(("discolab", "jax", "jaxlib", "numpy")),
                  "reference": _shown(args.reference), "variants": [row]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(guided_bench._json_safe(result), indent=1))
    for row in result["variants"]:
        reference_speedup = "none" if row["reference_speedup"] is None else f"{row['reference_speedup']:.2f}x"
        print(f"{row['variant']}: {row['variant_within_needed']}/{len(row['seeds'])} runs within "
              f"{row['evaluations_for_3.7x']:.0f} evaluations (reference {row['reference_within_needed']}), "
              f"reached {row['variant_reached']} (reference {row['reference_reached']}), speedup over RE's "
              f"median {row['variant_speedup']:.2f}x (reference {reference_speedup})")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
