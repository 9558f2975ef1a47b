"""Study tests: this folder on sys.path (the kill test's subprocess imports from it too)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import fake_domain  # noqa: E402,F401  (registers "fake" and "test_scripted")


@pytest.fixture
def study_path(tmp_path: Path) -> Path:
    return tmp_path / "study.db"
