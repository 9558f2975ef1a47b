"""The numpy host interpreter gives the jitted interpreter's outputs, live nodes only, with no compile."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from discolab.graph import Program, SearchSpace, ValueType, encode
from discolab.graph import interpret_host as host
from discolab.graph import ops as ops_lib
from discolab.graph.arrays import array_space, mutate_arrays, random_arrays, to_programs
from discolab.graph.interpret_forward import forward_interpreter
from test_interpret_forward import programs  # random programs, mutated: varied shapes and dead nodes

# IEEE arithmetic: numpy and XLA round each of these alike, so outputs match bit for bit.
EXACT_OPS = ("add", "sub", "mul", "div", "max", "min", "neg", "abs", "square", "inv", "scale_0.1")
# Transcendentals (and x**3): each library has its own last-bit rounding.
ROUNDED_OPS = ("sin", "cos", "tanh", "exp", "log", "sqrt", "cube", "distance")


def space(ops: tuple[str, ...], max_nodes: int = 12) -> SearchSpace:
    return SearchSpace(inputs=(("x0", ValueType.FLOAT), ("x1", ValueType.FLOAT)), ops=ops, constants=(1.0, 0.5),
                       max_nodes=max_nodes, required_inputs=("x0", "x1"))


def inputs(dtype: type, n: int = 40) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {name: rng.uniform(-3, 3, n).astype(dtype) for name in ("x0", "x1")}


def jitted(s: SearchSpace, encoded, xs) -> np.ndarray:
    with jax.enable_x64(next(iter(xs.values())).dtype == np.float64):
        return np.asarray(forward_interpreter(s)(encoded, xs))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_arithmetic_equals_the_jitted_interpreter_bit_for_bit(dtype):
    s = space(EXACT_OPS)
    encoded, xs = encode(programs(0, space=s), s), inputs(dtype)
    ours = host.interpret_host(s, encoded, xs)
    assert ours.dtype == dtype and ours.shape == (64, 40)
    theirs = jitted(s, encoded, xs)
    assert ((ours == theirs) | (np.isnan(ours) & np.isnan(theirs))).all()
    assert np.isfinite(ours).mean() > 0.5  # not only NaNs compared


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-4), (np.float64, 1e-10)])
def test_transcendentals_equal_the_jitted_interpreter_to_rounding(dtype, rtol):
    # Short programs: rounding differences stay small (long chains of exp and div amplify them).
    s = space(EXACT_OPS[:4] + ROUNDED_OPS, max_nodes=4)
    encoded, xs = encode(programs(2, count=200, space=s), s), inputs(dtype)
    ours, theirs = host.interpret_host(s, encoded, xs), jitted(s, encoded, xs)
    assert (np.isfinite(ours) == np.isfinite(theirs)).all()
    both = np.isfinite(ours)
    assert both.mean() > 0.8
    scale = np.maximum(1.0, np.abs(theirs[both]))
    assert np.quantile(np.abs(ours[both] - theirs[both]) / scale, 0.999) < rtol
    assert (ours[both] != theirs[both]).any()  # the two are really different implementations


def test_every_float_op_has_a_numpy_form_that_keeps_the_dtype():
    x = np.linspace(-4, 4, 101, dtype=np.float32)
    for name in EXACT_OPS + ROUNDED_OPS:
        op = ops_lib.get(name)
        args = [x, x[::-1]][: op.arity]
        ours = op.host(*args)
        assert ours.dtype == np.float32, name
        np.testing.assert_allclose(ours, np.asarray(op.fn(*args)), rtol=2e-6, atol=1e-6, err_msg=name)


def test_only_live_nodes_run_and_padding_repeats_the_first_row():
    # A dead node that would raise if run: the host interpreter never calls its op.
    s = space(("add", "sin", "cos"))

    def refuse(x):
        raise AssertionError("a dead node ran")

    cos = ops_lib.get("cos")
    original = cos.host
    object.__setattr__(cos, "host", refuse)  # Op is frozen
    try:
        live_only = Program.from_nodes([("cos", (0,)), ("sin", (1,)), ("add", (5, 0))])  # cos(x0) is dead
        encoded = encode([live_only, Program.from_nodes([("add", (0, 1))])], s, pad_to=4)
        out = host.interpret_host(s, encoded, inputs(np.float32))
    finally:
        object.__setattr__(cos, "host", original)
    xs = inputs(np.float32)
    np.testing.assert_array_equal(out[0], np.sin(xs["x1"]) + xs["x0"])
    np.testing.assert_array_equal(out[1], xs["x0"] + xs["x1"])
    np.testing.assert_array_equal(out[2:], out[[0, 0]])


def test_chunks_give_the_same_outputs(monkeypatch):
    s = space(EXACT_OPS)
    encoded, xs = encode(programs(3, space=s), s), inputs(np.float32)
    whole = host.interpret_host(s, encoded, xs)
    monkeypatch.setattr(host, "BANK_BYTES", 1)  # one program per chunk
    assert ((host.interpret_host(s, encoded, xs) == whole) | np.isnan(whole)).all()


def test_an_op_without_a_numpy_form_is_named():
    s = space(("add", "batch_mean"))
    assert host.missing_host_ops(s) == ["batch_mean"]
    with pytest.raises(ValueError, match=r"ops \['batch_mean'\] have no numpy form"):
        host.interpret_host(s, encode([Program.from_nodes([("add", (0, 1))])], s), inputs(np.float32))


def test_a_missing_input_is_named():
    s = space(("add",))
    with pytest.raises(KeyError, match="x1"):
        host.interpret_host(s, encode([Program.from_nodes([("add", (0, 1))])], s), {"x0": np.zeros(3)})


def test_shared_subexpressions_run_once_and_give_each_programs_own_outputs():
    # Mutants of a few parents share most nodes, at other positions too: the batch computes each
    # distinct subexpression once, and every program's output equals its output run alone.
    s = space(EXACT_OPS[:4] + ROUNDED_OPS)
    a = array_space(s)
    rng = np.random.default_rng(4)
    parents = random_arrays(rng, a, 4)
    batch = mutate_arrays(rng, parents.take(np.repeat(np.arange(4), 16)), a)
    encoded, xs = encode(to_programs(batch, a), s), inputs(np.float32)
    together = host.interpret_host(s, encoded, xs)
    alone = np.concatenate([host.interpret_host(s, type(encoded)(*(f[i : i + 1] for f in encoded)), xs)
                            for i in range(len(batch))])
    assert ((together == alone) | (np.isnan(together) & np.isnan(alone))).all()
    calls = []
    sin = ops_lib.get("sin")
    original = sin.host
    object.__setattr__(sin, "host", lambda x: calls.append(len(x)) or original(x))
    try:
        twice = encode([Program.from_nodes([("sin", (0,)), ("add", (4, 1))]),
                        Program.from_nodes([("cos", (1,)), ("sin", (0,)), ("mul", (5, 4))])], s)
        host.interpret_host(s, twice, xs)
    finally:
        object.__setattr__(sin, "host", original)
    assert calls == [1]  # sin(x0) once for both programs
