"""Exact-recovery counts per Nguyen problem from stored runs: gplearn against one discolab setting.

gplearn is deterministic per seed, so its runs stored by ``nguyen_gplearn.py``
stand for any later discolab run on the same seeds; this script pairs them
with the runs of ``nguyen_searcher_settings.py`` (or of ``nguyen_gplearn.py``)
seed by seed, and reports per problem the counts over the seeds both sides
ran, and Fisher's exact test of the two rates. Usage::

    .venv/bin/python bench/nguyen_recovery_counts.py \\
        --gplearn bench/results/nguyen_gplearn_10seeds.json bench/results/nguyen_gplearn_seeds10to29.json \\
        --discolab bench/results/nguyen_arrays_p1000_t20_seeds0to29.json

Writes nothing; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scipy.stats import fisher_exact


def recoveries(paths: list[Path], side: str) -> dict[str, dict[int, bool]]:
    """``{problem: {seed: recovered}}`` from result files of either bench script."""
    out: dict[str, dict[int, bool]] = {}
    for path in paths:
        runs = json.loads(path.read_text())["runs"]
        for problem, entry in runs.items():
            rows = entry if isinstance(entry, list) else entry.get(side, [])
            for run in rows:
                out.setdefault(problem, {})[int(run["seed"])] = bool(run["recovered"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gplearn", type=Path, nargs="+", required=True, help="nguyen_gplearn.py result files")
    parser.add_argument("--discolab", type=Path, nargs="+", required=True,
                        help="result files of nguyen_searcher_settings.py or nguyen_gplearn.py (discolab side)")
    args = parser.parse_args(argv)
    gplearn = recoveries(args.gplearn, "gplearn")
    discolab = recoveries(args.discolab, "discolab")
    print("| problem | seeds | gplearn | discolab | Fisher p |")
    print("|---|---|---|---|---|")
    totals = [0, 0, 0]
    for problem in sorted(discolab, key=lambda name: int(name.split("-")[1])):
        seeds = sorted(set(discolab[problem]) & set(gplearn.get(problem, {})))
        if not seeds:
            continue
        g = sum(gplearn[problem][s] for s in seeds)
        d = sum(discolab[problem][s] for s in seeds)
        _, p = fisher_exact([[g, len(seeds) - g], [d, len(seeds) - d]])
        mark = "" if d >= g else " (behind)"
        print(f"| {problem} | {seeds[0]}-{seeds[-1]} ({len(seeds)}) | {g} | {d}{mark} | {p:.2f} |")
        totals = [totals[0] + len(seeds), totals[1] + g, totals[2] + d]
    print(f"| **all** | {totals[0]} runs | {totals[1]} | {totals[2]} | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
