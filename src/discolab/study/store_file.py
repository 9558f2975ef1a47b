"""A study file on disk: its schema, the checks before SQLite opens it, and read-only connections.

Kept apart from :mod:`discolab.study.store` (which reads and writes the
rows) because this is what decides whether a file is a study at all, and it
never writes.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


#: Bumped on any change of the tables below; a file of another version is refused. Stored twice:
#: ``PRAGMA user_version`` (checked from the raw header, before SQLite opens the file) and ``meta``.
SCHEMA_VERSION = 1
#: ``PRAGMA application_id`` of discolab studies ("dclb"): tells our files from other SQLite files.
APPLICATION_ID = 0x64636C62

SCHEMA = """
CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    schema_version INTEGER NOT NULL,
    created REAL NOT NULL,
    config TEXT NOT NULL,
    space TEXT NOT NULL
);
CREATE TABLE searcher (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    completed_batches INTEGER NOT NULL,
    state TEXT,
    updated REAL NOT NULL
);
CREATE TABLE batches (
    batch INTEGER PRIMARY KEY,
    seed INTEGER NOT NULL,
    proposals INTEGER NOT NULL,
    evaluated INTEGER NOT NULL,
    seconds REAL NOT NULL,
    metrics TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE programs (
    id INTEGER PRIMARY KEY,
    batch INTEGER NOT NULL REFERENCES batches(batch),
    position INTEGER NOT NULL,
    program TEXT NOT NULL,
    struct_hash TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    parent_id INTEGER,
    duplicate_of INTEGER REFERENCES programs(id),
    status TEXT NOT NULL,
    fitness REAL NOT NULL,
    objectives TEXT NOT NULL,
    details TEXT NOT NULL,
    seconds REAL NOT NULL,
    created REAL NOT NULL,
    UNIQUE (batch, position)
);
CREATE INDEX IF NOT EXISTS programs_struct_hash ON programs(struct_hash);
CREATE INDEX IF NOT EXISTS programs_fingerprint ON programs(fingerprint);
CREATE INDEX IF NOT EXISTS programs_fitness ON programs(fitness);
"""
#: The lookup indexes (``SCHEMA``'s last statements): derived data, rebuilt by ``restore_indexes``.
LOOKUP_INDEXES = SCHEMA[SCHEMA.index("CREATE INDEX IF NOT EXISTS"):]
LOOKUP_INDEX_NAMES = ("programs_struct_hash", "programs_fingerprint", "programs_fitness")

#: The programs table's columns, in the order of a row tuple (``Store.commit_rows``).
COLUMNS = (
    "id, batch, position, program, struct_hash, fingerprint, parent_id, duplicate_of, "
    "status, fitness, objectives, details, seconds, created"
)


class StoreError(Exception):
    """A study file that cannot be created, opened or written; the message is one line naming the path."""


def writable(path: Path) -> bool:
    """Whether SQLite can write the study: the file, and its folder (for the ``-wal``/``-shm`` files)."""
    return os.access(path, os.W_OK) and os.access(path.resolve().parent, os.W_OK | os.X_OK)


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection that leaves no ``-wal``/``-shm`` files behind.

    Without a ``-wal`` file no writer is active and every commit is in the
    main file, so it is read as immutable (SQLite then makes no WAL index);
    with one, a search is running or was killed, and SQLite reads its WAL.
    """
    idle = not Path(f"{path}-wal").exists() or not os.access(path.resolve().parent, os.W_OK)
    flags = "mode=ro&immutable=1" if idle else "mode=ro"
    return sqlite3.connect(f"{path.resolve().as_uri()}?{flags}", uri=True, isolation_level=None, timeout=30.0)


def check_study_file(path: Path) -> None:
    """Raises StoreError unless ``path`` is a discolab study of this schema version; never writes.

    The SQLite header is read as plain bytes first, so a foreign or
    other-version file is refused before SQLite touches it (a read-only
    SQLite open of a WAL file would still create ``-shm``/``-wal`` beside it).
    """
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except OSError as err:
        raise StoreError(f"{path}: cannot read: {err.strerror}") from None
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        raise StoreError(f"{path}: not a discolab study (not an SQLite file)")
    app_id = int.from_bytes(header[68:72], "big")
    version = int.from_bytes(header[60:64], "big")
    if app_id != APPLICATION_ID:
        raise StoreError(f"{path}: not a discolab study (an SQLite file of another application)")
    if version == 0:
        raise StoreError(f"{path}: corrupt discolab study: no schema version")
    if version != SCHEMA_VERSION:
        raise StoreError(f"{path}: study has schema version {version}; this discolab reads version {SCHEMA_VERSION}")
    try:
        conn = connect_readonly(path)
    except sqlite3.Error as err:
        raise StoreError(f"{path}: cannot open: {err}") from None
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "meta" not in tables:
            raise StoreError(f"{path}: corrupt discolab study: no meta table")
        row = conn.execute("SELECT schema_version FROM meta WHERE id = 1").fetchone()
        if row is None:
            raise StoreError(f"{path}: corrupt discolab study: empty meta table")
        if row[0] != SCHEMA_VERSION:
            raise StoreError(
                f"{path}: study has schema version {row[0]}; this discolab reads version {SCHEMA_VERSION}"
            )
        missing = {"searcher", "batches", "programs"} - tables
        if missing:
            raise StoreError(f"{path}: corrupt discolab study: missing tables {sorted(missing)}")
    except sqlite3.DatabaseError as err:
        raise StoreError(f"{path}: corrupt discolab study ({err})") from None
    finally:
        conn.close()
