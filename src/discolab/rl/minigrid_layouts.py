"""MiniGrid's cell encoding, episode state and layout generators, in JAX (see :mod:`discolab.rl.minigrid`).

Each generator ``key -> MiniGridState`` draws a task's start from the same
distribution as MiniGrid's own ``_gen_grid`` (its rejection samplers accept
cells or (cell, heading) pairs uniformly; here one random integer picks among
the accepted ones). ``tests/rl/test_minigrid.py`` compares the frequencies.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

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


EMPTY_CELL = (EMPTY, 0, 0)
WALL_CELL = (WALL, GREY, 0)


def coords(width: int, height: int) -> tuple[jax.Array, jax.Array]:
    """``(xs, ys)``, each ``[W, H]``: the coordinates of every cell."""
    return jnp.meshgrid(jnp.arange(width), jnp.arange(height), indexing="ij")


def walled(width: int, height: int) -> jax.Array:
    """An empty ``[W, H, 3]`` grid with walls around it (``wall_rect(0, 0, W, H)``)."""
    xs, ys = coords(width, height)
    border = (xs == 0) | (ys == 0) | (xs == width - 1) | (ys == height - 1)
    return jnp.where(border[..., None], jnp.array(WALL_CELL, jnp.uint8), jnp.array(EMPTY_CELL, jnp.uint8))


def uniform_index(key: jax.Array, allowed: jax.Array) -> jax.Array:
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


def uniform_cell(key: jax.Array, allowed: jax.Array) -> jax.Array:
    """A cell ``(x, y)`` drawn uniformly among the ``True`` cells of ``allowed [W, H]``."""
    height = allowed.shape[1]
    index = uniform_index(key, allowed)
    return jnp.stack([index // height, index % height]).astype(jnp.int32)


def is_empty(grid: jax.Array) -> jax.Array:
    return grid[..., 0] == EMPTY


def new_state(grid: jax.Array, agent_pos: Any, agent_dir: Any, door_pos: Any = (0, 0),
           obstacles: jax.Array | None = None) -> MiniGridState:
    return MiniGridState(
        grid=grid,
        agent_pos=jnp.asarray(agent_pos, jnp.int32),
        agent_dir=jnp.asarray(agent_dir, jnp.int32),
        carrying=jnp.array(EMPTY_CELL, jnp.uint8),
        time=jnp.zeros((), jnp.int32),
        door_pos=jnp.asarray(door_pos, jnp.int32),
        obstacles=jnp.zeros((0, 2), jnp.int32) if obstacles is None else obstacles,
    )


# Layout generators: key -> MiniGridState, one per MiniGrid env class.

def door_key(key: jax.Array, size: int) -> MiniGridState:
    """DoorKeyEnv: a wall column with a locked yellow door; the key and the agent left of it, the goal right."""
    k_split, k_agent, k_dir, k_door, k_key = jax.random.split(key, 5)
    grid = walled(size, size).at[size - 2, size - 2].set(cell(GOAL, GREEN))
    xs, ys = coords(size, size)
    split = jax.random.randint(k_split, (), 2, size - 2)
    grid = jnp.where((xs == split)[..., None], jnp.array(WALL_CELL, jnp.uint8), grid)
    left = (xs < split) & is_empty(grid)
    agent = uniform_cell(k_agent, left)
    agent_dir = jax.random.randint(k_dir, (), 0, 4)
    door_y = jax.random.randint(k_door, (), 1, size - 2)
    grid = grid.at[split, door_y].set(cell(DOOR, YELLOW, LOCKED))
    not_agent = (xs != agent[0]) | (ys != agent[1])
    key_pos = uniform_cell(k_key, left & not_agent)
    grid = grid.at[key_pos[0], key_pos[1]].set(cell(KEY, YELLOW))
    return new_state(grid, agent, agent_dir)


def lava_gap(key: jax.Array, size: int) -> MiniGridState:
    """LavaGapEnv: a lava column with one gap between the agent (1, 1) and the goal."""
    k_x, k_y = jax.random.split(key)
    grid = walled(size, size).at[size - 2, size - 2].set(cell(GOAL, GREEN))
    xs, ys = coords(size, size)
    gap_x = jax.random.randint(k_x, (), 2, size - 2)
    gap_y = jax.random.randint(k_y, (), 1, size - 1)
    lava = (xs == gap_x) & (ys >= 1) & (ys <= size - 2) & (ys != gap_y)
    grid = jnp.where(lava[..., None], cell(LAVA, RED), grid)
    return new_state(grid, (1, 1), 0)


def simple_crossing(key: jax.Array, size: int) -> MiniGridState:
    """CrossingEnv with one wall 'river': a full wall line at an even coordinate with one opening."""
    k_river, k_gap = jax.random.split(key)
    grid = walled(size, size).at[size - 2, size - 2].set(cell(GOAL, GREEN))
    xs, ys = coords(size, size)
    n_lines = len(range(2, size - 2, 2))
    river = jax.random.randint(k_river, (), 0, 2 * n_lines)
    vertical = river < n_lines
    at = 2 + 2 * (river % n_lines)
    gap = jax.random.randint(k_gap, (), 1, size - 1)
    inside = (xs >= 1) & (xs <= size - 2) & (ys >= 1) & (ys <= size - 2)
    line = jnp.where(vertical, (xs == at) & (ys != gap), (ys == at) & (xs != gap)) & inside
    grid = jnp.where(line[..., None], jnp.array(WALL_CELL, jnp.uint8), grid)
    return new_state(grid, (1, 1), 0)


def dynamic_obstacles(key: jax.Array, size: int, n_obstacles: int) -> MiniGridState:
    """DynamicObstaclesEnv: agent at (1, 1) facing right, goal opposite, blue balls on free cells."""
    grid = walled(size, size).at[size - 2, size - 2].set(cell(GOAL, GREEN))
    xs, ys = coords(size, size)
    not_agent = (xs != 1) | (ys != 1)
    positions = []
    for k_ball in jax.random.split(key, n_obstacles):
        pos = uniform_cell(k_ball, is_empty(grid) & not_agent)
        grid = grid.at[pos[0], pos[1]].set(cell(BALL, BLUE))
        positions.append(pos)
    obstacles = jnp.stack(positions) if positions else jnp.zeros((0, 2), jnp.int32)
    return new_state(grid, (1, 1), 0, obstacles=obstacles)


def front_ok(grid: jax.Array) -> jax.Array:
    """``[W, H, 4]``: whether an agent at (x, y) heading d faces a free cell or a wall (RoomGrid.place_agent).

    The cell ahead in each heading is the object grid shifted by one (slices
    of a wall-padded copy, cheaper than a gather under ``vmap``).
    """
    padded = jnp.pad(grid[..., 0], 1, constant_values=WALL)
    ahead = (padded[2:, 1:-1], padded[1:-1, 2:], padded[:-2, 1:-1], padded[1:-1, :-2])  # DIR_TO_VEC order
    return jnp.stack([(front == EMPTY) | (front == WALL) for front in ahead], axis=-1)


def uniform_pose(key: jax.Array, allowed: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(cell, heading)`` drawn uniformly among the ``True`` entries of ``allowed [W, H, 4]``."""
    width, height, _ = allowed.shape
    index = uniform_index(key, allowed)
    pos = jnp.stack([index // (height * 4), (index // 4) % height]).astype(jnp.int32)
    return pos, (index % 4).astype(jnp.int32)


def unlock(key: jax.Array) -> MiniGridState:
    """UnlockEnv: two 6x6 rooms joined by a locked door; its key and the agent in the left room."""
    room = 6
    width, height = 2 * (room - 1) + 1, room
    k_door, k_color, k_key, k_agent = jax.random.split(key, 4)
    xs, ys = coords(width, height)
    grid = walled(width, height)
    grid = jnp.where((xs == room - 1)[..., None], jnp.array(WALL_CELL, jnp.uint8), grid)
    door_y = jax.random.randint(k_door, (), 1, room - 1)
    color = jax.random.randint(k_color, (), 0, NUM_COLORS).astype(jnp.uint8)
    door = jnp.stack([jnp.int32(room - 1), door_y])
    grid = grid.at[room - 1, door_y].set(jnp.stack([jnp.uint8(DOOR), color, jnp.uint8(LOCKED)]))
    left_room = (xs < room - 1) & is_empty(grid)
    key_pos = uniform_cell(k_key, left_room)
    grid = grid.at[key_pos[0], key_pos[1]].set(jnp.stack([jnp.uint8(KEY), color, jnp.uint8(0)]))
    allowed = (left_room & is_empty(grid))[..., None] & front_ok(grid)
    agent, agent_dir = uniform_pose(k_agent, allowed)
    return new_state(grid, agent, agent_dir, door_pos=door)


def key_corridor_s3r1(key: jax.Array) -> MiniGridState:
    """KeyCorridorEnv(room_size=3, num_rows=1): three 1-cell rooms in a row.

    Left to right: the key, the agent, behind a locked door of the key's
    color the ball to pick up. A closed door of a random color joins the
    agent's room to the key's (``connect_all``). The only randomness is the
    colors and the agent's heading, which never faces the locked door.
    """
    k_door, k_ball, k_link, k_dir = jax.random.split(key, 4)
    width, height = 7, 3
    xs, _ = coords(width, height)
    grid = walled(width, height)
    grid = jnp.where(((xs == 2) | (xs == 4))[..., None], jnp.array(WALL_CELL, jnp.uint8), grid)
    door_color = jax.random.randint(k_door, (), 0, NUM_COLORS).astype(jnp.uint8)
    ball_color = jax.random.randint(k_ball, (), 0, NUM_COLORS).astype(jnp.uint8)
    link_color = jax.random.randint(k_link, (), 0, NUM_COLORS).astype(jnp.uint8)
    grid = grid.at[4, 1].set(jnp.stack([jnp.uint8(DOOR), door_color, jnp.uint8(LOCKED)]))
    grid = grid.at[5, 1].set(jnp.stack([jnp.uint8(BALL), ball_color, jnp.uint8(0)]))
    grid = grid.at[1, 1].set(jnp.stack([jnp.uint8(KEY), door_color, jnp.uint8(0)]))
    grid = grid.at[2, 1].set(jnp.stack([jnp.uint8(DOOR), link_color, jnp.uint8(CLOSED)]))
    agent_dir = jax.random.randint(k_dir, (), 1, 4)  # down, left or up: not the locked door
    return new_state(grid, (3, 1), agent_dir)
