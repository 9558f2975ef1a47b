"""The `discolab` command line: search, resume, show and export studies; stability sweeps; RL-DARTS.

Every user error (a bad config field, an unknown op, a missing or foreign
file) prints one line naming what is wrong and exits with code 2 before any
stored study is touched. Each command group lives in its own module; this
package registers them all on one Typer ``app``.
"""

from __future__ import annotations

from discolab.cli.common import app

# Registration order is the order of `discolab --help`.
from discolab.cli import study as _study  # noqa: E402,F401  (search, resume, show, export)
from discolab.cli import stability as _stability  # noqa: E402,F401  (discolab stability ...)
from discolab.cli import darts as _darts  # noqa: E402,F401  (discolab darts ...)

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - console entry
    app()
