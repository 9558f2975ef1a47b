"""User data for the regression domain: a numeric CSV file, checked and split.

The file has a header row and numeric cells only. One column is the target
(``y`` by default); the features are the other columns, or the ``features``
list. Feature names become program input names, so each must be a Python
identifier (they appear in rendered formulas and exported source).

Every problem with the file raises :class:`DataError` with one line that
names the file and says what is wrong, because a search that starts on bad
data wastes hours before anyone reads a traceback.
"""

from __future__ import annotations

import csv
import dataclasses
import keyword
import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

MIN_ROWS = 4


class DataError(ValueError):
    """A data file that cannot be used; the message names the file and the problem."""


@dataclasses.dataclass(frozen=True)
class Table:
    """A checked CSV: feature columns ``x [rows, features]`` and the target ``y [rows]``."""

    path: str
    features: tuple[str, ...]
    target: str
    x: np.ndarray
    y: np.ndarray


def load_csv(path: str | Path, target: str = "y", features: Sequence[str] | None = None) -> Table:
    """Reads and checks a numeric CSV file.

    Args:
      path: the file; it must have a header row.
      target: the target column's name.
      features: the feature columns, in order; default every other column.

    Returns:
      The table in float64.

    Raises:
      DataError: missing or empty file, no header, a missing column, a bad
        feature name, a non-numeric, NaN or infinite cell, fewer than
        ``MIN_ROWS`` rows, or a constant target.
    """
    where = str(path)

    def fail(what: str) -> DataError:
        return DataError(f"{where}: {what}")

    file = Path(path)
    if not file.is_file():
        raise fail("no such file")
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise fail(f"cannot read the file ({err})") from None
    reader = csv.reader(io.StringIO(text))
    try:
        rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as err:
        raise fail(f"not readable as CSV near line {reader.line_num} ({err})") from None
    if not rows:
        raise fail("the file is empty; expected a header row and numeric rows")
    header = [cell.strip() for cell in rows[0][1]]
    if any(not name for name in header):
        raise fail(f"the header has an empty column name: {header}")
    duplicates = sorted({n for n in header if header.count(n) > 1})
    if duplicates:
        raise fail(f"the header repeats column names {duplicates}")
    if target not in header:
        raise fail(f"no target column {target!r}; columns: {', '.join(header)}")
    names = tuple(features) if features is not None else tuple(n for n in header if n != target)
    _check_features(names, header, target, fail)

    values = _parse(rows, header, fail)
    if values.shape[0] < MIN_ROWS:
        raise fail(f"has {values.shape[0]} data rows; need at least {MIN_ROWS}")
    y = values[:, header.index(target)]
    if np.ptp(y) == 0:
        raise fail(f"the target column {target!r} is constant; nothing to regress")
    x = values[:, [header.index(n) for n in names]]
    return Table(where, names, target, x, y)


def _check_features(
    names: tuple[str, ...], header: list[str], target: str, fail: Callable[[str], DataError]
) -> None:
    if not names:
        raise fail(f"no feature columns besides the target {target!r}")
    for name in names:
        if name not in header:
            raise fail(f"no feature column {name!r}; columns: {', '.join(header)}")
        if name == target:
            raise fail(f"the target {target!r} cannot also be a feature")
        if not name.isidentifier() or keyword.iskeyword(name):
            raise fail(f"feature name {name!r} is not a valid identifier (names become program inputs)")
    if len(set(names)) != len(names):
        raise fail(f"features repeat a name: {list(names)}")


def _parse(
    rows: list[tuple[int, list[str]]], header: list[str], fail: Callable[[str], DataError]
) -> np.ndarray:
    """Data rows as float64; errors give the data row (1-based) and the file line."""
    out = np.empty((len(rows) - 1, len(header)), np.float64)
    for r, (line, row) in enumerate(rows[1:]):
        where = f"row {r + 1} (line {line})"
        if len(row) != len(header):
            raise fail(f"{where} has {len(row)} cells; the header has {len(header)}")
        for c, cell in enumerate(row):
            try:
                value = float(cell.strip())
            except ValueError:
                raise fail(f"{where}, column {header[c]!r}: {cell.strip()!r} is not a number") from None
            if not math.isfinite(value):
                raise fail(f"{where}, column {header[c]!r}: {cell.strip()!r} is not finite")
            out[r, c] = value
    return out


def split(n: int, test_fraction: float, data_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random train/test row indices; each side keeps at least two rows.

    Two rows per side keep each split's standard deviation (the NRMSE scale)
    defined.
    """
    n_test = min(max(2, round(n * test_fraction)), n - 2)
    order = np.random.default_rng([data_seed, 0]).permutation(n)
    return np.sort(order[n_test:]), np.sort(order[:n_test])
