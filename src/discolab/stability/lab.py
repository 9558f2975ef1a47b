"""``run_sweep``: a whole sweep to a store, a JSON summary and figures; resumable group by group.

Output directory layout:

- ``sweep.sqlite``: one row per run (``store.SweepStore``), written one
  (width, variant) group per transaction; rerunning on the same directory
  skips the complete groups, so a killed sweep loses at most one group.
- ``summary.json``: per group the learning rates, final losses, divergence,
  LR sensitivity, best rate, compile and run seconds, and the logged curves
  of the first seed (max attention logit, log Z, ...).
- figures (``figures.plot_sweep``) when matplotlib is installed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from discolab.stability.data import make_corpus
from discolab.stability.figures import plot_sweep
from discolab.jsonable import json_safe
from discolab.stability.store import GroupTiming, RunRecord, SweepStore
from discolab.stability.sweep import (
    Group, SweepConfig, cap_losses, final_losses, run_group, sensitivity_from_losses,
)
from discolab.stability.train import Metrics

__all__ = ["GroupCallback", "SweepResult", "group_records", "run_sweep", "summarize"]

#: Called after each trained group with (width, variant name, group).
GroupCallback = Callable[[int, str, Group], None]
STORE_NAME = "sweep.sqlite"
SUMMARY_NAME = "summary.json"


class SweepResult(NamedTuple):
    summary: dict[str, Any]
    store_path: Path | None
    summary_path: Path | None
    figures: list[Path]


def group_records(cfg: SweepConfig, width: int, variant: str, group: Group) -> list[RunRecord]:
    """One ``RunRecord`` per (seed, lr) of a trained group."""
    final, diverged = final_losses(group.metrics, cfg.final_window)  # [seeds, lrs]
    records = []
    for s, seed in enumerate(range(cfg.seed, cfg.seed + cfg.seeds)):
        for i, lr in enumerate(cfg.lrs):
            curves = {name: np.asarray(value[s, i]).tolist() for name, value in group.metrics._asdict().items()
                      if name != "init_loss"}
            records.append(RunRecord(
                width=width, variant=variant, lr=float(lr), seed=seed, final_loss=float(final[s, i]),
                diverged=bool(diverged[s, i]), init_loss=float(group.metrics.init_loss[s, i]), metrics=curves,
            ))
    return records


def _summarize_group(cfg: SweepConfig, runs: Sequence[RunRecord], timing: GroupTiming) -> dict[str, Any]:
    lrs = sorted({r.lr for r in runs})
    seeds = sorted({r.seed for r in runs})
    by_key = {(r.seed, r.lr): r for r in runs}
    loss = np.array([[by_key[s, lr].final_loss for lr in lrs] for s in seeds])  # [seeds, lrs]
    init = float(np.nanmean([r.init_loss for r in runs]))
    capped = cap_losses(loss, init).mean(axis=0)  # [lrs]
    best = int(np.argmin(capped))
    first = [by_key[seeds[0], lr] for lr in lrs]
    return {
        "width": runs[0].width,
        "variant": runs[0].variant,
        "lrs": lrs,
        "final_loss": loss.mean(axis=0).tolist(),
        "diverged": [any(by_key[s, lr].diverged for s in seeds) for lr in lrs],
        "init_loss": init,
        "sensitivity": float(sensitivity_from_losses(capped, init)),
        "best_lr": lrs[best],
        "best_loss": float(capped[best]),
        "compile_s": timing.compile_s,
        "run_s": timing.run_s,
        "curves": {name: [r.metrics[name] for r in first] for name in Metrics._fields if name != "init_loss"},
    }


def summarize(cfg: SweepConfig, runs: Sequence[RunRecord], timings: dict[tuple[int, str], GroupTiming]) -> dict:
    """The sweep's summary: settings, the corpus's loss floor and one entry per group (see module doc)."""
    groups = []
    for width in cfg.widths:
        for variant in cfg.variant_list:
            mine = [r for r in runs if r.width == width and r.variant == variant.name]
            if mine:
                groups.append(_summarize_group(cfg, mine, timings[width, variant.name]))
    vocab = cfg.train.model.vocab
    return {
        "widths": list(cfg.widths),
        "variants": [v.name for v in cfg.variant_list],
        "lrs": cfg.lrs.tolist(),
        "seeds": cfg.seeds,
        "num_steps": cfg.train.num_steps,
        "log_every": cfg.train.log_every,
        "log_vocab": math.log(vocab),
        "optimal_loss": make_corpus(cfg.train.data, vocab).optimal_loss,
        "compile_s": sum(g["compile_s"] for g in groups),
        "run_s": sum(g["run_s"] for g in groups),
        "groups": groups,
    }


def run_sweep(
    cfg: SweepConfig, out_dir: str | Path | None = None, on_group: GroupCallback | None = None
) -> SweepResult:
    """Trains every (width, variant) group of ``cfg`` and writes the store, summary and figures.

    Args:
        cfg: the sweep.
        out_dir: where ``sweep.sqlite``, ``summary.json`` and figures go; groups
            already in its store are not trained again. None keeps all in memory.
        on_group: progress callback after each trained group.
    Returns:
        the summary and the paths written.
    """
    out = Path(out_dir) if out_dir is not None else None
    store = SweepStore(out / STORE_NAME, cfg.model_dump_json()) if out is not None else None
    done = store.completed() if store is not None else set()
    runs: list[RunRecord] = []
    timings: dict[tuple[int, str], GroupTiming] = {}
    seeds = list(range(cfg.seed, cfg.seed + cfg.seeds))
    try:
        for width in cfg.widths:
            for variant in cfg.variant_list:
                if (width, variant.name) in done:
                    continue
                group = run_group(variant.apply(cfg.train, width), cfg.lrs, seeds)
                records = group_records(cfg, width, variant.name, group)
                timing = GroupTiming(group.compile_s, group.run_s)
                if store is not None:
                    store.add_group(width, variant.name, timing, records)
                runs += records
                timings[width, variant.name] = timing
                if on_group is not None:
                    on_group(width, variant.name, group)
        if store is not None:
            runs = store.runs()
            timings = {key: store.timing(*key) for key in store.completed()}
    finally:
        if store is not None:
            store.close()
    summary = summarize(cfg, runs, timings)
    if out is None:
        return SweepResult(summary, None, None, [])
    summary_path = out / SUMMARY_NAME
    summary_path.write_text(json.dumps(json_safe(summary), indent=1))
    return SweepResult(summary, out / STORE_NAME, summary_path, plot_sweep(summary, out))

