"""The sweep store: one SQLite file with a row per training run, so a killed sweep resumes.

Contract: a (width, variant) group is written in ONE transaction, its runs and
its ``groups`` row together, so a group is either complete in the file or
absent; ``run_sweep`` skips complete groups on resume. A file made for
another sweep config is refused rather than mixed. Non-finite floats are
stored as NULL (``final_loss``) or as JSON ``null`` (inside ``metrics_json``)
and read back as NaN.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from discolab.jsonable import json_safe, nan_if_none

__all__ = ["SCHEMA_VERSION", "GroupTiming", "RunRecord", "SweepStore"]

#: Bumped on any change of the tables below; a file of another version is refused.
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    schema_version INTEGER NOT NULL,
    created REAL NOT NULL,
    config TEXT NOT NULL
);
CREATE TABLE groups (
    width INTEGER NOT NULL,
    variant TEXT NOT NULL,
    compile_s REAL NOT NULL,
    run_s REAL NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (width, variant)
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    width INTEGER NOT NULL,
    variant TEXT NOT NULL,
    lr REAL NOT NULL,
    seed INTEGER NOT NULL,
    final_loss REAL,
    diverged INTEGER NOT NULL,
    init_loss REAL,
    metrics_json TEXT NOT NULL,
    FOREIGN KEY (width, variant) REFERENCES groups(width, variant)
);
"""


class RunRecord(NamedTuple):
    """One training run of a sweep; ``metrics`` maps a metric name to its logged values."""

    width: int
    variant: str
    lr: float
    seed: int
    final_loss: float  # NaN when non-finite
    diverged: bool
    init_loss: float
    metrics: dict[str, list[float]]


class GroupTiming(NamedTuple):
    compile_s: float
    run_s: float


class SweepStore:
    """The SQLite file of one sweep; open with the sweep's config JSON (checked against the file's)."""

    def __init__(self, path: str | Path, config_json: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists()
        self._db = sqlite3.connect(self.path)
        if fresh:
            with self._db:
                self._db.executescript(_SCHEMA)
                self._db.execute(
                    "INSERT INTO meta VALUES (1, ?, ?, ?)", (SCHEMA_VERSION, time.time(), config_json)
                )
            return
        version, stored = self._db.execute("SELECT schema_version, config FROM meta").fetchone()
        if version != SCHEMA_VERSION:
            raise ValueError(f"{self.path}: schema version {version}, expected {SCHEMA_VERSION}")
        if json.loads(stored) != json.loads(config_json):
            raise ValueError(f"{self.path} holds a sweep of another config; use a fresh output directory")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def completed(self) -> set[tuple[int, str]]:
        """The (width, variant) groups already in the file."""
        return {(w, v) for w, v in self._db.execute("SELECT width, variant FROM groups")}

    def timing(self, width: int, variant: str) -> GroupTiming:
        row = self._db.execute(
            "SELECT compile_s, run_s FROM groups WHERE width = ? AND variant = ?", (width, variant)
        ).fetchone()
        return GroupTiming(*row)

    def add_group(self, width: int, variant: str, timing: GroupTiming, runs: Sequence[RunRecord]) -> None:
        """Writes a group's runs and its completion row in one transaction."""
        rows = [
            (r.width, r.variant, r.lr, r.seed, r.final_loss if math.isfinite(r.final_loss) else None,
             int(r.diverged), r.init_loss if math.isfinite(r.init_loss) else None, json.dumps(json_safe(r.metrics)))
            for r in runs
        ]
        with self._db:
            self._db.execute(
                "INSERT INTO groups VALUES (?, ?, ?, ?, ?)", (width, variant, *timing, time.time())
            )
            self._db.executemany(
                "INSERT INTO runs (width, variant, lr, seed, final_loss, diverged, init_loss, metrics_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def runs(self) -> list[RunRecord]:
        """Every run, ordered by width, variant, seed and learning rate."""
        query = (
            "SELECT width, variant, lr, seed, final_loss, diverged, init_loss, metrics_json FROM runs"
            " ORDER BY width, variant, seed, lr"
        )
        return list(_records(self._db.execute(query)))


def _records(rows: Iterable[tuple[Any, ...]]) -> Iterable[RunRecord]:
    for width, variant, lr, seed, final, diverged, init, metrics in rows:
        decoded = {k: nan_if_none(v) for k, v in json.loads(metrics).items()}
        yield RunRecord(width, variant, lr, seed, nan_if_none(final), bool(diverged), nan_if_none(init), decoded)
