"""Hand-written reference losses of the Evolving-RL paper, on the trainer's loss inputs.

Each is ``loss(loss_params, inputs) -> [B]`` per-sample losses (the trainer
takes the mean); ``loss_params`` is unused. ``inputs`` is the dict the DQN
trainer builds for a sampled batch (see ``discolab.rl.dqn.LOSS_INPUTS``):

======================  ======  ===================================================
``q_tm1``               [B, A]  Q(theta, s_t): the only differentiable input
``q_t_target``          [B, A]  Q(theta', s_{t+1}) (stop_gradient)
``q_t_online``          [B, A]  Q(theta, s_{t+1}) (differentiable through theta)
``q_tm1_target``        [B, A]  Q(theta', s_t) (stop_gradient)
``a_tm1``               [B]     int32 action a_t
``r_t``                 [B]     reward r_{t+1}
``discount_t``          [B]     gamma * (1 - terminated)
======================  ======  ===================================================

The distance is the paper's (public code) op ``0.5 * (x - y)^2``, not Huber.
The bootstrap target ``Y`` is wrapped in ``stop_gradient`` (it already is for
target-net inputs; Double DQN's argmax carries no gradient either).

Example:
    >>> import jax.numpy as jnp
    >>> inputs = dict(q_tm1=jnp.array([[1.0, 2.0]]), q_t_target=jnp.array([[0.0, 3.0]]),
    ...               q_t_online=jnp.array([[5.0, 0.0]]), q_tm1_target=jnp.zeros((1, 2)),
    ...               a_tm1=jnp.array([0]), r_t=jnp.array([1.0]), discount_t=jnp.array([0.5]))
    >>> float(dqn(None, inputs)[0])         # Y = 1 + 0.5 * 3 = 2.5; 0.5 * (1 - 2.5)^2
    1.125
    >>> float(double_dqn(None, inputs)[0])  # a* = 0, Y = 1 + 0.5 * 0 = 1
    0.0
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from discolab.rl.types import LossFn, LossInputs, LossParams


def _select(q: jax.Array, a: jax.Array) -> jax.Array:
    """``q[b, a[b]]``: the value of the taken action."""
    return jnp.take_along_axis(q, a.astype(jnp.int32)[:, None], axis=-1)[:, 0]


def _distance(x: jax.Array, y: jax.Array) -> jax.Array:
    return 0.5 * jnp.square(x - y)


def dqn_target(inputs: LossInputs) -> jax.Array:
    """``Y = r_t + discount_t * max_a Q(theta', s_{t+1}, a)`` (no gradient)."""
    y = inputs["r_t"] + inputs["discount_t"] * jnp.max(inputs["q_t_target"], axis=-1)
    return jax.lax.stop_gradient(y)


def dqn(loss_params: LossParams, inputs: LossInputs) -> jax.Array:
    """DQN (Mnih et al. 2015): ``0.5 * (Q(s_t, a_t) - Y)^2``, Y the max target."""
    del loss_params
    return _distance(_select(inputs["q_tm1"], inputs["a_tm1"]), dqn_target(inputs))


def double_dqn(loss_params: LossParams, inputs: LossInputs) -> jax.Array:
    """Double DQN (van Hasselt et al. 2016): the online net picks ``a*``, the target net values it.

    ``Y = r_t + discount_t * Q(theta', s_{t+1}, argmax_a Q(theta, s_{t+1}, a))``.
    """
    del loss_params
    best = jnp.argmax(inputs["q_t_online"], axis=-1)
    y = jax.lax.stop_gradient(inputs["r_t"] + inputs["discount_t"] * _select(inputs["q_t_target"], best))
    return _distance(_select(inputs["q_tm1"], inputs["a_tm1"]), y)


def dqn_reg(loss_params: LossParams, inputs: LossInputs) -> jax.Array:
    """DQNReg (Co-Reyes et al. 2021, public code): ``0.5 * delta^2 + 0.1 * Q(s_t, a_t)``.

    The paper writes ``delta^2 + 0.1 * Q``; the public code uses the 0.5
    distance. The ``0.1 * Q`` term pushes Q-values down (underestimation).
    """
    del loss_params
    q = _select(inputs["q_tm1"], inputs["a_tm1"])
    return _distance(q, dqn_target(inputs)) + 0.1 * q


def dqn_clipped(loss_params: LossParams, inputs: LossInputs) -> jax.Array:
    """DQNClipped (Co-Reyes et al. 2021).

    ``max[Q, delta^2 + Y] + max[Q - Y, gamma * (max_a Q'(s_{t+1}, a))^2]`` with
    ``Q = Q(s_t, a_t)``, ``Y = r_t + gamma * max_a Q'``, ``delta = Q - Y`` and
    ``gamma = discount_t`` (already masked by done). When Q is not too large the
    first max is ``delta^2 + Y`` (plain TD); the second clips Q from above.
    """
    del loss_params
    q = _select(inputs["q_tm1"], inputs["a_tm1"])
    max_next = jax.lax.stop_gradient(jnp.max(inputs["q_t_target"], axis=-1))
    y = jax.lax.stop_gradient(inputs["r_t"] + inputs["discount_t"] * max_next)
    delta = q - y
    return jnp.maximum(q, jnp.square(delta) + y) + jnp.maximum(q - y, inputs["discount_t"] * jnp.square(max_next))


#: The reference losses by name.
REFERENCE_LOSSES: dict[str, LossFn] = {
    "dqn": dqn,
    "double_dqn": double_dqn,
    "dqn_reg": dqn_reg,
    "dqn_clipped": dqn_clipped,
}


def get(name: str) -> LossFn:
    """A reference loss by name; the error lists the known names."""
    try:
        return REFERENCE_LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; known: {sorted(REFERENCE_LOSSES)}") from None
