"""MetaPG reproduction: the fronts of finished searches and SAC, re-evaluated on fresh seeds.

Reads one or more ``actor_critic`` studies (the search seeds), e.g.::

    for s in 0 1 2; do discolab search examples/metapg_pendulum.toml --seed $s --study studies/metapg-$s.db; done
    .venv/bin/python examples/metapg_reevaluate.py studies/metapg-*.db --seeds 10

For each study it takes the Pareto front (``discolab show`` prints the same)
and keeps the ``--top`` members with the largest performance +
generalizability; these and SAC are re-trained on ``--seeds`` fresh seeds
(not the search's) with the study's own domain settings, in one compiled
call per batch. Reported per candidate: performance, generalizability and
instability with 95% percentile-bootstrap intervals over the seeds (the
instability interval resamples seeds and recomputes the spread), whether it
beats SAC on both performance and generalizability, the change relative to
SAC (the paper's "+x%" figures), and its formulas, with the kind of its
critic loss: SAC's, SAC's plus added terms (the paper's critic
regularization is of this kind) or other. Writes bench/results/metapg_reevaluate.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np

from discolab.domains.actor_critic import ActorCriticDomain, objectives_of
from discolab.graph import Program, ProgramTuple, prune, structural_hash, to_infix
from discolab.report import front as front_lib
from discolab.study import Store, parse_config

ROOT = Path(__file__).resolve().parent.parent
#: Fresh seeds: far from the study's batch seeds.
SEED_BASE = 1_000_003


def bootstrap(perf: np.ndarray, gen: np.ndarray, resamples: int = 10_000, seed: int = 0) -> dict[str, list[float]]:
    """``name -> [value, low, high]``: the three objectives and 95% intervals, resampling seeds."""
    rng = np.random.default_rng(seed)
    n = len(perf)
    idx = rng.integers(0, n, size=(resamples, n))
    stats = {
        "performance": (perf.mean(), perf[idx].mean(1)),
        "generalizability": (gen.mean(), gen[idx].mean(1)),
        "instability": (perf.std() + gen.std(), perf[idx].std(1) + gen[idx].std(1)),
    }
    return {k: [float(v), float(np.percentile(b, 2.5)), float(np.percentile(b, 97.5))] for k, (v, b) in stats.items()}


def critic_kind(candidate: ProgramTuple, domain: ActorCriticDomain) -> str:
    """How the critic loss relates to SAC's: ``sac``, ``sac_plus_terms`` or ``other``.

    ``sac_plus_terms``: SAC's squared Bellman error is a subexpression of the
    critic loss but not all of it, i.e. the loss adds terms around it (the
    paper's critic regularization is of this kind). Structural hashes decide,
    so reordering commutative arguments does not matter.
    """
    space = domain.space.part("critic")
    ours = candidate.parts[1]
    sac_hash = structural_hash(domain.sac.parts[1], space)
    if structural_hash(ours, space) == sac_hash:
        return "sac"
    subexpressions = {structural_hash(Program(ours.nodes[: i + 1]), space) for i in range(len(ours.nodes))}
    return "sac_plus_terms" if sac_hash in subexpressions else "other"


def pick(front: front_lib.Front, top: int) -> list:
    """The ``top`` front members by performance + generalizability, SAC's row and gradient twins left out.

    Losses that differ only by terms without gradient (``0.01 - q_pi`` and
    ``batch_mean(0.5) - q_pi``: constants and stop-gradient inputs) train
    bit-identical agents on the same seeds, so they share their objectives
    exactly; one of each such group is kept.
    """
    ranked = sorted(front.members, key=lambda r: (-(r.objectives["performance"] + r.objectives["generalizability"]),
                                                  r.id))
    sac_ids = {r.id for r in front.references.values()}
    chosen, seen = [], set()
    for r in ranked:
        key = tuple(sorted(r.objectives.items()))
        if r.id in sac_ids or key in seen:
            continue
        seen.add(key)
        chosen.append(r)
    return chosen[:top]


def evaluate(domain: ActorCriticDomain, candidates: Sequence[ProgramTuple], seeds: int, seed: int) -> dict:
    """Per candidate, per-seed normalized performance and generalizability on ``seeds`` fresh seeds."""
    config = domain.config.model_copy(update={"seeds": seeds, "program_batch": len(candidates)})
    fresh = ActorCriticDomain(config)
    m = fresh.train(list(candidates), seed=seed)
    with np.errstate(all="ignore"):
        perf = np.asarray(fresh.env_spec.normalize(m["final_return"]))
        gen = np.asarray(fresh.env_spec.normalize(m["eval_returns"])).mean(-1)
    return {"perf": perf, "gen": gen, "finite": m["finite"].all(-1), "final_return": m["final_return"],
            "eval_returns": m["eval_returns"]}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("studies", nargs="+", type=Path)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--top", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "metapg_reevaluate.json")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    report: dict = {"command": " ".join(["python", *sys.argv]), "device": jax.devices()[0].device_kind,
                    "platform": platform.platform(), "jax": jax.__version__,
                    "date": time.strftime("%Y-%m-%d"), "seeds": args.seeds, "studies": []}
    for k, path in enumerate(args.studies):
        with Store.open(path, readonly=True) as store:
            config = parse_config(store.config())
            front = front_lib.pareto(store)
            counts = store.counts()
        domain = config.make_domain()
        chosen = pick(front, args.top)
        candidates = [domain.sac] + [r.program for r in chosen]
        names = ["sac"] + [f"#{r.id}" for r in chosen]
        result = evaluate(domain, candidates, args.seeds, seed=SEED_BASE + k)
        rows = []
        sac_stats = None
        for i, (name, cand) in enumerate(zip(names, candidates)):
            stats = bootstrap(result["perf"][i], result["gen"][i])
            if i == 0:
                sac_stats = stats
            rows.append({
                "name": name, "formula": to_infix(prune(cand, domain.space), domain.space),
                "struct_hash": structural_hash(cand, domain.space), "finite": bool(result["finite"][i]),
                **stats,
                "search_objectives": (dict(chosen[i - 1].objectives) if i else None),
                "per_seed_performance": result["perf"][i].tolist(),
                "per_seed_generalizability": result["gen"][i].tolist(),
                "critic": critic_kind(cand, domain),
            })
        for row in rows[1:]:
            row["vs_sac"] = {
                "performance_pct": 100 * (row["performance"][0] / sac_stats["performance"][0] - 1),
                "generalizability_pct": 100 * (row["generalizability"][0] / sac_stats["generalizability"][0] - 1),
                "instability_pct": 100 * (row["instability"][0] / sac_stats["instability"][0] - 1),
                "beats_on_both": (row["performance"][0] > sac_stats["performance"][0]
                                  and row["generalizability"][0] > sac_stats["generalizability"][0]),
                "beats_with_less_spread": (row["performance"][0] > sac_stats["performance"][0]
                                           and row["generalizability"][0] > sac_stats["generalizability"][0]
                                           and row["instability"][0] < sac_stats["instability"][0]),
            }
        report["studies"].append({"study": str(path), "evaluated": counts.evaluated, "front_size": len(front.members),
                                  "candidates": rows})
        print(f"{path}: front {len(front.members)}, evaluated {counts.evaluated}")
        for row in rows:
            vs = row.get("vs_sac")
            extra = (f"  vs SAC perf {vs['performance_pct']:+.1f}% gen {vs['generalizability_pct']:+.1f}% "
                     f"instab {vs['instability_pct']:+.1f}%") if vs else ""
            print(f"  {row['name']:>6} perf {row['performance'][0]:.3f} [{row['performance'][1]:.3f}, "
                  f"{row['performance'][2]:.3f}] gen {row['generalizability'][0]:.3f} "
                  f"[{row['generalizability'][1]:.3f}, {row['generalizability'][2]:.3f}] "
                  f"instab {row['instability'][0]:.3f} [{row['instability'][1]:.3f}, {row['instability'][2]:.3f}]"
                  f"{extra}")
            print(f"         {row['formula']}")
    report["seconds"] = time.perf_counter() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out} ({report['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
