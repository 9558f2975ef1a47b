"""The study loop: budget, dedupe, hurdles, failures, determinism and in-process resume."""

from __future__ import annotations

import sqlite3

import pytest
from study_helpers import make_config, sequence

from discolab.domains import Status
from discolab.graph import Program
from discolab.study import (
    MAX_FAILED_BATCHES, DedupeIndex, Store, StudyError, batch_seed, create_study, run_study,
)

# Programs of the fake space with constants (1.0, 2.0): slots x=0, 1.0=1, 2.0=2, nodes from 3.
A = Program.from_nodes([("add", (0, 0))])  # x + x
A_DEAD = Program.from_nodes([("sin", (1,)), ("add", (0, 0))])  # x + x beside dead code: same structure
B = Program.from_nodes([("mul", (0, 2))])  # x * 2: same function as A
B_SWAP = Program.from_nodes([("mul", (2, 0))])  # 2 * x: same structure as B
C = Program.from_nodes([("sin", (0,))])  # sin(x)
C_TIMES_1 = Program.from_nodes([("sin", (0,)), ("mul", (3, 1))])  # sin(x) * 1: same function as C
D = Program.from_nodes([("add", (0, 1))])  # x + 1


def run(path, config, **kw):
    create_study(path, config)
    return run_study(path, **kw)


def test_budget_is_met_exactly(study_path):
    progress = run(study_path, make_config({"evaluations": 13, "batch_size": 4}))
    assert progress.finished and progress.evaluations == 13 == progress.evaluations_target
    with Store.open(study_path) as store:
        counts = store.counts()
        assert counts.evaluated == 13 and counts.proposals == progress.proposals
        assert counts.duplicates == progress.duplicates == progress.proposals - 13
        assert store.completed_batches() == progress.batches == len(store.batches())
        assert store.top(1)[0].fitness == progress.best_fitness
        assert [r.id for r in store.rows()] == list(range(1, progress.proposals + 1))
        assert store.searcher_state() is not None


@pytest.mark.parametrize("tell_duplicates", [False, True])
def test_dedupe_by_structure_and_function(study_path, tell_duplicates):
    script = [A, A_DEAD, B, C, B_SWAP, C_TIMES_1, D, A]
    config = make_config({"evaluations": 3, "batch_size": 4, "tell_duplicates": tell_duplicates},
                         {"constants": [1.0, 2.0]},
                         {"name": "test_scripted", "programs": [p.to_json() for p in script]})
    progress = run(study_path, config)
    with Store.open(study_path) as store:
        rows = list(store.rows())
        state = store.searcher_state()
    # batch 0: A, A_DEAD (structure of A), B (function of A), C; batch 1: B_SWAP (stored structure),
    # C_TIMES_1 (stored function), D, then the budget of 3 is spent and the rest is dropped unstored.
    assert [r.duplicate_of for r in rows] == [None, 1, 1, None, 1, 4, None]
    assert [r.batch for r in rows] == [0, 0, 0, 0, 1, 1, 1]
    for r in rows:
        original = rows[r.original_id - 1]
        assert (r.fitness, r.status, r.objectives, r.fingerprint) == (
            original.fitness, original.status, original.objectives, original.fingerprint)
        if r.is_duplicate:
            assert r.seconds == 0.0 and r.details == {}
    assert len({r.fingerprint for r in rows}) == 3
    assert (progress.evaluations, progress.duplicates, progress.proposals) == (3, 4, 7)
    told = [[r.id, r.fitness] for r in rows if tell_duplicates or not r.is_duplicate]
    assert state["told"] == told  # with tell_duplicates, duplicates are told their reused fitness


def test_tiny_space_stops_at_the_proposal_cap(study_path):
    # One node over x and 1.0: five functions exist, so ten evaluations never happen.
    config = make_config({"evaluations": 10, "batch_size": 8, "max_proposals": 30},
                         {"max_nodes": 1}, {"name": "random"})
    progress = run(study_path, config)
    assert progress.finished and progress.proposals == 30 and progress.evaluations == 5
    with Store.open(study_path) as store:
        rows = list(store.rows())
        assert [len(store.batches()), [b.proposals for b in store.batches()]] == [4, [8, 8, 8, 6]]
    originals = [r for r in rows if not r.is_duplicate]
    assert len({r.struct_hash for r in originals}) == len({r.fingerprint for r in originals}) == 5


def test_index_mirrors_store_lookups(study_path):
    run(study_path, make_config({"evaluations": 30, "batch_size": 8, "seed": _seed_with_some_errors()},
                                {"raise_on": "odd_seed"}, {"name": "random"}))
    with Store.open(study_path) as store:
        rows = list(store.rows())
        index = DedupeIndex.from_rows(rows)
        assert any(r.status == Status.ERROR for r in rows)
        for r in rows:
            for key, table, lookup in ((r.struct_hash, index.by_hash, store.lookup_hash),
                                       (r.fingerprint, index.by_fingerprint, store.lookup_fingerprint)):
                stored = lookup(key)
                assert (stored.id if stored else None) == (table[key].id if key in table else None)


def test_hurdles_mark_hurdle_failed(study_path):
    progress = run(study_path, make_config({"evaluations": 24}, {"hurdle": 0.5}, {"name": "random"}))
    with Store.open(study_path) as store:
        evaluated = [r for r in store.rows() if not r.is_duplicate]
    failed = [r for r in evaluated if r.status == Status.HURDLE_FAILED]
    passed = [r for r in evaluated if r.status == Status.OK]
    assert failed and passed and progress.hurdle_failed == len(failed)
    assert all(r.fitness < 0.5 and r.details == {"points": 4, "hurdle": "screen"} for r in failed)
    assert all(r.details == {"points": 16} for r in passed)


def _seed_with_some_errors() -> int:
    """A study seed whose batches alternate enough that failures never run three in a row."""
    for seed in range(1000):
        odd = [batch_seed(seed, b) % 2 for b in range(30)]
        runs = "".join(map(str, odd))
        if odd[0] == 1 and "111" not in runs:
            return seed
    raise AssertionError("no seed found")


def test_stage_exception_gives_error_rows_not_a_crash(study_path):
    progress = run(study_path, make_config({"evaluations": 24, "seed": _seed_with_some_errors()},
                                           {"raise_on": "odd_seed"}, {"name": "random"}))
    assert progress.finished and progress.evaluations == 24
    with Store.open(study_path) as store:
        errors = [r for r in store.rows() if not r.is_duplicate and r.status == Status.ERROR]
        seeds = {b.batch: b.seed for b in store.batches()}
    assert errors and progress.errors == len(errors)
    for r in errors:
        assert r.fitness == 0.0 and r.details["stage"] == "full"
        assert r.details["error"] == f"RuntimeError: boom at seed {seeds[r.batch]}"
        assert seeds[r.batch] % 2 == 1


@pytest.mark.parametrize("raise_on, message", [
    ("always", "stage 'full' raised RuntimeError: boom at seed"),
    ("nan_fitness", "stage 'full' raised ValueError: Evaluation.fitness must be finite"),
])
def test_consecutive_failed_batches_stop_the_study(study_path, raise_on, message):
    batches: list = []
    with pytest.raises(StudyError, match=f"{MAX_FAILED_BATCHES} consecutive failed batches: {message}") as err:
        run(study_path, make_config({"evaluations": 100}, {"raise_on": raise_on}, {"name": "random"}),
            on_batch=batches.append)
    assert "\n" not in str(err.value) and len(batches) == MAX_FAILED_BATCHES
    with Store.open(study_path) as store:  # the failed batches are stored, as error rows
        assert store.completed_batches() == MAX_FAILED_BATCHES
        assert store.counts().by_status == {"error": batches[-1].evaluations}


def test_non_finite_status_scores_the_floor(study_path):
    progress = run(study_path, make_config({"evaluations": 24}, {"non_finite_above": 1.5}, {"name": "random"}))
    with Store.open(study_path) as store:
        rows = list(store.rows())
    bad = [r for r in rows if r.status == Status.NON_FINITE]
    assert bad and all(r.fitness == 0.0 for r in bad) and progress.errors == 0
    assert progress.evaluations == 24  # a non-finite candidate is an evaluation, and is reused by duplicates


def test_same_seed_same_study(tmp_path):
    config = make_config({"evaluations": 30, "batch_size": 6})
    run(tmp_path / "a.db", config)
    run(tmp_path / "b.db", config)
    run(tmp_path / "c.db", config.with_seed(1))
    assert sequence(tmp_path / "a.db") == sequence(tmp_path / "b.db")
    assert sequence(tmp_path / "a.db") != sequence(tmp_path / "c.db")


def test_resume_in_process_equals_one_run(tmp_path):
    config = make_config({"evaluations": 30, "batch_size": 6})
    seen: list = []
    first = run(tmp_path / "a.db", config, max_batches=2, on_batch=seen.append)
    assert [p.batches for p in seen] == [1, 2] and first.batches == 2 and not first.finished
    final = run_study(tmp_path / "a.db")
    again = run_study(tmp_path / "a.db")  # a finished study does nothing
    reference = run(tmp_path / "b.db", config)
    assert sequence(tmp_path / "a.db") == sequence(tmp_path / "b.db")
    for p in (final, again):
        assert (p.evaluations, p.proposals, p.duplicates, p.batches, p.best_fitness, p.best_formula) == (
            reference.evaluations, reference.proposals, reference.duplicates, reference.batches,
            reference.best_fitness, reference.best_formula)


def test_create_study_fails_before_writing(study_path):
    with pytest.raises(KeyError, match="nope"):
        create_study(study_path, make_config(domain={"ops": ["nope"]}))
    assert not study_path.exists() and list(study_path.parent.iterdir()) == []


def test_resume_refuses_a_changed_space(study_path):
    create_study(study_path, make_config())
    with sqlite3.connect(study_path) as conn:
        conn.execute("UPDATE meta SET space = '{}'")
    conn.close()
    with pytest.raises(StudyError, match="different search space"):
        run_study(study_path)


def test_batch_seed_is_a_function_of_seed_and_batch():
    assert batch_seed(0, 3) == batch_seed(0, 3)
    assert len({batch_seed(s, b) for s in range(5) for b in range(5)}) == 25
    assert all(0 <= batch_seed(2**63 - 1, b) < 2**31 for b in range(5))


def test_a_domains_random_program_draws_the_fresh_programs(study_path, monkeypatch):
    """A domain's own ``random_program`` (Evolving RL's bootstrap) replaces the generic one."""
    import discolab.domains.registry as registry
    from discolab.graph import Program

    marker = Program.from_nodes([("add", [0, 0])])
    entry = registry.entry("fake")

    def factory(config):
        domain = entry.factory(config)
        domain.random_program = lambda rng: marker
        return domain

    monkeypatch.setitem(registry._DOMAINS, "fake", registry.DomainEntry(entry.config, factory))
    run(study_path, make_config({"evaluations": 1, "batch_size": 4}))
    with Store.open(study_path) as store:
        first = next(store.rows())
    assert first.program == marker


def test_a_study_leaves_the_garbage_collector_as_it_found_it(tmp_path):
    # run_study freezes the objects that predate it and collects less often while it runs; it
    # restores both on return, even on an error, and objects a caller froze stay frozen.
    import gc

    threshold = gc.get_threshold()
    seen = []
    assert gc.get_freeze_count() == 0
    run(tmp_path / "a.db", make_config({"evaluations": 6, "batch_size": 3}),
        on_batch=lambda _: seen.append((gc.get_freeze_count() > 0, gc.get_threshold()[0])))
    assert seen and all(frozen and young >= 10_000 for frozen, young in seen)
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == threshold
    def interrupt(progress):
        raise KeyboardInterrupt

    create_study(tmp_path / "c.db", make_config({"evaluations": 6, "batch_size": 3}))
    with pytest.raises(KeyboardInterrupt):
        run_study(tmp_path / "c.db", on_batch=interrupt)
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == threshold
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        run(tmp_path / "b.db", make_config({"evaluations": 6, "batch_size": 3}))
        assert gc.get_freeze_count() > frozen // 2  # still frozen (a few frozen objects may have been freed)
    finally:
        gc.unfreeze()
    assert sequence(tmp_path / "a.db") == sequence(tmp_path / "b.db")
