"""discolab alone on Nguyen problems under other searcher settings, judged as in nguyen_gplearn.py.

Choosing settings against gplearn needs only discolab's side: gplearn's runs
are deterministic per seed and already stored in bench/results. This script
runs discolab's study exactly as ``nguyen_gplearn.py`` does (same config, same
exact-recovery test over the 20 best distinct programs) for one searcher
setting and the given seeds, and writes each run's recovery and wall time.
Settings picked here must be confirmed on fresh seeds with both sides
(``nguyen_gplearn.py --population ... --first-seed ...``).

Usage (one half of a run quoted in docs/benchmarks.md, about 20 minutes on one core; the other half
is ``--problems 7,8,9,10,11,12`` into ``..._b.json``)::

    taskset -c 0 .venv/bin/python bench/nguyen_searcher_settings.py --problems 1,2,3,4,5,6 --seeds 30 \\
        --searcher '{"population_size": 1000, "tournament_size": 20}' \\
        --out bench/results/nguyen_p1000_t20_seeds0to29_a.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import time
from pathlib import Path

from bench_support import machine, source_revision, versions, write_result
from nguyen_gplearn import DISCOLAB_SEARCHER, CompileTimer, parse_problems, run_discolab


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", default=",".join(str(k) for k in range(1, 13)),
                        help="comma-separated Nguyen problems, numbers or names (default: 1..12)")
    parser.add_argument("--seeds", type=int, default=30, help="N seeds per problem (default 30)")
    parser.add_argument("--first-seed", type=int, default=0, help="the seeds are first..first+N-1 (default 0)")
    parser.add_argument("--evaluations", type=int, default=20_000, help="evaluated programs per run")
    parser.add_argument("--searcher", default="{}",
                        help="JSON object of regularized-evolution settings over nguyen_gplearn.py's "
                             f"{DISCOLAB_SEARCHER}")
    parser.add_argument("--engine", choices=("programs", "arrays"), default="programs",
                        help="discolab's study.engine (default programs)")
    parser.add_argument("--interpreter", choices=("auto", "numpy", "jax"), default="auto",
                        help="the regression domain's interpreter (default auto: numpy on a CPU)")
    parser.add_argument("--out", type=Path, required=True, help="JSON output")
    args = parser.parse_args(argv)
    try:
        overrides = json.loads(args.searcher)
    except json.JSONDecodeError as error:
        parser.error(f"--searcher is not JSON: {error}")
    if not isinstance(overrides, dict):
        parser.error("--searcher must be a JSON object")
    searcher = {**DISCOLAB_SEARCHER, **overrides}
    problems = parse_problems(args.problems)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))

    timer = CompileTimer()
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.perf_counter()
    runs: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="discolab-warmup-") as workdir:
        run_discolab(problems[0], 0, 200, workdir, CompileTimer(), searcher, args.engine,
                     interpreter=args.interpreter)  # one-off import costs, not kept
    with tempfile.TemporaryDirectory(prefix="discolab-settings-") as workdir:
        for name in problems:
            runs[name] = []
            for seed in seeds:
                run = run_discolab(name, seed, args.evaluations, workdir, timer, searcher, args.engine,
                                   interpreter=args.interpreter)
                runs[name].append(run)
                print(f"{name} seed {seed}: {run['wall_s']:.1f}s rec={run['recovered']} "
                      f"best {run['best_program']}", flush=True)
            print(f"== {name}: {sum(r['recovered'] for r in runs[name])}/{len(seeds)} recovered", flush=True)
    result = {
        "benchmark": "discolab alone on Nguyen problems, one searcher setting (judged as nguyen_gplearn.py)",
        "command": " ".join(["python", "bench/nguyen_searcher_settings.py",
                             *(argv if argv is not None else sys.argv[1:])]),
        "date": started.isoformat(timespec="seconds"),
        "total_benchmark_s": time.perf_counter() - t0,
        "device": machine(),
        "versions": versions(("discolab", "jax", "jaxlib", "numpy", "sympy")),
        "source": source_revision(),
        "settings": {"problems": problems, "seeds": seeds, "evaluations": args.evaluations, "searcher": searcher,
                     "engine": args.engine, "interpreter": args.interpreter},
        "recovered": {name: sum(r["recovered"] for r in rows) for name, rows in runs.items()},
        "runs": runs,
    }
    print(f"wrote {write_result('nguyen_searcher_settings', result, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
