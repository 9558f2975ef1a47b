"""Figures of a sweep summary: final loss against learning rate, and logged curves per rate.

matplotlib is optional: without it ``plot_sweep`` writes nothing and returns
an empty list (the summary JSON holds every number the figures show).

- ``loss_vs_lr.png``: one panel per variant, one line per width (the paper's
  first figure); diverged runs are drawn at the loss at init with an x.
- ``max_attn_logit.png``, ``log_z.png``: one panel per variant, the curve of
  every learning rate at the largest width (attention-logit growth and
  output-logit divergence).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

__all__ = ["CURVE_FIGURES", "have_matplotlib", "plot_sweep"]

#: Logged metric -> (file name, y-axis label, log scale?).
CURVE_FIGURES = {
    "max_attn_logit": ("max_attn_logit.png", "max attention logit", True),
    "log_z": ("log_z.png", "mean output log Z", False),
}


def have_matplotlib() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def _finite(x: Any) -> float:
    return x if isinstance(x, (int, float)) and math.isfinite(x) else math.nan


def plot_sweep(summary: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Writes the figures of ``summary`` (from ``lab.summarize``) into ``out_dir``; [] without matplotlib."""
    if not have_matplotlib():
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    variants = summary["variants"]
    groups = {(g["width"], g["variant"]): g for g in summary["groups"]}
    paths = []

    fig, axes = plt.subplots(1, len(variants), figsize=(4 * len(variants), 3.5), sharey=True, squeeze=False)
    for ax, variant in zip(axes[0], variants, strict=True):
        for width in summary["widths"]:
            g = groups.get((width, variant))
            if g is None:
                continue
            shown = [g["init_loss"] if d else _finite(x) for x, d in zip(g["final_loss"], g["diverged"], strict=True)]
            (line,) = ax.plot(g["lrs"], shown, marker="o", label=f"width {width} (sens. {g['sensitivity']:.3f})")
            bad = [lr for lr, d in zip(g["lrs"], g["diverged"], strict=True) if d]
            ax.plot(bad, [g["init_loss"]] * len(bad), "x", color=line.get_color(), markersize=9)
        ax.axhline(summary["optimal_loss"], color="grey", linestyle=":", linewidth=1)
        ax.set(xscale="log", xlabel="learning rate", title=variant)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("final loss")
    paths.append(_save(fig, out / "loss_vs_lr.png", plt))

    width = max(summary["widths"])
    steps = [summary["log_every"] * (i + 1) for i in range(summary["num_steps"] // summary["log_every"])]
    for metric, (name, label, log_scale) in CURVE_FIGURES.items():
        fig, axes = plt.subplots(1, len(variants), figsize=(4 * len(variants), 3.5), sharey=True, squeeze=False)
        for ax, variant in zip(axes[0], variants, strict=True):
            g = groups.get((width, variant))
            for lr, curve in zip(g["lrs"] if g else [], g["curves"][metric] if g else [], strict=True):
                ax.plot(steps, [_finite(x) for x in curve], label=f"lr {lr:.1e}")
            ax.set(yscale="log" if log_scale else "linear", xlabel="step", title=f"{variant}, width {width}")
        axes[0][0].set_ylabel(label)
        axes[0][-1].legend(fontsize=6)
        paths.append(_save(fig, out / name, plt))
    return paths


def _save(fig: Any, path: Path, plt: Any) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
