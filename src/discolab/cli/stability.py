"""`discolab stability`: the small-scale proxies of transformer instabilities."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from discolab.cli.common import app, console, err_console, _fail, _load_config_file


stability_app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Small-scale proxies for transformer training instabilities."
)
app.add_typer(stability_app, name="stability")


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
