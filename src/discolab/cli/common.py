"""What every `discolab` command shares: the app, the consoles, one-line errors, config loading."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Discover machine-learning algorithms by program search."
)
console = Console()
err_console = Console(stderr=True)

DEFAULT_CONFIG = Path(__file__).parent.parent / "defaults" / "nguyen.toml"


def _enable_compile_cache() -> None:
    """JAX's persistent compilation cache: a resumed or repeated search compiles nothing.

    The folder is ``$DISCOLAB_CACHE_DIR`` or ``~/.cache/discolab/jax``; set
    ``DISCOLAB_CACHE_DIR=off`` to disable it.
    """
    import os

    folder = os.environ.get("DISCOLAB_CACHE_DIR", str(Path.home() / ".cache" / "discolab" / "jax"))
    if folder == "off":
        return
    import jax

    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)


def _fail(message: str, code: int = 2) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _user_errors() -> tuple[type[BaseException], ...]:
    from discolab.domains.regression import DataError
    from discolab.report import ReportError
    from discolab.study import StoreError, StudyError
    from discolab.study.config import ConfigError

    return ConfigError, StoreError, StudyError, DataError, ReportError, DamagedStudy


def _rate(per_second: float) -> str:
    """Evaluations per second, or seconds per evaluation when each takes longer than one (RL domains)."""
    if per_second >= 1 or per_second <= 0:
        return f"{per_second:,.0f} eval/s"
    return f"{1 / per_second:,.1f} s/eval"


class DamagedStudy(Exception):
    """SQLite found the study file damaged past its header; nothing was written."""


@contextlib.contextmanager
def _damage_is_an_error(path: Path):
    """Turns SQLite's ``database disk image is malformed`` (and kin) into one line naming the file."""
    import sqlite3

    try:
        yield
    except sqlite3.DatabaseError as err:
        raise DamagedStudy(f"{path}: the study file is damaged ({err}); restore it from a copy") from None


def _validation_line(path: Path, err: Exception) -> str:
    """A pydantic ValidationError as one line: ``path: field.sub: message; ...``."""
    import pydantic

    if not isinstance(err, pydantic.ValidationError):
        return f"{path}: {' '.join(str(err).split())}"
    parts = []
    for e in err.errors():
        where = ".".join(str(x) for x in e["loc"])
        message = e["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return f"{path}: " + "; ".join(parts)


def _load_config_file(config: Path, loader):
    """``loader(config)``, with a missing file, bad TOML or a bad field as one line and exit 2."""
    import tomllib

    import pydantic

    if not config.is_file():
        _fail(f"config not found: {config}")
    try:
        return loader(config)
    except tomllib.TOMLDecodeError as err:
        _fail(f"{config}: not valid TOML: {err}")
    except (pydantic.ValidationError, ValueError, KeyError) as err:
        _fail(_validation_line(config, err))
