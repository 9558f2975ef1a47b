"""The `discolab` command line: search, resume, show and export studies; stability sweeps; RL-DARTS.

Every user error (a bad config field, an unknown op, a missing or foreign
file) prints one line naming what is wrong and exits with code 2 before any
stored study is touched.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.splitlines()[0])
console = Console()
err_console = Console(stderr=True)

DEFAULT_CONFIG = Path(__file__).parent / "defaults" / "nguyen.toml"


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


stability_app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Small-scale proxies for transformer training instabilities."
)
app.add_typer(stability_app, name="stability")


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


def _load_stability_config(config: Path):
    from discolab.stability import load_sweep_config

    return _load_config_file(config, load_sweep_config)


def _check_sweep_dir(out: Path, cfg) -> None:
    """Refuses an output folder that is a file or holds another sweep, before anything trains."""
    import sqlite3

    from discolab.stability.lab import STORE_NAME
    from discolab.stability.store import SweepStore

    if out.exists() and not out.is_dir():
        _fail(f"--out {out}: is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        _fail(f"--out {out}: a parent is a file, not a folder")
    store = out / STORE_NAME
    if store.exists():
        try:
            SweepStore(store, cfg.model_dump_json()).close()
        except (ValueError, sqlite3.DatabaseError) as err:
            _fail(str(err) if isinstance(err, ValueError) else f"{store}: not a sweep store ({err})")


@stability_app.command("sweep")
def stability_sweep(
    config: Annotated[Path, typer.Argument(help="TOML sweep config (widths, learning rates, variants, train).")],
    out: Annotated[Optional[Path], typer.Option(help="Output folder; default results/stability/<config stem>.")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress line.")] = False,
) -> None:
    """Train every learning rate x width x variant; write sweep.sqlite, summary.json and figures.

    Rerunning on the same --out skips the groups already stored.
    """
    cfg = _load_stability_config(config)
    out = out or Path("results") / "stability" / config.stem
    _check_sweep_dir(out, cfg)
    from discolab.stability.lab import STORE_NAME, run_sweep
    from discolab.stability.sweep import cap_losses, final_losses, sensitivity_from_losses

    total = len(cfg.widths) * len(cfg.variant_list)
    runs = len(cfg.lrs) * cfg.seeds
    console.print(
        f"stability sweep {config}: {len(cfg.widths)} widths x {len(cfg.lrs)} learning rates x "
        f"{len(cfg.variant_list)} variants x {cfg.seeds} seed(s), {cfg.train.num_steps} steps -> {out}",
        highlight=False, soft_wrap=True,
    )
    columns = [
        TextColumn("[bold]{task.description}"), BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} groups"), TimeElapsedColumn(),
        TextColumn("eta"), TimeRemainingColumn(),
    ]
    start = time.perf_counter()
    with Progress(*columns, console=err_console, disable=quiet, transient=False) as progress:
        task = progress.add_task("sweep", total=total)

        def on_group(width: int, variant: str, group) -> None:
            loss, diverged = final_losses(group.metrics, cfg.final_window)  # [seeds, lrs]
            init = float(group.metrics.init_loss.mean())
            capped = cap_losses(loss, init).mean(axis=0)
            sens = sensitivity_from_losses(capped, init)
            line = (
                f"width {width:>4} {variant:<22} compile {group.compile_s:5.1f} s  run {group.run_s:6.1f} s  "
                f"best loss {float(capped.min()):.3f}  diverged {int(diverged.any(axis=0).sum())}/{runs}  "
                f"LR sensitivity {sens:.3f}"
            )
            (progress.console if not quiet else console).print(line, highlight=False, soft_wrap=True)
            progress.advance(task)

        try:
            result = run_sweep(cfg, out, on_group=on_group)
        except KeyboardInterrupt:
            progress.stop()
            _fail(f"interrupted; finished groups are stored. Continue with: discolab stability sweep {config} "
                  f"--out {out}", 130)
        except OSError as err:
            _fail(f"{err.filename or ''}: {err.strerror}" if err.strerror else str(err))
    wall = time.perf_counter() - start
    summary = result.summary
    console.print(
        f"{len(summary['groups'])} groups in {wall:.1f} s wall (compile {summary['compile_s']:.1f} s, "
        f"run {summary['run_s']:.1f} s)", highlight=False, soft_wrap=True,
    )
    console.print(f"results: {out / STORE_NAME}, {result.summary_path}", highlight=False, soft_wrap=True)
    if result.figures:
        console.print("figures: " + ", ".join(str(p) for p in result.figures), highlight=False, soft_wrap=True)
    else:
        console.print("figures: none (matplotlib is not installed)", highlight=False)


darts_app = typer.Typer(
    add_completion=False, no_args_is_help=True,
    help="RL-DARTS: differentiable architecture search of an RL agent's encoder.",
)
app.add_typer(darts_app, name="darts")


def _load_darts_config(config: Path):
    from discolab.darts.config import load_config

    return _load_config_file(config, load_config)


def _open_darts_study(path: Path, cfg=None):
    """``(config, store)``; a missing, foreign or damaged file is one line, and nothing is written."""
    import sqlite3

    from discolab.darts.study import open_study

    if path.exists() and not path.is_file():
        _fail(f"{path}: is a folder, not a study file")
    if cfg is None and not path.exists():
        _fail(f"{path}: no such study; start one with `discolab darts search CONFIG --study {path}`")
    try:
        return open_study(path, cfg)
    except ValueError as err:
        _fail(str(err))
    except sqlite3.DatabaseError as err:
        _fail(f"{path}: not an RL-DARTS study ({err})")
    except OSError as err:
        _fail(f"{path}: {err.strerror or err}")


@darts_app.command("search")
def darts_search(
    config: Annotated[Path, typer.Argument(help="TOML study config ([search], [ppo], [retrain]).")],
    study: Annotated[Optional[Path], typer.Option(help="Study file; default studies/darts/<config stem>.db.")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress line.")] = False,
) -> None:
    """Train the supernet (weights and alphas jointly with PPO); rerun to resume from the last checkpoint."""
    cfg = _load_darts_config(config)
    study = study or Path("studies") / "darts" / f"{config.stem}.db"
    _enable_compile_cache()
    cfg, store = _open_darts_study(study, cfg)
    from discolab.darts.genotype import describe
    from discolab.darts.study import search

    console.print(f"RL-DARTS search {config} -> {study}: {cfg.env}, op set {cfg.search.op_set}, "
                  f"{cfg.search.seeds} supernet(s) x {cfg.ppo.total_steps:,} steps", highlight=False, soft_wrap=True)
    start = time.perf_counter()
    with store, Progress(TextColumn("[bold]supernet"), BarColumn(), TextColumn("{task.completed:.0f}/{task.total:.0f} "
                         "updates"), TimeElapsedColumn(), TextColumn("{task.fields[line]}"), console=err_console,
                         disable=quiet) as progress:
        task = progress.add_task("supernet", total=None, line="")

        def on_segment(done: int, total: int, segment) -> None:
            import numpy as np

            with np.errstate(all="ignore"):
                ret = float(np.nanmean(np.asarray(segment.metrics["return"], float)))
            progress.update(task, completed=done, total=total, line=f"return {ret:.2f}")

        try:
            result = search(cfg, store, on_segment)
        except KeyboardInterrupt:
            progress.stop()
            _fail(f"interrupted; finished segments are stored. Resume with: discolab darts search {config} "
                  f"--study {study}", 130)
    console.print(f"supernet phase done: {result.updates_done}/{result.total_updates} updates "
                  f"({time.perf_counter() - start:.1f} s this run)", highlight=False)
    for i, genotype in enumerate(result.genotypes):
        console.print(f"cell of search seed {cfg.search.seed + i}:", highlight=False)
        console.print(escape(describe(genotype)), highlight=False)
    console.print(f"next: discolab darts retrain {study}", highlight=False, soft_wrap=True)


@darts_app.command("retrain")
def darts_retrain(
    study: Annotated[Path, typer.Argument(help="A study whose supernet phase is finished.")],
    quiet: Annotated[bool, typer.Option(help="No per-arm lines.")] = False,
) -> None:
    """Discretize the cell, retrain it, the hand-designed encoder and the random cells on fresh seeds."""
    cfg, store = _open_darts_study(study)
    _enable_compile_cache()
    from discolab.darts.study import retrain

    def on_arm(arm, i: int, n: int) -> None:
        import numpy as np

        if not quiet:
            console.print(f"[{i}/{n}] {arm.name:<12} mean final return {np.nanmean(arm.final_returns):8.2f}  "
                          f"compile {arm.compile_s:5.1f} s  run {arm.run_s:6.1f} s", highlight=False)

    with store:
        try:
            retrain(cfg, store, on_arm)
        except ValueError as err:
            _fail(str(err))
        except KeyboardInterrupt:
            _fail(f"interrupted; finished arms are stored. Resume with: discolab darts retrain {study}", 130)
    _show_darts(study)


def _show_darts(study: Path, figures: Path | None = None, json_out: Path | None = None) -> None:
    cfg, store = _open_darts_study(study)
    from discolab.darts.analysis import arm_stats, summary
    from discolab.darts.genotype import describe

    with store:
        segments = store.segments()
        arms = store.arms()
        try:
            from discolab.darts.study import stored_genotypes

            genotypes = stored_genotypes(cfg, store)
        except ValueError as err:
            console.print(escape(str(err)), highlight=False, soft_wrap=True)
            return
    for i, genotype in enumerate(genotypes):
        console.print(f"cell of search seed {cfg.search.seed + i}:", highlight=False)
        console.print(escape(describe(genotype)), highlight=False)
    search_s = sum(s.seconds for s in segments)
    facts = summary(arms, segments, genotypes, search_s, cfg.search.seeds)
    if arms:
        table = Table(title=f"{cfg.env}: final return over {cfg.retrain.seeds} seeds (95% bootstrap CI)")
        for col in ("arm", "kind", "mean", "95% CI", "params", "s/agent"):
            table.add_column(col, justify="right" if col not in ("arm", "kind") else "left")
        for s in sorted(arm_stats(arms), key=lambda s: (s.kind != "darts", s.kind != "baseline", -s.mean)):
            table.add_row(s.name, s.kind, f"{s.mean:.2f}", f"[{s.low:.2f}, {s.high:.2f}]", f"{s.param_count:,}",
                          f"{s.seconds_per_agent:.1f}")
        console.print(table)
    ratio = facts.get("compute_ratio_supernet_to_fixed")
    if ratio is not None:
        console.print(f"supernet phase / fixed-cell run, seconds per agent: {ratio:.2f}x", highlight=False)
    match = facts.get("random_to_match")
    if match:
        expected = match["expected_cells"]
        console.print(
            f"random cells at or above the DARTS cell: {match['random_better']}/{match['random_total']}; "
            + (f"expected random cells to match it: {expected:.1f}" if expected else
               "no random cell matched it"), highlight=False)
    for story in facts.get("alpha_story", []):
        console.print(f"{story['cell']} cell: {story['kept_rose']}/{story['kept_total']} kept (edge, op) rose in weight, "
                      f"mean {story['kept_first_mean']:.3f} -> {story['kept_last_mean']:.3f} (uniform "
                      f"{story['uniform']:.3f}); the other non-zero ops {story['dropped_first']:.3f} -> "
                      f"{story['dropped_last']:.3f}", highlight=False, soft_wrap=True)
    if json_out is not None:
        from discolab.darts.store import json_safe

        record = {"study": str(study), "env": cfg.env, "config": json.loads(cfg.model_dump_json()),
                  "genotypes": [json.loads(g.to_json()) for g in genotypes], "search_seconds": search_s, **facts}
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(json_safe(record), indent=2) + "\n")
        console.print(f"wrote {json_out}", highlight=False, soft_wrap=True)
    if figures is not None:
        from discolab.darts.analysis import arm_stats as stats_of
        from discolab.darts.figures import plot_alphas, plot_arms
        from discolab.darts.genotype import draw

        figures.mkdir(parents=True, exist_ok=True)
        paths = [draw(genotypes[0], figures / "cell.png")]
        if segments:
            paths.append(plot_alphas(segments, genotypes[0], figures / "alphas.png", title=cfg.env))
        if arms:
            paths.append(plot_arms(stats_of(arms), figures / "arms.png", title=cfg.env))
        console.print("figures: " + ", ".join(str(p) for p in paths), highlight=False, soft_wrap=True)


@darts_app.command("show")
def darts_show(
    study: Annotated[Path, typer.Argument(help="An RL-DARTS study file.")],
    figures: Annotated[Optional[Path], typer.Option(help="Folder for cell.png, alphas.png and arms.png.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write every figure shown as JSON.")] = None,
) -> None:
    """Print the discovered cell, the arms with confidence intervals, and what the alphas did."""
    _show_darts(study, figures, json_out)


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
