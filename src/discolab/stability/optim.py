"""The proxy's optimizer: AdamW with coupled or independent weight decay, muParam scaling and a schedule.

The learning rate is a traced scalar (one ``vmap`` lane per learning rate), so
every transformation is built inside the traced ``train`` from it. The
schedule multiplies the *updates* by ``s(t)`` (linear warm-up, then cosine
decay), which for AdamW equals scheduling the learning rate, and lets any
optax transformation built from a peak learning rate be scheduled the same
way (``scheduled``).

Weight decay, with ``s(t)`` the schedule, ``lr`` the peak rate, ``u`` Adam's
direction and ``m`` the per-layer muParam factor (Wortsman et al. 2023, 3.2.2):

- coupled (standard AdamW):  ``p <- p - s(t) * lr * m * (u + wd * p)``
- independent:               ``p <- p - s(t) * (lr * m * u + wd * p)``, i.e. the
  decay is *not* multiplied by the learning rate, so raising the rate does
  not raise the decay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import jax
import jax.numpy as jnp
import optax

__all__ = [
    "OptimizerFactory", "lr_multipliers", "proxy_adamw", "scale_by_tree", "scheduled", "warmup_cosine",
]

#: Builds an optimizer from a (traced) peak learning rate.
OptimizerFactory = Callable[[jax.Array], optax.GradientTransformation]
WeightDecayMode = Literal["coupled", "independent"]
#: Parameter names that are not hidden matrices (muParam leaves their learning rate alone).
_NOT_HIDDEN = ("embed", "pos_embed", "unembed")


def warmup_cosine(step: jax.Array, warmup_steps: int, total_steps: int, min_ratio: float = 0.0) -> jax.Array:
    """Schedule factor in [min_ratio, 1]: linear warm-up over ``warmup_steps``, then cosine to ``min_ratio``.

    The first step already moves (factor ``1 / warmup_steps``), so no step is wasted.

    >>> [round(float(warmup_cosine(t, 2, 6)), 3) for t in range(6)]
    [0.5, 1.0, 1.0, 0.854, 0.5, 0.146]
    """
    step = jnp.asarray(step, jnp.float32)
    warm = (step + 1.0) / max(warmup_steps, 1)
    progress = jnp.clip((step - warmup_steps) / max(total_steps - warmup_steps, 1), 0.0, 1.0)
    cosine = min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + jnp.cos(jnp.pi * progress))
    return jnp.where(step < warmup_steps, warm, cosine)


def lr_multipliers(params: Any, mu_param: bool, width: int, base_width: int) -> Any:
    """Per-parameter learning-rate factors: ``base_width / width`` on hidden matrices under muParam, else 1.

    "Simple muParam": a hidden matrix's rate scales as 1/fan-in; every hidden
    fan-in here is proportional to the width, so the factor is ``fan_in at
    base_width / fan_in = base_width / width``. Embeddings, the unembedding and
    LayerNorm scales keep the base rate. Python floats, so nothing is traced.
    """

    def factor(path: tuple[Any, ...], leaf: Any) -> float:
        names = [getattr(p, "key", getattr(p, "name", "")) for p in path]
        hidden = leaf.ndim == 2 and not any(n in _NOT_HIDDEN for n in names)
        return base_width / width if (mu_param and hidden) else 1.0

    return jax.tree_util.tree_map_with_path(factor, params)


def scale_by_tree(factors: Any) -> optax.GradientTransformation:
    """Multiplies each update leaf by the matching leaf of ``factors`` (a pytree like the params)."""

    def init(params: Any) -> optax.EmptyState:
        del params
        return optax.EmptyState()

    def update(updates: Any, state: optax.EmptyState, params: Any = None) -> tuple[Any, optax.EmptyState]:
        del params
        return jax.tree.map(lambda u, f: u * f, updates, factors), state

    return optax.GradientTransformation(init, update)


def _is_matrix(params: Any) -> Any:
    return jax.tree.map(lambda p: p.ndim >= 2, params)


def proxy_adamw(
    lr: jax.Array,
    multipliers: Any,
    *,
    b1: float = 0.9,
    b2: float = 0.95,
    eps: float = 1e-8,
    weight_decay: float = 1e-4,
    weight_decay_mode: WeightDecayMode = "independent",
) -> optax.GradientTransformation:
    """AdamW at peak rate ``lr`` with per-layer rate ``multipliers``; decay on matrices only (see module doc).

    Unscheduled and unclipped: wrap it in ``scheduled``.
    """
    adam = optax.scale_by_adam(b1=b1, b2=b2, eps=eps)
    step = [optax.scale(-lr), scale_by_tree(multipliers)]
    if weight_decay_mode == "coupled":
        return optax.chain(adam, optax.add_decayed_weights(weight_decay, _is_matrix), *step)
    if weight_decay_mode == "independent":
        return optax.chain(adam, *step, optax.add_decayed_weights(-weight_decay, _is_matrix))
    raise ValueError(f"unknown weight_decay_mode {weight_decay_mode!r}; known: coupled, independent")


def scheduled(
    tx: optax.GradientTransformation, schedule: Callable[[jax.Array], jax.Array], clip_norm: float | None
) -> optax.GradientTransformation:
    """``clip_by_global_norm(clip_norm)`` -> ``tx`` -> updates times ``schedule(step)``.

    Scaling the updates equals scheduling the learning rate for any ``tx``
    whose update is linear in its rate (SGD, Adam, AdamW, Lion, ...).
    """
    clip = [optax.clip_by_global_norm(clip_norm)] if clip_norm is not None else []
    return optax.chain(*clip, tx, optax.scale_by_schedule(schedule))
