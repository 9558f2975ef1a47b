"""The study store: one SQLite file holding every program, its scores and the searcher state.

A study is one file so it can be copied, inspected with ``sqlite3`` and
resumed anywhere. The contract is written on ``Store``; the loop relies on
it for kill-and-resume.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from discolab.domains.base import Status
from discolab.graph import Program, decode
from discolab.study.store_file import (  # noqa: F401  (APPLICATION_ID, SCHEMA_VERSION: re-exported)
    APPLICATION_ID, COLUMNS, LOOKUP_INDEX_NAMES, LOOKUP_INDEXES, SCHEMA, SCHEMA_VERSION, StoreError, check_study_file,
    connect_readonly, writable,
)


@dataclasses.dataclass(frozen=True)
class ProgramRecord:
    """One stored proposal: the program, where it came from, and its scores.

    A duplicate (``duplicate_of`` set) was not evaluated: it carries the
    fitness, status and objectives of the original row it duplicates.
    """

    id: int
    batch: int
    position: int
    program: Program
    struct_hash: str
    fingerprint: str
    parent_id: int | None
    duplicate_of: int | None
    status: Status
    fitness: float
    objectives: Mapping[str, float]
    details: Mapping[str, Any]
    seconds: float
    created: float

    @property
    def is_duplicate(self) -> bool:
        return self.duplicate_of is not None

    @property
    def original_id(self) -> int:
        """The id of the row whose evaluation this row's scores come from."""
        return self.id if self.duplicate_of is None else self.duplicate_of


class BatchRows(NamedTuple):
    """One batch for ``Store.commit_batches``: its rows already in ``COLUMNS`` order."""

    batch: int
    rows: Sequence[tuple]
    evaluated: int
    seed: int = 0
    seconds: float = 0.0
    metrics: Mapping[str, float] = {}


class ScoreRow(NamedTuple):
    """The parts of a stored row that dedupe needs (see ``Store.scores``)."""

    id: int
    struct_hash: str
    fingerprint: str
    duplicate_of: int | None
    status: Status
    fitness: float
    objectives: Mapping[str, float]


@dataclasses.dataclass(frozen=True)
class BatchRecord:
    """Bookkeeping of one committed batch (throughput and searcher metrics for reports)."""

    batch: int
    seed: int
    proposals: int
    evaluated: int
    seconds: float
    metrics: Mapping[str, float]
    created: float


@dataclasses.dataclass(frozen=True)
class Counts:
    """Row counts; ``by_status`` counts evaluated (non-duplicate) rows only."""

    proposals: int
    evaluated: int
    duplicates: int
    by_status: Mapping[str, int]


class Store:
    """A study's SQLite file.

    Contract:
      - One study per file. ``create`` refuses an existing path and builds the
        file under a temporary name, so a crash never leaves a half-made study.
      - ``open`` checks, read-only and before anything else, that the file is a
        discolab study of ``SCHEMA_VERSION``; otherwise it raises ``StoreError``
        and the file is not modified.
      - ``commit_batch`` writes a batch's rows, its bookkeeping and the
        searcher state in ONE transaction: a process killed at any moment
        leaves the store at the end of its last committed batch, never inside
        one. Batches commit in order; committing batch ``k`` twice (two
        processes running one study) raises ``StoreError`` and writes nothing.
      - Committed rows are never updated or deleted: a finished evaluation is
        frozen, like a finished Optuna trial.
      - Returned records are frozen snapshots: changing one never changes the store.
      - One writer process at a time; readers (``open(path, readonly=True)``)
        may read concurrently thanks to WAL mode. A connection is used from
        the thread that opened it.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, readonly: bool):
        self.path = path
        self.readonly = readonly
        self._conn = conn

    # -- lifecycle ---------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path, config: Mapping[str, Any], space: Mapping[str, Any]) -> Store:
        """Creates a new study file and opens it for writing."""
        path = Path(path)
        if path.exists() or path.is_symlink():
            raise StoreError(f"study already exists: {path}; use `discolab resume {path}`")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                conn.executescript(SCHEMA)  # a private temporary file: no transaction needed
                now = time.time()
                conn.execute(
                    "INSERT INTO meta VALUES (1, ?, ?, ?, ?)",
                    (SCHEMA_VERSION, now, json_dumps(config), json_dumps(space)),
                )
                conn.execute("INSERT INTO searcher VALUES (1, 0, NULL, ?)", (now,))
            finally:
                conn.close()
            try:
                os.link(tmp, path)  # atomic and never overwrites
            except FileExistsError:
                raise StoreError(f"study already exists: {path}; use `discolab resume {path}`") from None
            except OSError:  # a file system without hard links: check, then rename
                if path.exists():
                    raise StoreError(f"study already exists: {path}; use `discolab resume {path}`") from None
                os.replace(tmp, path)
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{tmp}{suffix}").unlink(missing_ok=True)
        return cls.open(path)

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False) -> Store:
        """Opens an existing study after checking, read-only, that it is one."""
        path = Path(path)
        if not path.exists():
            raise StoreError(f"no study at {path}")
        if not path.is_file():
            raise StoreError(f"{path}: not a study file (it is a directory or special file)")
        check_study_file(path)
        if readonly:
            conn = connect_readonly(path)
        else:
            if not writable(path):
                raise StoreError(
                    f"{path}: read-only (the study file or its folder cannot be written); "
                    "`discolab show` and `discolab export` can still read it"
                )
            conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        store = cls(path, conn, readonly)
        if not readonly:
            store.restore_indexes()  # a run killed inside ``lookup_indexes_deferred`` left them out
        return store

    def restore_indexes(self) -> None:
        """Builds the lookup indexes that are missing (each in one pass over the table)."""
        if self.readonly:
            raise StoreError(f"{self.path}: opened read-only")
        present = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        if not set(LOOKUP_INDEX_NAMES) <= present:
            self._conn.executescript(LOOKUP_INDEXES)

    @contextlib.contextmanager
    def lookup_indexes_deferred(self) -> Iterator[None]:
        """Drops the lookup indexes (structural hash, fingerprint, fitness) while the block writes.

        Each insert into a random-key index dirties a page of it, so a study
        that commits thousands of rows a second spends most of its store time
        on them; building them once at the end costs a sort. They are derived
        data: queries work without them (by a scan), and ``Store.open`` for
        writing rebuilds any that a killed run left out.
        """
        if self.readonly:
            raise StoreError(f"{self.path}: opened read-only")
        for name in LOOKUP_INDEX_NAMES:
            self._conn.execute(f"DROP INDEX IF EXISTS {name}")
        try:
            yield
        finally:
            self.restore_indexes()

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------

    def commit_batch(
        self,
        batch_index: int,
        rows: Sequence[ProgramRecord],
        searcher_state: Mapping[str, Any],
        *,
        seed: int = 0,
        seconds: float = 0.0,
        metrics: Mapping[str, float] | None = None,
    ) -> None:
        """Writes one batch's rows and the searcher state after it, atomically.

        Args:
          batch_index: must equal ``completed_batches()``: batches commit in order.
          rows: the batch's records, ids already assigned by the caller.
          searcher_state: the JSON-serializable state after telling this batch.
          seed, seconds, metrics: the batch's evaluation seed, wall time and
            searcher metrics, kept for reports.
        """
        for r in rows:
            if r.batch != batch_index:
                raise StoreError(f"{self.path}: row {r.id} belongs to batch {r.batch}, not {batch_index}")
        evaluated = sum(1 for r in rows if r.duplicate_of is None)
        self.commit_rows(batch_index, [_to_row(r) for r in rows], evaluated, searcher_state,
                         seed=seed, seconds=seconds, metrics=metrics)

    def commit_rows(
        self,
        batch_index: int,
        rows: Sequence[tuple],
        evaluated: int,
        searcher_state: Mapping[str, Any],
        *,
        seed: int = 0,
        seconds: float = 0.0,
        metrics: Mapping[str, float] | None = None,
    ) -> None:
        """``commit_batch`` for rows already in table order (``COLUMNS``), e.g. built from arrays in bulk.

        The caller vouches for each row: its batch is ``batch_index``, its fitness finite, its
        JSON columns valid; ``evaluated`` counts the rows with no ``duplicate_of``.
        """
        self.commit_batches([BatchRows(batch_index, rows, evaluated, seed, seconds, metrics or {})], searcher_state)

    def commit_batches(self, batches: Sequence[BatchRows], searcher_state: Mapping[str, Any]) -> None:
        """Several consecutive batches' rows (as ``commit_rows``) and the state after the last, in ONE transaction.

        Fewer, larger transactions write each index page touched by the batches
        once instead of once per batch (the arrays engine groups its batches).
        """
        if self.readonly:
            raise StoreError(f"{self.path}: opened read-only")
        if not batches:
            return
        state_json = json_dumps(searcher_state)
        now = time.time()
        first = batches[0].batch
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            done = conn.execute("SELECT completed_batches FROM searcher WHERE id = 1").fetchone()[0]
            if done != first:
                raise StoreError(
                    f"{self.path}: cannot commit batch {first}: {done} batches are committed "
                    "(is another process running this study?)"
                )
            for k, b in enumerate(batches):
                if b.batch != first + k:
                    raise StoreError(f"{self.path}: batch {b.batch} does not follow batch {first + k - 1}")
                conn.execute(
                    "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (b.batch, b.seed, len(b.rows), b.evaluated, float(b.seconds), json_dumps(dict(b.metrics)), now),
                )
                conn.executemany(f"INSERT INTO programs ({COLUMNS}) VALUES ({', '.join('?' * 14)})", b.rows)
            conn.execute(
                "UPDATE searcher SET completed_batches = ?, state = ?, updated = ? WHERE id = 1",
                (first + len(batches), state_json, now),
            )
            conn.execute("COMMIT")
        except BaseException as err:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(err, sqlite3.IntegrityError):
                raise StoreError(f"{self.path}: batch {first} rejected: {err}") from None
            raise

    # -- reading -----------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The study config as given to ``create`` (``StudyConfig.to_dict()``)."""
        return json.loads(self._one("SELECT config FROM meta WHERE id = 1"))

    def space(self) -> dict[str, Any]:
        """The search space as given to ``create`` (``SearchSpace.to_dict()``)."""
        return json.loads(self._one("SELECT space FROM meta WHERE id = 1"))

    def created(self) -> float:
        return float(self._one("SELECT created FROM meta WHERE id = 1"))

    def searcher_state(self) -> dict[str, Any] | None:
        """The searcher state after the last committed batch; None before the first."""
        text = self._one("SELECT state FROM searcher WHERE id = 1")
        return None if text is None else json.loads(text)

    def completed_batches(self) -> int:
        return int(self._one("SELECT completed_batches FROM searcher WHERE id = 1"))

    def next_id(self) -> int:
        """The id the next stored row gets (ids are 1, 2, ... in proposal order)."""
        return int(self._one("SELECT COALESCE(MAX(id), 0) + 1 FROM programs"))

    def counts(self) -> Counts:
        proposals, duplicates = self._conn.execute(
            "SELECT COUNT(*), COUNT(duplicate_of) FROM programs"
        ).fetchone()
        by_status = dict(
            self._conn.execute(
                "SELECT status, COUNT(*) FROM programs WHERE duplicate_of IS NULL GROUP BY status ORDER BY status"
            ).fetchall()
        )
        return Counts(proposals, proposals - duplicates, duplicates, by_status)

    def top(self, n: int = 10) -> list[ProgramRecord]:
        """The ``n`` best evaluated (non-duplicate) programs, best first; ties go to the earliest."""
        return self._records(
            f"SELECT {COLUMNS} FROM programs WHERE duplicate_of IS NULL ORDER BY fitness DESC, id LIMIT ?", (n,)
        )

    def rows(self) -> Iterator[ProgramRecord]:
        """Every stored row in id order (streamed)."""
        for row in self._conn.execute(f"SELECT {COLUMNS} FROM programs ORDER BY id"):
            yield _from_row(row)

    def scores(self) -> Iterator[ScoreRow]:
        """Every row's id, hashes and scores in id order, without parsing programs.

        What a resumed study needs to rebuild its dedupe index: several times
        cheaper per row than ``rows()``.
        """
        query = ("SELECT id, struct_hash, fingerprint, duplicate_of, status, fitness, objectives "
                 "FROM programs ORDER BY id")
        for id_, h, f, dup, status, fitness, objectives in self._conn.execute(query):
            yield ScoreRow(id_, h, f, dup, Status(status), fitness, json.loads(objectives))

    def get(self, id: int) -> ProgramRecord | None:
        found = self._records(f"SELECT {COLUMNS} FROM programs WHERE id = ?", (id,))
        return found[0] if found else None

    def batches(self) -> list[BatchRecord]:
        return [
            BatchRecord(b, seed, p, e, s, json.loads(m), c)
            for b, seed, p, e, s, m, c in self._conn.execute("SELECT * FROM batches ORDER BY batch")
        ]

    def lookup_hash(self, struct_hash: str) -> ProgramRecord | None:
        """The evaluated row whose score a new program with this structural hash reuses.

        That is the original of the earliest row with the hash, skipping rows
        whose original ended in status ``error`` (a failed run says nothing
        about the program, so it is evaluated again). None if there is none.
        """
        return self._lookup("struct_hash", struct_hash)

    def lookup_fingerprint(self, fingerprint: str) -> ProgramRecord | None:
        """As ``lookup_hash``, by functional fingerprint."""
        return self._lookup("fingerprint", fingerprint)

    # -- helpers -----------------------------------------------------------

    def _lookup(self, column: str, value: str) -> ProgramRecord | None:
        cols = ", ".join(f"o.{c.strip()}" for c in COLUMNS.split(","))
        found = self._records(
            f"SELECT {cols} FROM programs p JOIN programs o ON o.id = COALESCE(p.duplicate_of, p.id) "
            f"WHERE p.{column} = ? AND o.status != ? ORDER BY p.id LIMIT 1",
            (value, Status.ERROR.value),
        )
        return found[0] if found else None

    def _one(self, sql: str) -> Any:
        return self._conn.execute(sql).fetchone()[0]

    def _records(self, sql: str, args: tuple = ()) -> list[ProgramRecord]:
        return [_from_row(r) for r in self._conn.execute(sql, args)]


def json_dumps(value: Any) -> str:
    """Canonical JSON of stored values; numpy and JAX scalars and arrays become numbers and lists."""
    return _ENCODER.encode(value)


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy/JAX scalars and arrays
        return value.tolist()
    raise TypeError(f"cannot store a {type(value).__name__} as JSON")


#: What ``json.dumps(value, separators=(",", ":"), sort_keys=True, default=_plain)`` builds on every
#: call; made once, as every stored row encodes two dicts.
_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True, default=_plain)


def _to_row(r: ProgramRecord) -> tuple:
    if not math.isfinite(r.fitness):
        raise StoreError(f"row {r.id}: fitness must be finite, got {r.fitness}")
    return (
        int(r.id), int(r.batch), int(r.position), r.program.to_json(), r.struct_hash, r.fingerprint,
        None if r.parent_id is None else int(r.parent_id),
        None if r.duplicate_of is None else int(r.duplicate_of), Status(r.status).value, float(r.fitness),
        json_dumps(dict(r.objectives)), json_dumps(dict(r.details)), float(r.seconds), float(r.created),
    )


def _from_row(row: tuple) -> ProgramRecord:
    (id_, batch, position, program, struct_hash, fingerprint, parent_id, duplicate_of,
     status, fitness, objectives, details, seconds, created) = row
    return ProgramRecord(
        id_, batch, position, decode(program), struct_hash, fingerprint, parent_id, duplicate_of,
        Status(status), fitness, json.loads(objectives), json.loads(details), seconds, created,
    )
