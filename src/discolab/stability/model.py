"""A small pre-LN decoder-only transformer without biases, with instability diagnostics.

Wortsman et al. (2023), "Small-scale proxies for large-scale Transformer
training instabilities" (PAPERS.md section 5): the two instabilities they
study are visible in the forward pass, so the model reports them itself
instead of leaving them to hooks:

- attention-logit growth: ``max |q.k| / sqrt(head_dim)`` over the causal
  (pre-softmax) logits grows, and the attention entropy collapses;
- output-logit divergence: ``log Z = logsumexp(logits)`` of the output softmax
  drifts away from 0.

qk-layernorm applies a LayerNorm (learned scale, no bias) to every query and
key head vector before the dot product. Every block is
``x + Attn(LN(x))`` then ``x + MLP(LN(x))``; no layer has a bias.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import pydantic
from pydantic import Field

__all__ = ["AttentionStats", "ModelConfig", "ModelOutput", "Transformer"]


class ModelConfig(pydantic.BaseModel, frozen=True, extra="forbid"):
    """Shape and options of the proxy transformer (static: a change recompiles)."""

    vocab: int = Field(128, ge=2, description="Number of tokens.")
    seq_len: int = Field(32, ge=2, description="Context length of a training sequence.")
    width: int = Field(64, ge=1, description="Model width d_model.")
    depth: int = Field(2, ge=1, description="Number of transformer blocks.")
    head_dim: int = Field(16, ge=1, description="Width of one attention head; heads = width / head_dim.")
    mlp_ratio: int = Field(4, ge=1, description="MLP hidden width as a multiple of the model width.")
    qk_layernorm: bool = Field(False, description="LayerNorm on each query and key head vector before q.k.")
    positions: Literal["learned", "sinusoidal"] = Field("learned", description="Absolute position encoding.")

    @pydantic.model_validator(mode="after")
    def _heads_divide_width(self) -> ModelConfig:
        if self.width % self.head_dim:
            raise ValueError(f"width {self.width} is not a multiple of head_dim {self.head_dim}")
        return self

    @property
    def heads(self) -> int:
        return self.width // self.head_dim


class AttentionStats(NamedTuple):
    """Diagnostics of one attention layer, reduced over batch, heads and positions."""

    max_logit: jax.Array  # [] max |q.k| / sqrt(head_dim) over the causal entries
    entropy: jax.Array  # [] mean entropy (nats) of the attention distributions


class ModelOutput(NamedTuple):
    logits: jax.Array  # [batch, seq, vocab]
    log_z: jax.Array  # [batch, seq] logsumexp of the logits
    max_attn_logit: jax.Array  # [depth]
    attn_entropy: jax.Array  # [depth]


def _layer_norm(name: str | None = None) -> nn.LayerNorm:
    return nn.LayerNorm(use_bias=False, use_scale=True, name=name)


def _dense(features: int, name: str) -> nn.Dense:
    # lecun_normal: std 1/sqrt(fan_in), so q.k logits start O(1) whatever the width.
    return nn.Dense(features, use_bias=False, kernel_init=nn.initializers.lecun_normal(), name=name)


def sinusoidal_positions(seq_len: int, width: int) -> jax.Array:
    """The fixed sin/cos encoding of Vaswani et al. (2017); [seq_len, width]."""
    position = jnp.arange(seq_len)[:, None]
    rate = jnp.exp(-math.log(10_000.0) * jnp.arange(0, width, 2) / width)
    table = jnp.zeros((seq_len, width))
    table = table.at[:, 0::2].set(jnp.sin(position * rate))
    return table.at[:, 1::2].set(jnp.cos(position * rate[: width // 2]))


class CausalAttention(nn.Module):
    """Causal multi-head self-attention; sows the q and k that enter the dot product.

    Call with ``mutable=["intermediates"]`` to read ``q`` and ``k`` (after
    qk-layernorm when it is on); otherwise sowing costs nothing.
    """

    cfg: ModelConfig

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, AttentionStats]:
        cfg = self.cfg
        batch, seq, _ = x.shape
        qkv = _dense(3 * cfg.width, "qkv")(x).reshape(batch, seq, 3, cfg.heads, cfg.head_dim)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]  # [batch, seq, heads, head_dim]
        if cfg.qk_layernorm:
            q, k = _layer_norm("q_norm")(q), _layer_norm("k_norm")(k)
        self.sow("intermediates", "q", q)
        self.sow("intermediates", "k", k)
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(cfg.head_dim)
        causal = jnp.tril(jnp.ones((seq, seq), dtype=bool))
        masked = jnp.where(causal, logits, -jnp.inf)
        log_probs = jax.nn.log_softmax(masked, axis=-1)
        probs = jnp.exp(log_probs)
        out = jnp.einsum("bhqk,bkhd->bqhd", probs, v).reshape(batch, seq, cfg.width)
        # 0 * -inf is nan: masked entries contribute 0 to the entropy explicitly.
        entropy = -jnp.sum(jnp.where(causal, probs * log_probs, 0.0), axis=-1)
        stats = AttentionStats(
            max_logit=jnp.max(jnp.where(causal, jnp.abs(logits), 0.0)), entropy=jnp.mean(entropy)
        )
        return _dense(cfg.width, "out")(out), stats


class Block(nn.Module):
    """Pre-LN block: ``x + Attn(LN(x))``, then ``x + MLP(LN(x))`` with a 4x gelu MLP."""

    cfg: ModelConfig

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, AttentionStats]:
        attn, stats = CausalAttention(self.cfg, name="attn")(_layer_norm("ln_attn")(x))
        x = x + attn
        h = _dense(self.cfg.mlp_ratio * self.cfg.width, "mlp_in")(_layer_norm("ln_mlp")(x))
        return x + _dense(self.cfg.width, "mlp_out")(nn.gelu(h)), stats


class Transformer(nn.Module):
    """Token ids [batch, seq] -> ``ModelOutput`` (logits, log Z and per-layer attention stats)."""

    cfg: ModelConfig

    @nn.compact
    def __call__(self, tokens: jax.Array) -> ModelOutput:
        cfg = self.cfg
        seq = tokens.shape[-1]
        x = nn.Embed(cfg.vocab, cfg.width, embedding_init=nn.initializers.normal(1.0), name="embed")(tokens)
        if cfg.positions == "learned":
            table = self.param("pos_embed", nn.initializers.normal(1.0), (cfg.seq_len, cfg.width))
        else:
            table = sinusoidal_positions(cfg.seq_len, cfg.width)
        x = x + table[:seq]
        stats = []
        for i in range(cfg.depth):
            x, s = Block(cfg, name=f"block_{i}")(x)
            stats.append(s)
        logits = _dense(cfg.vocab, "unembed")(_layer_norm("ln_final")(x))
        return ModelOutput(
            logits=logits,
            log_z=jax.nn.logsumexp(logits, axis=-1),
            max_attn_logit=jnp.stack([s.max_logit for s in stats]),
            attn_entropy=jnp.stack([s.entropy for s in stats]),
        )
