"""Evolving RL, reproduction (a): a search from scratch rediscovers the TD loss.

Runs ``examples/dqn_cartpole_scratch.toml`` (CartPole-v0 hurdle, then
Acrobot-v1; random initial programs, no DQN seed) once per search seed, and
stops a search at the end of the batch in which it first evaluates a program
that computes the TD loss up to a positive scale
(:func:`discolab.domains.dqn_programs.td_equivalent`, checked on the domain's
fingerprint inputs, the paper's functional check). Reported per seed: the
evaluated programs (and proposals) up to and including that program, the
wall seconds to the end of its batch (compile included), its formula and
fitness, and the best program at that point; a search that spends its
budget without finding TD is reported as censored. Usage::

    nice -n 5 .venv/bin/python examples/dqn_scratch_td.py --seeds 0,1,2

Studies go to ``studies/dqn-scratch/seed-S.db`` (kept: ``discolab show`` reads
them; an existing file is started afresh); figures to
``bench/results/dqn_scratch_td.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sqlite3
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_support import machine, versions  # noqa: E402

from discolab.domains.dqn_programs import scaled_equivalent, td_equivalent, td_without_discount  # noqa: E402
from discolab.graph import decode, to_infix  # noqa: E402
from discolab.study import create_study, run_study  # noqa: E402
from discolab.study.config import parse_config  # noqa: E402


class FoundTD(Exception):
    """Raised from the batch callback to end a search once TD has been evaluated."""


class OutOfTime(Exception):
    """Raised from the batch callback once a search has used its wall-clock budget (``--wall-budget``)."""


def first_td(path: Path, after_id: int, domain: Any) -> tuple[int, dict[str, Any] | None]:
    """Scans evaluated programs with id > ``after_id``; returns the last id seen and the first TD program's row."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = conn.execute("SELECT id, program, fitness, status FROM programs WHERE duplicate_of IS NULL AND id > ? "
                        "ORDER BY id", (after_id,)).fetchall()
    conn.close()
    if not rows:
        return after_id, None
    programs = [decode(r[1]) for r in rows]
    hits = td_equivalent(programs, domain.space, domain.fingerprint_inputs())
    for row, program, hit in zip(rows, programs, hits):
        if hit:
            return rows[-1][0], {"id": row[0], "fitness": row[2], "status": row[3],
                                 "formula": to_infix(program, domain.space)}
    return rows[-1][0], None


def evaluated_up_to(path: Path, program_id: int) -> tuple[int, int]:
    """(evaluated programs, proposals) among ids <= ``program_id``."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    evaluated, proposals = conn.execute(
        "SELECT SUM(duplicate_of IS NULL), COUNT(*) FROM programs WHERE id <= ?", (program_id,)).fetchone()
    conn.close()
    return int(evaluated), int(proposals)


def run_seed(config_dict: dict[str, Any], seed: int, path: Path, wall_budget: float | None = None) -> dict[str, Any]:
    config_dict = {**config_dict, "study": {**config_dict["study"], "seed": seed}}
    config = parse_config(config_dict)
    domain = config.make_domain()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    create_study(path, config)
    state: dict[str, Any] = {"last_id": -1, "found": None, "progress": None}

    def on_batch(progress: Any) -> None:
        state["progress"] = progress
        state["last_id"], hit = first_td(path, state["last_id"], domain)
        print(f"  seed {seed}: {progress.evaluations} evaluated, {progress.proposals} proposals, "
              f"{progress.hurdle_failed} below the hurdle, best {progress.best_fitness}, "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
        if hit is not None:
            state["found"] = {**hit, "wall_s": time.perf_counter() - t0}
            raise FoundTD
        if wall_budget is not None and time.perf_counter() - t0 > wall_budget:
            state["out_of_time"] = True
            raise OutOfTime

    try:
        run_study(path, on_batch=on_batch)
    except (FoundTD, OutOfTime):
        pass
    wall = time.perf_counter() - t0
    p = state["progress"]
    out: dict[str, Any] = {
        "seed": seed, "study": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
        "wall_s": wall, "evaluations": p.evaluations, "proposals": p.proposals, "duplicates": p.duplicates,
        "hurdle_failed": p.hurdle_failed, "errors": p.errors, "best_fitness": p.best_fitness,
        "best_formula": p.best_formula, "found_td": state["found"] is not None,
        "stopped_by_wall_budget": bool(state.get("out_of_time")),
    }
    if state["found"]:
        evaluated, proposals = evaluated_up_to(path, state["found"]["id"])
        out["td"] = {**state["found"], "evaluations_to_td": evaluated, "proposals_to_td": proposals}
    return out


def analyze(path: Path) -> dict[str, Any]:
    """A finished study's first evaluated TD and TD-without-discount programs, and its top 3.

    Evaluated order is id order; the returned counts are evaluated programs
    up to and including each first hit (None when none appeared).
    """
    from discolab.study import Store, parse_config

    with Store.open(path, readonly=True) as store:
        config = parse_config(store.config())
        rows = [r for r in store.rows() if r.duplicate_of is None]
    domain = config.make_domain()
    space, inputs = domain.space, domain.fingerprint_inputs()
    programs = [r.program for r in rows]
    out: dict[str, Any] = {"evaluated": len(rows)}
    for name, reference in (("td", None), ("td_without_discount", td_without_discount(space))):
        hits = (td_equivalent(programs, space, inputs) if reference is None
                else scaled_equivalent(programs, reference, space, inputs))
        first = int(hits.argmax()) if hits.any() else None
        out[name] = None if first is None else {
            "evaluations": first + 1, "count": int(hits.sum()), "fitness": rows[first].fitness,
            "formula": to_infix(programs[first], space)}
    top = sorted(range(len(rows)), key=lambda k: -rows[k].fitness)[:3]
    out["top"] = [{"fitness": rows[k].fitness, "formula": to_infix(programs[k], space)} for k in top]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "examples" / "dqn_cartpole_scratch.toml")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated search seeds")
    parser.add_argument("--evaluations", type=int, default=None, help="budget per search (default: the config's)")
    parser.add_argument("--studies", type=Path, default=ROOT / "studies" / "dqn-scratch")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "dqn_scratch_td.json")
    parser.add_argument("--training-seeds", type=int, default=None,
                        help="training seeds per program (default: the config's [domain] seeds)")
    parser.add_argument("--wall-budget", type=float, default=None,
                        help="seconds per search: stop at the end of the first batch past it (censored)")
    parser.add_argument("--analyze-only", action="store_true",
                        help="no search: add the analysis of the existing studies to --out")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.analyze_only:
        result = json.loads(args.out.read_text())
        result["analysis"] = {str(seed): analyze(args.studies / f"seed-{seed}.db") for seed in seeds}
        args.out.write_text(json.dumps(result, indent=1))
        print(json.dumps(result["analysis"], indent=1))
        return 0
    config_dict = tomllib.loads(args.config.read_text())
    if args.evaluations:
        config_dict["study"]["evaluations"] = args.evaluations
    if args.training_seeds:
        config_dict["domain"]["seeds"] = args.training_seeds
    parse_config(config_dict)  # a bad config fails before any search
    started = datetime.datetime.now(datetime.timezone.utc)
    runs: list[dict[str, Any]] = []

    def write(analysis: dict[str, Any] | None) -> None:
        """Written after each seed too, so a run cut short keeps the seeds it finished."""
        result = {
            "command": " ".join([sys.executable, *sys.argv]), "date": started.isoformat(timespec="seconds"),
            "machine": machine(), "versions": versions(("discolab", "jax", "jaxlib", "flax", "optax", "gymnax")),
            "config": config_dict, "wall_budget_s": args.wall_budget, "runs": runs,
            "found": sum(r["found_td"] for r in runs), "seeds": len(runs),
            **({"analysis": analysis} if analysis is not None else {}),
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))

    for seed in seeds:
        load_before = os.getloadavg()
        run = run_seed(config_dict, seed, args.studies / f"seed-{seed}.db", args.wall_budget)
        run["load_avg_before_after"] = [load_before, os.getloadavg()]
        runs.append(run)
        write(None)
        td = run.get("td")
        print(f"seed {seed}: " + (f"TD after {td['evaluations_to_td']} evaluations ({td['proposals_to_td']} "
                                  f"proposals), {td['wall_s']:.0f} s: {td['formula']}" if td else
                                  f"no TD in {run['evaluations']} evaluations ({run['wall_s']:.0f} s)"), flush=True)
    write({str(seed): analyze(args.studies / f"seed-{seed}.db") for seed in seeds})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
