"""MiniGrid tasks in pure JAX, step for step Farama MiniGrid's definitions.

The Evolving-RL paper trains and tests its loss programs on MiniGrid tasks
(PAPERS.md section 1). Neither JAX port fits this project: navix imports
wandb, distrax and rlax at import time (its 0.7.4, the last release for
Python 3.11, pulls 95 packages) and xminigrid has only two of the seven
tasks we need (DoorKey, Unlock; no lava, no moving obstacles). So this
module ports the seven tasks themselves from ``minigrid`` 3.2.0, keeping its
semantics exactly, and ``tests/test_minigrid.py`` checks that against the
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
from flax import struct
from gymnax.environments import spaces

# MiniGrid's encoding (minigrid.core.constants).
UNSEEN, EMPTY, WALL, FLOOR, DOOR, KEY, BALL, BOX, GOAL, LAVA = range(10)
RED, GREEN, BLUE, PURPLE, YELLOW, GREY = range(6)
NUM_COLORS = 6
OPEN, CLOSED, LOCKED = range(3)
# MiniGrid's actions (MiniGridEnv.Actions).
LEFT, RIGHT, FORWARD, PICKUP, DROP, TOGGLE, DONE = range(7)

VIEW_SIZE = 7
#: Heading 0 right, 1 down, 2 left, 3 up, as ``(dx, dy)`` (MiniGrid's DIR_TO_VEC).
DIR_TO_VEC = ((1, 0), (0, 1), (-1, 0), (0, -1))
# Top-left corner of the view relative to the agent, per heading (get_view_exts).
_VIEW_TOP = ((0, -(VIEW_SIZE // 2)), (-(VIEW_SIZE // 2), 0),
             (-(VIEW_SIZE - 1), -(VIEW_SIZE // 2)), (-(VIEW_SIZE // 2), -(VIEW_SIZE - 1)))


@struct.dataclass
class MiniGridParams:
    """The time limit; a success pays ``1 - 0.9 * t / max_steps_in_episode``."""

    max_steps_in_episode: int = 100


@struct.dataclass
class MiniGridState:
    """One episode's state.

    Attributes:
      grid: ``[W, H, 3]`` uint8 cells ``(object, color, state)``, indexed
        ``[x, y]`` as MiniGrid's ``grid.encode()``; the agent is not in it.
      agent_pos: ``[2]`` int32 ``(x, y)``.
      agent_dir: int32 heading (0 right, 1 down, 2 left, 3 up).
      carrying: ``[3]`` uint8 cell of the carried object, ``(EMPTY, 0, 0)``
        for none.
      time: steps taken in this episode.
      door_pos: ``[2]`` int32, the door whose opening is Unlock's success
        (unused by the other tasks).
      obstacles: ``[n, 2]`` int32 positions of Dynamic-Obstacles' moving
        balls (``n = 0`` for the other tasks).
    """

    grid: jax.Array
    agent_pos: jax.Array
    agent_dir: jax.Array
    carrying: jax.Array
    time: jax.Array
    door_pos: jax.Array
    obstacles: jax.Array


def cell(obj: int, color: int = 0, state: int = 0) -> jax.Array:
    """One encoded cell."""
    return jnp.array([obj, color, state], jnp.uint8)


_EMPTY_CELL = (EMPTY, 0, 0)
_WALL_CELL = (WALL, GREY, 0)


def _walled(width: int, height: int) -> jax.Array:
    """An empty ``[W, H, 3]`` grid with walls around it (``wall_rect(0, 0, W, H)``)."""
    xs, ys = jnp.meshgrid(jnp.arange(width), jnp.arange(height), indexing="ij")
    border = (xs == 0) | (ys == 0) | (xs == width - 1) | (ys == height - 1)
    return jnp.where(border[..., None], jnp.array(_WALL_CELL, jnp.uint8), jnp.array(_EMPTY_CELL, jnp.uint8))


def _coords(width: int, height: int) -> tuple[jax.Array, jax.Array]:
    return jnp.meshgrid(jnp.arange(width), jnp.arange(height), indexing="ij")


def _uniform_index(key: jax.Array, allowed: jax.Array) -> jax.Array:
    """The flat index of an entry drawn uniformly among the ``True`` entries of ``allowed``.

    One random integer picks the r-th allowed entry through a running count
    (an associative scan: XLA:CPU lowers ``cumsum`` to a quadratic window
    sum). ``jax.random.categorical`` would draw a Gumbel variate per entry;
    both made the reset, computed at every step for the auto-reset, several
    times dearer.
    """
    flat = allowed.ravel().astype(jnp.int32)
    r = jax.random.randint(key, (), 0, jnp.maximum(flat.sum(), 1))
    return jnp.argmax(jax.lax.associative_scan(jnp.add, flat) > r)


def _uniform_cell(key: jax.Array, allowed: jax.Array) -> jax.Array:
    """A cell ``(x, y)`` drawn uniformly among the ``True`` cells of ``allowed [W, H]``."""
    height = allowed.shape[1]
    index = _uniform_index(key, allowed)
    return jnp.stack([index // height, index % height]).astype(jnp.int32)


def _is_empty(grid: jax.Array) -> jax.Array:
    return grid[..., 0] == EMPTY


def _state(grid: jax.Array, agent_pos: Any, agent_dir: Any, door_pos: Any = (0, 0),
           obstacles: jax.Array | None = None) -> MiniGridState:
    return MiniGridState(
        grid=grid,
        agent_pos=jnp.asarray(agent_pos, jnp.int32),
        agent_dir=jnp.asarray(agent_dir, jnp.int32),
        carrying=jnp.array(_EMPTY_CELL, jnp.uint8),
        time=jnp.zeros((), jnp.int32),
        door_pos=jnp.asarray(door_pos, jnp.int32),
        obstacles=jnp.zeros((0, 2), jnp.int32) if obstacles is None else obstacles,
    )


# Layout generators: key -> MiniGridState, one per MiniGrid env class.

def _door_key(key: jax.Array, size: int) -> MiniGridState:
    """DoorKeyEnv: a wall column with a locked yellow door; the key and the agent left of it, the goal right."""
    k_split, k_agent, k_dir, k_door, k_key = jax.random.split(key, 5)
    grid = _walled(size, size).at[size - 2, size - 2].set(cell(GOAL, GREEN))
    xs, ys = _coords(size, size)
    split = jax.random.randint(k_split, (), 2, size - 2)
    grid = jnp.where((xs == split)[..., None], jnp.array(_WALL_CELL, jnp.uint8), grid)
    left = (xs < split) & _is_empty(grid)
    agent = _uniform_cell(k_agent, left)
    agent_dir = jax.random.randint(k_dir, (), 0, 4)
    door_y = jax.random.randint(k_door, (), 1, size - 2)
    grid = grid.at[split, door_y].set(cell(DOOR, YELLOW, LOCKED))
    not_agent = (xs != agent[0]) | (ys != agent[1])
    key_pos = _uniform_cell(k_key, left & not_agent)
    grid = grid.at[key_pos[0], key_pos[1]].set(cell(KEY, YELLOW))
    return _state(grid, agent, agent_dir)


def _lava_gap(key: jax.Array, size: int) -> MiniGridState:
    """LavaGapEnv: a lava column with one gap between the agent (1, 1) and the goal."""
    k_x, k_y = jax.random.split(key)
    grid = _walled(size, size).at[size - 2, size - 2].set(cell(GOAL, GREEN))
    xs, ys = _coords(size, size)
    gap_x = jax.random.randint(k_x, (), 2, size - 2)
    gap_y = jax.random.randint(k_y, (), 1, size - 1)
    lava = (xs == gap_x) & (ys >= 1) & (ys <= size - 2) & (ys != gap_y)
    grid = jnp.where(lava[..., None], cell(LAVA, RED), grid)
    return _state(grid, (1, 1), 0)


def _simple_crossing(key: jax.Array, size: int) -> MiniGridState:
    """CrossingEnv with one wall 'river': a full wall line at an even coordinate with one opening."""
    k_river, k_gap = jax.random.split(key)
    grid = _walled(size, size).at[size - 2, size - 2].set(cell(GOAL, GREEN))
    xs, ys = _coords(size, size)
    n_lines = len(range(2, size - 2, 2))
    river = jax.random.randint(k_river, (), 0, 2 * n_lines)
    vertical = river < n_lines
    at = 2 + 2 * (river % n_lines)
    gap = jax.random.randint(k_gap, (), 1, size - 1)
    inside = (xs >= 1) & (xs <= size - 2) & (ys >= 1) & (ys <= size - 2)
    line = jnp.where(vertical, (xs == at) & (ys != gap), (ys == at) & (xs != gap)) & inside
    grid = jnp.where(line[..., None], jnp.array(_WALL_CELL, jnp.uint8), grid)
    return _state(grid, (1, 1), 0)


def _dynamic_obstacles(key: jax.Array, size: int, n_obstacles: int) -> MiniGridState:
    """DynamicObstaclesEnv: agent at (1, 1) facing right, goal opposite, blue balls on free cells."""
    grid = _walled(size, size).at[size - 2, size - 2].set(cell(GOAL, GREEN))
    xs, ys = _coords(size, size)
    not_agent = (xs != 1) | (ys != 1)
    positions = []
    for k_ball in jax.random.split(key, n_obstacles):
        pos = _uniform_cell(k_ball, _is_empty(grid) & not_agent)
        grid = grid.at[pos[0], pos[1]].set(cell(BALL, BLUE))
        positions.append(pos)
    obstacles = jnp.stack(positions) if positions else jnp.zeros((0, 2), jnp.int32)
    return _state(grid, (1, 1), 0, obstacles=obstacles)


def _front_ok(grid: jax.Array) -> jax.Array:
    """``[W, H, 4]``: whether an agent at (x, y) heading d faces a free cell or a wall (RoomGrid.place_agent).

    The cell ahead in each heading is the object grid shifted by one (slices
    of a wall-padded copy, cheaper than a gather under ``vmap``).
    """
    padded = jnp.pad(grid[..., 0], 1, constant_values=WALL)
    ahead = (padded[2:, 1:-1], padded[1:-1, 2:], padded[:-2, 1:-1], padded[1:-1, :-2])  # DIR_TO_VEC order
    return jnp.stack([(front == EMPTY) | (front == WALL) for front in ahead], axis=-1)


def _uniform_pose(key: jax.Array, allowed: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(cell, heading)`` drawn uniformly among the ``True`` entries of ``allowed [W, H, 4]``."""
    width, height, _ = allowed.shape
    index = _uniform_index(key, allowed)
    pos = jnp.stack([index // (height * 4), (index // 4) % height]).astype(jnp.int32)
    return pos, (index % 4).astype(jnp.int32)


def _unlock(key: jax.Array) -> MiniGridState:
    """UnlockEnv: two 6x6 rooms joined by a locked door; its key and the agent in the left room."""
    room = 6
    width, height = 2 * (room - 1) + 1, room
    k_door, k_color, k_key, k_agent = jax.random.split(key, 4)
    xs, ys = _coords(width, height)
    grid = _walled(width, height)
    grid = jnp.where((xs == room - 1)[..., None], jnp.array(_WALL_CELL, jnp.uint8), grid)
    door_y = jax.random.randint(k_door, (), 1, room - 1)
    color = jax.random.randint(k_color, (), 0, NUM_COLORS).astype(jnp.uint8)
    door = jnp.stack([jnp.int32(room - 1), door_y])
    grid = grid.at[room - 1, door_y].set(jnp.stack([jnp.uint8(DOOR), color, jnp.uint8(LOCKED)]))
    left_room = (xs < room - 1) & _is_empty(grid)
    key_pos = _uniform_cell(k_key, left_room)
    grid = grid.at[key_pos[0], key_pos[1]].set(jnp.stack([jnp.uint8(KEY), color, jnp.uint8(0)]))
    allowed = (left_room & _is_empty(grid))[..., None] & _front_ok(grid)
    agent, agent_dir = _uniform_pose(k_agent, allowed)
    return _state(grid, agent, agent_dir, door_pos=door)


def _key_corridor_s3r1(key: jax.Array) -> MiniGridState:
    """KeyCorridorEnv(room_size=3, num_rows=1): three 1-cell rooms in a row.

    Left to right: the key, the agent, behind a locked door of the key's
    color the ball to pick up. A closed door of a random color joins the
    agent's room to the key's (``connect_all``). The only randomness is the
    colors and the agent's heading, which never faces the locked door.
    """
    k_door, k_ball, k_link, k_dir = jax.random.split(key, 4)
    width, height = 7, 3
    xs, _ = _coords(width, height)
    grid = _walled(width, height)
    grid = jnp.where(((xs == 2) | (xs == 4))[..., None], jnp.array(_WALL_CELL, jnp.uint8), grid)
    door_color = jax.random.randint(k_door, (), 0, NUM_COLORS).astype(jnp.uint8)
    ball_color = jax.random.randint(k_ball, (), 0, NUM_COLORS).astype(jnp.uint8)
    link_color = jax.random.randint(k_link, (), 0, NUM_COLORS).astype(jnp.uint8)
    grid = grid.at[4, 1].set(jnp.stack([jnp.uint8(DOOR), door_color, jnp.uint8(LOCKED)]))
    grid = grid.at[5, 1].set(jnp.stack([jnp.uint8(BALL), ball_color, jnp.uint8(0)]))
    grid = grid.at[1, 1].set(jnp.stack([jnp.uint8(KEY), door_color, jnp.uint8(0)]))
    grid = grid.at[2, 1].set(jnp.stack([jnp.uint8(DOOR), link_color, jnp.uint8(CLOSED)]))
    agent_dir = jax.random.randint(k_dir, (), 1, 4)  # down, left or up: not the locked door
    return _state(grid, (3, 1), agent_dir)


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
        MiniGridTask("MiniGrid-DoorKey-5x5-v0", 10 * 5**2, 7, functools.partial(_door_key, size=5)),
        MiniGridTask("MiniGrid-DoorKey-6x6-v0", 10 * 6**2, 7, functools.partial(_door_key, size=6)),
        MiniGridTask("MiniGrid-LavaGapS5-v0", 4 * 5**2, 7, functools.partial(_lava_gap, size=5)),
        MiniGridTask("MiniGrid-SimpleCrossingS9N1-v0", 4 * 9**2, 7, functools.partial(_simple_crossing, size=9)),
        MiniGridTask("MiniGrid-Dynamic-Obstacles-5x5-v0", 4 * 5**2, 3,
                     functools.partial(_dynamic_obstacles, size=5, n_obstacles=2), obstacles_move=True,
                     see_through_walls=True),
        MiniGridTask("MiniGrid-Dynamic-Obstacles-6x6-v0", 4 * 6**2, 3,
                     functools.partial(_dynamic_obstacles, size=6, n_obstacles=3), obstacles_move=True,
                     see_through_walls=True),
        MiniGridTask("MiniGrid-Unlock-v0", 8 * 6**2, 7, _unlock, success="open_door"),
        MiniGridTask("MiniGrid-KeyCorridorS3R1-v0", 30 * 3**2, 7, _key_corridor_s3r1, success="pickup_ball"),
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
    xs, ys = _coords(width, height)
    not_agent = (xs != state.agent_pos[0]) | (ys != state.agent_pos[1])
    for i, k_ball in enumerate(jax.random.split(key, obstacles.shape[0])):
        old = obstacles[i]
        window = (jnp.abs(xs - old[0]) <= 1) & (jnp.abs(ys - old[1]) <= 1)
        free = window & _is_empty(grid) & not_agent
        new = jnp.where(free.any(), _uniform_cell(k_ball, free), old)
        ball = grid[old[0], old[1]]
        grid = grid.at[old[0], old[1]].set(jnp.array(_EMPTY_CELL, jnp.uint8)).at[new[0], new[1]].set(ball)
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
    new_fwd_cell = jnp.where(picked, jnp.array(_EMPTY_CELL, jnp.uint8),
                             jnp.where(dropped, carrying,
                                       jnp.where(toggled, jnp.stack([obj, obj_color, door_state]), fwd_cell)))
    grid = state.grid.at[fwd[0], fwd[1]].set(new_fwd_cell)
    carrying = jnp.where(picked, fwd_cell, jnp.where(dropped, jnp.array(_EMPTY_CELL, jnp.uint8), carrying))

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
    padded = jnp.broadcast_to(jnp.array(_WALL_CELL, jnp.uint8), (width + 2 * n, height + 2 * n, 3))
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
