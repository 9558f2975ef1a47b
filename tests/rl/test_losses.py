"""The hand-written reference losses: values against numpy, and where gradients flow."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from discolab.rl import LOSS_INPUTS, losses

B, A = 5, 3


def _inputs(seed: int = 0) -> dict[str, jax.Array]:
    rng = np.random.default_rng(seed)
    q = lambda: jnp.asarray(rng.normal(size=(B, A)), jnp.float32)  # noqa: E731
    return {
        "q_tm1": q(),
        "q_t_target": q(),
        "q_t_online": q(),
        "q_tm1_target": q(),
        "a_tm1": jnp.asarray(rng.integers(0, A, size=B), jnp.int32),
        "r_t": jnp.asarray(rng.normal(size=B), jnp.float32),
        "discount_t": jnp.asarray(0.99 * (rng.random(B) < 0.7), jnp.float32),
    }


def _np(inputs: dict) -> dict:
    return {k: np.asarray(v, np.float64) for k, v in inputs.items()}


def test_inputs_are_the_trainers() -> None:
    assert set(_inputs()) == set(LOSS_INPUTS)


def test_reference_values() -> None:
    inputs = _inputs()
    x = _np(inputs)
    a = x["a_tm1"].astype(int)
    q = x["q_tm1"][np.arange(B), a]
    y = x["r_t"] + x["discount_t"] * x["q_t_target"].max(-1)
    best = x["q_t_online"].argmax(-1)
    y_double = x["r_t"] + x["discount_t"] * x["q_t_target"][np.arange(B), best]
    expected = {
        "dqn": 0.5 * (q - y) ** 2,
        "double_dqn": 0.5 * (q - y_double) ** 2,
        "dqn_reg": 0.5 * (q - y) ** 2 + 0.1 * q,
        "dqn_clipped": np.maximum(q, (q - y) ** 2 + y)
        + np.maximum(q - y, x["discount_t"] * x["q_t_target"].max(-1) ** 2),
    }
    for name, want in expected.items():
        got = losses.get(name)(None, inputs)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("name", sorted(losses.REFERENCE_LOSSES))
def test_gradient_flows_through_q_tm1_only(name: str) -> None:
    inputs = _inputs(1)
    loss = lambda inp: jnp.mean(losses.get(name)(None, inp))  # noqa: E731
    grads = jax.grad(loss, allow_int=True)(inputs)
    assert float(jnp.abs(grads["q_tm1"]).sum()) > 0
    for key in ("q_t_target", "q_t_online", "q_tm1_target", "r_t"):
        assert float(jnp.abs(grads[key]).sum()) == 0.0, key
    # Only the taken action's Q(s_t, .) gets a gradient.
    mask = jax.nn.one_hot(inputs["a_tm1"], A, dtype=bool)
    assert float(jnp.abs(jnp.where(mask, 0.0, grads["q_tm1"])).sum()) == 0.0


def test_dqn_gradient_is_the_td_error() -> None:
    inputs = _inputs(2)
    g = jax.grad(lambda q: jnp.sum(losses.dqn(None, {**inputs, "q_tm1": q})))(inputs["q_tm1"])
    x = _np(inputs)
    a = x["a_tm1"].astype(int)
    td = x["q_tm1"][np.arange(B), a] - (x["r_t"] + x["discount_t"] * x["q_t_target"].max(-1))
    np.testing.assert_allclose(np.asarray(g)[np.arange(B), a], td, rtol=1e-5, atol=1e-6)


def test_unknown_loss_lists_names() -> None:
    with pytest.raises(ValueError, match="known:.*dqn_clipped"):
        losses.get("td3")
