"""`discolab search|resume|show|export`: program-search studies."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from discolab.cli.common import (
    DEFAULT_CONFIG, _damage_is_an_error, _enable_compile_cache, _fail, _rate, _user_errors, app, console, err_console,
)


class _RateColumn(ProgressColumn):
    """Evaluations per second since the run started, compile time included."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        done = task.completed - task.fields.get("resumed_from", 0)
        rate = done / elapsed if elapsed > 0 else 0.0
        return Text(_rate(rate), style="cyan")


def _run(path: Path, quiet: bool, executor_settings=None) -> None:
    _enable_compile_cache()
    with _damage_is_an_error(path):
        _run_study(path, quiet, executor_settings)


def _run_study(path: Path, quiet: bool, executor_settings) -> None:
    from discolab.study import Store, run_study

    with Store.open(path, readonly=True) as store:
        done = store.counts().evaluated
        target = int(store.config()["study"]["evaluations"])
    columns = [
        TextColumn("[bold]{task.description}"), BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} evals"), _RateColumn(),
        TextColumn("best {task.fields[best]}"), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
    ]
    with Progress(*columns, console=err_console, disable=quiet, transient=False) as progress:
        task = progress.add_task("search", total=target, completed=done, best="-", resumed_from=done)

        def on_batch(p) -> None:
            progress.update(task, completed=p.evaluations, best=f"{p.best_fitness:.4g}")

        try:
            final = run_study(path, on_batch=on_batch, executor_settings=executor_settings)
        except KeyboardInterrupt:
            progress.stop()
            _fail(f"interrupted; finished evaluations are stored. Continue with: discolab resume {path}", 130)
    console.print(
        f"{final.evaluations} evaluations, {final.duplicates} duplicates, {final.proposals} proposals "
        f"in {final.elapsed:.1f} s ({_rate(final.evaluations / max(final.elapsed, 1e-9))})"
    )
    _print_best(path)


def _print_best(path: Path) -> None:
    from discolab.study import Store
    from discolab.report import best_summary

    with Store.open(path) as store:
        console.print(best_summary(store), highlight=False, markup=False)  # q[a] is a formula, not a tag


@app.command()
def search(
    config: Annotated[Optional[Path], typer.Argument(help="TOML config; default: the built-in Nguyen search.")] = None,
    study: Annotated[Optional[Path], typer.Option(help="Study file to create (SQLite).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Override study.seed.")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Start a new search study and run it to its evaluation budget."""
    errors = _user_errors()
    from discolab.study import create_study
    from discolab.study.config import load_config

    try:
        cfg = load_config(config or DEFAULT_CONFIG)
        if seed is not None:
            if seed < 0:
                _fail(f"--seed must be >= 0, got {seed}")
            cfg = cfg.with_seed(seed)
        path = study or Path("studies") / f"{(config or DEFAULT_CONFIG).stem}-seed{cfg.study.seed}.db"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            _fail(f"--study {path}: {path.parent} is a file, not a folder")
        create_study(path, cfg)
        console.print(f"study {path}: {cfg.domain.name} / {cfg.searcher.name}, {cfg.study.evaluations} evaluations")
        _run(path, quiet)
    except errors as err:
        _fail(str(err))
    except OSError as err:
        _fail(f"{err.filename or ''}: {err.strerror}" if err.strerror else str(err))


@app.command()
def resume(
    study: Annotated[Path, typer.Argument(help="Study file to continue.")],
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    executor: Annotated[Optional[str], typer.Option(help="Run on `local` or `ray` this time.")] = None,
    address: Annotated[Optional[str], typer.Option(help="Ray cluster address (with --executor ray).")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Ray workers (with --executor ray).")] = None,
    timeout: Annotated[Optional[float], typer.Option(help="Seconds per batch part (with --executor ray).")] = None,
) -> None:
    """Continue a study after a crash or kill; no finished evaluation is lost or repeated.

    The executor options replace the stored [executor] table for this run:
    a study started on a laptop resumes on a Ray cluster, and back.
    """
    errors = _user_errors()
    if not study.is_file():
        _fail(f"study not found: {study}")
    try:
        settings = _executor_override(study, executor, address, workers, timeout)
        _run(study, quiet, settings)
    except errors as err:
        _fail(str(err))


def _executor_override(study: Path, name, address, workers, timeout):
    """The stored [executor] table with the command line's options applied; None if none was given."""
    if name is None and address is None and workers is None and timeout is None:
        return None
    import pydantic

    from discolab.study import ConfigError, Store
    from discolab.study.config import ExecutorSection

    with Store.open(study, readonly=True) as store:
        stored = dict(store.config().get("executor") or {})
    if name is not None and name != stored.get("name", "local"):
        stored = {"imports": stored.get("imports", [])}
    overrides = {"name": name, "address": address, "workers": workers, "timeout_s": timeout}
    stored.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return ExecutorSection.model_validate(stored)
    except pydantic.ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        flag = {"name": "--executor", "timeout_s": "--timeout"}.get(where, f"--{where}" if where else "--executor")
        raise ConfigError(f"{flag}: {first['msg'].removeprefix('Value error, ')}") from None


@app.command()
def show(
    study: Annotated[Path, typer.Argument(help="Study file.")],
    top: Annotated[int, typer.Option(help="How many programs to list.")] = 10,
    figure: Annotated[Optional[Path], typer.Option(
        help="Multi-objective studies: write the Pareto front's 2-D projections to this PNG.")] = None,
) -> None:
    """Top programs as formulas, and counts of duplicates, hurdle failures and errors.

    A multi-objective study (MetaPG) also prints its Pareto front, with the
    domain's references (SAC) beside it.
    """
    errors = _user_errors()
    from discolab.study import Store
    from discolab.report import counts_line, top_table_rows
    from discolab.report import front as front_lib

    if not study.is_file():
        _fail(f"study not found: {study}")
    if top < 1:
        _fail(f"--top must be >= 1, got {top}")
    try:
        with _damage_is_an_error(study), Store.open(study, readonly=True) as store:
            multi = front_lib.is_multi_objective(store)
            if figure is not None and not multi:
                _fail("--figure is for multi-objective studies; this one has one objective")
            if not multi:  # a multi-objective study's ranking is its front, below
                header, rows = top_table_rows(store, top)
                table = Table(title=f"{study}: top {top}")
                for name in header:
                    wide = name == "formula"
                    table.add_column(name, overflow="fold" if wide else "ellipsis", no_wrap=not wide,
                                     ratio=1 if wide else None)
                for row in rows:
                    table.add_row(*(Text(cell) for cell in row))  # formulas are not markup
                console.print(table)
            console.print(counts_line(store), highlight=False, soft_wrap=True, markup=False)
            if multi:
                front = front_lib.pareto(store)
                header, rows = front_lib.front_table_rows(front)
                table = Table(title=f"Pareto front: {len(front.members)} candidates")
                for name in header:
                    table.add_column(name, no_wrap=True)
                for row in rows:
                    table.add_row(*(Text(cell) for cell in row))
                console.print(table)
                for row in rows:
                    console.print(f"#{row[0]}: {front.formulas[int(row[0])]}", markup=False, highlight=False)
                if not front.references:
                    console.print("no reference (e.g. SAC) was evaluated in this study", markup=False)
                if figure is not None:
                    names = [n for n, _ in front.objectives]
                    written = front_lib.front_figure(front, figure, front_lib.ok_rows(store, names))
                    console.print(f"wrote {written}", markup=False)
    except errors as err:
        _fail(str(err))


@app.command()
def export(
    study: Annotated[Path, typer.Argument(help="Study file.")],
    format: Annotated[str, typer.Option(help="python, sympy or json.")] = "python",
    out: Annotated[Optional[Path], typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """The best program as Python/JAX source, a sympy expression or JSON."""
    errors = _user_errors()
    from discolab.study import Store
    from discolab.report import export_best

    if format not in ("python", "sympy", "json"):
        _fail(f"--format must be python, sympy or json, got {format!r}")
    if not study.is_file():
        _fail(f"study not found: {study}")
    try:
        with _damage_is_an_error(study), Store.open(study, readonly=True) as store:
            text = export_best(store, format)
    except errors as err:
        _fail(str(err))
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        out.write_text(text)
        console.print(f"wrote {out}")
