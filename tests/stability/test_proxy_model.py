"""The proxy transformer: qk-layernorm, causality, log Z and the attention diagnostics, by hand."""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np

from discolab.stability import ModelConfig, Transformer

CFG = ModelConfig(vocab=16, seq_len=8, width=32, depth=2, head_dim=8)


def init_and_run(cfg: ModelConfig, tokens: jax.Array):
    model = Transformer(cfg)
    params = jax.jit(model.init)(jax.random.key(0), tokens)["params"]  # jit: one compile, not one per op
    out, state = jax.jit(lambda p, t: model.apply({"params": p}, t, mutable=["intermediates"]))(params, tokens)
    return params, out, state["intermediates"]


def layer_norm(x: jax.Array, scale: jax.Array, eps: float = 1e-6) -> jax.Array:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / jnp.sqrt(var + eps) * scale


def tokens(batch: int = 2) -> jax.Array:
    return jax.random.randint(jax.random.key(1), (batch, CFG.seq_len), 0, CFG.vocab)


def test_qk_layernorm_normalizes_each_query_and_key_head_vector():
    cfg = CFG.model_copy(update={"qk_layernorm": True})
    params, out, inter = init_and_run(cfg, tokens())
    p = params["block_0"]
    # By hand: embed + positions -> LN -> qkv projection -> LN per head vector (scale 1 at init).
    x = params["embed"]["embedding"][tokens()] + params["pos_embed"][: cfg.seq_len]
    h = layer_norm(x, p["ln_attn"]["scale"])
    qkv = (h @ p["attn"]["qkv"]["kernel"]).reshape(2, cfg.seq_len, 3, cfg.heads, cfg.head_dim)
    q_hand = layer_norm(qkv[:, :, 0], p["attn"]["q_norm"]["scale"])
    k_hand = layer_norm(qkv[:, :, 1], p["attn"]["k_norm"]["scale"])
    (q,), (k,) = inter["block_0"]["attn"]["q"], inter["block_0"]["attn"]["k"]
    chex.assert_trees_all_close((q, k), (q_hand, k_hand), atol=1e-5)
    for v in (q, k):  # zero mean, unit variance over each head vector
        np.testing.assert_allclose(v.mean(-1), 0.0, atol=1e-5)
        np.testing.assert_allclose(v.var(-1), 1.0, atol=1e-3)
    # The reported max attention logit is max |q.k| / sqrt(head_dim) over the causal entries.
    logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(cfg.head_dim)
    causal = jnp.tril(jnp.ones((cfg.seq_len, cfg.seq_len), bool))
    np.testing.assert_allclose(out.max_attn_logit[0], jnp.abs(jnp.where(causal, logits, 0)).max(), rtol=1e-5)
    # With unit-norm-ish heads, |q.k| / sqrt(d) <= sqrt(d) (Cauchy-Schwarz).
    assert float(out.max_attn_logit.max()) <= math.sqrt(cfg.head_dim) + 1e-4


def test_without_qk_layernorm_queries_are_the_raw_projection():
    params, _, inter = init_and_run(CFG, tokens())
    assert "q_norm" not in params["block_0"]["attn"]
    p = params["block_0"]
    x = params["embed"]["embedding"][tokens()] + params["pos_embed"][: CFG.seq_len]
    qkv = (layer_norm(x, p["ln_attn"]["scale"]) @ p["attn"]["qkv"]["kernel"]).reshape(
        2, CFG.seq_len, 3, CFG.heads, CFG.head_dim
    )
    chex.assert_trees_all_close(inter["block_0"]["attn"]["q"][0], qkv[:, :, 0], atol=1e-5)


def test_log_z_entropy_shapes_and_no_biases():
    params, out, _ = init_and_run(CFG, tokens())
    chex.assert_shape(out.logits, (2, CFG.seq_len, CFG.vocab))
    chex.assert_shape((out.max_attn_logit, out.attn_entropy), ((CFG.depth,), (CFG.depth,)))
    np.testing.assert_allclose(out.log_z, jax.nn.logsumexp(out.logits, -1), rtol=1e-6)
    # Entropy of a causal softmax at position t is between 0 and log(t + 1); the mean is below log(seq).
    assert np.all(out.attn_entropy > 0) and np.all(out.attn_entropy < math.log(CFG.seq_len))
    names = {"/".join(str(k.key) for k in path) for path, _ in jax.tree_util.tree_leaves_with_path(params)}
    assert not any(n.endswith("bias") for n in names), names


def test_attention_is_causal_and_sinusoidal_positions_work():
    cfg = CFG.model_copy(update={"positions": "sinusoidal"})
    model = Transformer(cfg)
    a = tokens(1)
    b = a.at[0, -1].set((a[0, -1] + 1) % cfg.vocab)  # change only the last token
    params = jax.jit(model.init)(jax.random.key(0), a)["params"]
    assert "pos_embed" not in params
    apply = jax.jit(lambda t: model.apply({"params": params}, t).logits)
    la, lb = apply(a), apply(b)
    np.testing.assert_allclose(la[0, :-1], lb[0, :-1], atol=1e-6)
    assert not np.allclose(la[0, -1], lb[0, -1])
