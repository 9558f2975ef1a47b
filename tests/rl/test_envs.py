"""The environment registry: errors list the names; every env steps under jit, vmapped."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from discolab.rl import envs


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known:.*CartPole-v1"):
        envs.make("NoSuchEnv-v0")
    with pytest.raises(ValueError, match="Acrobot-v1"):
        envs.spec("NoSuchEnv-v0")


def test_register_rejects_duplicates_and_bad_rows() -> None:
    row = envs.spec("CartPole-v1")
    with pytest.raises(ValueError, match="already registered"):
        envs.register(row)
    with pytest.raises(ValueError, match="r_max"):
        envs.EnvSpec(name="x", backend="gymnax", backend_id="CartPole-v1", train_steps=1, r_min=1.0, r_max=0.0,
                     eps_decay_steps=1)


def test_table_rows() -> None:
    assert {"CartPole-v0", "CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1",
            "MountainCarContinuous-v0"} <= set(envs.names())
    for name, row in envs.table().items():
        assert row.name == name and row.r_max > row.r_min and 0 <= row.eps_end <= row.eps_start <= 1
    # The paper's CartPole caps episodes at 200 steps; gymnax v1 at 500.
    assert envs.make("CartPole-v0")[1].max_steps_in_episode == 200
    assert envs.make("CartPole-v1")[1].max_steps_in_episode == 500
    assert float(envs.spec("CartPole-v0").normalize(300.0)) == 1.0
    assert float(envs.spec("Acrobot-v1").normalize(-250.0)) == 0.5
    assert float(envs.spec("Pendulum-v1").normalize(-850.0)) == 0.5
    assert envs.spec("Pendulum-v1").continuous and not envs.spec("CartPole-v1").continuous
    with pytest.raises(ValueError, match="action_dim"):
        envs.EnvSpec(name="x", backend="gymnax", backend_id="Pendulum-v1", train_steps=1, r_min=0.0, r_max=1.0,
                     eps_decay_steps=1, action_dim=-1)


# Brax rows (an optional extra, slow to compile) are stepped in test_brax_envs.py.
@pytest.mark.parametrize("name", [n for n in envs.names() if envs.spec(n).backend != "brax"])
def test_every_env_steps_under_jit_vmapped(name: str) -> None:
    env, params = envs.make(name)
    row = envs.spec(name)
    n = 4
    steps = max(520, params.max_steps_in_episode + 20)  # Freeway-MinAtar ends only at its 2,500-step clock

    @jax.jit
    def rollout(key: jax.Array) -> tuple:
        k_reset, k_run = jax.random.split(key)
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_reset, n), params)

        def step(carry: tuple, key: jax.Array) -> tuple:
            obs, state = carry
            k_act, k_step = jax.random.split(key)
            if row.continuous:  # uniform over the Box of the row's action_dim
                space = env.action_space(params)
                action = jax.random.uniform(k_act, (n, row.action_dim), minval=space.low, maxval=space.high)
            else:
                action = jax.random.randint(k_act, (n,), 0, env.num_actions)
            obs, state, reward, terminated, truncated, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(k_step, n), state, action, params
            )
            return (obs, state), (obs, reward, terminated | truncated, info["final_observation"])

        _, out = jax.lax.scan(step, (obs, state), jax.random.split(k_run, steps))
        return out

    obs, reward, done, final_obs = rollout(jax.random.key(0))
    obs_shape = env.observation_space(params).shape
    chex.assert_shape(obs, (steps, n, *obs_shape))
    chex.assert_shape(final_obs, (steps, n, *obs_shape))
    chex.assert_shape(reward, (steps, n))
    assert bool(jnp.all(jnp.isfinite(obs))) and bool(jnp.all(jnp.isfinite(reward)))
    assert bool(jnp.any(done))  # random play ends an episode by the time limit


def test_with_params_replaces_fields_and_names_unknown_ones() -> None:
    default = envs.make("Pendulum-v1")[1]
    heavy = envs.with_params("Pendulum-v1", {"m": 1.3, "l": 1.2})
    assert (heavy.m, heavy.l) == (1.3, 1.2) and (heavy.g, heavy.dt, heavy.max_torque) == (default.g, 0.05, 2.0)
    assert envs.with_params("Pendulum-v1", {}) == default
    # An int field takes integral values only; the row's own overrides come first.
    assert envs.with_params("Pendulum-v1", {"max_steps_in_episode": 100.0}).max_steps_in_episode == 100
    assert envs.with_params("CartPole-v0", {"gravity": 12.0}).max_steps_in_episode == 200
    with pytest.raises(ValueError, match="int"):
        envs.with_params("Pendulum-v1", {"max_steps_in_episode": 10.5})
    with pytest.raises(ValueError, match=r"'mass'.*fields:.*'max_torque'.*'m'.*'l'"):
        envs.with_params("Pendulum-v1", {"mass": 1.3})
    with pytest.raises(ValueError, match="known:"):
        envs.with_params("NoSuchEnv-v0", {"m": 1.0})


def test_held_out_params_change_the_dynamics_and_stack() -> None:
    """A heavier, longer pole falls differently; params of one env stack into a vmappable pytree."""
    env, default = envs.make("Pendulum-v1")
    heavy = envs.with_params("Pendulum-v1", {"m": 1.5, "l": 1.5})
    stacked = jax.tree.map(lambda *x: jnp.stack([jnp.asarray(v) for v in x]), default, heavy)
    obs, state = env.reset(jax.random.key(0), default)
    action = jnp.array([1.0])
    step = jax.vmap(env.step, in_axes=(None, None, None, 0))
    next_obs = step(jax.random.key(1), state, action, stacked)[0]
    chex.assert_shape(next_obs, (2, 3))
    assert not np.allclose(next_obs[0], next_obs[1])
