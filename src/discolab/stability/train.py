"""One proxy training run as one pure function: ``make_train(cfg) -> train(lr, key) -> Metrics``.

purejaxrl's shape (STYLE.md): the whole run is a ``lax.scan`` of logged
chunks, each a ``lax.scan`` of steps, so ``jax.jit(jax.vmap(train, (0, None)))``
trains a whole learning-rate sweep in one compiled call, and an outer
``vmap`` over keys adds seeds. All lanes of one key share the initial
parameters and the data order, so their losses differ by the rate alone.

A run that blows up is not an error: its metrics turn non-finite and the
sweep scores it as diverged (DESIGN.md, "non-finite losses never crash").

Loss = next-token cross-entropy + ``z_loss_coef * mean(log Z ** 2)``; the
logged ``loss`` is the cross-entropy alone, comparable across variants.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax
import pydantic
from pydantic import Field

from discolab.stability.data import CorpusConfig, make_corpus, sample_batch
from discolab.stability.model import ModelConfig, Transformer
from discolab.stability.optim import (
    OptimizerFactory, lr_multipliers, proxy_adamw, scheduled, warmup_cosine,
)

__all__ = ["Metrics", "TrainConfig", "TrainFn", "loss_fn", "make_train", "tree_rms"]


class TrainConfig(pydantic.BaseModel, frozen=True, extra="forbid"):
    """Everything one proxy run needs except its learning rate and key (static: a change recompiles)."""

    model: ModelConfig = Field(default_factory=ModelConfig, description="The transformer.")
    data: CorpusConfig = Field(default_factory=CorpusConfig, description="The generated corpus.")
    batch_size: int = Field(16, ge=1, description="Sequences per step.")
    num_steps: int = Field(1000, ge=1, description="Optimizer steps.")
    log_every: int = Field(50, ge=1, description="Steps per logged chunk; metrics are chunk means.")
    warmup_steps: int = Field(100, ge=0, description="Linear warm-up steps before the cosine decay.")
    min_lr_ratio: float = Field(1e-5, ge=0, le=1, description="Final schedule factor of the cosine decay.")
    adam_b1: float = Field(0.9, ge=0, lt=1, description="AdamW first-moment decay.")
    adam_b2: float = Field(0.95, ge=0, lt=1, description="AdamW second-moment decay.")
    adam_eps: float = Field(1e-8, gt=0, description="AdamW epsilon (too large: updates shrink as grads do).")
    clip_norm: float | None = Field(1.0, gt=0, description="Global-norm gradient clipping; None for off.")
    weight_decay: float = Field(1e-4, ge=0, description="Weight decay on matrices.")
    weight_decay_mode: Literal["coupled", "independent"] = Field(
        "independent", description="coupled: decay times the rate (AdamW); independent: not times the rate."
    )
    mu_param: bool = Field(False, description="Simple muParam: hidden-matrix rate times base_width / width.")
    mu_base_width: int = Field(64, ge=1, description="Width at which muParam equals the standard rates.")
    z_loss_coef: float = Field(0.0, ge=0, description="Coefficient of the z-loss mean(log Z ** 2).")

    @pydantic.model_validator(mode="after")
    def _chunks_divide_steps(self) -> TrainConfig:
        if self.num_steps % self.log_every:
            raise ValueError(f"num_steps {self.num_steps} is not a multiple of log_every {self.log_every}")
        if self.data.row_len < self.model.seq_len + 1:
            raise ValueError(f"corpus rows of {self.data.row_len} tokens are shorter than seq_len + 1")
        return self

    @property
    def num_logs(self) -> int:
        return self.num_steps // self.log_every


class Metrics(NamedTuple):
    """One run's log: each field [num_logs] (chunk means; ``max_attn_logit`` the chunk max)."""

    loss: jax.Array  # cross-entropy (nats)
    max_attn_logit: jax.Array  # max over layers, heads, positions of |q.k| / sqrt(head_dim)
    attn_entropy: jax.Array  # mean attention entropy over layers
    log_z: jax.Array  # mean output log Z
    grad_rms: jax.Array  # RMS over all parameters of the raw (unclipped) gradient
    update_rms: jax.Array  # RMS over all parameters of the applied update
    init_loss: jax.Array  # [] cross-entropy at initialization, on the first batch


#: ``train(lr, key) -> Metrics``, pure and traceable.
TrainFn = Callable[[jax.Array, jax.Array], Metrics]


class LossAux(NamedTuple):
    cross_entropy: jax.Array
    max_attn_logit: jax.Array
    attn_entropy: jax.Array
    log_z: jax.Array


class StepLog(NamedTuple):
    """The per-step values behind ``Metrics`` (same names, scalars)."""

    loss: jax.Array
    max_attn_logit: jax.Array
    attn_entropy: jax.Array
    log_z: jax.Array
    grad_rms: jax.Array
    update_rms: jax.Array


class TrainState(NamedTuple):
    params: optax.Params
    opt_state: optax.OptState
    key: jax.Array


def tree_rms(tree: optax.Updates) -> jax.Array:
    """Root mean square over every element of every leaf."""
    leaves = jax.tree.leaves(tree)
    total = sum(jnp.sum(jnp.square(x)) for x in leaves)
    return jnp.sqrt(total / sum(x.size for x in leaves))


def loss_fn(
    model: Transformer, params: optax.Params, inputs: jax.Array, targets: jax.Array, z_loss_coef: float
) -> tuple[jax.Array, LossAux]:
    """Cross-entropy + ``z_loss_coef * mean(log Z ** 2)``, with the diagnostics as aux."""
    out = model.apply({"params": params}, inputs)
    target_logit = jnp.take_along_axis(out.logits, targets[..., None], axis=-1)[..., 0]
    cross_entropy = jnp.mean(out.log_z - target_logit)
    loss = cross_entropy + z_loss_coef * jnp.mean(jnp.square(out.log_z))
    aux = LossAux(cross_entropy, jnp.max(out.max_attn_logit), jnp.mean(out.attn_entropy), jnp.mean(out.log_z))
    return loss, aux


def make_train(cfg: TrainConfig, optimizer_factory: OptimizerFactory | None = None) -> TrainFn:
    """Builds ``train(lr, key) -> Metrics`` for ``cfg``; the corpus is generated once, here.

    Args:
        cfg: the run (model, corpus, steps, optimizer options).
        optimizer_factory: ``lr -> GradientTransformation`` replacing the proxy
            AdamW (and its decay and muParam options); either way the updates
            are clipped at ``cfg.clip_norm`` and scheduled by warm-up and cosine.
    Returns:
        a pure function of a scalar learning rate and a PRNG key.
    """
    model = Transformer(cfg.model)
    tokens = jnp.asarray(make_corpus(cfg.data, cfg.model.vocab).tokens)

    def schedule(step: jax.Array) -> jax.Array:
        return warmup_cosine(step, cfg.warmup_steps, cfg.num_steps, cfg.min_lr_ratio)

    def batch(key: jax.Array) -> tuple[jax.Array, jax.Array]:
        return sample_batch(key, tokens, cfg.batch_size, cfg.model.seq_len)

    def train(lr: jax.Array, key: jax.Array) -> Metrics:
        key_init, key_data = jax.random.split(key)
        params = model.init(key_init, jnp.zeros((1, cfg.model.seq_len), jnp.int32))["params"]
        if optimizer_factory is None:
            multipliers = lr_multipliers(params, cfg.mu_param, cfg.model.width, cfg.mu_base_width)
            inner = proxy_adamw(
                lr, multipliers, b1=cfg.adam_b1, b2=cfg.adam_b2, eps=cfg.adam_eps,
                weight_decay=cfg.weight_decay, weight_decay_mode=cfg.weight_decay_mode,
            )
        else:
            inner = optimizer_factory(lr)
        tx = scheduled(inner, schedule, cfg.clip_norm)
        init_loss = loss_fn(model, params, *batch(key_data), 0.0)[1].cross_entropy

        def step(state: TrainState, _: None) -> tuple[TrainState, StepLog]:
            key, key_batch = jax.random.split(state.key)
            grad_fn = jax.value_and_grad(loss_fn, argnums=1, has_aux=True)
            (_, aux), grads = grad_fn(model, state.params, *batch(key_batch), cfg.z_loss_coef)
            updates, opt_state = tx.update(grads, state.opt_state, state.params)
            params = optax.apply_updates(state.params, updates)
            log = StepLog(
                loss=aux.cross_entropy, max_attn_logit=aux.max_attn_logit, attn_entropy=aux.attn_entropy,
                log_z=aux.log_z, grad_rms=tree_rms(grads), update_rms=tree_rms(updates),
            )
            return TrainState(params, opt_state, key), log

        def chunk(state: TrainState, _: None) -> tuple[TrainState, StepLog]:
            state, logs = jax.lax.scan(step, state, None, cfg.log_every)  # fields [log_every]
            means = jax.tree.map(jnp.mean, logs)
            return state, means._replace(max_attn_logit=jnp.max(logs.max_attn_logit))

        _, logs = jax.lax.scan(chunk, TrainState(params, tx.init(params), key_data), None, cfg.num_logs)
        return Metrics(**logs._asdict(), init_loss=init_loss)  # fields [num_logs]

    return train
