"""Brax envs behind the gymnax API: they step under jit+vmap, their physics scale, SAC trains on them."""

from __future__ import annotations

import pytest

pytest.importorskip("brax")

import chex  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from discolab.rl import SACConfig, envs, make_sac, sac_actor_loss, sac_critic_loss  # noqa: E402
from discolab.rl.brax_envs import BraxEnvParams, scaled_system  # noqa: E402

NAME = "brax-inverted_pendulum"


def rollout(env, params, actions: jax.Array, key: jax.Array) -> tuple:
    """Observations, rewards, terminations and truncations of one env driven by fixed ``actions`` ``[T, A]``."""
    obs, state = env.reset(key, params)

    def step(state, xs):
        action, k = xs
        obs, state, reward, terminated, truncated, info = env.step(k, state, action, params)
        return state, (obs, reward, terminated, truncated, info["final_observation"])

    _, out = jax.lax.scan(step, state, (actions, jax.random.split(key, actions.shape[0])))
    return out


def test_resets_and_steps_under_jit_vmap() -> None:
    env, params = envs.make(NAME)
    assert envs.make(NAME)[0] is env  # built once per process
    assert isinstance(params, BraxEnvParams) and params.max_steps_in_episode == 1000
    assert env.observation_space(params).shape == (4,) and env.num_actions == 1
    assert (float(env.action_space(params).low), float(env.action_space(params).high)) == (-1.0, 1.0)
    params = params.replace(max_steps_in_episode=8)  # short: the time limit truncates too
    n, steps = 4, 40
    actions = jax.random.uniform(jax.random.key(1), (n, steps, 1), minval=-1.0, maxval=1.0)
    run = jax.jit(jax.vmap(rollout, in_axes=(None, None, 0, 0)), static_argnums=0)
    obs, reward, terminated, truncated, final_obs = run(env, params, actions, jax.random.split(jax.random.key(0), n))
    chex.assert_shape([obs, final_obs], (n, steps, 4))
    assert bool(jnp.all(jnp.isfinite(obs))) and bool(jnp.all(reward == 1.0))
    assert bool(jnp.any(terminated)) and bool(jnp.any(truncated & ~terminated))
    done = terminated | truncated
    # Auto-reset: after an ending the next observation is a fresh start near 0, the final one is kept in info.
    np.testing.assert_array_equal(obs[~done], final_obs[~done])
    assert bool(jnp.all(jnp.abs(obs[done]) <= 0.01)) and not bool(jnp.all(jnp.abs(final_obs[done]) <= 0.01))


def test_with_params_scales_the_physics_and_names_unknown_fields() -> None:
    env, default = envs.make(NAME)
    held_out = envs.with_params(NAME, {"friction": 0.5, "mass": 1.3})
    assert (held_out.friction, held_out.mass, held_out.damping, held_out.gravity) == (0.5, 1.3, 1.0, 1.0)
    sys = scaled_system(env._env.sys, held_out)
    np.testing.assert_allclose(sys.geom_friction, 0.5 * env._env.sys.geom_friction)
    np.testing.assert_allclose(sys.link.inertia.mass, 1.3 * env._env.sys.link.inertia.mass, rtol=1e-6)
    # The same actions and starts give other trajectories under other physics (the cart-pole has no
    # contacts, so friction alone changes nothing there: mass and damping do).
    actions = 0.3 * jnp.sin(jnp.arange(5.0))[:, None]
    stacked = jax.tree.map(lambda *x: jnp.stack([jnp.asarray(v) for v in x]), default, held_out,
                           envs.with_params(NAME, {"damping": 3.0}))
    obs = jax.jit(jax.vmap(rollout, in_axes=(None, 0, None, None)), static_argnums=0)(
        env, stacked, actions, jax.random.key(0))[0]
    assert float(jnp.abs(obs[1] - obs[0]).max()) > 1e-3 and float(jnp.abs(obs[2] - obs[0]).max()) > 1e-3
    with pytest.raises(ValueError, match="'frction'.*fields:.*friction"):
        envs.with_params(NAME, {"frction": 0.5})
    with pytest.raises(ValueError, match="int"):
        envs.with_params(NAME, {"max_steps_in_episode": 10.5})


def test_sac_trains_and_evaluates_held_out_physics() -> None:
    cfg = SACConfig(env_id=NAME, env_overrides={"max_steps_in_episode": 50}, total_steps=300, hidden=(16, 16),
                    batch_size=32, learning_starts=100, buffer_size=1_000, num_logs=3, eval_episodes=2)
    held_out = [envs.with_params(NAME, {"friction": 0.5, "mass": 1.3, "max_steps_in_episode": 50}),
                envs.with_params(NAME, {"damping": 2.0, "max_steps_in_episode": 50})]
    train = make_sac(cfg, sac_actor_loss, sac_critic_loss, eval_params=held_out)
    metrics = jax.jit(train)(None, jax.random.key(0))
    assert bool(metrics.finite) and int(metrics.episodes[-1]) > 0
    chex.assert_shape(metrics.eval_returns, (2,))
    assert bool(jnp.all(jnp.isfinite(metrics.eval_returns))) and np.isfinite(float(metrics.final_return))
    assert bool(jnp.all((metrics.eval_returns >= 1.0) & (metrics.eval_returns <= 50.0)))
