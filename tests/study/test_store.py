"""The Store contract: create/open/commit/read, refusals that never touch the file."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from discolab.domains import Status
from discolab.graph import Program
from discolab.study import SCHEMA_VERSION, ProgramRecord, Store, StoreError
from discolab.study.store import APPLICATION_ID

CONFIG = {"study": {"name": "t", "seed": 3}, "domain": {"name": "fake"}}
SPACE = {"inputs": [["x", "float"]], "ops": ["add"], "constants": [], "max_nodes": 2,
         "output_type": "float", "required_inputs": []}
ADD = Program.from_nodes([("add", (0, 0))])
ADD2 = Program.from_nodes([("add", (0, 0)), ("add", (1, 0))])


def record(id: int, batch: int, position: int, *, fitness: float = 0.5, program: Program = ADD, h: str = "h",
           f: str = "f", duplicate_of: int | None = None, status: Status = Status.OK) -> ProgramRecord:
    return ProgramRecord(
        id=id, batch=batch, position=position, program=program, struct_hash=h, fingerprint=f, parent_id=None,
        duplicate_of=duplicate_of, status=status, fitness=fitness, objectives={"fitness": fitness},
        details={"note": [1, 2]}, seconds=0.25, created=1700000000.5,
    )


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def test_create_open_roundtrip(study_path):
    with Store.create(study_path, CONFIG, SPACE) as store:
        assert store.config() == CONFIG and store.space() == SPACE
        assert store.searcher_state() is None and store.completed_batches() == 0 and store.next_id() == 1
        assert store.counts().proposals == 0 and store.top(3) == [] and list(store.rows()) == []
    with Store.open(study_path) as store:
        assert store.config() == CONFIG
        assert store.created() > 0
        assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert [p.name for p in study_path.parent.iterdir()] == [study_path.name]  # no temp file left


def test_commit_and_read(study_path):
    rows0 = [record(1, 0, 0, fitness=0.2, h="a", f="fa"), record(2, 0, 1, fitness=0.9, h="b", f="fb", program=ADD2),
             record(3, 0, 2, fitness=0.9, h="b2", f="fb", duplicate_of=2)]
    rows1 = [record(4, 1, 0, fitness=0.0, h="c", f="fc", status=Status.ERROR),
             record(5, 1, 1, fitness=0.1, h="d", f="fd", status=Status.HURDLE_FAILED)]
    with Store.create(study_path, CONFIG, SPACE) as store:
        store.commit_batch(0, rows0, {"rng": 1}, seed=11, seconds=1.5, metrics={"best": 0.9})
        store.commit_batch(1, rows1, {"rng": 2})
    with Store.open(study_path, readonly=True) as store:
        assert list(store.rows()) == rows0 + rows1
        assert store.get(3) == rows0[2] and store.get(99) is None
        assert store.searcher_state() == {"rng": 2} and store.completed_batches() == 2 and store.next_id() == 6
        counts = store.counts()
        assert (counts.proposals, counts.evaluated, counts.duplicates) == (5, 4, 1)
        assert counts.by_status == {"error": 1, "hurdle_failed": 1, "ok": 2}
        assert [r.id for r in store.top(10)] == [2, 1, 5, 4]  # duplicates excluded, ties to the earliest
        assert store.lookup_hash("b2").id == 2 and store.lookup_fingerprint("fb").id == 2
        assert store.lookup_hash("c") is None  # error originals are not reused
        assert store.lookup_hash("zz") is None
        first = store.batches()[0]
        assert (first.seed, first.proposals, first.evaluated, first.seconds) == (11, 3, 2, 1.5)
        assert first.metrics == {"best": 0.9}
        with pytest.raises(StoreError, match="read-only"):
            store.commit_batch(2, [], {})


def test_records_are_frozen_snapshots(study_path):
    with Store.create(study_path, CONFIG, SPACE) as store:
        store.commit_batch(0, [record(1, 0, 0)], {})
        r = store.get(1)
        with pytest.raises(dataclasses.FrozenInstanceError):
            r.fitness = 1.0  # type: ignore[misc]
        r.details["note"].append(3)
        assert store.get(1).details == {"note": [1, 2]}


def test_numpy_values_are_stored_as_json(study_path):
    row = dataclasses.replace(record(np.int64(1), 0, 0), parent_id=np.int64(7),
                              objectives={"r": np.float32(0.5)}, details={"returns": np.arange(3.0), "n": np.int64(2)})
    with Store.create(study_path, CONFIG, SPACE) as store:
        store.commit_batch(0, [row], {"rng": np.uint64(5)})
        stored = store.get(1)
        assert (stored.parent_id, stored.objectives, stored.details) == (7, {"r": 0.5}, {"returns": [0, 1, 2], "n": 2})
        assert store.searcher_state() == {"rng": 5}


def test_commit_is_all_or_nothing(study_path):
    with Store.create(study_path, CONFIG, SPACE) as store:
        store.commit_batch(0, [record(1, 0, 0)], {"s": 0})
        with pytest.raises(StoreError, match="cannot commit batch 0: 1 batches"):
            store.commit_batch(0, [record(2, 0, 0)], {"s": 1})  # a second writer replaying batch 0
        with pytest.raises(StoreError, match="batch 1 rejected"):
            store.commit_batch(1, [record(2, 1, 0), record(1, 1, 1)], {"s": 1})  # id 1 exists
        with pytest.raises(StoreError, match="belongs to batch 0"):
            store.commit_batch(1, [record(2, 0, 0)], {"s": 1})
        with pytest.raises(StoreError, match="finite"):
            store.commit_batch(1, [record(2, 1, 0, fitness=float("nan"))], {"s": 1})
        assert store.completed_batches() == 1 and store.searcher_state() == {"s": 0}
        assert [r.id for r in store.rows()] == [1] and len(store.batches()) == 1
        store.commit_batch(1, [record(2, 1, 0)], {"s": 1})  # the store is still usable
        assert store.completed_batches() == 2


def test_existing_path_refused(study_path):
    study_path.write_text("precious")
    with pytest.raises(StoreError) as err:
        Store.create(study_path, CONFIG, SPACE)
    assert str(err.value) == f"study already exists: {study_path}; use `discolab resume {study_path}`"
    assert study_path.read_text() == "precious"


def test_schema_version_mismatch(study_path):
    Store.create(study_path, CONFIG, SPACE).close()
    with sqlite3.connect(study_path) as conn:  # what a future discolab would write
        conn.execute("UPDATE meta SET schema_version = ?", (SCHEMA_VERSION + 98,))
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 98}")
    conn.close()
    assert {p.name for p in study_path.parent.iterdir()} == {study_path.name}
    before = snapshot(study_path.parent)
    with pytest.raises(StoreError) as err:
        Store.open(study_path)
    message = str(err.value)
    assert str(study_path) in message and f"schema version {SCHEMA_VERSION + 98}" in message and "\n" not in message
    assert snapshot(study_path.parent) == before


def _text(path: Path) -> None:
    path.write_text("hello, I am not a database\n" * 50)


def _foreign_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
    conn.close()


def _ours_without_meta(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("CREATE TABLE programs (id)")
    conn.close()


def _no_version(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.execute("CREATE TABLE meta (x)")
    conn.close()


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _garbage_header(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 8)


@pytest.mark.parametrize("make, problem", [
    (_text, "not a discolab study"),
    (_foreign_sqlite, "not a discolab study"),
    (_ours_without_meta, "no meta table"),
    (_empty, "not a discolab study"),
    (_no_version, "no schema version"),
    (_garbage_header, "not a discolab study"),
])
def test_foreign_files_refused_untouched(study_path, make, problem):
    make(study_path)
    before = snapshot(study_path.parent)
    for readonly in (False, True):
        with pytest.raises(StoreError) as err:
            Store.open(study_path, readonly=readonly)
        message = str(err.value)
        assert problem in message and str(study_path) in message and "\n" not in message
    assert snapshot(study_path.parent) == before


def test_missing_path_and_directory(tmp_path):
    with pytest.raises(StoreError, match="no study at"):
        Store.open(tmp_path / "nope.db")
    with pytest.raises(StoreError, match="not a study file"):
        Store.open(tmp_path)


def test_reader_sees_commits_of_a_writer(study_path):
    with Store.create(study_path, CONFIG, SPACE) as writer, Store.open(study_path, readonly=True) as reader:
        assert reader.completed_batches() == 0
        writer.commit_batch(0, [record(1, 0, 0)], {"s": 0})
        assert reader.completed_batches() == 1 and reader.get(1) is not None


def lookup_indexes(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
                if r[0].startswith("programs_")}


def test_lookup_indexes_are_deferred_while_writing_and_rebuilt(study_path):
    built = {"programs_struct_hash", "programs_fingerprint", "programs_fitness"}
    rows = [record(1, 0, 0, fitness=0.2, h="a", f="fa"), record(2, 0, 1, fitness=0.9, h="b", f="fb", program=ADD2)]
    with Store.create(study_path, CONFIG, SPACE) as store:
        assert lookup_indexes(study_path) == built
        with store.lookup_indexes_deferred():
            assert lookup_indexes(study_path) == set()
            store.commit_batch(0, rows, {"rng": 1})
        assert lookup_indexes(study_path) == built
        assert store.lookup_hash("b").id == 2 and [r.id for r in store.top(2)] == [2, 1]
    # A writer killed inside the block leaves the indexes out: readers still answer (by a scan), and the
    # next writer rebuilds them.
    with sqlite3.connect(study_path) as conn:
        conn.execute("DROP INDEX programs_fitness")
    with Store.open(study_path, readonly=True) as store:
        assert [r.id for r in store.top(2)] == [2, 1]
    assert "programs_fitness" not in lookup_indexes(study_path)
    with Store.open(study_path):
        pass
    assert lookup_indexes(study_path) == built
