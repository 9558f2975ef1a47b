"""`discolab darts`: RL-DARTS, a differentiable search of an RL agent's encoder."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from discolab.cli.common import app, console, err_console, _enable_compile_cache, _fail, _load_config_file


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
        from discolab.jsonable import json_safe

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
