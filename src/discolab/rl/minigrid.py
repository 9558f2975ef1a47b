"""MiniGrid tasks in pure JAX, step for step Farama MiniGrid's definitions.

The Evolving-RL paper trains and tests its loss programs on MiniGrid tasks
(PAPERS.md section 1). Neither JAX port fits this project: navix imports
wandb, distrax and rlax at import time (its 0.7.4, the last release for
Python 3.11, pulls 95 packages) and xminigrid has only two of the seven
tasks we need (DoorKey, Unlock; no lava, no moving obstacles). So this
module ports the tasks themselves from ``minigrid`` 3.2.0 (their layout
generators in :mod:`discolab.rl.minigrid_layouts`), keeping its semantics
exactly, and ``tests/rl/test_minigrid.py`` checks that against the
real package: the same layouts step to the same observations, rewards and
ends, and the generators draw from the same distribution of layouts.

What is kept from MiniGrid (``minigrid_env.py``, ``core/grid.py``):

* The grid holds MiniGrid's cell encoding ``(object, color, state)``
  (:data:`EMPTY`, :data:`WALL`, ...; ``state`` is a door's open / closed /
  locked), so a state converts to and from MiniGrid's own ``grid.encode()``.
* The observation is MiniGrid's ``obs["image"]``: the 7x7x3 egocentric view
  (agent at the bottom centre, facing up), with walls and closed doors
  hiding what is behind them (``process_vis``), the carried object shown in
  the agent's cell, and unseen cells all zero. ``uint8``.
* Actions ``left, right, forward, pickup, drop, toggle, done`` (Dynamic
  Obstacles: the first three only); a success pays ``1 - 0.9 * t / T`` for
  step ``t`` of an episode of at most ``T`` steps; lava ends the episode
  with 0; in Dynamic-Obstacles walking into anything but free floor or the
  goal (a ball, a wall) ends it with -1, after the balls moved.
* Each task's layout generator draws from the same distribution as
  MiniGrid's rejection samplers (uniform over the cells or (cell, heading)
  pairs they accept).

The env follows the gymnax 1.0 API of :class:`discolab.rl.types.JaxEnv`:
``step`` auto-resets and puts the finished episode's last observation in
``info["final_observation"]``; ``terminated`` is a success, lava or a
collision, ``truncated`` the time limit.

Example:
    >>> env = MiniGridEnv("MiniGrid-DoorKey-5x5-v0")
    >>> obs, state = env.reset(jax.random.key(0), env.default_params)
    >>> obs.shape, obs.dtype, env.num_actions
    ((7, 7, 3), dtype('uint8'), 7)
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from gymnax.environments import spaces

from discolab.rl.minigrid_layouts import (  # noqa: F401  (the encoding is part of this module's API)
    BALL, BLUE, BOX, CLOSED, DIR_TO_VEC, DONE, DOOR, DROP, EMPTY, EMPTY_CELL, FLOOR, FORWARD, GOAL, GREEN, GREY,
    KEY, LAVA, LEFT, LOCKED, NUM_COLORS, OPEN, PICKUP, PURPLE, RED, RIGHT, TOGGLE, UNSEEN, VIEW_SIZE, WALL,
    WALL_CELL, YELLOW, MiniGridParams, MiniGridState, cell, coords, door_key, dynamic_obstacles, is_empty,
    key_corridor_s3r1, lava_gap, simple_crossing, uniform_cell, unlock,
)

# Top-left corner of the view relative to the agent, per heading (get_view_exts).
_VIEW_TOP = ((0, -(VIEW_SIZE // 2)), (-(VIEW_SIZE // 2), 0),
             (-(VIEW_SIZE - 1), -(VIEW_SIZE // 2)), (-(VIEW_SIZE // 2), -(VIEW_SIZE - 1)))


@dataclasses.dataclass(frozen=True)
class MiniGridTask:
    """One MiniGrid task: its size, time limit, action set, generator and success.

    Attributes:
      name: MiniGrid's gym id.
      max_steps: MiniGrid's default time limit for it.
      num_actions: 7, or 3 for Dynamic-Obstacles (left, right, forward).
      generate: ``key -> MiniGridState``, the start of an episode.
      success: ``"goal"`` (step onto the goal), ``"open_door"`` (Unlock:
        a toggle that leaves ``door_pos`` open) or ``"pickup_ball"``
        (KeyCorridor: pick up the ball).
      obstacles_move: whether balls move before each step (Dynamic-Obstacles).
      see_through_walls: whether the view skips occlusion (MiniGrid's flag;
        true for Dynamic-Obstacles only).
    """

    name: str
    max_steps: int
    num_actions: int
    generate: Callable[[jax.Array], MiniGridState]
    success: str = "goal"
    obstacles_move: bool = False
    see_through_walls: bool = False


TASKS: dict[str, MiniGridTask] = {
    task.name: task for task in (
        MiniGridTask("MiniGrid-DoorKey-5x5-v0", 10 * 5**2, 7, functools.partial(door_key, size=5)),
        MiniGridTask("MiniGrid-DoorKey-6x6-v0", 10 * 6**2, 7, functools.partial(door_key, size=6)),
        MiniGridTask("MiniGrid-LavaGapS5-v0", 4 * 5**2, 7, functools.partial(lava_gap, size=5)),
        MiniGridTask("MiniGrid-SimpleCrossingS9N1-v0", 4 * 9**2, 7, functools.partial(simple_crossing, size=9)),
        MiniGridTask("MiniGrid-Dynamic-Obstacles-5x5-v0", 4 * 5**2, 3,
                     functools.partial(dynamic_obstacles, size=5, n_obstacles=2), obstacles_move=True,
                     see_through_walls=True),
        MiniGridTask("MiniGrid-Dynamic-Obstacles-6x6-v0", 4 * 6**2, 3,
                     functools.partial(dynamic_obstacles, size=6, n_obstacles=3), obstacles_move=True,
                     see_through_walls=True),
        MiniGridTask("MiniGrid-Unlock-v0", 8 * 6**2, 7, unlock, success="open_door"),
        MiniGridTask("MiniGrid-KeyCorridorS3R1-v0", 30 * 3**2, 7, key_corridor_s3r1, success="pickup_ball"),
    )
}


# Dynamics.

def move_obstacles(key: jax.Array, state: MiniGridState) -> MiniGridState:
    """Each ball in turn moves to a free cell of its 3x3 neighbourhood, uniformly; it stays if there is none.

    MiniGrid's DynamicObstaclesEnv.step: a free cell is empty floor and not
    the agent's; balls move one after the other, each seeing the others'
    new positions.
    """
    grid, obstacles = state.grid, state.obstacles
    width, height = grid.shape[:2]
    xs, ys = coords(width, height)
    not_agent = (xs != state.agent_pos[0]) | (ys != state.agent_pos[1])
    for i, k_ball in enumerate(jax.random.split(key, obstacles.shape[0])):
        old = obstacles[i]
        window = (jnp.abs(xs - old[0]) <= 1) & (jnp.abs(ys - old[1]) <= 1)
        free = window & is_empty(grid) & not_agent
        new = jnp.where(free.any(), uniform_cell(k_ball, free), old)
        ball = grid[old[0], old[1]]
        grid = grid.at[old[0], old[1]].set(jnp.array(EMPTY_CELL, jnp.uint8)).at[new[0], new[1]].set(ball)
        obstacles = obstacles.at[i].set(new)
    return state.replace(grid=grid, obstacles=obstacles)


def transition(task: MiniGridTask, state: MiniGridState, action: jax.Array,
               params: MiniGridParams) -> tuple[MiniGridState, jax.Array, jax.Array]:
    """MiniGridEnv.step plus the task's success rule, after any obstacle move: ``(state, reward, terminated)``."""
    dir_vec = jnp.array(DIR_TO_VEC, jnp.int32)
    fwd = state.agent_pos + dir_vec[state.agent_dir]
    fwd_cell = state.grid[fwd[0], fwd[1]]
    obj, obj_color, obj_state = fwd_cell[0], fwd_cell[1], fwd_cell[2]
    time = state.time + 1
    carrying = state.carrying
    holding = carrying[0] != EMPTY

    new_dir = jnp.where(action == LEFT, (state.agent_dir + 3) % 4,
                        jnp.where(action == RIGHT, (state.agent_dir + 1) % 4, state.agent_dir))
    is_door = obj == DOOR
    can_overlap = (obj == EMPTY) | (obj == GOAL) | (obj == LAVA) | (obj == FLOOR) | (is_door & (obj_state == OPEN))
    forward = action == FORWARD
    agent_pos = jnp.where(forward & can_overlap, fwd, state.agent_pos)
    reached_goal = forward & (obj == GOAL)
    in_lava = forward & (obj == LAVA)

    picked = (action == PICKUP) & ((obj == KEY) | (obj == BALL) | (obj == BOX)) & ~holding
    dropped = (action == DROP) & (obj == EMPTY) & holding
    toggled = (action == TOGGLE) & is_door
    key_fits = (carrying[0] == KEY) & (carrying[1] == obj_color)
    door_state = jnp.where(obj_state == LOCKED, jnp.where(key_fits, OPEN, LOCKED),
                           jnp.where(obj_state == OPEN, CLOSED, OPEN)).astype(jnp.uint8)
    new_fwd_cell = jnp.where(picked, jnp.array(EMPTY_CELL, jnp.uint8),
                             jnp.where(dropped, carrying,
                                       jnp.where(toggled, jnp.stack([obj, obj_color, door_state]), fwd_cell)))
    grid = state.grid.at[fwd[0], fwd[1]].set(new_fwd_cell)
    carrying = jnp.where(picked, fwd_cell, jnp.where(dropped, jnp.array(EMPTY_CELL, jnp.uint8), carrying))

    if task.success == "goal":
        success = reached_goal
    elif task.success == "open_door":
        success = (action == TOGGLE) & (grid[state.door_pos[0], state.door_pos[1], 2] == OPEN)
    else:  # "pickup_ball"
        success = picked & (obj == BALL)
    reward = jnp.where(success, 1.0 - 0.9 * time / params.max_steps_in_episode, 0.0).astype(jnp.float32)
    next_state = state.replace(grid=grid, agent_pos=agent_pos, agent_dir=new_dir, carrying=carrying, time=time)
    return next_state, reward, success | in_lava


def dynamics(
    task: MiniGridTask, key: jax.Array, state: MiniGridState, action: jax.Array, params: MiniGridParams,
    move: Callable[[jax.Array, MiniGridState], MiniGridState] = move_obstacles,
) -> tuple[MiniGridState, jax.Array, jax.Array]:
    """One step of ``task`` without the auto-reset: ``(state, reward, terminated)``.

    Dynamic-Obstacles (``task.obstacles_move``): walking into anything but
    free floor or the goal, judged before the balls ``move``, ends the
    episode with -1. ``move`` is a parameter so that a test can replay the
    balls' moves of another implementation.
    """
    action = jnp.asarray(action, jnp.int32)
    action = jnp.where(action >= task.num_actions, 0, action)  # as DynamicObstaclesEnv.step
    if not task.obstacles_move:
        return transition(task, state, action, params)
    fwd = state.agent_pos + jnp.array(DIR_TO_VEC, jnp.int32)[state.agent_dir]
    front = state.grid[fwd[0], fwd[1], 0]
    collided = (action == FORWARD) & (front != EMPTY) & (front != GOAL)
    stepped, reward, terminated = transition(task, move(key, state), action, params)
    return stepped, jnp.where(collided, -1.0, reward).astype(jnp.float32), terminated | collided


def _rotate_left(view: jax.Array) -> jax.Array:
    """MiniGrid's Grid.rotate_left on ``[x, y, c]``: ``out[y, n - 1 - x] = view[x, y]``."""
    return jnp.flip(jnp.swapaxes(view, 0, 1), axis=1)


def _visibility(view: jax.Array) -> jax.Array:
    """MiniGrid's Grid.process_vis for the agent at the bottom centre: ``[7, 7]`` bool.

    Light spreads from the agent's cell along each row (left to right, then
    right to left) and to the row ahead, through every cell but walls and
    closed doors. MiniGrid walks the cells one by one; here each pass along
    a row is one vector step: cell ``i`` is lit from a lit cell ``k`` when
    no opaque cell lies between them, read off a running count of opaque
    cells. Rows stay sequential (each lights the next).
    """
    n = VIEW_SIZE
    obj, state = view[..., 0], view[..., 2]
    clear = ~((obj == WALL) | ((obj == DOOR) & (state != OPEN)))
    idx = jnp.arange(n)
    not_last, not_first = idx < n - 1, idx > 0
    mask = jnp.zeros((n, n), bool).at[n // 2, n - 1].set(True)
    for j in reversed(range(n)):
        row, row_clear = mask[:, j], clear[:, j]
        opaque_before = jnp.concatenate([jnp.zeros((1,), jnp.int32), jnp.cumsum(~row_clear)])  # [n + 1]
        # Left to right: k <= i and cells k .. i-1 clear.
        path = (idx[:, None] <= idx[None, :]) & (opaque_before[idx][:, None] == opaque_before[idx][None, :])
        row = jnp.any(row[:, None] & path, axis=0)
        lit = row & row_clear & not_last
        ahead = lit | jnp.concatenate([jnp.zeros((1,), bool), lit[:-1]])
        # Right to left: k >= i and cells i+1 .. k clear.
        path = (idx[:, None] >= idx[None, :]) & (opaque_before[idx + 1][:, None] == opaque_before[idx + 1][None, :])
        row = jnp.any(row[:, None] & path, axis=0)
        lit = row & row_clear & not_first
        ahead = ahead | lit | jnp.concatenate([lit[1:], jnp.zeros((1,), bool)])
        mask = mask.at[:, j].set(row)
        if j > 0:
            mask = mask.at[:, j - 1].set(mask[:, j - 1] | ahead)
    return mask


def observe(state: MiniGridState, see_through_walls: bool = False) -> jax.Array:
    """MiniGrid's ``obs["image"]``: the ``[7, 7, 3]`` uint8 egocentric view (``gen_obs``), occluded unless ``see_through_walls``."""
    n = VIEW_SIZE
    width, height = state.grid.shape[:2]
    padded = jnp.broadcast_to(jnp.array(WALL_CELL, jnp.uint8), (width + 2 * n, height + 2 * n, 3))
    padded = jax.lax.dynamic_update_slice(padded, state.grid, (n, n, 0))  # outside the grid reads as wall
    top = state.agent_pos + jnp.array(_VIEW_TOP, jnp.int32)[state.agent_dir] + n
    view = jax.lax.dynamic_slice(padded, (top[0], top[1], 0), (n, n, 3))
    rotations = [view]
    for _ in range(3):
        rotations.append(_rotate_left(rotations[-1]))
    view = jnp.stack(rotations)[(state.agent_dir + 1) % 4]  # rotate_left agent_dir + 1 times
    visible = jnp.ones((n, n), bool) if see_through_walls else _visibility(view)
    view = view.at[n // 2, n - 1].set(state.carrying)
    return jnp.where(visible[..., None], view, jnp.uint8(UNSEEN))


class MiniGridEnv:
    """A MiniGrid task with the gymnax 1.0 API; see the module docstring."""

    def __init__(self, task_name: str):
        if task_name not in TASKS:
            raise ValueError(f"unknown MiniGrid task {task_name!r}; known: {sorted(TASKS)}")
        self.task = TASKS[task_name]

    @property
    def name(self) -> str:
        return self.task.name

    @property
    def default_params(self) -> MiniGridParams:
        return MiniGridParams(max_steps_in_episode=self.task.max_steps)

    @property
    def num_actions(self) -> int:
        return self.task.num_actions

    def observation_space(self, params: MiniGridParams) -> spaces.Box:
        del params
        return spaces.Box(0, 255, (VIEW_SIZE, VIEW_SIZE, 3), jnp.uint8)

    def action_space(self, params: MiniGridParams) -> spaces.Discrete:
        del params
        return spaces.Discrete(self.task.num_actions)

    @functools.partial(jax.jit, static_argnums=0)
    def reset(self, key: jax.Array, params: MiniGridParams | None = None) -> tuple[jax.Array, MiniGridState]:
        del params
        state = self.task.generate(key)
        return observe(state, self.task.see_through_walls), state

    @functools.partial(jax.jit, static_argnums=0)
    def step(
        self, key: jax.Array, state: MiniGridState, action: jax.Array, params: MiniGridParams | None = None
    ) -> tuple[jax.Array, MiniGridState, jax.Array, jax.Array, jax.Array, dict[str, Any]]:
        params = self.default_params if params is None else params
        k_step, k_reset = jax.random.split(key)
        stepped, reward, terminated = dynamics(self.task, k_step, state, action, params)
        truncated = stepped.time >= params.max_steps_in_episode
        final_obs = observe(stepped, self.task.see_through_walls)
        reset_obs, reset_state = self.reset(k_reset, params)
        done = terminated | truncated
        next_state = jax.tree.map(lambda r, s: jnp.where(done, r, s), reset_state, stepped)
        obs = jnp.where(done, reset_obs, final_obs)
        info = {"terminated": terminated, "truncated": truncated, "final_observation": final_obs}
        return obs, next_state, reward, terminated, truncated, info
