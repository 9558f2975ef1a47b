"""MetaPG reproduction, second check: the winners of every search and SAC on the SAME fresh seeds, paired.

``examples/metapg_reevaluate.py`` compares each front with SAC on that
study's own 10 fresh seeds. This script takes, from its JSON, every pair that
beat SAC on performance and generalizability with less spread, and trains
them with SAC in one call on ``--seeds`` new seeds shared by all (seed k of
every candidate starts from the same key), then reports each candidate's
paired difference to SAC with a 95% bootstrap interval over seeds::

    .venv/bin/python examples/metapg_pooled.py --seeds 20

Writes bench/results/metapg_pooled.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np

from discolab.domains.actor_critic import ActorCriticDomain
from discolab.graph import prune, to_infix
from discolab.study import Store, parse_config

ROOT = Path(__file__).resolve().parent.parent
SEED = 2_000_003  # far from the searches' and the first re-evaluation's seeds


def paired(diff: np.ndarray, resamples: int = 10_000, seed: int = 0) -> list[float]:
    """``[mean, low, high]`` of a per-seed difference, percentile bootstrap over seeds."""
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(resamples, len(diff)))].mean(1)
    return [float(diff.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--source", type=Path, default=ROOT / "bench" / "results" / "metapg_reevaluate.json")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "metapg_pooled.json")
    args = parser.parse_args()
    start = time.perf_counter()
    source = json.loads(args.source.read_text())
    picks = []  # (label, study path, row id)
    for study in source["studies"]:
        for row in study["candidates"][1:]:
            if row["vs_sac"]["beats_with_less_spread"]:
                picks.append((f"{Path(study['study']).stem} {row['name']}", study["study"], int(row["name"][1:])))
    if not picks:
        print("no candidate beat SAC in the source file")
        return 1
    with Store.open(picks[0][1], readonly=True) as store:
        domain: ActorCriticDomain = parse_config(store.config()).make_domain()
    candidates, labels = [domain.sac], ["sac"]
    for label, path, row_id in picks:
        with Store.open(path, readonly=True) as store:
            candidates.append(store.get(row_id).program)
        labels.append(label)
    config = domain.config.model_copy(update={"seeds": args.seeds, "program_batch": len(candidates)})
    fresh = ActorCriticDomain(config)
    m = fresh.train(candidates, seed=SEED)
    perf = np.asarray(fresh.env_spec.normalize(m["final_return"]))  # [n, S]
    gen = np.asarray(fresh.env_spec.normalize(m["eval_returns"])).mean(-1)  # [n, S]
    rows = []
    for i, (label, cand) in enumerate(zip(labels, candidates)):
        row = {"name": label, "formula": to_infix(prune(cand, domain.space), domain.space),
               "performance": float(perf[i].mean()), "generalizability": float(gen[i].mean()),
               "instability": float(perf[i].std() + gen[i].std()),
               "failed_seeds": int(np.sum(perf[i] < 0.5)), "finite": bool(m["finite"][i].all())}
        if i:
            row["performance_minus_sac"] = paired(perf[i] - perf[0])
            row["generalizability_minus_sac"] = paired(gen[i] - gen[0])
        rows.append(row)
        extra = "" if not i else (
            f"  perf-SAC {row['performance_minus_sac'][0]:+.3f} [{row['performance_minus_sac'][1]:+.3f}, "
            f"{row['performance_minus_sac'][2]:+.3f}]  gen-SAC {row['generalizability_minus_sac'][0]:+.3f} "
            f"[{row['generalizability_minus_sac'][1]:+.3f}, {row['generalizability_minus_sac'][2]:+.3f}]")
        print(f"{label:>22}: perf {row['performance']:.3f} gen {row['generalizability']:.3f} "
              f"instab {row['instability']:.3f} seeds<0.5: {row['failed_seeds']}{extra}")
    report = {"command": " ".join(["python", *sys.argv]), "device": jax.devices()[0].device_kind,
              "jax": jax.__version__, "date": time.strftime("%Y-%m-%d"), "seeds": args.seeds, "seed": SEED,
              "candidates": rows, "seconds": time.perf_counter() - start}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out} ({report['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
