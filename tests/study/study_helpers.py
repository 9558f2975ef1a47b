"""Helpers of the study tests (a uniquely named module: ``conftest`` names clash across test folders)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fake_domain  # noqa: F401  (registers "fake" and "test_scripted")

from discolab.study import Store, StudyConfig, parse_config


def make_config(study: dict[str, Any] | None = None, domain: dict[str, Any] | None = None,
                searcher: dict[str, Any] | None = None) -> StudyConfig:
    """A small config of the fake domain; each table's fields override the defaults."""
    return parse_config({
        "study": {"name": "test", "seed": 0, "evaluations": 20, "batch_size": 8, **(study or {})},
        "domain": {"name": "fake", **(domain or {})},
        "searcher": searcher or {"name": "regularized_evolution", "population_size": 8, "tournament_size": 3},
    })


def sequence(path: Path) -> list[tuple]:
    """Every stored row of a study as plain values, to compare two studies."""
    with Store.open(path, readonly=True) as store:
        return [(r.id, r.batch, r.position, r.program.to_json(), r.struct_hash, r.fingerprint, r.parent_id,
                 r.duplicate_of, r.status, r.fitness, dict(r.objectives)) for r in store.rows()]
