"""The arrays engine (``study.engine = "arrays"``): the study contract of the Program loop, on regression."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest
from study_helpers import make_config, sequence
from test_kill_resume import kill_after_batches

from discolab.domains.regression import RegressionConfig, RegressionDomain
from discolab.graph import decode, structural_hash
from discolab.study import ConfigError, Store, create_study, parse_config, run_study


def nguyen_config(evaluations: int = 600, batch_size: int = 100, seed: int = 0, **study) -> object:
    return parse_config({
        "study": {"name": "arrays", "seed": seed, "evaluations": evaluations, "batch_size": batch_size,
                  "engine": "arrays", **study},
        "domain": {"name": "regression", "problem": "nguyen-9", "max_nodes": 8},
        "searcher": {"name": "regularized_evolution", "population_size": 60, "tournament_size": 8},
    })


def test_a_study_keeps_the_program_loops_contract(tmp_path):
    config = nguyen_config()
    path = tmp_path / "arrays.db"
    create_study(path, config)
    progress = run_study(path)
    assert progress.finished and progress.evaluations == 600
    domain = RegressionDomain(RegressionConfig(problem="nguyen-9", max_nodes=8))
    with Store.open(path, readonly=True) as store:
        rows = list(store.rows())
        assert store.completed_batches() == progress.batches
        assert progress.best_fitness == store.top(1)[0].fitness
    evaluated = [r for r in rows if r.duplicate_of is None]
    duplicates = [r for r in rows if r.duplicate_of is not None]
    assert len(evaluated) == 600 and len(rows) == progress.proposals and duplicates
    assert len({r.fingerprint for r in evaluated}) == 600  # no function evaluated twice
    assert len({structural_hash(r.program, domain.space) for r in evaluated}) == 600  # nor a structure
    by_id = {r.id: r for r in rows}
    for r in duplicates:  # a duplicate carries its original's score and points at an evaluated row
        original = by_id[r.duplicate_of]
        assert original.duplicate_of is None and original.id < r.id
        assert (r.fitness, r.status, dict(r.objectives)) == (original.fitness, original.status, dict(original.objectives))
        assert r.fingerprint == original.fingerprint
    # The stored scores are the domain's: the Program path gives the same for the same programs.
    sample = evaluated[::7]
    scores = domain.evaluate([r.program for r in sample])
    for r, e in zip(sample, scores):
        assert r.status == e.status and r.fitness == pytest.approx(e.fitness, rel=1e-12)
        assert dict(r.objectives) == pytest.approx(dict(e.objectives), rel=1e-12)
        assert dict(r.details) == dict(e.details)
    parents = [r.parent_id for r in rows if r.parent_id is not None]
    assert parents and all(p in by_id and p < c for p, c in zip(parents, [r.id for r in rows if r.parent_id]))


def test_the_same_seed_gives_the_same_study_and_another_seed_another(tmp_path):
    paths = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        path = tmp_path / f"{name}.db"
        create_study(path, nguyen_config(evaluations=300, seed=seed))
        run_study(path)
        paths.append(path)
    assert sequence(paths[0]) == sequence(paths[1])
    assert sequence(paths[0]) != sequence(paths[2])


def test_recovery_is_flagged_like_the_program_loop(tmp_path):
    # Nguyen-1 (x^3 + x^2 + x): seed 2 finds it in 3,000 evaluations (5 of seeds 0-5 do); each
    # recovered row must pass the domain's own check, and each row that passes it must be flagged.
    config = parse_config({
        "study": {"seed": 2, "evaluations": 3000, "batch_size": 250, "engine": "arrays"},
        "domain": {"name": "regression", "problem": "nguyen-1", "max_nodes": 10},
    })
    path = tmp_path / "n1.db"
    create_study(path, config)
    run_study(path)
    domain = RegressionDomain(RegressionConfig(problem="nguyen-1", max_nodes=10))
    with Store.open(path, readonly=True) as store:
        flagged = [r for r in store.rows() if r.duplicate_of is None and r.details.get("recovered")]
        close = [r for r in store.rows() if r.duplicate_of is None and r.objectives.get("nrmse_test", 1) < 1e-4]
    assert flagged, "nguyen-1 was not recovered in 3,000 evaluations"
    assert all(domain.is_recovered(r.program) for r in flagged)
    assert {r.id for r in flagged} == {r.id for r in close if domain.is_recovered(r.program)}


def test_kill_and_resume_loses_and_repeats_nothing(tmp_path):
    config = nguyen_config(evaluations=4000, batch_size=10)
    path = tmp_path / "killed.db"
    create_study(path, config)
    code = f"from discolab.study import run_study; run_study({str(path)!r})"
    assert kill_after_batches(path, code, 20).returncode == -signal.SIGKILL
    before = sequence(path)
    with Store.open(path, readonly=True) as store:
        committed = store.completed_batches()
        state = store.searcher_state()
    assert sorted({row[1] for row in before}) == list(range(committed))  # whole batches only
    assert {"rng", "population", "asked"} <= set(state)
    progress = run_study(path)
    after = sequence(path)
    assert progress.finished and after[: len(before)] == before
    evaluated = [row for row in after if row[7] is None]
    assert len(evaluated) == 4000 == progress.evaluations
    assert len({row[5] for row in evaluated}) == len(evaluated)
    reference = tmp_path / "uninterrupted.db"
    create_study(reference, config)
    run_study(reference)
    assert after == sequence(reference)
    assert committed < len({row[1] for row in after})  # the kill landed mid-study


def test_tell_duplicates_joins_them_to_the_population(tmp_path):
    path = tmp_path / "told.db"
    create_study(path, nguyen_config(evaluations=300, tell_duplicates=True))
    run_study(path)
    with Store.open(path, readonly=True) as store:
        population = store.searcher_state()["population"]
        duplicate_ids = {r.id for r in store.rows() if r.duplicate_of is not None}
    assert any(member[0] in duplicate_ids for member in population)


@pytest.mark.parametrize("searcher, executor, message", [
    ({"name": "random"}, None, "runs regularized_evolution"),
    ({"name": "regularized_evolution", "crossover_probability": 0.5}, None, "no crossover"),
    ({"name": "regularized_evolution"}, {"name": "ray"}, "executor.name"),
])
def test_config_errors_name_the_engine(searcher, executor, message):
    data = {"study": {"engine": "arrays"}, "domain": {"name": "regression"}, "searcher": searcher}
    if executor:
        data["executor"] = executor
    with pytest.raises(ConfigError, match=f"study.engine: .*{message}"):
        parse_config(data)


def test_a_domain_without_an_array_scorer_is_refused_before_any_write(tmp_path):
    config = make_config({"engine": "arrays"})  # the fake domain scores Program objects only
    path = tmp_path / "fake.db"
    with pytest.raises(ConfigError, match="study.engine: domain 'fake' has no array scorer"):
        create_study(path, config)
    assert not path.exists()


def test_an_unknown_engine_is_a_config_error():
    with pytest.raises(ConfigError, match="study.engine"):
        parse_config({"study": {"engine": "gpu"}, "domain": {"name": "regression"}})


def test_the_searcher_state_is_the_program_searchers_format(tmp_path):
    path = tmp_path / "state.db"
    create_study(path, nguyen_config(evaluations=200))
    run_study(path)
    with Store.open(path, readonly=True) as store:
        state = store.searcher_state()
        members = {r.id: r for r in store.rows()}
    assert len(state["population"]) == 60
    for member_id, program_json, fitness in state["population"]:
        assert members[member_id].program == decode(program_json) and members[member_id].fitness == fitness
    assert json.loads(json.dumps(state)) == state
    assert np.all(np.diff([m[0] for m in state["population"]]) > 0)  # oldest first


def test_recovery_check_off_stores_no_recovered_detail(tmp_path):
    config = parse_config({
        "study": {"seed": 2, "evaluations": 3000, "batch_size": 250, "engine": "arrays"},
        "domain": {"name": "regression", "problem": "nguyen-1", "max_nodes": 10, "recovery_check": False},
    })
    path = tmp_path / "unchecked.db"
    create_study(path, config)
    run_study(path)
    domain = RegressionDomain(RegressionConfig(problem="nguyen-1", max_nodes=10))
    with Store.open(path, readonly=True) as store:
        rows = [r for r in store.rows() if r.duplicate_of is None]
    assert all(dict(r.details) == {} for r in rows)
    assert any(domain.is_recovered(r.program) for r in rows if r.objectives.get("nrmse_test", 1) < 1e-4)


def test_the_example_config_selects_the_arrays_engine():
    from discolab.study import load_config

    config = load_config(Path(__file__).resolve().parents[2] / "examples" / "nguyen_arrays.toml")
    assert config.study.engine == "arrays" and config.searcher_config().population_size == 1000
