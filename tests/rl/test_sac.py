"""The SAC trainer: it learns Pendulum, vmaps over loss params and seeds, survives NaN losses, evaluates held-out envs."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pydantic
import pytest

from discolab.rl import SAC_LOSS_INPUTS, LossInputs, SACConfig, envs, make_sac, sac_actor_loss, sac_critic_loss

# Learns Pendulum reliably: 8 of 8 seeds end between -110 and -180 at this budget (random play: about -1220).
LEARN = SACConfig(total_steps=5_000, num_logs=10)
# Tiny: enough updates for runs and losses to differ, small enough to compile and run in seconds.
TINY = SACConfig(total_steps=600, num_envs=2, hidden=(16, 16), batch_size=32, learning_starts=200, buffer_size=1_000,
                 num_logs=4, eval_episodes=2)
HEAVY = {"m": 1.5, "l": 1.5}


def scaled_critic(loss_params: dict, inputs: LossInputs) -> jax.Array:
    """SAC's critic loss times ``c``: a loss with a real parameter to vmap over (c = NaN: a NaN loss)."""
    return loss_params["c"] * sac_critic_loss(None, inputs)


def scaled_actor(loss_params: dict, inputs: LossInputs) -> jax.Array:
    """SAC's actor loss times ``a``."""
    return loss_params["a"] * sac_actor_loss(None, inputs)


def test_config_checks_and_derived_numbers() -> None:
    with pytest.raises(pydantic.ValidationError, match="continuous one:.*Pendulum-v1"):
        SACConfig(env_id="CartPole-v1")
    with pytest.raises(pydantic.ValidationError, match="'mass'.*fields:"):
        SACConfig(env_overrides={"mass": 2.0})
    with pytest.raises(pydantic.ValidationError, match="multiple of num_envs"):
        SACConfig(buffer_size=1_001, num_envs=2)
    with pytest.raises(pydantic.ValidationError, match="extra"):
        SACConfig(lr=1e-3)
    cfg = SACConfig(env_overrides={"l": 1.2, "m": 1.3})
    assert cfg.env_overrides == (("l", 1.2), ("m", 1.3)) and cfg.env_params.m == 1.3
    assert cfg.steps == 20_000 and hash(cfg) == hash(SACConfig(env_overrides=(("m", 1.3), ("l", 1.2))))
    assert TINY.num_iterations == 300 and TINY.num_log_points == 4
    assert SAC_LOSS_INPUTS == ("q_sa", "q_pi", "q_next", "logp_pi", "logp_next", "alpha", "r", "discount")


def test_hand_written_losses() -> None:
    x = {k: jnp.array([1.0, 2.0]) for k in SAC_LOSS_INPUTS}
    x |= {"q_next": jnp.array([3.0, 3.0]), "alpha": jnp.array([0.5, 0.5]), "discount": jnp.array([0.5, 0.0])}
    # target = r + discount * (q_next - alpha * logp_next) = [1 + 0.5 * 2.5, 2]; q_sa = [1, 2].
    np.testing.assert_allclose(sac_critic_loss(None, x), [0.5 * 1.25**2, 0.0])
    np.testing.assert_allclose(sac_actor_loss(None, x), [-0.5, -1.0])  # alpha * logp_pi - q_pi


@pytest.fixture(scope="module")
def learned() -> tuple:
    held_out = [envs.with_params("Pendulum-v1", HEAVY), envs.with_params("Pendulum-v1", {"m": 1.3, "l": 1.2})]
    train = make_sac(LEARN, sac_actor_loss, sac_critic_loss, eval_params=held_out)
    return jax.jit(jax.vmap(train, (None, 0)))(None, jax.random.split(jax.random.key(0), 2))


def test_learns_pendulum(learned) -> None:
    m = learned
    chex.assert_shape([m.env_steps, m.curve, m.critic_loss, m.actor_loss, m.q_mean, m.entropy], (2, 10))
    assert bool(jnp.all(m.finite)) and int(jnp.sum(m.nonfinite_updates)) == 0
    assert int(m.env_steps[0, -1]) == 5_000 and int(m.episodes[0, -1]) == 25  # 200-step episodes, 1 env
    assert float(jnp.mean(m.final_return)) > -400.0, m.final_return  # random play: about -1220
    assert float(jnp.max(m.curve[:, -1])) > -400.0  # the stochastic training episodes improve too
    assert float(jnp.min(m.curve[:, 0])) < -700.0  # from a random-like start


def test_held_out_evaluation(learned) -> None:
    m = learned
    chex.assert_shape(m.eval_returns, (2, 2))  # [seeds, held-out params]
    assert bool(jnp.all(jnp.isfinite(m.eval_returns)))
    # The heavier, longer pole (torque limit unchanged) is harder: measured about -800 against -140.
    assert float(jnp.mean(m.eval_returns[:, 0])) < float(jnp.mean(m.final_return)) - 100.0, m.eval_returns


@pytest.fixture(scope="module")
def tiny() -> tuple:
    """The TINY trainer of the scaled losses and its jitted single run (one compile shared by the tests below)."""
    train = make_sac(TINY, scaled_actor, scaled_critic)
    return train, jax.jit(train)


def test_vmap_over_programs_and_seeds(tiny) -> None:
    """A [programs, seeds] grid in one call equals separate calls; new loss params never recompile."""
    train, single = tiny
    params = {"c": jnp.array([1.0, 0.25]), "a": jnp.array([1.0, 1.0])}
    keys = jax.random.split(jax.random.key(3), 2)
    grid = jax.jit(jax.vmap(jax.vmap(train, (None, 0)), (0, None)))(params, keys)
    chex.assert_shape(grid.q_mean, (2, 2, 4))
    chex.assert_shape([grid.final_return, grid.finite], (2, 2))
    chex.assert_shape(grid.eval_returns, (2, 2, 0))

    for p, s in ((0, 1), (1, 0)):
        one = single(jax.tree.map(lambda x: x[p], params), keys[s])  # noqa: B023
        chex.assert_trees_all_close(jax.tree.map(lambda x: x[p, s], grid), one, rtol=1e-3, atol=1e-3)  # noqa: B023
    assert single._cache_size() == 1  # swapping loss params never recompiles
    assert not np.allclose(grid.critic_loss[0, 0], grid.critic_loss[0, 1])  # seeds differ
    assert not np.allclose(grid.critic_loss[0, 0], grid.critic_loss[1, 0])  # losses differ


@pytest.mark.parametrize("which", ["critic", "actor"])
def test_non_finite_loss_completes_and_reports(tiny, which: str) -> None:
    """``jnp.nan * loss``: every update of that network is skipped, nothing raises, params stay finite."""
    _, single = tiny
    nan, one = jnp.float32(jnp.nan), jnp.float32(1.0)
    m = single({"c": nan, "a": one} if which == "critic" else {"c": one, "a": nan}, jax.random.key(0))
    # Every update from the first ready step on is skipped: iterations 100..300 of 2 envs (learning_starts 200).
    assert not bool(m.finite) and int(m.nonfinite_updates) == 201
    assert bool(jnp.isfinite(m.final_return))  # the actor params stayed finite
    assert bool(jnp.all(jnp.isfinite(m.q_mean[1:])))  # and the critics'
    loss = m.critic_loss if which == "critic" else m.actor_loss
    assert bool(jnp.all(jnp.isnan(loss[1:])))  # non-finite losses show in the curve
    assert single._cache_size() == 1
