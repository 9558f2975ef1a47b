"""Brax environments behind the gymnax 1.0 API, with physical scale factors as env params.

:class:`BraxEnv` wraps one Brax ``PipelineEnv`` (e.g. ``inverted_pendulum``)
so that the trainers use it like a gymnax env (see
:class:`discolab.rl.types.JaxEnv`): ``reset(key, params) -> (obs, state)``,
``step(key, state, action, params) -> (obs, state, reward, terminated,
truncated, info)`` with auto-reset to a fresh random start and the pre-reset
observation in ``info["final_observation"]``. ``terminated`` is Brax's
``done`` (a true end: the pole fell, the hopper fell); ``truncated`` is the
time limit ``params.max_steps_in_episode``, which keeps the bootstrap.

The physics are parameterized by :class:`BraxEnvParams`, scale factors of
the Brax ``System`` applied inside ``reset`` and ``step`` (so the params are
an ordinary pytree: stack several and vmap over them):

* ``friction``: every geom's friction coefficients (``geom_friction``). Only
  bodies in contact feel it: in ``inverted_pendulum`` nothing collides
  (``contype=0``), so friction changes nothing there; use ``damping``.
* ``mass``: every body's mass and rotational inertia (the same shapes, denser).
* ``damping``: every joint's viscous damping (``dof.damping``), the joint
  friction of the cart-pole.
* ``gravity``: the gravity vector.

Actions are Brax's: a float vector in ``[-1, 1]^A`` (the env maps it to its
actuator range). Brax is imported only when an env is built, so
``discolab`` imports without it (``pip install discolab[brax]``).

Example:
    >>> env = BraxEnv("inverted_pendulum")  # doctest: +SKIP
    >>> obs, state = env.reset(jax.random.key(0), env.default_params)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import copy
import functools
import sys
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import spaces

#: The Brax physics pipeline: "generalized" integrates in joint coordinates
#: like MuJoCo itself (inverted_pendulum: dt 0.04 s, as gym's
#: InvertedPendulum-v4); "spring" is about 2.5x faster on CPU but cruder.
DEFAULT_PIPELINE = "generalized"


@struct.dataclass
class BraxEnvParams:
    """Physical scale factors (1.0: Brax's model) and the time limit."""

    friction: float = 1.0
    mass: float = 1.0
    damping: float = 1.0
    gravity: float = 1.0
    max_steps_in_episode: int = 1000


@struct.dataclass
class BraxEnvState:
    """Brax's own state plus the step count of the episode."""

    brax_state: Any
    time: jax.Array


def scaled_system(system: Any, params: BraxEnvParams) -> Any:
    """Brax ``System`` ``system`` with its friction, masses, damping and gravity scaled by ``params``."""
    mass = jnp.asarray(params.mass, jnp.float32)
    inertia = system.link.inertia
    link = system.link.replace(inertia=inertia.replace(mass=inertia.mass * mass, i=inertia.i * mass))
    gravity = system.gravity * jnp.asarray(params.gravity, jnp.float32)
    return system.replace(
        link=link,
        body_mass=system.body_mass * mass,
        body_inertia=system.body_inertia * mass,
        geom_friction=system.geom_friction * jnp.asarray(params.friction, jnp.float32),
        dof=system.dof.replace(damping=system.dof.damping * jnp.asarray(params.damping, jnp.float32)),
        dof_damping=system.dof_damping * jnp.asarray(params.damping, jnp.float32),
        gravity=gravity,
        opt=system.opt.replace(gravity=gravity),
    )


class BraxEnv:
    """A Brax environment with the gymnax 1.0 API; see the module docstring."""

    def __init__(self, env_name: str, pipeline: str = DEFAULT_PIPELINE, max_steps_in_episode: int = 1000):
        try:
            # Lazy: brax is an optional extra. Its mujoco import prints "Failed to import warp"
            # on stdout; send that to stderr so that JSON printed by the CLI stays clean.
            with contextlib.redirect_stdout(sys.stderr):
                from brax import envs as brax_envs
        except ImportError as err:  # pragma: no cover - depends on the install
            raise ImportError(
                f"brax-{env_name} needs the optional brax package: pip install 'discolab[brax]'"
            ) from err
        self.env_name = env_name
        self.pipeline = pipeline
        with contextlib.redirect_stdout(sys.stderr):
            self._env = brax_envs.get_environment(env_name, backend=pipeline)
        self._max_steps = int(max_steps_in_episode)
        obs = jax.eval_shape(self._env.reset, jax.random.key(0)).obs
        self._obs_shape = tuple(obs.shape)

    @property
    def name(self) -> str:
        return f"brax-{self.env_name}"

    @property
    def default_params(self) -> BraxEnvParams:
        return BraxEnvParams(max_steps_in_episode=self._max_steps)

    @property
    def num_actions(self) -> int:
        """The action dimension (continuous actions in ``[-1, 1]``)."""
        return int(self._env.action_size)

    def observation_space(self, params: BraxEnvParams) -> spaces.Box:
        del params
        return spaces.Box(-jnp.inf, jnp.inf, self._obs_shape, jnp.float32)

    def action_space(self, params: BraxEnvParams) -> spaces.Box:
        del params
        return spaces.Box(-1.0, 1.0, (self.num_actions,), jnp.float32)

    def _physics(self, params: BraxEnvParams) -> Any:
        """A shallow copy of the Brax env whose ``sys`` is scaled by ``params`` (Brax's own domain-randomization hook)."""
        env = copy.copy(self._env)
        env.sys = scaled_system(self._env.sys, params)
        return env

    @functools.partial(jax.jit, static_argnums=0)
    def reset(self, key: jax.Array, params: BraxEnvParams | None = None) -> tuple[jax.Array, BraxEnvState]:
        params = self.default_params if params is None else params
        brax_state = self._physics(params).reset(key)
        return brax_state.obs, BraxEnvState(brax_state=_as_arrays(brax_state), time=jnp.zeros((), jnp.int32))

    @functools.partial(jax.jit, static_argnums=0)
    def step(
        self, key: jax.Array, state: BraxEnvState, action: jax.Array, params: BraxEnvParams | None = None
    ) -> tuple[jax.Array, BraxEnvState, jax.Array, jax.Array, jax.Array, dict[str, Any]]:
        params = self.default_params if params is None else params
        physics = self._physics(params)
        action = jnp.clip(jnp.asarray(action, jnp.float32).reshape(self.num_actions), -1.0, 1.0)
        stepped = _as_arrays(physics.step(state.brax_state, action))
        time = state.time + 1
        terminated = stepped.done > 0.5
        truncated = time >= params.max_steps_in_episode
        done = terminated | truncated
        reset_state = _as_arrays(physics.reset(key))
        brax_state = jax.tree.map(lambda r, s: jnp.where(done, r, s), reset_state, stepped)
        next_state = BraxEnvState(brax_state=brax_state, time=jnp.where(done, 0, time))
        info = {"terminated": terminated, "truncated": truncated, "final_observation": stepped.obs}
        reward = jnp.asarray(stepped.reward, jnp.float32)
        return brax_state.obs, next_state, reward, terminated, truncated, info


def _as_arrays(brax_state: Any) -> Any:
    """Brax's state with every leaf a float32/int array (its step returns Python floats, e.g. ``reward=1.0``)."""

    def cast(x: Any) -> jax.Array:
        x = jnp.asarray(x)
        return x.astype(jnp.float32) if jnp.issubdtype(x.dtype, jnp.floating) else x

    return jax.tree.map(cast, brax_state)
