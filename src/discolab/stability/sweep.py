"""Learning-rate sweeps over widths and interventions, and the LR-sensitivity metric.

Wortsman et al. (2023) define the LR sensitivity of a recipe over a log-spaced
sweep of learning rates as

    E_lr[ min(loss(lr), loss_at_init) ] - min_lr loss(lr)

so a diverged run (NaN, or worse than at init) counts as the loss at init, and
a recipe that trains equally well over orders of magnitude of rates scores 0.

One compiled call per (width, variant): every learning rate and seed of the
group is a ``vmap`` lane (``jit(vmap(vmap(train, (None, 0)), (0, None)))``).
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pydantic
from pydantic import Field

from discolab.stability.data import CorpusConfig
from discolab.stability.model import ModelConfig
from discolab.stability.optim import OptimizerFactory
from discolab.stability.train import Metrics, TrainConfig, make_train

__all__ = [
    "PROXY_TASK", "VARIANTS", "Group", "SensitivityResult", "SweepConfig", "Variant", "cap_losses", "final_losses",
    "load_sweep_config", "lr_sensitivity", "make_variant", "register_variant", "run_group", "sensitivity_from_losses",
]


class Variant(pydantic.BaseModel, frozen=True, extra="forbid"):
    """A named intervention: the fields it sets override the sweep's base ``TrainConfig``; None keeps it."""

    name: str = Field(description="Name in the store, the summary and the figures.")
    qk_layernorm: bool | None = Field(None, description="LayerNorm on queries and keys.")
    z_loss_coef: float | None = Field(None, ge=0, description="z-loss coefficient (the paper uses 1e-4).")
    warmup_steps: int | None = Field(None, ge=0, description="Warm-up length in steps.")
    weight_decay: float | None = Field(None, ge=0, description="Weight decay coefficient.")
    weight_decay_mode: Literal["coupled", "independent"] | None = Field(None, description="Decay times the rate?")
    mu_param: bool | None = Field(None, description="Simple muParam learning rates.")
    adam_eps: float | None = Field(None, gt=0, description="AdamW epsilon.")

    def apply(self, base: TrainConfig, width: int) -> TrainConfig:
        """``base`` at ``width`` with this variant's overrides."""
        model = {"width": width} | ({} if self.qk_layernorm is None else {"qk_layernorm": self.qk_layernorm})
        fields = self.model_dump(exclude={"name", "qk_layernorm"}, exclude_none=True)
        return base.model_copy(update={"model": base.model.model_copy(update=model), **fields})


#: Built-in variants; the first four are the paper's first figure.
VARIANTS: dict[str, Variant] = {}


def register_variant(variant: Variant) -> Variant:
    """Adds a built-in variant; a name can be registered once."""
    if variant.name in VARIANTS:
        raise ValueError(f"variant {variant.name!r} is already registered")
    VARIANTS[variant.name] = variant
    return variant


def make_variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise KeyError(f"unknown variant {name!r}; known: {', '.join(sorted(VARIANTS))}") from None


for _v in (
    Variant(name="baseline", qk_layernorm=False, z_loss_coef=0.0),
    Variant(name="qk_layernorm", qk_layernorm=True, z_loss_coef=0.0),
    Variant(name="z_loss", qk_layernorm=False, z_loss_coef=1e-4),
    Variant(name="qk_layernorm+z_loss", qk_layernorm=True, z_loss_coef=1e-4),
    Variant(name="independent_wd", weight_decay_mode="independent", weight_decay=1e-4),
    Variant(name="coupled_wd", weight_decay_mode="coupled", weight_decay=0.1),
    Variant(name="mu_param", mu_param=True),
    # Gradient RMS of the width-64 proxy ends near 1e-3: eps 1e-4 is "too large", 1e-15 "small".
    Variant(name="eps_large", adam_eps=1e-4),
    Variant(name="eps_small", adam_eps=1e-15),
):
    register_variant(_v)


class SweepConfig(pydantic.BaseModel, frozen=True, extra="forbid"):
    """A sweep: log-spaced learning rates x widths x variants x seeds over one base run."""

    train: TrainConfig = Field(default_factory=TrainConfig, description="Base run; width and variants override it.")
    widths: tuple[int, ...] = Field((32, 64, 128), min_length=1, description="Model widths.")
    lr_min: float = Field(3e-4, gt=0, description="Smallest learning rate.")
    lr_max: float = Field(3e-1, gt=0, description="Largest learning rate.")
    num_lrs: int = Field(8, ge=1, description="Log-spaced learning rates from lr_min to lr_max.")
    variants: tuple[str | Variant, ...] = Field(
        ("baseline", "qk_layernorm", "z_loss", "qk_layernorm+z_loss"), min_length=1,
        description="Built-in variant names or inline variant tables.",
    )
    seeds: int = Field(1, ge=1, description="Seeds per learning rate (a second vmap axis).")
    seed: int = Field(0, description="First seed; seeds are seed .. seed + seeds - 1.")
    final_window: int = Field(3, ge=1, description="Final loss = mean of this many last logged losses.")

    @pydantic.model_validator(mode="after")
    def _check(self) -> SweepConfig:
        if self.lr_max < self.lr_min:
            raise ValueError("lr_max is below lr_min")
        unknown = [v for v in self.variants if isinstance(v, str) and v not in VARIANTS]
        if unknown:
            raise ValueError(f"unknown variant(s) {unknown}; known: {', '.join(sorted(VARIANTS))}")
        names = [v.name for v in self.variant_list]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate variant names: {names}")
        head_dim = self.train.model.head_dim  # Variant.apply's model_copy does not validate: check widths here
        bad = [w for w in self.widths if w < 1 or w % head_dim]
        if bad:
            raise ValueError(f"widths {bad} are not positive multiples of head_dim {head_dim}")
        if self.final_window > self.train.num_logs:
            raise ValueError(f"final_window {self.final_window} exceeds the {self.train.num_logs} logged chunks")
        return self

    @property
    def lrs(self) -> np.ndarray:
        return np.geomspace(self.lr_min, self.lr_max, self.num_lrs)

    @property
    def variant_list(self) -> list[Variant]:
        return [make_variant(v) if isinstance(v, str) else v for v in self.variants]


def load_sweep_config(path: str | Path) -> SweepConfig:
    """Reads a TOML sweep config (top-level keys as in ``SweepConfig``)."""
    with open(path, "rb") as f:
        return SweepConfig.model_validate(tomllib.load(f))


def sensitivity_from_losses(final_losses: Sequence[float] | np.ndarray, init_loss: float) -> float | np.ndarray:
    """LR sensitivity over the last axis: mean of capped losses minus their minimum.

    Each loss is capped at ``init_loss``; a non-finite loss (a diverged run)
    counts as ``init_loss``.

    >>> sensitivity_from_losses([3.0, 2.0, float("nan"), 5.0], init_loss=4.0)  # capped: 3, 2, 4, 4
    1.25
    """
    capped = cap_losses(final_losses, init_loss)
    result = capped.mean(axis=-1) - capped.min(axis=-1)
    return float(result) if result.ndim == 0 else result


def cap_losses(losses: Sequence[float] | np.ndarray, init_loss: float) -> np.ndarray:
    """``min(loss, init_loss)``, with a non-finite loss (a diverged run) counted as ``init_loss``."""
    losses = np.asarray(losses, dtype=np.float64)
    return np.where(np.isfinite(losses), np.minimum(losses, init_loss), init_loss)


def final_losses(metrics: Metrics, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(final loss, diverged) per run: mean of the last ``window`` logged losses; any leading run axes.

    A run diverged when its final loss is non-finite or above its loss at init.
    """
    loss = np.asarray(metrics.loss, dtype=np.float64)[..., -window:].mean(axis=-1)
    init = np.asarray(metrics.init_loss, dtype=np.float64)
    return loss, ~np.isfinite(loss) | (loss > init)


class Group(NamedTuple):
    """Results of one compiled call: every field [seeds, lrs, ...]."""

    metrics: Metrics
    compile_s: float
    run_s: float


def run_group(
    cfg: TrainConfig, lrs: Sequence[float], seeds: Sequence[int], optimizer_factory: OptimizerFactory | None = None
) -> Group:
    """Trains every (seed, lr) of ``cfg`` in one compiled call; compile and run timed apart."""
    train = make_train(cfg, optimizer_factory)
    sweep = jax.jit(jax.vmap(jax.vmap(train, in_axes=(0, None)), in_axes=(None, 0)))
    lr_array = jnp.asarray(lrs, jnp.float32)
    keys = jax.vmap(jax.random.key)(jnp.asarray(seeds, jnp.uint32))
    start = time.perf_counter()
    compiled = sweep.lower(lr_array, keys).compile()
    compiled_at = time.perf_counter()
    metrics = jax.device_get(compiled(lr_array, keys))
    return Group(metrics, compiled_at - start, time.perf_counter() - compiled_at)


#: The small fixed task behind ``lr_sensitivity``: 20 s for 8 rates on 2 CPU cores (compile included).
PROXY_TASK = TrainConfig(
    model=ModelConfig(vocab=64, seq_len=32, width=32, depth=2, head_dim=16),
    data=CorpusConfig(rows=64, row_len=1024, candidates=8, branching=4),
    batch_size=16, num_steps=400, log_every=25, warmup_steps=40,
)


class SensitivityResult(NamedTuple):
    sensitivity: float
    lrs: np.ndarray  # [lrs]
    final_losses: np.ndarray  # [lrs] mean over seeds (NaN when a seed's loss is)
    diverged: np.ndarray  # [lrs] bool: any seed diverged
    init_loss: float


def lr_sensitivity(
    optimizer_factory: OptimizerFactory,
    lrs: Sequence[float] | None = None,
    task: TrainConfig = PROXY_TASK,
    seeds: int = 1,
    final_window: int = 3,
) -> SensitivityResult:
    """LR sensitivity of any optimizer ``lr -> optax.GradientTransformation`` on a small fixed task.

    The factory gets a traced scalar peak rate; its updates are clipped at
    ``task.clip_norm`` and scheduled by warm-up and cosine (``optim.scheduled``).

    Args:
        optimizer_factory: e.g. ``lambda lr: optax.adamw(lr, b2=0.95)`` or a discovered optimizer.
        lrs: the sweep; by default 8 log-spaced rates from 3e-4 to 3e-1, as in the paper.
        task: the model, corpus and budget (default ``PROXY_TASK``).
        seeds: seeds per rate; a rate's loss is the mean over seeds of the capped losses.
        final_window: logged chunks averaged into the final loss.
    Returns:
        the sensitivity (lower is better) with the per-rate losses it came from.
    """
    lrs = np.geomspace(3e-4, 3e-1, 8) if lrs is None else np.asarray(lrs, dtype=np.float64)
    group = run_group(task, lrs, list(range(seeds)), optimizer_factory)
    loss, diverged = final_losses(group.metrics, final_window)  # [seeds, lrs]
    init = float(np.mean(group.metrics.init_loss))
    capped = cap_losses(loss, init).mean(axis=0)  # a rate's loss: mean over seeds of the capped losses
    return SensitivityResult(
        sensitivity=float(sensitivity_from_losses(capped, init)),
        lrs=lrs,
        final_losses=loss.mean(axis=0),
        diverged=diverged.any(axis=0),
        init_loss=init,
    )

