"""Reliability tests: this folder on sys.path (bench/reliability_soak.py imports the same support module)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
