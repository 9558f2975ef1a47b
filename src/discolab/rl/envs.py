"""The environment registry: JAX environments and ONE table of their training settings.

Every environment the RL algorithms train on is a row of ``_ENVS``: an
:class:`EnvSpec` that names the JAX implementation, the parameter overrides,
the training budget, the return range used to normalize fitness and the
epsilon schedule. ``make(name)`` builds the environment and its params;
``spec(name)`` reads the row. Unknown names raise an error that lists the
known ones (the gymnax ``registration.py`` pattern).

Environments follow the gymnax 1.0 API, which the trainers rely on (see
:class:`discolab.rl.types.JaxEnv`): ``reset(key, params) -> (obs, state)`` and
``step(key, state, action, params) -> (obs, state, reward, terminated,
truncated, info)`` with auto-reset and the pre-reset observation in
``info["final_observation"]``. ``terminated`` (a true end: pole fell, goal
reached) stops bootstrapping; ``truncated`` (time limit) does not.

Return ranges (fitness is ``clip((R - r_min) / (r_max - r_min), 0, 1)``):

* ``CartPole-v0``: gymnax ``CartPole-v1`` dynamics with the 200-step limit of
  gym's v0, which is the Evolving-RL paper's setup: R in [0, 200].
* ``CartPole-v1``: the gymnax default, 500-step limit: R in [0, 500].
* ``Acrobot-v1``: -1 per step until the tip swings up, 500-step limit:
  R in [-500, 0] (the worst and the unreachable best).
* ``MountainCar-v0``: -1 per step, 200-step limit: R in [-200, -100]; a random
  policy scores -200 (0.0), a solving policy about -110 (0.9). The paper's
  exact ranges are not public in PAPERS.md; these are our choice (?).

* MinAtar (``Breakout``, ``Asterix``, ``SpaceInvaders``, ``Freeway``; gymnax
  ids, 10x10xC float observations, minimal action sets): R in [0, r_max],
  where r_max is our choice (?), rounded up from the final returns that PPO
  reaches in about 1e7 steps in published JAX runs (purejaxrl-style
  PPO, gymnax's and the Lu et al. 2022 LPO MinAtar curves): Breakout 60,
  Asterix 40, SpaceInvaders 200, Freeway 60. Scores above r_max clip to 1.
  DQN settings are the MinAtar paper's (Young & Tian 2019): epsilon 1.0 to
  0.1 over the first 100k frames, a 5M-frame budget. Freeway's episodes
  last 2,500 steps (its own clock), the others end when the agent loses or
  at gymnax's 1,000-step limit.
* ``Pendulum-v1`` (continuous, 1-D torque in [-2, 2]): reward
  ``-(angle^2 + 0.1 * speed^2 + 0.001 * torque^2)`` per step, 200 steps, no
  termination: R in [-1600, -100], our choice (?): uniform random torques
  score about -1220 (measured, 64 episodes; so about 0.25), -1600 is below
  almost every random episode; a solving SAC policy scores about -150
  (0.97), -100 about the best reachable from random starts.
* ``MountainCarContinuous-v0`` (continuous, 1-D force in [-1, 1]): ``-0.1 *
  force^2`` per step, +100 on reaching the flag (terminates), 999-step limit:
  R in [-50, 90], our choice (?): uniform random forces cost about -33
  (measured) and almost never reach the flag (so about 0.12); 90 is gym's "solved"
  threshold. Standing still scores 0 (0.36): the local optimum that
  entropy-poor agents fall into.

Continuous rows have ``action_dim > 0``: the action is a float vector of
that size, bounded by ``env.action_space(params)``; their epsilon fields
are unused (SAC explores by its own policy). :func:`with_params` replaces
physical fields of an env's params (``{"m": 1.3, "l": 1.2}``: a held-out
pendulum), the one-line way to name a held-out configuration.

* ``brax-inverted_pendulum`` (Brax, continuous 1-D force in [-1, 1]): the
  cart-pole balance task (gym's InvertedPendulum; it starts upright, no
  swing-up): +1 per step until the pole leaves |angle| <= 0.2 rad
  (terminates), 1000-step limit: R in [0, 1000], the worst and the best;
  uniform random forces score about 5.5 (measured, 64 episodes; so 0.006).
* ``brax-hopper`` (Brax, 3 torques in [-1, 1]): forward speed + 1 per
  healthy step - 0.001 * |torque|^2, terminates when it falls, 1000-step
  limit: R in [0, 3000], our choice (?): random torques score about 17
  (measured, 64 episodes), 3000 is about SAC's MuJoCo Hopper return after
  1e6 steps. Far beyond a CPU budget; registered for GPU runs.

Brax rows take physical scale factors as params (``with_params(
"brax-inverted_pendulum", {"mass": 1.3, "damping": 0.5})``; fields
``friction, mass, damping, gravity, max_steps_in_episode``, see
:mod:`discolab.rl.brax_envs`). Friction acts on contacts only: it changes
the hopper, not the cart-pole, whose geoms never collide.

* MiniGrid (``MiniGrid-DoorKey-5x5-v0``, ``-6x6``, ``KeyCorridorS3R1``,
  ``Dynamic-Obstacles-5x5``/``6x6``, ``LavaGapS5``, ``SimpleCrossingS9N1``,
  ``Unlock``; MiniGrid's own ids): :mod:`discolab.rl.minigrid`, a JAX port
  of Farama MiniGrid 3.2.0 checked against it step for step (navix needs
  wandb and 94 other packages at import; xminigrid lacks five of these
  tasks). Observations are MiniGrid's 7x7x3 uint8 egocentric view (the
  Q-network flattens it), 7 actions (Dynamic-Obstacles 3). A success pays
  ``1 - 0.9 * t / T``, so R is in [0, 1]; Dynamic-Obstacles ends with -1
  on a collision: R in [-1, 1]. Epsilon decays over 1e5 steps (the paper).
  The budget, ``train_steps``, is our choice (?): PAPERS.md gives none.

Example:
    >>> env, params = make("CartPole-v1")
    >>> env.num_actions, spec("CartPole-v1").r_max
    (2, 500.0)
    >>> heavy = with_params("Pendulum-v1", {"m": 1.3, "l": 1.2})
    >>> heavy.m, heavy.l, heavy.g, spec("Pendulum-v1").action_dim
    (1.3, 1.2, 10.0, 1)
"""

from __future__ import annotations

import dataclasses
import functools
import types
from collections.abc import Mapping
from typing import Any

import gymnax
import jax.numpy as jnp

from discolab.rl.minigrid import TASKS as MINIGRID_TASKS
from discolab.rl.minigrid import MiniGridEnv
from discolab.rl.types import JaxEnv


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """One environment's settings: the single place they live.

    Attributes:
      name: registry name (what configs and domains use).
      backend: the package that implements it ("gymnax", "brax", or
        "minigrid" for :mod:`discolab.rl.minigrid`).
      backend_id: the package's own id for it.
      param_overrides: env-params fields replaced after the package's
        defaults (e.g. a shorter time limit), as ``((field, value), ...)``.
      train_steps: default training budget in env transitions per agent
        (summed over its vectorized envs).
      r_min: the return that normalizes to 0.
      r_max: the return that normalizes to 1.
      eps_start: epsilon at step 0 of the epsilon-greedy schedule.
      eps_end: epsilon after ``eps_decay_steps`` transitions (then constant).
      eps_decay_steps: transitions over which epsilon decays linearly
        (paper: 1e3 classic control, 1e5 MiniGrid).
      action_dim: 0 for a discrete action set (``env.num_actions``
        actions); ``n > 0`` for a continuous one, a float vector of ``n``
        entries bounded by ``env.action_space(params)``.
      note: one line on what is special about this row.
    """

    name: str
    backend: str
    backend_id: str
    train_steps: int
    r_min: float
    r_max: float
    eps_decay_steps: int
    eps_start: float = 1.0
    eps_end: float = 0.05
    param_overrides: tuple[tuple[str, Any], ...] = ()
    action_dim: int = 0
    note: str = ""

    def __post_init__(self) -> None:
        if not self.r_max > self.r_min:
            raise ValueError(f"{self.name}: r_max must exceed r_min")
        if self.train_steps <= 0 or self.eps_decay_steps <= 0:
            raise ValueError(f"{self.name}: train_steps and eps_decay_steps must be positive")
        if self.action_dim < 0:
            raise ValueError(f"{self.name}: action_dim must be 0 (discrete) or positive (continuous)")

    @property
    def continuous(self) -> bool:
        """Whether actions are float vectors (``action_dim > 0``) rather than indices."""
        return self.action_dim > 0

    def normalize(self, ret: Any) -> Any:
        """``clip((ret - r_min) / (r_max - r_min), 0, 1)``, for floats or arrays."""
        return jnp.clip((ret - self.r_min) / (self.r_max - self.r_min), 0.0, 1.0)


_ENVS: dict[str, EnvSpec] = {}


def register(env_spec: EnvSpec) -> EnvSpec:
    """Adds a row to the table; a duplicate name is an error."""
    if env_spec.name in _ENVS:
        raise ValueError(f"environment {env_spec.name!r} is already registered")
    if env_spec.backend not in _BACKENDS:
        raise ValueError(f"unknown backend {env_spec.backend!r}; known: {sorted(_BACKENDS)}")
    _ENVS[env_spec.name] = env_spec
    return env_spec


def names() -> list[str]:
    """The registered environment names, sorted."""
    return sorted(_ENVS)


def spec(name: str) -> EnvSpec:
    """The settings row of ``name``; the error lists the known names."""
    try:
        return _ENVS[name]
    except KeyError:
        raise ValueError(f"unknown environment {name!r}; known: {names()}") from None


def table() -> Mapping[str, EnvSpec]:
    """A read-only view of the whole table."""
    return types.MappingProxyType(_ENVS)


def _gymnax(backend_id: str) -> tuple[JaxEnv, Any]:
    return gymnax.make(backend_id)


@functools.lru_cache(maxsize=None)
def _brax_env(backend_id: str) -> JaxEnv:
    # Building a Brax env loads and compiles its MJCF model (seconds): once per process.
    from discolab.rl.brax_envs import BraxEnv  # lazy: brax is an optional extra

    return BraxEnv(backend_id)


def _brax(backend_id: str) -> tuple[JaxEnv, Any]:
    env = _brax_env(backend_id)
    return env, env.default_params


def _minigrid(backend_id: str) -> tuple[JaxEnv, Any]:
    env = MiniGridEnv(backend_id)
    return env, env.default_params


#: backend -> ``backend_id -> (env, the package's default params)``.
_BACKENDS = {"gymnax": _gymnax, "brax": _brax, "minigrid": _minigrid}


def make(name: str) -> tuple[JaxEnv, Any]:
    """Builds environment ``name`` and its params (a pytree you may vmap).

    Args:
      name: a registered name (see :func:`names`).

    Returns:
      ``(env, env_params)``: the gymnax-API environment and its params, with
      the row's overrides applied.

    Raises:
      ValueError: for an unknown name; the message lists the known ones.
    """
    env_spec = spec(name)
    env, params = _BACKENDS[env_spec.backend](env_spec.backend_id)
    if env_spec.param_overrides:
        params = params.replace(**dict(env_spec.param_overrides))
    return env, params


def with_params(name: str, overrides: Mapping[str, float]) -> Any:
    """The params of environment ``name`` with some fields replaced, e.g. a held-out physical configuration.

    ``with_params("Pendulum-v1", {"m": 1.3, "l": 1.2})`` is a heavier,
    longer pole; the result is a params pytree like :func:`make`'s (the
    row's own overrides applied first), so several can be stacked and
    vmapped over. A field whose default is an int (``max_steps_in_episode``)
    takes an integral value only.

    Args:
      name: a registered name (see :func:`names`).
      overrides: ``{field: value}`` for fields of the env's params dataclass
        (gymnax Pendulum: ``max_speed, max_torque, dt, g, m, l,
        max_steps_in_episode``).

    Raises:
      ValueError: for an unknown name, or a field the env's params lack (the
        message names it and lists the fields), or a non-integral value for
        an int field.
    """
    _, params = make(name)
    fields = [f.name for f in dataclasses.fields(params)]
    replaced = {}
    for field, value in overrides.items():
        if field not in fields:
            raise ValueError(f"{name} has no env-params field {field!r}; its fields: {fields}")
        default = getattr(params, field)
        if isinstance(default, int) and not isinstance(default, bool):
            if float(value) != int(value):
                raise ValueError(f"{name}: field {field!r} is an int; got {value!r}")
            value = int(value)
        elif isinstance(default, float):
            value = float(value)
        replaced[field] = value
    return params.replace(**replaced) if replaced else params


# The table. Budgets are the defaults of a search; tests pass their own.
register(EnvSpec(
    name="CartPole-v0", backend="gymnax", backend_id="CartPole-v1",
    param_overrides=(("max_steps_in_episode", 200),),
    train_steps=50_000, r_min=0.0, r_max=200.0, eps_decay_steps=1_000,
    note="the paper's CartPole: v1 dynamics, 200-step limit, R in [0, 200]",
))
register(EnvSpec(
    name="CartPole-v1", backend="gymnax", backend_id="CartPole-v1",
    train_steps=50_000, r_min=0.0, r_max=500.0, eps_decay_steps=1_000,
    note="gymnax default: 500-step limit, R in [0, 500]",
))
register(EnvSpec(
    name="Acrobot-v1", backend="gymnax", backend_id="Acrobot-v1",
    train_steps=100_000, r_min=-500.0, r_max=0.0, eps_decay_steps=1_000,
    note="-1 per step, 500-step limit",
))
register(EnvSpec(
    name="MountainCar-v0", backend="gymnax", backend_id="MountainCar-v0",
    train_steps=100_000, r_min=-200.0, r_max=-100.0, eps_decay_steps=1_000,
    note="-1 per step, 200-step limit; random -200, solved about -110",
))

_MINATAR_NOTE = "MinAtar (gymnax); r_max our choice (?), about PPO's return after 1e7 steps"
for _game, _r_max in (("Breakout", 60.0), ("Asterix", 40.0), ("SpaceInvaders", 200.0), ("Freeway", 60.0)):
    register(EnvSpec(
        name=f"{_game}-MinAtar", backend="gymnax", backend_id=f"{_game}-MinAtar",
        train_steps=5_000_000, r_min=0.0, r_max=_r_max, eps_decay_steps=100_000, eps_end=0.1,
        note=_MINATAR_NOTE,
    ))

register(EnvSpec(
    name="Pendulum-v1", backend="gymnax", backend_id="Pendulum-v1", action_dim=1,
    train_steps=20_000, r_min=-1600.0, r_max=-100.0, eps_decay_steps=1,
    note="continuous torque, 200 steps, no termination; R range our choice (?): random about -1220, solved -150",
))
register(EnvSpec(
    name="MountainCarContinuous-v0", backend="gymnax", backend_id="MountainCarContinuous-v0", action_dim=1,
    train_steps=100_000, r_min=-50.0, r_max=90.0, eps_decay_steps=1,
    note="continuous force, +100 at the flag, 999-step limit; R range our choice (?): random about -33, solved 90",
))

# Brax (optional extra: pip install 'discolab[brax]'); params are physical scale factors
# (friction, mass, damping, gravity; see discolab.rl.brax_envs), 1.0 = Brax's model.
register(EnvSpec(
    name="brax-inverted_pendulum", backend="brax", backend_id="inverted_pendulum", action_dim=1,
    train_steps=20_000, r_min=0.0, r_max=1000.0, eps_decay_steps=1,
    note="cart-pole balance, +1 per step until |angle| > 0.2, 1000-step limit; random about 5.5, best 1000",
))
register(EnvSpec(
    name="brax-hopper", backend="brax", backend_id="hopper", action_dim=3,
    train_steps=1_000_000, r_min=0.0, r_max=3000.0, eps_decay_steps=1,
    note="planar hopper, ends when it falls, 1000-step limit; R range our choice (?): random about 17, SAC ~3000 at 1e6",
))

# MiniGrid (discolab.rl.minigrid, a JAX port of Farama MiniGrid); ids are MiniGrid's own.
for _task in MINIGRID_TASKS.values():
    _collides = _task.obstacles_move
    register(EnvSpec(
        name=_task.name, backend="minigrid", backend_id=_task.name,
        train_steps=500_000, r_min=-1.0 if _collides else 0.0, r_max=1.0, eps_decay_steps=100_000,
        note=(f"MiniGrid, {_task.max_steps}-step limit, success pays 1 - 0.9 t/T"
              + ("; a collision ends it with -1" if _collides else "")),
    ))
