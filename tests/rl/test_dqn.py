"""The DQN trainer: one pure function, vmappable over loss params and seeds, NaN-safe, and it learns."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pydantic
import pytest

from discolab.rl import DQNConfig, LossInputs, Metrics, losses, make_train

# A tiny budget: enough updates for runs to differ, small enough to compile and run in seconds.
TINY = DQNConfig(env_id="CartPole-v1", total_steps=1_600, num_envs=4, hidden=(16, 16), learning_rate=1e-3,
                 learning_starts=200, buffer_size=1_000, target_update=20, num_logs=8)


def scaled_reg(loss_params: dict, inputs: LossInputs) -> jax.Array:
    """DQN plus ``c * Q(s_t, a_t)``: a loss with a real parameter to vmap over."""
    q = jnp.take_along_axis(inputs["q_tm1"], inputs["a_tm1"][:, None], axis=-1)[:, 0]
    return losses.dqn(None, inputs) + loss_params["c"] * q


def test_config_checks_and_derived_numbers() -> None:
    with pytest.raises(pydantic.ValidationError, match="known:"):
        DQNConfig(env_id="NoSuchEnv-v0")
    with pytest.raises(pydantic.ValidationError, match="multiple of num_envs"):
        DQNConfig(buffer_size=1_001, num_envs=8)
    with pytest.raises(pydantic.ValidationError, match="extra"):
        DQNConfig(lr=1e-3)
    cfg = DQNConfig(env_id="Acrobot-v1")
    assert cfg.steps == 100_000 and cfg.epsilon_decay_steps == 1_000 and cfg.epsilon_end_value == 0.05
    assert TINY.num_iterations == 400 and TINY.num_log_points == 8
    assert hash(TINY) == hash(TINY.model_copy())  # static config keys a compile cache


def test_metrics_shapes_and_sanity() -> None:
    m = jax.jit(make_train(TINY, losses.dqn))(None, jax.random.key(0))
    chex.assert_shape([m.env_steps, m.episode_return, m.episodes, m.loss, m.q_mean, m.epsilon], (8,))
    chex.assert_shape([m.final_return, m.fitness, m.finite, m.nonfinite_updates], ())
    assert int(m.env_steps[-1]) == 1_600 and bool(m.finite) and int(m.nonfinite_updates) == 0
    assert 0.0 <= float(m.fitness) <= 1.0
    np.testing.assert_allclose(float(m.fitness), float(m.final_return) / 500.0, rtol=1e-5)  # no clipping here
    assert float(m.epsilon[-1]) == pytest.approx(0.05)
    assert bool(jnp.all(jnp.isfinite(m.loss[1:]))) and bool(jnp.all(jnp.diff(m.episodes) >= 0))


def test_vmap_over_programs_and_seeds() -> None:
    """[programs, seeds] in one call equals separate calls; seeds differ; new params never recompile."""
    train = make_train(TINY, scaled_reg)
    params = {"c": jnp.array([0.0, 0.5])}
    keys = jax.random.split(jax.random.key(3), 2)
    grid = jax.jit(jax.vmap(jax.vmap(train, (None, 0)), (0, None)))(params, keys)
    chex.assert_shape(grid.q_mean, (2, 2, 8))

    single = jax.jit(train)
    for p in range(2):
        for s in range(2):
            one = single({"c": params["c"][p]}, keys[s])
            chex.assert_trees_all_close(
                jax.tree.map(lambda x: x[p, s], grid), one, rtol=1e-4, atol=1e-4  # noqa: B023
            )
    assert single._cache_size() == 1  # swapping loss params never recompiles
    # Different seeds give different runs; a different loss gives a different run.
    assert not np.allclose(grid.q_mean[0, 0], grid.q_mean[0, 1])
    assert not np.allclose(grid.q_mean[0, 0], grid.q_mean[1, 0])


@pytest.mark.parametrize(
    "bad_loss",
    [
        lambda _, x: jnp.log(-1.0 * jnp.abs(x["q_tm1"]).sum(-1) - 1.0),  # log of a negative: NaN
        lambda _, x: jnp.zeros_like(x["r_t"]) / 0.0 * x["q_tm1"][:, 0],  # 0/0: NaN
    ],
    ids=["log_negative", "zero_div_zero"],
)
def test_non_finite_loss_completes_and_reports(bad_loss) -> None:
    m = jax.jit(make_train(TINY, bad_loss))(None, jax.random.key(0))
    assert not bool(m.finite)
    assert int(m.nonfinite_updates) > 0
    assert np.isfinite(float(m.fitness))  # the fitness stays a number; the domain floors it on `finite`
    assert int(m.episodes[-1]) > 0  # training went on to the end


def test_finite_flag_per_program_under_vmap() -> None:
    """One NaN program in a batch does not touch its neighbours."""

    def maybe_nan(loss_params: jax.Array, inputs: LossInputs) -> jax.Array:
        return losses.dqn(None, inputs) * jnp.log(loss_params)  # log(-1) = NaN; log(e) = 1

    m = jax.jit(jax.vmap(make_train(TINY, maybe_nan), (0, None)))(jnp.array([np.e, -1.0]), jax.random.key(0))
    assert m.finite.tolist() == [True, False]
    assert bool(jnp.all(jnp.isfinite(m.q_mean[0, 1:])))


def test_learns_cartpole() -> None:
    """DQN on CartPole-v1 in 20k transitions: final episodes far above random play (about 22)."""
    cfg = DQNConfig(env_id="CartPole-v1", total_steps=20_000, num_envs=8, hidden=(64, 64), learning_rate=1e-3,
                    learning_starts=500, buffer_size=10_000, num_logs=10)
    m: Metrics = jax.jit(jax.vmap(make_train(cfg, losses.dqn), (None, 0)))(None, jax.random.split(jax.random.key(1), 2))
    assert m.finite.all()
    final = np.asarray(m.final_return)
    assert (final > 100).all(), final
    assert (np.asarray(m.episode_return[:, 0]) < 40).all()  # it started near random
