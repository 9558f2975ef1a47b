"""Standard JSON for metrics with NaN and inf: the two directions every store of the project needs.

``json.dumps`` writes NaN as a bare ``NaN`` token, which is not JSON; the
stores write None instead and read None back as NaN. A leaf module under
every layer (tests/test_layering.py), since stores on both sides of the
stack use it.

>>> json_safe({"loss": [1.0, float("nan")], "ok": True})
{'loss': [1.0, None], 'ok': True}
>>> nan_if_none({"loss": [1.0, None]})
{'loss': [1.0, nan]}
"""

from __future__ import annotations

import math
from typing import Any


def json_safe(value: Any) -> Any:
    """Non-finite floats become None, recursively through dicts, lists and tuples."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def nan_if_none(value: Any) -> Any:
    """The inverse on read: None becomes NaN, recursively through dicts and lists."""
    if value is None:
        return math.nan
    if isinstance(value, list):
        return [nan_if_none(v) for v in value]
    if isinstance(value, dict):
        return {k: nan_if_none(v) for k, v in value.items()}
    return value
