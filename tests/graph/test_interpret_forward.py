"""The forward-only batch interpreter gives the naive interpreter's outputs, and compiles once per shape."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from discolab.graph import SearchSpace, ValueType, batched_interpreter, encode
from discolab.graph.arrays import array_space, mutate_arrays, random_arrays, to_programs
from discolab.graph.interpret_forward import forward_interpreter

SPACE = SearchSpace(inputs=(("x0", ValueType.FLOAT), ("x1", ValueType.FLOAT)),
                    ops=("add", "sub", "mul", "div", "sin", "cos", "exp", "log"), constants=(1.0, 0.5),
                    max_nodes=12, required_inputs=("x0", "x1"))


def programs(seed: int, count: int = 64, space: SearchSpace = SPACE):
    """``count`` random programs of ``space``, mutated three times (varied shapes and dead nodes)."""
    a = array_space(space)
    rng = np.random.default_rng(seed)
    batch = random_arrays(rng, a, count)
    for _ in range(3):
        batch = mutate_arrays(rng, batch, a)
    return to_programs(batch, a)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_outputs_equal_the_naive_interpreters(dtype):
    rng = np.random.default_rng(1)
    inputs = {name: rng.uniform(-3, 3, 40).astype(dtype) for name in ("x0", "x1")}
    encoded = encode(programs(0), SPACE)
    with jax.enable_x64(dtype == np.float64):
        naive = np.asarray(batched_interpreter(SPACE, naive=True)(encoded, inputs))
        forward = np.asarray(forward_interpreter(SPACE)(encoded, inputs))
    assert forward.dtype == dtype and forward.shape == (64, 40)
    same = (forward == naive) | (np.isnan(forward) & np.isnan(naive))
    assert same.all()
    assert np.isfinite(forward).mean() > 0.5  # the comparison is not only over NaNs


def test_pruned_programs_give_the_same_outputs():
    inputs = {name: np.linspace(-2, 2, 30, dtype=np.float32) for name in ("x0", "x1")}
    batch = programs(2)
    run = forward_interpreter(SPACE)
    full = np.asarray(run(encode(batch, SPACE), inputs))
    pruned = np.asarray(run(encode(batch, SPACE, dead_nodes=False), inputs))
    np.testing.assert_array_equal(full, pruned)


def test_other_programs_do_not_recompile():
    inputs = {name: np.zeros(16, np.float32) for name in ("x0", "x1")}
    run = forward_interpreter(SPACE)
    run(encode(programs(3, 32), SPACE), inputs)
    compiled = run._cache_size()
    for seed in (4, 5, 6):
        run(encode(programs(seed, 32), SPACE), inputs)
    assert run._cache_size() == compiled


def test_a_missing_input_is_named():
    with pytest.raises(KeyError, match="x1"):
        forward_interpreter(SPACE)(encode(programs(0, 4), SPACE), {"x0": np.zeros(3, np.float32)})


def test_per_program_inputs_give_each_program_its_own_row():
    """Inputs of shape [P, n] (an optimizer search's per-program gradients): row k is program k's data."""
    rng = np.random.default_rng(2)
    encoded = encode(programs(3, count=8), SPACE)
    rows = {name: rng.uniform(-3, 3, (8, 10)).astype(np.float32) for name in ("x0", "x1")}
    together = np.asarray(forward_interpreter(SPACE)(encoded, rows))
    for k in range(8):
        alone = np.asarray(forward_interpreter(SPACE)(encoded, {n: x[k] for n, x in rows.items()}))[k]
        np.testing.assert_array_equal(together[k], alone)
