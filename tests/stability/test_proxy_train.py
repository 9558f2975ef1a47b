"""The proxy training run: z-loss by hand, the optimizer's decay and muParam, vmap equivalence, divergence."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from discolab.stability import Transformer, final_losses, make_train, proxy_adamw
from discolab.stability.optim import lr_multipliers, scheduled, warmup_cosine
from discolab.stability.train import loss_fn

LRS = jnp.array([1e-3, 1e-2, 1e4])  # the last is absurd: the run must diverge without raising


@pytest.fixture(scope="module")
def batched(tiny):
    train = make_train(tiny)
    return train, jax.device_get(jax.jit(jax.vmap(train, in_axes=(0, None)))(LRS, jax.random.key(0)))


def test_z_loss_adds_exactly_coef_times_mean_log_z_squared(tiny):
    model = Transformer(tiny.model)
    inputs = jax.random.randint(jax.random.key(1), (3, tiny.model.seq_len), 0, tiny.model.vocab)
    targets = jnp.roll(inputs, -1, axis=1)
    params = jax.jit(model.init)(jax.random.key(0), inputs)["params"]
    logits = jax.jit(model.apply)({"params": params}, inputs).logits
    # By hand: log Z per token, cross-entropy from log-softmax, z-loss from log Z.
    log_z = jnp.log(jnp.sum(jnp.exp(logits), axis=-1))
    ce = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), targets[..., None], -1))
    coef = 0.37
    loss = jax.jit(lambda c: loss_fn(model, params, inputs, targets, c))
    loss0, _ = loss(0.0)
    loss1, aux1 = loss(coef)
    np.testing.assert_allclose(loss0, ce, rtol=1e-6)
    np.testing.assert_allclose(loss1 - loss0, coef * jnp.mean(log_z**2), rtol=1e-5)
    np.testing.assert_allclose(aux1.cross_entropy, ce, rtol=1e-6)  # the logged loss excludes the z-loss
    np.testing.assert_allclose(aux1.log_z, jnp.mean(log_z), rtol=1e-6)


@pytest.mark.parametrize(("mode", "expected"), [("coupled", -0.5 * 0.1 * 2.0), ("independent", -0.1 * 2.0)])
def test_weight_decay_is_coupled_to_the_rate_or_not(mode, expected):
    params = {"w": jnp.full((2, 2), 2.0), "scale": jnp.full((2,), 2.0)}
    tx = proxy_adamw(jnp.float32(0.5), lr_multipliers(params, False, 1, 1), weight_decay=0.1, weight_decay_mode=mode)
    zero = jax.tree.map(jnp.zeros_like, params)
    updates, _ = tx.update(zero, tx.init(params), params)
    np.testing.assert_allclose(updates["w"], expected, rtol=1e-6)  # matrices decay
    np.testing.assert_allclose(updates["scale"], 0.0)  # vectors (LayerNorm scales) do not


def test_mu_param_scales_hidden_matrices_only(tiny):
    params = jax.eval_shape(Transformer(tiny.model).init, jax.random.key(0), jnp.zeros((1, 4), jnp.int32))["params"]
    factors = lr_multipliers(params, True, width=32, base_width=8)
    assert factors["block_0"]["attn"]["qkv"]["kernel"] == factors["block_0"]["mlp_out"]["kernel"] == 0.25
    assert factors["embed"]["embedding"] == factors["unembed"]["kernel"] == factors["pos_embed"] == 1.0
    assert factors["block_0"]["ln_attn"]["scale"] == 1.0
    assert set(jax.tree.leaves(lr_multipliers(params, False, 32, 8))) == {1.0}


def test_schedule_warms_up_then_decays_to_min_ratio():
    s = jax.vmap(lambda t: warmup_cosine(t, 10, 100, 0.01))(jnp.arange(100))
    assert float(s[0]) == pytest.approx(0.1) and float(s[9]) == pytest.approx(1.0)
    assert np.all(np.diff(s[10:]) <= 1e-7) and float(s[-1]) == pytest.approx(0.01, abs=1e-3)
    clipped = scheduled(optax.sgd(1.0), lambda t: 0.5, clip_norm=1.0)
    updates, _ = clipped.update({"w": jnp.array([30.0, 40.0])}, clipped.init({"w": jnp.zeros(2)}))
    np.testing.assert_allclose(updates["w"], [-0.3, -0.4], rtol=1e-6)  # clipped to norm 1, times 0.5


def test_metrics_shapes_and_learning(batched, tiny):
    _, m = batched
    for field in m._fields[:-1]:
        chex.assert_shape(getattr(m, field), (len(LRS), tiny.num_logs))
    assert float(m.loss[1, -1]) < float(m.init_loss[1]) - 0.3  # lr 1e-2 learns


def test_vmap_over_learning_rates_equals_each_rate_alone(batched):
    train, m = batched
    single = jax.jit(train)
    for i, lr in enumerate(LRS[:2]):
        alone = jax.device_get(single(lr, jax.random.key(0)))
        chex.assert_trees_all_close(alone, jax.tree.map(lambda x: x[i], m), rtol=2e-4, atol=1e-6)


def test_absurd_learning_rate_diverges_without_raising(batched):
    _, m = batched
    _, diverged = final_losses(m, window=2)
    assert diverged.tolist() == [False, False, True]
