"""Figures of an RL-DARTS study: the alphas over training and the arms' returns with their intervals."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from discolab.darts.analysis import ArmStats, edge_index, weights_over_training
from discolab.darts.genotype import Genotype
from discolab.darts.ops import OP_SETS
from discolab.darts.store import Segment

__all__ = ["plot_alphas", "plot_arms"]


def _save(fig, path: str | Path) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_alphas(segments: Sequence[Segment], genotype: Genotype, path: str | Path, title: str = "") -> Path:
    """One panel per cell type: each op's weight averaged over edges, and the kept (edge, op) weights."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ops = OP_SETS[genotype.op_set]
    cells = [c for c in ("normal", "reduce") if c in segments[0].metrics.get("tracked", {})]
    fig, axes = plt.subplots(2, len(cells), figsize=(5.5 * len(cells), 6.5), squeeze=False)
    for col, cell in enumerate(cells):
        w = weights_over_training(segments, cell)  # [updates, edges, ops]
        x = np.arange(1, w.shape[0] + 1)
        ax = axes[0, col]
        for o, op in enumerate(ops):
            ax.plot(x, w[:, :, o].mean(axis=1), label=op)
        ax.set_title(f"{cell} cell: mean weight of each op over edges")
        ax.set_xlabel("PPO update")
        ax.legend(fontsize=7)
        ax = axes[1, col]
        edges = genotype.normal if cell == "normal" else genotype.reduce
        for i, (op, source) in enumerate(edges):
            e = edge_index(i // 2, source)
            ax.plot(x, w[:, e, ops.index(op)], label=f"node {i // 2}: {op} <- state {source}")
        ax.axhline(1 / len(ops), color="grey", lw=0.8, ls="--")
        ax.set_title(f"{cell} cell: weights of the kept (edge, op)")
        ax.set_xlabel("PPO update")
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_arms(stats: Sequence[ArmStats], path: str | Path, title: str = "") -> Path:
    """Mean final return with 95% CI per arm; DARTS and the baseline first, random cells sorted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    head = [s for s in stats if s.kind != "random"]
    rand = sorted((s for s in stats if s.kind == "random"), key=lambda s: -s.mean if np.isfinite(s.mean) else 0)
    rows = head + rand
    colors = {"darts": "tab:red", "baseline": "tab:blue", "random": "tab:grey"}
    fig, ax = plt.subplots(figsize=(max(6, 0.32 * len(rows) + 2), 4))
    x = np.arange(len(rows))
    means = np.array([s.mean for s in rows])
    err = np.array([[s.mean - s.low for s in rows], [s.high - s.mean for s in rows]])
    ax.bar(x, means, color=[colors[s.kind] for s in rows], yerr=err, capsize=2)
    ax.set_xticks(x, [s.name for s in rows], rotation=90, fontsize=7)
    ax.set_ylabel("final return (mean, 95% CI)")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)
