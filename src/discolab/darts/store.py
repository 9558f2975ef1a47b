"""The RL-DARTS study store: one SQLite file, so a killed search or retrain resumes where it stopped.

Contract:

- The supernet phase writes, every ``checkpoint_updates`` PPO updates, ONE
  transaction holding that segment's metrics (returns, the softmax of the
  alphas after every update) and the full training state (``PPOState`` as
  flax bytes: weights, alphas, optimizer states, environments, key). A resumed
  search restores that state and continues, so it ends with the same alphas
  as an uninterrupted run.
- The retrain phase writes one arm (the DARTS cell, the hand-designed
  encoder, or one random cell; all its seeds) per transaction; a resumed
  retrain skips the arms already stored.
- A file made for another config, or of another schema version, is refused;
  non-finite floats are stored as NULL / JSON null and read back as NaN.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from pathlib import Path
from typing import Any, NamedTuple

from discolab.jsonable import json_safe, nan_if_none

__all__ = ["SCHEMA_VERSION", "ArmRecord", "DartsStore", "Segment"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    schema_version INTEGER NOT NULL,
    created REAL NOT NULL,
    config TEXT NOT NULL
);
CREATE TABLE segments (
    update_end INTEGER PRIMARY KEY,
    updates INTEGER NOT NULL,
    seconds REAL NOT NULL,
    metrics TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE checkpoint (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    update_end INTEGER NOT NULL,
    state BLOB NOT NULL
);
CREATE TABLE arms (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    genotype TEXT,
    param_count INTEGER NOT NULL,
    compile_s REAL NOT NULL,
    run_s REAL NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE runs (
    arm TEXT NOT NULL REFERENCES arms(name),
    seed INTEGER NOT NULL,
    final_return REAL,
    curve TEXT NOT NULL,
    PRIMARY KEY (arm, seed)
);
"""


class Segment(NamedTuple):
    """A stored stretch of the supernet phase: updates ``update_end - updates .. update_end``."""

    update_end: int
    updates: int
    seconds: float
    metrics: dict[str, Any]  # per-update lists, leading axis = search seed


class ArmRecord(NamedTuple):
    """One retrained arm: ``kind`` is darts, baseline or random; per-seed final returns and curves."""

    name: str
    kind: str
    genotype: str | None
    param_count: int
    compile_s: float
    run_s: float
    seeds: list[int]
    final_returns: list[float]
    curves: list[list[float]]


class DartsStore:
    """The SQLite file of one study; opened with the study's config JSON, checked against the file's."""

    def __init__(self, path: str | Path, config_json: str | None = None) -> None:
        """``config_json=None`` opens an existing study with whatever config it holds."""
        self.path = Path(path)
        fresh = not self.path.exists()
        if fresh and config_json is None:
            raise FileNotFoundError(f"{self.path}: no such study")
        if fresh:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        if fresh:
            with self._db:
                self._db.executescript(_SCHEMA)
                self._db.execute("INSERT INTO meta VALUES (1, ?, ?, ?)", (SCHEMA_VERSION, time.time(), config_json))
            return
        try:
            version, stored = self._db.execute("SELECT schema_version, config FROM meta").fetchone()
        except sqlite3.DatabaseError as err:
            self._db.close()
            raise ValueError(f"{self.path}: not an RL-DARTS study ({err})") from None
        if version != SCHEMA_VERSION:
            self._db.close()
            raise ValueError(f"{self.path}: schema version {version}, expected {SCHEMA_VERSION}")
        if config_json is not None and json.loads(stored) != json.loads(config_json):
            self._db.close()
            raise ValueError(f"{self.path} holds a study of another config; use a fresh study path")
        self.config_json = stored

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> DartsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def config(self) -> str:
        return self._db.execute("SELECT config FROM meta").fetchone()[0]

    # -- supernet phase ---------------------------------------------------------------
    def add_segment(self, segment: Segment, state: bytes) -> None:
        """The segment's metrics and the state after it, in one transaction."""
        with self._db:
            self._db.execute(
                "INSERT INTO segments VALUES (?, ?, ?, ?, ?)",
                (segment.update_end, segment.updates, segment.seconds, json.dumps(json_safe(segment.metrics)),
                 time.time()),
            )
            self._db.execute(
                "INSERT INTO checkpoint VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "update_end = excluded.update_end, state = excluded.state",
                (segment.update_end, state),
            )

    def checkpoint(self) -> tuple[int, bytes] | None:
        """``(updates done, state bytes)`` of the latest checkpoint, or None before the first."""
        row = self._db.execute("SELECT update_end, state FROM checkpoint").fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def segments(self) -> list[Segment]:
        rows = self._db.execute("SELECT update_end, updates, seconds, metrics FROM segments ORDER BY update_end")
        return [Segment(u, n, s, nan_if_none(json.loads(m))) for u, n, s, m in rows]

    # -- retrain phase ----------------------------------------------------------------
    def add_arm(self, arm: ArmRecord) -> None:
        """An arm and all its seeds' runs, in one transaction."""
        runs = [
            (arm.name, seed, ret if math.isfinite(ret) else None, json.dumps(json_safe(curve)))
            for seed, ret, curve in zip(arm.seeds, arm.final_returns, arm.curves, strict=True)
        ]
        with self._db:
            self._db.execute(
                "INSERT INTO arms VALUES (?, ?, ?, ?, ?, ?, ?)",
                (arm.name, arm.kind, arm.genotype, arm.param_count, arm.compile_s, arm.run_s, time.time()),
            )
            self._db.executemany("INSERT INTO runs VALUES (?, ?, ?, ?)", runs)

    def arm_names(self) -> set[str]:
        return {name for (name,) in self._db.execute("SELECT name FROM arms")}

    def arms(self) -> list[ArmRecord]:
        """Every stored arm, in the order it was trained."""
        out = []
        for name, kind, genotype, count, compile_s, run_s in self._db.execute(
            "SELECT name, kind, genotype, param_count, compile_s, run_s FROM arms ORDER BY created, rowid"
        ).fetchall():
            runs = self._db.execute(
                "SELECT seed, final_return, curve FROM runs WHERE arm = ? ORDER BY seed", (name,)
            ).fetchall()
            out.append(ArmRecord(
                name, kind, genotype, count, compile_s, run_s, [r[0] for r in runs],
                [math.nan if r[1] is None else r[1] for r in runs], [nan_if_none(json.loads(r[2])) for r in runs],
            ))
        return out
