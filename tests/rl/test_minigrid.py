"""The JAX MiniGrid tasks against Farama's ``minigrid`` package, the definition they port.

Dynamics: MiniGrid's own layouts (converted to our state) step under the
same actions to the same observations, rewards and episode ends, over
episodes long enough to reach every task's success. Dynamic-Obstacles'
balls move at random in both; there our step replays MiniGrid's moves, and
the move rule itself is checked on its own. Layouts: our generators and
MiniGrid's resets put each object and the agent's pose on each cell with
the same frequencies (a 5-sigma two-sample test per cell).
"""

from __future__ import annotations

import collections
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import gymnasium  # noqa: E402
import minigrid  # noqa: E402,F401  (registers the MiniGrid-* ids)

from discolab.rl import envs  # noqa: E402
from discolab.rl import minigrid as mg  # noqa: E402

TASK_NAMES = sorted(mg.TASKS)


def from_minigrid(env: object) -> mg.MiniGridState:
    """Our state of a reset or stepped ``minigrid`` env (its ``unwrapped``)."""
    carrying = env.carrying.encode() if env.carrying is not None else (mg.EMPTY, 0, 0)
    door = getattr(env, "door", None)
    obstacles = [tuple(o.cur_pos) for o in getattr(env, "obstacles", [])]
    return mg.MiniGridState(
        grid=jnp.asarray(env.grid.encode()),
        agent_pos=jnp.asarray(env.agent_pos, jnp.int32),
        agent_dir=jnp.asarray(env.agent_dir, jnp.int32),
        carrying=jnp.asarray(carrying, jnp.uint8),
        time=jnp.asarray(env.step_count, jnp.int32),
        door_pos=jnp.asarray(door.cur_pos if door is not None else (0, 0), jnp.int32),
        obstacles=jnp.asarray(obstacles, jnp.int32).reshape(-1, 2),
    )


def relocate(state: mg.MiniGridState, positions: np.ndarray) -> mg.MiniGridState:
    """``state`` with its balls moved to ``positions`` (what MiniGrid's balls did this step)."""
    grid = np.array(state.grid)
    old = np.array(state.obstacles)
    ball = grid[old[0][0], old[0][1]].copy()
    for x, y in old:
        grid[x, y] = (mg.EMPTY, 0, 0)
    for x, y in positions:
        grid[x, y] = ball
    return state.replace(grid=jnp.asarray(grid), obstacles=jnp.asarray(positions, jnp.int32).reshape(-1, 2))


def useful_action(rng: np.random.Generator, state: mg.MiniGridState, num_actions: int) -> int:
    """A random action, biased to what makes progress (pick up, open, step ahead), so successes happen."""
    if rng.random() < 0.4:
        return int(rng.integers(num_actions))
    dx, dy = mg.DIR_TO_VEC[int(state.agent_dir)]
    front = np.array(state.grid)[int(state.agent_pos[0]) + dx, int(state.agent_pos[1]) + dy]
    if num_actions == 3:  # Dynamic-Obstacles: the goal is down and right; go there when the way is free
        if front[0] in (mg.EMPTY, mg.GOAL) and (dx, dy) in ((1, 0), (0, 1)):
            return mg.FORWARD
        return mg.RIGHT if (dx, dy) in ((0, -1), (1, 0)) else mg.LEFT
    holding = int(state.carrying[0]) != mg.EMPTY
    if front[0] in (mg.KEY, mg.BALL) and not holding:
        return mg.PICKUP
    if front[0] == mg.DOOR and front[2] != mg.OPEN:
        return mg.TOGGLE
    if front[0] == mg.BALL and holding:  # KeyCorridor: put the key down somewhere first
        return int(rng.choice([mg.LEFT, mg.RIGHT]))
    if holding and int(state.carrying[0]) == mg.KEY and front[0] == mg.EMPTY and rng.random() < 0.1:
        return mg.DROP
    return int(rng.choice([mg.FORWARD, mg.FORWARD, mg.LEFT, mg.RIGHT]))


@pytest.mark.parametrize("name", TASK_NAMES)
def test_steps_match_minigrid(name: str) -> None:
    reference = gymnasium.make(name).unwrapped
    env = mg.MiniGridEnv(name)
    task, params = env.task, env.default_params
    observe = jax.jit(lambda state: mg.observe(state, task.see_through_walls))

    @jax.jit
    def step(pre: mg.MiniGridState, action: jax.Array, moved: mg.MiniGridState):
        return mg.dynamics(task, jax.random.key(0), pre, action, params, move=lambda key, state: moved)

    rng = np.random.default_rng(0)
    ends = collections.Counter()
    steps = 0
    for episode in range(25):
        obs, _ = reference.reset(seed=episode)
        state = from_minigrid(reference)
        np.testing.assert_array_equal(observe(state), obs["image"], err_msg=f"{name} reset {episode}")
        while True:
            action = useful_action(rng, state, env.num_actions)
            obs, reward, terminated, truncated, _ = reference.step(action)
            moved = relocate(state, [o.cur_pos for o in reference.obstacles]) if task.obstacles_move else state
            state, our_reward, our_terminated = step(state, jnp.int32(action), moved)
            steps += 1
            where = f"{name} episode {episode} step {int(state.time)} action {action}"
            np.testing.assert_array_equal(observe(state), obs["image"], err_msg=where)
            np.testing.assert_array_equal(np.asarray(state.grid), reference.grid.encode(), err_msg=where)
            assert float(our_reward) == pytest.approx(reward, abs=1e-6), where
            assert bool(our_terminated) == terminated, where
            assert bool(state.time >= params.max_steps_in_episode) == truncated, where
            if terminated or truncated:
                ends["success" if reward > 0 else ("collision" if reward < 0 else "fail")] += terminated
                ends["truncated"] += truncated and not terminated
                break
            if steps > 3000:
                break
    assert ends["success"] > 0, (name, ends)  # the check covered the task's success rule
    if task.obstacles_move:
        assert ends["collision"] > 0, (name, ends)


def _frequencies(layouts: list[tuple[np.ndarray, np.ndarray, int]]) -> dict[tuple, float]:
    """Per-cell frequency of each (object, color, state) and of each agent pose, over ``(grid, pos, dir)`` layouts."""
    counts: collections.Counter = collections.Counter()
    for grid, pos, heading in layouts:
        for x, y in zip(*np.nonzero(grid[..., 0] != mg.EMPTY)):
            counts[("cell", int(x), int(y), *map(int, grid[x, y]))] += 1
        counts[("agent", int(pos[0]), int(pos[1]), int(heading))] += 1
    return {k: v / len(layouts) for k, v in counts.items()}


@pytest.mark.parametrize("name", TASK_NAMES)
def test_layouts_follow_minigrid_distribution(name: str) -> None:
    n = 2000
    reference = gymnasium.make(name).unwrapped
    theirs = []
    for seed in range(n):
        reference.reset(seed=seed)
        theirs.append((reference.grid.encode(), np.asarray(reference.agent_pos), int(reference.agent_dir)))
    batch = jax.jit(jax.vmap(mg.TASKS[name].generate))(jax.random.split(jax.random.key(7), n))
    grids, positions, headings = (np.asarray(x) for x in (batch.grid, batch.agent_pos, batch.agent_dir))
    ours = list(zip(grids, positions, headings))
    p_ours, p_theirs = _frequencies(ours), _frequencies(theirs)
    assert set(p_ours) == set(p_theirs) or all(
        min(p_ours.get(k, 0), p_theirs.get(k, 0)) == 0 and max(p_ours.get(k, 0), p_theirs.get(k, 0)) < 3 / n
        for k in set(p_ours) ^ set(p_theirs)
    ), sorted(set(p_ours) ^ set(p_theirs))[:10]
    for k in set(p_ours) | set(p_theirs):
        a, b = p_ours.get(k, 0.0), p_theirs.get(k, 0.0)
        pooled = (a + b) / 2
        sigma = np.sqrt(max(pooled * (1 - pooled), 1 / n) * 2 / n)
        assert abs(a - b) <= 5 * sigma, (name, k, a, b)


def test_move_obstacles_moves_each_ball_to_a_free_neighbouring_cell() -> None:
    env = mg.MiniGridEnv("MiniGrid-Dynamic-Obstacles-6x6-v0")
    _, state = env.reset(jax.random.key(3), env.default_params)
    move = jax.jit(mg.move_obstacles)
    seen = collections.Counter()
    for i in range(300):
        moved = move(jax.random.key(i), state)
        grid = np.asarray(moved.grid)
        assert (grid[..., 0] == mg.BALL).sum() == 3
        for old, new in zip(np.asarray(state.obstacles), np.asarray(moved.obstacles)):
            assert np.abs(new - old).max() <= 1 and tuple(new) != (1, 1)
            assert grid[new[0], new[1], 0] == mg.BALL
        seen[tuple(np.asarray(moved.obstacles[0]))] += 1
    first = np.asarray(state.obstacles[0])
    free = [(first[0] + dx, first[1] + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)
            if np.asarray(state.grid)[first[0] + dx, first[1] + dy, 0] == mg.EMPTY
            and (first[0] + dx, first[1] + dy) != (1, 1)]
    assert set(seen) <= set(free) and len(seen) == len(free)  # every free neighbour is reached


def test_boxed_in_ball_stays() -> None:
    env = mg.MiniGridEnv("MiniGrid-Dynamic-Obstacles-5x5-v0")
    _, state = env.reset(jax.random.key(0), env.default_params)
    grid = np.array(state.grid)
    grid[1:4, 1:4] = (mg.WALL, mg.GREY, 0)
    grid[2, 2] = (mg.BALL, mg.BLUE, 0)
    boxed = state.replace(grid=jnp.asarray(grid), obstacles=jnp.array([[2, 2]], jnp.int32))
    moved = mg.move_obstacles(jax.random.key(1), boxed)
    np.testing.assert_array_equal(moved.obstacles, [[2, 2]])
    np.testing.assert_array_equal(moved.grid, boxed.grid)


def test_step_auto_resets_and_reports_the_final_observation() -> None:
    env = mg.MiniGridEnv("MiniGrid-LavaGapS5-v0")
    params = env.default_params
    _, state = env.reset(jax.random.key(0), params)
    # Agent at (1, 1) facing right; lava fills x = 2 except the gap: walk into lava or through the gap.
    gap_y = int(np.nonzero(np.asarray(state.grid)[2, 1:4, 0] != mg.LAVA)[0][0]) + 1
    state = state.replace(agent_pos=jnp.array([1, 1 if gap_y != 1 else 2], jnp.int32))
    obs, next_state, reward, terminated, truncated, info = env.step(jax.random.key(1), state, mg.FORWARD, params)
    assert bool(terminated) and not bool(truncated) and float(reward) == 0.0  # lava: the end, no reward
    assert int(next_state.time) == 0 and tuple(np.asarray(next_state.agent_pos)) == (1, 1)
    assert not np.array_equal(np.asarray(info["final_observation"]), np.asarray(obs))


def test_time_limit_truncates() -> None:
    env = mg.MiniGridEnv("MiniGrid-DoorKey-5x5-v0")
    params = mg.MiniGridParams(max_steps_in_episode=3)
    _, state = env.reset(jax.random.key(0), params)
    for t in range(3):
        _, state, reward, terminated, truncated, _ = env.step(jax.random.key(t), state, mg.LEFT, params)
    assert bool(truncated) and not bool(terminated) and int(state.time) == 0


def test_registry_rows_build_minigrid_envs() -> None:
    names = [n for n in envs.names() if n.startswith("MiniGrid-")]
    assert set(TASK_NAMES) <= set(names)
    env, params = envs.make("MiniGrid-Dynamic-Obstacles-6x6-v0")
    assert env.num_actions == 3 and params.max_steps_in_episode == 144
    assert envs.spec("MiniGrid-Dynamic-Obstacles-6x6-v0").r_min == -1.0
    assert envs.spec("MiniGrid-DoorKey-5x5-v0").eps_decay_steps == 100_000
    assert env.observation_space(params).shape == (7, 7, 3)


def test_unknown_task_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="MiniGrid-DoorKey-5x5-v0"):
        mg.MiniGridEnv("MiniGrid-DoorKey-4x4-v0")


def _process_vis(view: np.ndarray) -> np.ndarray:
    """MiniGrid's Grid.process_vis, transcribed loop for loop (agent at the bottom centre)."""
    n = view.shape[0]
    opaque = (view[..., 0] == mg.WALL) | ((view[..., 0] == mg.DOOR) & (view[..., 2] != mg.OPEN))
    mask = np.zeros((n, n), bool)
    mask[n // 2, n - 1] = True
    for j in reversed(range(n)):
        for i in range(n - 1):
            if mask[i, j] and not opaque[i, j]:
                mask[i + 1, j] = True
                if j > 0:
                    mask[i + 1, j - 1] = mask[i, j - 1] = True
        for i in reversed(range(1, n)):
            if mask[i, j] and not opaque[i, j]:
                mask[i - 1, j] = True
                if j > 0:
                    mask[i - 1, j - 1] = mask[i, j - 1] = True
    return mask


def test_vectorized_visibility_equals_minigrids_loops() -> None:
    rng = np.random.default_rng(0)
    visibility = jax.jit(mg._visibility)
    for trial in range(2000):
        view = np.zeros((7, 7, 3), np.uint8)
        view[..., 0] = np.where(rng.random((7, 7)) < rng.random(), mg.WALL, mg.EMPTY)
        doors = rng.random((7, 7)) < 0.1
        view[..., 0][doors] = mg.DOOR
        view[..., 2][doors] = rng.integers(0, 3, doors.sum())
        np.testing.assert_array_equal(visibility(jnp.asarray(view)), _process_vis(view), err_msg=str(trial))


def test_dqn_trains_on_a_minigrid_task() -> None:
    from discolab.rl import DQNConfig, losses, make_train

    cfg = DQNConfig(env_id="MiniGrid-LavaGapS5-v0", total_steps=2_000, num_envs=4, hidden=(16,),
                    buffer_size=1_000, learning_starts=200, num_logs=4)
    metrics = jax.jit(make_train(cfg, losses.get("dqn")))(None, jax.random.key(0))
    assert bool(np.all(np.asarray(metrics.finite)))
    assert int(metrics.episodes[-1]) > 0  # episodes ended (lava, goal or the 100-step limit) and were counted
    assert 0.0 <= float(metrics.fitness) <= 1.0
    assert np.isfinite(np.asarray(metrics.q_mean[-1]))
