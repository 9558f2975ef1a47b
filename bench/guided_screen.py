"""The screen's question, offline: how well does a predictor pick a parent's best child?

A search of guided evolution costs minutes per seed and mixes the predictor's
quality with the search's own noise. This bench asks the screen's question
directly, on data a real regularized-evolution study produced:

1. ``build``: runs a plain RE study (the optimizer domain of ``bench/guided.py``,
   its store kept), and at each fit point F takes the first F evaluated
   programs as the archive, draws ``parents`` tournament winners from the
   population at F (the newest ``population_size`` programs, tournaments of
   ``tournament_size``, as RE draws them), mutates each ``tries`` times (the
   screen's candidates; repeats of a known program or function, and of each
   other, are drawn again as the screen does) and scores every parent and
   candidate with the domain (seed 0, the bench oracle's scores).
2. ``score``: fits each predictor setting on each archive (with the archive's
   (child, parent) lineage, as the searcher does) and reports, per setting:
   the child-vs-parent pair accuracy and AUC on the candidates, and the
   pick-best screen's outcome with the first 8 and all candidates: the share
   of parents whose best-rated child beats them, and the mean rank of the
   child it picks, against a random pick and the exact oracle's pick;
   plus fit seconds.

A setting ``{"baseline": "nearest_function", "neighbours": 1, "points": 48}`` scores a baseline with
no training instead (:func:`discolab.guide.fit_nearest`: the archive's scores looked up by what a program
computes at the domain's input statistics), to tell how much of the screen a functional look-up gives;
``"points_from": "training"`` (with ``"points_seed"``) compares outputs at ``(g, m, v)`` triples seen while
Adam trains the optimizer domain's tasks instead (``bench/guided_variants.py``).
A setting ``{"baseline": "low_fidelity", "steps": 30}`` rates candidates by a cheaper evaluation instead
(every parent and candidate trained for 30 of the 300 steps; ``"funnel": k`` trains only the look-up's top
``k`` of each parent's candidates), to tell whether the screen's question yields to a short run.
A setting ``{"ensemble": {...PredictorConfig fields...}}`` averages that GNN's P(child > parent) with the
look-up's (one nearest program, the domain's 48 input points).

Usage::

    taskset -c 0 .venv/bin/python bench/guided_screen.py build --seed 0 --out /tmp/screen_0.json
    taskset -c 0 .venv/bin/python bench/guided_screen.py score /tmp/screen_0.json \
        --settings '{"base": {}, "steps1500": {"train_steps": 1500}}' --out /tmp/score_a.json
    .venv/bin/python bench/guided_screen.py merge /tmp/score_a.json /tmp/score_b.json \
        --out bench/results/guided_screen.json

A setting is a dict of :class:`discolab.guide.PredictorConfig` fields over
``bench/guided.py``'s optimizer guide options (dim 32, 2 layers, 300 steps,
pair batch 64, parent-pair share 0.5, archive 1024); ``"probe_points":
"domain"`` probes at the domain's own input statistics (its fingerprint
inputs) instead of standard-normal points.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_support import machine, versions

import guided as guided_bench  # bench/guided.py, beside this file: the same study settings

#: The searcher's predictor on the optimizer search (bench/guided.py's optimizer guide options).
BASE_PREDICTOR = {"kind": "binary", "dim": 32, "layers": 2, "heads": 4, "train_steps": 300, "pair_batch": 64,
                  "learning_rate": 2e-3, "archive_size": 1024, "parent_pair_share": 0.5, "probes": 0}


def build(seed: int, evaluations: int, fit_points: list[int], parents: int, tries: int) -> dict[str, Any]:
    from discolab.graph import mutate
    from discolab.search.repeats import Functions, Seen, decoded
    from discolab.study import create_study, run_study
    from discolab.study.config import parse_config
    from discolab.study.loop import study_fingerprint

    re_options = guided_bench.OPTIMIZER_RE
    config_dict = guided_bench.optimizer_config(seed, evaluations, {"name": "regularized_evolution", **re_options})
    config = parse_config(config_dict)
    domain = config.make_domain()
    oracle = guided_bench.Oracle(domain)
    fingerprint = study_fingerprint(config, domain)  # what the study's dedupe calls the same function
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "re.db")
        start = time.perf_counter()
        create_study(path, config)
        run_study(path)
        study_s = time.perf_counter() - start
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        rows = conn.execute("SELECT id, program, fitness, parent_id FROM programs WHERE duplicate_of IS NULL "
                            "ORDER BY id").fetchall()
        conn.close()
    index = {r[0]: k for k, r in enumerate(rows)}
    programs = [r[1] for r in rows]
    fitness = [float(r[2]) for r in rows]
    lineage = [[k, index[r[3]]] for k, r in enumerate(rows) if r[3] is not None and r[3] in index]
    rng = np.random.default_rng([seed, 11])
    points = []
    for f in fit_points:
        population = list(range(max(0, f - re_options["population_size"]), f))
        chosen = []
        for _ in range(parents):
            contenders = rng.choice(population, size=re_options["tournament_size"], replace=False)
            chosen.append(int(max(contenders, key=lambda k: fitness[k])))
        seen = Seen(domain.space, programs[:f], Functions(fingerprint))
        candidates = []
        for p in chosen:
            parent = decoded(programs[p])
            kids: list[str] = []
            for _ in range(tries * 20):
                if len(kids) == tries:
                    break
                child = mutate(parent, domain.space, rng)
                if seen.mask([child], [parent])[0]:
                    continue
                seen.add(child)
                kids.append(child.to_json())
            candidates.append(kids)
        flat = [decoded(programs[p]) for p in chosen] + [decoded(c) for kids in candidates for c in kids]
        truth = [float(x) for x in oracle(flat)]
        parent_truth, rest = truth[:len(chosen)], truth[len(chosen):]
        child_truth = []
        for kids in candidates:
            child_truth.append(rest[:len(kids)])
            rest = rest[len(kids):]
        points.append({"fit_at": f, "parents": chosen, "parent_fitness": parent_truth, "candidates": candidates,
                       "candidate_fitness": child_truth})
    return {"seed": seed, "evaluations": evaluations, "study_s": study_s, "oracle_s": oracle.seconds,
            "config": config_dict, "programs": programs, "fitness": fitness, "lineage": lineage, "points": points}


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Probability a random positive outranks a random negative (ties count one half)."""
    pos, neg = scores[labels], scores[~labels]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).mean()
    equal = (pos[:, None] == neg[None, :]).mean()
    return float(greater + 0.5 * equal)


def pick_outcome(ratings: list[np.ndarray], children: list[np.ndarray], parents: np.ndarray, k: int,
                 rng: np.random.Generator) -> dict[str, float]:
    """The pick-best screen over each parent's first ``k`` candidates: by rating, at random, by truth."""
    out: dict[str, list[float]] = {"beats": [], "rank": [], "random_beats": [], "oracle_beats": []}
    for r, c, p in zip(ratings, children, parents):
        r, c = r[:k], c[:k]
        if not len(c):
            continue
        pick = int(np.argmax(r))
        out["beats"].append(float(c[pick] > p))
        out["rank"].append(float((c > c[pick]).sum()) / max(1, len(c) - 1))  # 0: it picked the best
        out["random_beats"].append(float(c[rng.integers(len(c))] > p))
        out["oracle_beats"].append(float(c.max() > p))
    return {key: float(np.mean(v)) for key, v in out.items()}


def baseline_ratings(data: dict[str, Any], setting: dict[str, Any], domain: Any, point: dict[str, Any],
                     ) -> tuple[np.ndarray, float]:
    """The ``nearest_function`` baseline (:func:`discolab.guide.fit_nearest` at the domain's own input
    statistics, its fingerprint inputs): P(child > parent) as the searcher asks it, and the seconds."""
    if setting["baseline"] == "low_fidelity":
        return low_fidelity_ratings(data, setting, domain, point)
    if setting["baseline"] != "nearest_function":
        raise SystemExit(f"setting baseline {setting['baseline']!r}: the baselines are 'nearest_function' and "
                         "'low_fidelity'")
    from discolab import guide
    from discolab.search.repeats import decoded

    f = point["fit_at"]
    k = int(setting.get("points", 48))
    if setting.get("points_from", "fingerprint") == "training":  # (g, m, v) seen while Adam trains the tasks
        from guided_variants import training_statistics

        points = training_statistics(k, seed=int(setting.get("points_seed", 0)))
    else:
        inputs = domain.fingerprint_inputs()
        points = np.stack([np.asarray(inputs[name][:k], np.float64) for name, _ in domain.space.inputs])
    start = time.perf_counter()
    model = guide.fit_nearest(domain.space, [decoded(j) for j in data["programs"][:f]], data["fitness"][:f],
                              points, int(setting.get("neighbours", 1)))
    children = [decoded(c) for kids in point["candidates"] for c in kids]
    parents = [decoded(data["programs"][point["parents"][s]]) for s, kids in enumerate(point["candidates"])
               for _ in kids]
    return model.compare(children, parents), time.perf_counter() - start  # as the searcher asks it


_LOW_FIDELITY_DOMAINS: dict[str, Any] = {}


def low_fidelity_ratings(data: dict[str, Any], setting: dict[str, Any], domain: Any, point: dict[str, Any],
                         ) -> tuple[np.ndarray, float]:
    """The ``low_fidelity`` baseline: every parent and candidate trained for ``steps`` of the domain's steps
    (one call per 256 programs) and rated ``0.5 + (child - parent) / 4`` on that cheaper score (monotone,
    so the pick is the child the short run rates best); with ``"funnel": k`` only the look-up's top ``k`` of
    each parent's candidates are trained (the rest rated -1). The seconds include the short runs."""
    from discolab.search.repeats import decoded
    from discolab.study.config import parse_config

    cheap_config = json.loads(json.dumps(data["config"]))
    cheap_config["domain"].update({"steps": int(setting["steps"]), "program_batch": 256})
    key = json.dumps(cheap_config, sort_keys=True)
    if key not in _LOW_FIDELITY_DOMAINS:  # built once per setting: its Adam reference and compile not timed
        _LOW_FIDELITY_DOMAINS[key] = parse_config(cheap_config).make_domain()
    cheap = _LOW_FIDELITY_DOMAINS[key]
    funnel = setting.get("funnel")
    looked_up, look_s = (baseline_ratings(data, {"baseline": "nearest_function"}, domain, point)
                         if funnel else (None, 0.0))
    start = time.perf_counter()
    parents = [decoded(data["programs"][p]) for p in point["parents"]]
    chosen, cursor = [], 0  # (parent index, candidate's flat index) of every candidate to train
    for s, kids in enumerate(point["candidates"]):
        order = range(len(kids)) if not funnel else np.argsort(-looked_up[cursor:cursor + len(kids)],
                                                               kind="stable")[:int(funnel)]
        chosen += [(s, cursor + int(i)) for i in order]
        cursor += len(kids)
    flat_kids = [decoded(c) for kids in point["candidates"] for c in kids]
    scores = [e.fitness for e in cheap.evaluate(parents + [flat_kids[i] for _, i in chosen])]
    ratings = np.full(cursor, -1.0)  # a candidate the funnel did not train ranks below every trained one
    for (s, i), child_score in zip(chosen, scores[len(parents):]):
        ratings[i] = 0.5 + (child_score - scores[s]) / 4.0  # fitness lies in [0, 2]
    return ratings, time.perf_counter() - start + look_s


def score(data: dict[str, Any], setting: dict[str, Any], seed: int) -> dict[str, Any]:
    from discolab import guide
    from discolab.graph import SearchSpace
    from discolab.search.repeats import decoded

    from discolab.study.config import parse_config

    domain = parse_config(data["config"]).make_domain()
    space: SearchSpace = domain.space
    ensemble = setting.get("ensemble")  # GNN fields: its P averaged with the nearest-function look-up's
    fields = {**BASE_PREDICTOR, **(ensemble if ensemble is not None else setting)}
    baseline = "baseline" in setting
    if fields.get("probe_points") == "domain":  # the domain's own input statistics (its fingerprint inputs)
        inputs = domain.fingerprint_inputs()
        fields["probe_points"] = tuple(tuple(float(x) for x in inputs[name][:fields["probes"]])
                                       for name, _ in space.inputs)
    predictor_config = None if baseline else guide.PredictorConfig(**fields)
    rng = np.random.default_rng([seed, 5])
    per_point = []
    for point in data["points"]:
        f = point["fit_at"]
        if baseline:
            p, fit_s = baseline_ratings(data, setting, domain, point)
            infer_s, final_loss = 0.0, None
        else:
            lineage = [tuple(x) for x in data["lineage"] if max(x) < f]
            start = time.perf_counter()
            predictor = guide.fit(space, predictor_config, [decoded(j) for j in data["programs"][:f]],
                                  data["fitness"][:f], seed, lineage)
            fit_s = time.perf_counter() - start
            parents = [decoded(data["programs"][p]) for p in point["parents"]]
            pairs_a = [decoded(c) for kids in point["candidates"] for c in kids]
            pairs_b = [parents[s] for s, kids in enumerate(point["candidates"]) for _ in kids]
            start = time.perf_counter()
            p = predictor.compare(pairs_a, pairs_b)
            infer_s, final_loss = time.perf_counter() - start, predictor.final_loss
            if ensemble is not None:
                looked_up, look_s = baseline_ratings(data, {"baseline": "nearest_function", "neighbours": 1},
                                                     domain, point)
                p, fit_s = (np.asarray(p) + looked_up) / 2.0, fit_s + look_s
        truth_c = np.array([x for xs in point["candidate_fitness"] for x in xs])
        truth_p = np.array([point["parent_fitness"][s] for s, kids in enumerate(point["candidates"]) for _ in kids])
        differ = truth_c != truth_p
        better = truth_c > truth_p
        ratings, children, cursor = [], [], 0
        for kids, xs in zip(point["candidates"], point["candidate_fitness"]):
            ratings.append(p[cursor:cursor + len(kids)])
            children.append(np.asarray(xs))
            cursor += len(kids)
        parent_fitness = np.asarray(point["parent_fitness"])
        tries = max(len(k) for k in point["candidates"])
        per_point.append({
            "fit_at": f, "fit_s": fit_s, "infer_s": infer_s, "final_loss": final_loss,
            "child_parent_accuracy": float(((p > 0.5) == better)[differ].mean()),
            "child_parent_auc": _auc(p[differ], better[differ]),
            "share_better": float(better.mean()),
            "accepted_share": float((p > 0.5).mean()),
            "pick8": pick_outcome(ratings, children, parent_fitness, 8, rng),
            f"pick{tries}": pick_outcome(ratings, children, parent_fitness, tries, rng),
        })
    return {"setting": setting, "points": per_point}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="run an RE study and draw the screen's candidates at the fit points")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--evaluations", type=int, default=1500)
    b.add_argument("--fit-points", default="500,1000,1500")
    b.add_argument("--parents", type=int, default=64)
    b.add_argument("--tries", type=int, default=24)
    b.add_argument("--out", required=True)
    s = sub.add_parser("score", help="fit predictor settings on built data and score their picks")
    s.add_argument("data", nargs="+")
    s.add_argument("--settings", required=True, help="JSON: name -> PredictorConfig fields")
    s.add_argument("--fit-seeds", type=int, default=2, help="predictor seeds per setting and data file")
    s.add_argument("--out", required=True)
    m = sub.add_parser("merge", help="join score outputs of one data set (settings split over processes)")
    m.add_argument("scores", nargs="+")
    m.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.command == "merge":
        parts = [json.loads(Path(p).read_text()) for p in args.scores]
        if any(part["data"] != parts[0]["data"] for part in parts):
            raise SystemExit("merge: the score files were made on different data")
        repeated = sorted({n for k, part in enumerate(parts) for n in part["results"]
                           if any(n in other["results"] for other in parts[k + 1:])})
        if repeated:
            raise SystemExit(f"merge: setting(s) {repeated} in more than one file")
        listed = lambda part, key: part[key] if isinstance(part[key], list) else [part[key]]  # noqa: E731
        merged = {**parts[0], "command": [c for part in parts for c in listed(part, "command")],
                  "date": [d for part in parts for d in listed(part, "date")],
                  "results": {n: r for part in parts for n, r in part["results"].items()}}
        Path(args.out).write_text(json.dumps(merged, indent=1))
        return
    if args.command == "build":
        points = [int(x) for x in args.fit_points.split(",")]
        data = build(args.seed, args.evaluations, points, args.parents, args.tries)
        Path(args.out).write_text(json.dumps(data))
        print(f"built {args.out}: study {data['study_s']:.1f} s, candidates scored in {data['oracle_s']:.1f} s")
        for point in data["points"]:
            c, p = point["candidate_fitness"], point["parent_fitness"]
            beats = np.mean([max(x) > y for x, y in zip(c, p) if x])
            print(f"  fit at {point['fit_at']}: best of {args.tries} beats parent {beats:.3f}")
        return
    settings = json.loads(args.settings)
    data_files = [json.loads(Path(d).read_text()) for d in args.data]
    results: dict[str, Any] = {}
    for name, setting in settings.items():
        runs = []
        for data in data_files:
            for fit_seed in range(args.fit_seeds):
                runs.append({"data_seed": data["seed"], "fit_seed": fit_seed, **score(data, setting, fit_seed)})
        points = [pt for r in runs for pt in r["points"]]
        keys = [k for k in points[0] if k.startswith("pick")]
        summary = {
            "child_parent_accuracy": float(np.mean([pt["child_parent_accuracy"] for pt in points])),
            "child_parent_auc": float(np.mean([pt["child_parent_auc"] for pt in points])),
            "fit_s": float(np.mean([pt["fit_s"] for pt in points])),
            **{f"{k}_{m}": float(np.mean([pt[k][m] for pt in points])) for k in keys for m in points[0][k]},
        }
        results[name] = {"setting": setting, "summary": summary, "runs": runs}
        print(name, json.dumps({k: round(v, 3) for k, v in summary.items()}), flush=True)
        out = {"command": " ".join([sys.executable, *sys.argv]),
               "date": datetime.datetime.now(datetime.UTC).isoformat(), "machine": machine(),
               "versions": versions(), "data": args.data, "base_predictor": BASE_PREDICTOR, "results": results}
        Path(args.out).write_text(json.dumps(out, indent=1))  # after each setting: a long run keeps its part


if __name__ == "__main__":
    main()
