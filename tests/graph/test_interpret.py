"""The batched interpreter: values and gradients equal hand-written JAX, one compile per space."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from graphtest_support import FLOAT_OPS, TRACE_COUNT, dqn_space

from discolab.graph import (
    EncodedPrograms, Program, SearchSpace, batched_interpreter, encode, fingerprints, interpret, prune,
    random_program, validate,
)
from discolab.graph.ops import DIV_EPS, EXP_CLIP, LOG_EPS

# Slots: x=0, y=1, the constant 2.0=2, first node=3.
SPACE = SearchSpace(inputs=(("x", "float"), ("y", "float")), ops=FLOAT_OPS, constants=(2.0,), max_nodes=8)


def p_div(a, b):
    return a / jnp.where(b >= 0, b + DIV_EPS, b - DIV_EPS)


def p_log(a):
    return jnp.log(jnp.abs(a) + LOG_EPS)


def p_exp(a):
    return jnp.exp(jnp.clip(a, -EXP_CLIP, EXP_CLIP))


def p_sqrt(a):
    return jnp.sqrt(jnp.abs(a) + LOG_EPS) - jnp.sqrt(LOG_EPS)


# (name, nodes, the same function written by hand)
TABLE = [
    ("add", [("add", [0, 1])], lambda x, y: x + y),
    ("sub", [("sub", [0, 1])], lambda x, y: x - y),
    ("mul", [("mul", [0, 1])], lambda x, y: x * y),
    ("div", [("div", [0, 1])], lambda x, y: x / y),
    ("div_by_zero", [("sub", [1, 1]), ("div", [0, 3])], lambda x, y: x / DIV_EPS),
    ("max", [("max", [0, 1])], jnp.maximum),
    ("min", [("min", [0, 1])], jnp.minimum),
    ("distance", [("distance", [0, 1])], lambda x, y: 0.5 * (x - y) ** 2),
    ("neg", [("neg", [0])], lambda x, y: -x),
    ("abs", [("abs", [0])], lambda x, y: jnp.abs(x)),
    ("square", [("square", [0])], lambda x, y: x * x),
    ("cube", [("cube", [0])], lambda x, y: x * x * x),
    ("sin", [("sin", [0])], lambda x, y: jnp.sin(x)),
    ("cos", [("cos", [0])], lambda x, y: jnp.cos(x)),
    ("tanh", [("tanh", [0])], lambda x, y: jnp.tanh(x)),
    ("exp", [("exp", [0])], lambda x, y: jnp.exp(x)),
    ("exp_clipped", [("square", [0]), ("square", [3]), ("exp", [4])], lambda x, y: p_exp(x**4)),
    ("log", [("log", [0])], lambda x, y: jnp.log(jnp.abs(x))),
    ("log_of_zero", [("sub", [0, 0]), ("log", [3])], lambda x, y: jnp.full_like(x, np.log(LOG_EPS))),
    ("sqrt", [("sqrt", [0])], lambda x, y: jnp.sqrt(jnp.abs(x))),
    ("inv", [("inv", [0])], lambda x, y: 1.0 / x),
    ("scale", [("scale_0.1", [0])], lambda x, y: 0.1 * x),
    ("const", [("mul", [0, 2])], lambda x, y: 2.0 * x),
    # ((x + y) * (x - y)) / (2 + x^2), with a dead node (cos y) in the middle.
    ("rational", [("add", [0, 1]), ("sub", [0, 1]), ("cos", [1]), ("mul", [3, 4]), ("square", [0]),
                  ("add", [2, 7]), ("div", [6, 8])], lambda x, y: (x + y) * (x - y) / (2.0 + x**2)),
    ("shared", [("sin", [0]), ("mul", [3, 3]), ("add", [4, 3])], lambda x, y: jnp.sin(x) ** 2 + jnp.sin(x)),
]
PROGRAMS = [Program.from_nodes(nodes) for _, nodes, _ in TABLE]
IDS = [name for name, _, _ in TABLE]


def float_inputs(seed: int = 0, n: int = 32) -> dict[str, np.ndarray]:
    """x and y with |value| in [0.1, 3]: guards inactive, every op differentiable."""
    rng = np.random.default_rng(seed)
    return {k: (rng.choice([-1.0, 1.0], n) * rng.uniform(0.1, 3.0, n)).astype(np.float32) for k in ("x", "y")}


def run(programs, space, inputs, pad_to: int | None = None):
    """Outputs of ``programs``; padding the batch to one size reuses one compiled function."""
    encoded = EncodedPrograms(*map(jnp.asarray, encode(programs, space, pad_to=pad_to)))
    return batched_interpreter(space)(encoded, inputs)[: len(programs)]


def interpreted_grads(programs, space, inputs) -> list[dict]:
    """d sum(output_p) / d inputs for each program p, through the batched interpreter (batches of one)."""
    grad = _grad_of_sum(space)
    inputs = {k: jnp.asarray(v) for k, v in inputs.items()}
    return [
        {k: np.asarray(g) for k, g in grad(EncodedPrograms(*map(jnp.asarray, encode([p], space))), inputs).items()}
        for p in programs
    ]


@functools.lru_cache(maxsize=None)
def _grad_of_sum(space):
    return jax.jit(jax.grad(lambda encoded, inputs: jnp.sum(batched_interpreter(space)(encoded, inputs)), argnums=1))


def test_table_programs_are_valid():
    for program in PROGRAMS:
        validate(program, SPACE)
    assert len({len(p) for p in PROGRAMS}) >= 3  # the batch mixes lengths, so padding is exercised


def test_values_equal_hand_written_jax():
    inputs = float_inputs()
    out = np.asarray(run(PROGRAMS, SPACE, inputs))  # one padded batch of programs of different lengths
    assert out.shape == (len(PROGRAMS), 32)
    x, y = jnp.asarray(inputs["x"]), jnp.asarray(inputs["y"])
    for p, (name, _, hand) in enumerate(TABLE):
        np.testing.assert_allclose(out[p], np.asarray(hand(x, y)), rtol=1e-5, atol=1e-5, err_msg=name)


def test_gradients_equal_hand_written_gradients():
    inputs = float_inputs(seed=1)
    grads = interpreted_grads(PROGRAMS, SPACE, inputs)
    x, y = jnp.asarray(inputs["x"]), jnp.asarray(inputs["y"])
    for p, (name, _, hand) in enumerate(TABLE):
        gx, gy = jax.grad(lambda a, b: jnp.sum(hand(a, b)), argnums=(0, 1))(x, y)
        np.testing.assert_allclose(grads[p]["x"], gx, rtol=1e-4, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(grads[p]["y"], gy, rtol=1e-4, atol=1e-5, err_msg=name)


def test_batched_equals_one_by_one_and_order_does_not_matter():
    inputs = float_inputs(seed=2)
    batch = np.asarray(interpret(PROGRAMS, SPACE, inputs))
    for p, program in enumerate(PROGRAMS):
        np.testing.assert_allclose(np.asarray(interpret([program], SPACE, inputs))[0], batch[p], rtol=1e-6)
    reversed_batch = np.asarray(interpret(PROGRAMS[::-1], SPACE, inputs))
    np.testing.assert_allclose(reversed_batch[::-1], batch, rtol=1e-6)


def test_random_programs_batched_equals_one_by_one():
    rng = np.random.default_rng(3)
    programs = [random_program(SPACE, rng) for _ in range(12)]
    inputs = float_inputs(seed=3)
    batch = np.asarray(run(programs, SPACE, inputs, pad_to=len(PROGRAMS)))
    single = np.stack([np.asarray(interpret([p], SPACE, inputs))[0] for p in programs])
    np.testing.assert_allclose(batch, single, rtol=1e-5, equal_nan=True)


def test_encode_pads_nodes_and_batch():
    short, long = PROGRAMS[0], PROGRAMS[IDS.index("rational")]
    encoded = encode([short, long], SPACE, pad_to=5)
    assert encoded.op_ids.shape == (5, SPACE.max_nodes)
    assert encoded.args.shape == (5, SPACE.max_nodes, SPACE.max_arity)
    assert encoded.output.tolist() == [3, 9, 3, 3, 3]  # padded rows repeat the first program
    assert encoded.op_ids[0, 0] == SPACE.ops.index("add")
    assert encoded.args[1, 6].tolist() == [6, 8]


def _encode_reference(programs, space, pad_to=None, dead_nodes=True):
    """encode as first written: one numpy item assignment per node."""
    n, a = space.max_nodes, max(space.max_arity, 1)
    count = max(len(programs), pad_to or 0)
    op_ids, args, output = np.zeros((count, n), np.int32), np.zeros((count, n, a), np.int32), np.zeros(count, np.int32)
    for p in range(count):
        program = programs[p] if p < len(programs) else programs[0]
        if not dead_nodes:
            program = prune(program, space)
        for i, node in enumerate(program.nodes):
            op_ids[p, i] = space.ops.index(node.op)
            args[p, i, : len(node.args)] = node.args
        output[p] = space.n_fixed + len(program.nodes) - 1
    return op_ids, args, output


@pytest.mark.parametrize("space_name", ["float", "dqn"])
def test_encode_equals_item_by_item_encoding(mixed_ops, space_name):
    space = SPACE if space_name == "float" else dqn_space()
    rng = np.random.default_rng(11)
    programs = [random_program(space, rng) for _ in range(40)]
    for kwargs in ({}, {"pad_to": 64}, {"dead_nodes": False}, {"pad_to": 50, "dead_nodes": False}):
        got = encode(programs, space, **kwargs)
        for have, want in zip(got, _encode_reference(programs, space, **kwargs)):
            assert have.dtype == want.dtype and have.shape == want.shape
            np.testing.assert_array_equal(have, want)
    # Rows are kept on each program for its space: another space (more nodes) gets its own.
    wider = dataclasses.replace(space, max_nodes=space.max_nodes + 3)
    for have, want in zip(encode(programs, wider), _encode_reference(programs, wider)):
        np.testing.assert_array_equal(have, want)
    empty = encode([], space)
    assert [x.shape for x in empty] == [(0, space.max_nodes), (0, space.max_nodes, space.max_arity), (0,)]
    with pytest.raises(IndexError):
        encode([Program.from_nodes([("add", [0, 0])] * (space.max_nodes + 1))], space)


def test_interpreted_dqn_loss_equals_hand_written(mixed_ops):
    # The DQN-like space's inputs and constants, with fewer ops and nodes (faster to compile).
    # Slots: q_tm1=0, a_tm1=1, r_t=2, discount=3, q_t=4, 0.5=5, 1.0=6, first node=7.
    space = dataclasses.replace(dqn_space(), max_nodes=8, ops=(
        "add", "sub", "mul", "square", "distance", "testonly_select", "testonly_max_list", "testonly_argmax",
        "testonly_softmax", "testonly_dot"))
    td = Program.from_nodes([
        ("testonly_select", [0, 1]),  # 7: Q(s, a)
        ("testonly_max_list", [4]),  # 8: max_a' Q_target(s', a')
        ("mul", [3, 8]),  # 9
        ("add", [2, 9]),  # 10: the target
        ("distance", [7, 10]),  # 11: 0.5 (Q(s, a) - target)^2
    ])
    double = Program.from_nodes([
        ("testonly_argmax", [0]),  # 7: argmax_a Q(s, a)  (a stand-in for the online net at s')
        ("testonly_select", [4, 7]),  # 8
        ("mul", [3, 8]), ("add", [2, 9]), ("testonly_select", [0, 1]),  # 9, 10, 11
        ("sub", [11, 10]), ("square", [12]), ("mul", [5, 13]),  # 12, 13, 14
    ])
    for program in (td, double):
        validate(program, space)

    def hand_td(q_tm1, a_tm1, r_t, discount, q_t):
        q_a = jnp.take_along_axis(q_tm1, a_tm1.astype(jnp.int32)[:, None], axis=-1)[:, 0]
        return 0.5 * (q_a - (r_t + discount * q_t.max(-1))) ** 2

    def hand_double(q_tm1, a_tm1, r_t, discount, q_t):
        best = jnp.argmax(q_tm1, -1)
        target = r_t + discount * jnp.take_along_axis(q_t, best[:, None], axis=-1)[:, 0]
        q_a = jnp.take_along_axis(q_tm1, a_tm1.astype(jnp.int32)[:, None], axis=-1)[:, 0]
        return 0.5 * (q_a - target) ** 2

    rng = np.random.default_rng(0)
    n, actions = 16, 4
    inputs = {
        "q_tm1": rng.normal(size=(n, actions)).astype(np.float32),
        "a_tm1": rng.integers(0, actions, n).astype(np.float32),
        "r_t": rng.normal(size=n).astype(np.float32),
        "discount": np.full(n, 0.99, np.float32),
        "q_t": rng.normal(size=(n, actions)).astype(np.float32),
    }
    out = np.asarray(run([td, double], space, inputs))
    grads = interpreted_grads([td, double], space, inputs)
    names = [n for n, _ in space.inputs]
    for p, hand in enumerate((hand_td, hand_double)):
        args = [jnp.asarray(inputs[k]) for k in names]
        np.testing.assert_allclose(out[p], hand(*args), rtol=1e-5, atol=1e-6)
        want = jax.grad(lambda *a: jnp.sum(hand(*a)), argnums=(0, 2, 3, 4))(*args)
        for k, g in zip(("q_tm1", "r_t", "discount", "q_t"), want):
            np.testing.assert_allclose(grads[p][k], g, rtol=1e-5, atol=1e-6, err_msg=f"{p} {k}")
        assert np.all(np.asarray(grads[p]["a_tm1"]) == 0.0)


@contextlib.contextmanager
def compile_log():
    """Collects JAX's "Compiling ..." log lines while active."""
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if message.startswith("Compiling"):
                records.append(message)

    handler, logger = Collect(level=logging.DEBUG), logging.getLogger("jax")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        with jax.log_compiles():
            yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def test_new_programs_never_recompile(mixed_ops):
    # A space of its own (with the tracing counter op) so nothing compiled it before.
    space = SearchSpace(inputs=(("x", "float"), ("y", "float")),
                        ops=("add", "mul", "sin", "div", "testonly_trace_count"), constants=(0.5,), max_nodes=7)
    fn = batched_interpreter(space)
    assert batched_interpreter(SearchSpace(**space.to_dict())) is fn  # one function per space value
    rng = np.random.default_rng(0)
    inputs = float_inputs(seed=4, n=8)
    first = [random_program(space, rng) for _ in range(6)]
    fn(EncodedPrograms(*map(jnp.asarray, encode(first, space))), inputs)
    fingerprints([random_program(space, rng) for _ in range(4)], space, inputs, pad_to=6)  # its forward-only fn
    compiled, traced = fn._cache_size(), TRACE_COUNT["n"]
    assert compiled == 1 and traced >= 1
    with compile_log() as compiles:
        for _ in range(3):
            batch = [random_program(space, rng) for _ in range(6)]
            assert {len(p) for p in batch} != {len(p) for p in first} or batch != first
            out = fn(EncodedPrograms(*map(jnp.asarray, encode(batch, space))), inputs)
            assert out.shape == (6, 8)
        interpret([random_program(space, rng) for _ in range(6)], space, inputs)  # same shapes: no compile
        fingerprints([random_program(space, rng) for _ in range(4)], space, inputs, pad_to=6)
    assert fn._cache_size() == compiled
    assert TRACE_COUNT["n"] == traced
    assert not [c for c in compiles if "jit(run)" in c], compiles
    # A new batch size is a new shape and does compile: the counters above can see compiles.
    with compile_log() as compiles:
        fn(EncodedPrograms(*map(jnp.asarray, encode(first[:3], space))), inputs)
    assert fn._cache_size() == compiled + 1
    assert TRACE_COUNT["n"] > traced
    assert [c for c in compiles if "jit(run)" in c]


def test_non_finite_inputs_and_overflow_never_raise():
    programs = [
        Program.from_nodes([("add", [0, 1])]),
        Program.from_nodes([("exp", [0]), ("exp", [3]), ("exp", [4])]),
        Program.from_nodes([("cube", [0]), ("cube", [3]), ("cube", [4]), ("mul", [5, 5])]),
        Program.from_nodes([("sub", [0, 0]), ("div", [3, 3]), ("log", [4]), ("inv", [5])]),
    ]
    inputs = float_inputs(seed=5)  # the table's shapes: nothing new to compile
    inputs["x"][:5] = [np.nan, np.inf, -np.inf, 1e30, 0.0]
    inputs["y"][:5] = [1.0, 2.0, np.inf, -1e30, 0.0]
    out = np.asarray(run(programs, SPACE, inputs, pad_to=len(PROGRAMS)))
    assert out.shape == (4, 32)
    assert np.isnan(out[0, 0]) and out[0, 1] == np.inf and np.isnan(out[0, 2]) and out[0, 4] == 0.0
    assert np.all(np.isfinite(out[0, 5:]))
    assert np.isinf(out[2, 3])  # (1e30^27)^2 overflows to inf: a value, not an exception
    for g in interpreted_grads(programs, SPACE, inputs):
        assert g["x"].shape == (32,)
    # Fingerprints of non-finite outputs hash too, and differ from finite ones.
    prints = fingerprints(programs, SPACE, inputs, pad_to=len(PROGRAMS))
    assert len(prints) == 4 and len(set(prints)) == 4


def test_unselected_ops_never_poison_gradients():
    # cube is op 0: padding nodes and the unselected cube see x = 1e20, where
    # cube and its derivative overflow. The gradient of x + y must still be 1.
    space = SearchSpace(inputs=(("x", "float"), ("y", "float")), ops=("cube", "add", "exp", "square", "div", "log"),
                        max_nodes=4)
    program = Program.from_nodes([("add", [0, 1])])
    inputs = {"x": np.array([1e20, 2.0, -1e25], np.float32), "y": np.array([1.0, 3.0, 1e-30], np.float32)}
    (g,) = interpreted_grads([program], space, inputs)
    np.testing.assert_array_equal(g["x"], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(g["y"], [1.0, 1.0, 1.0])
    # A large but finite intermediate: log|exp(x)| has gradient 1 where exp is not clipped.
    program = Program.from_nodes([("exp", [0]), ("log", [2])])
    (g,) = interpreted_grads([program], space, {"x": np.array([45.0, -3.0, 0.5], np.float32),
                                                 "y": np.ones(3, np.float32)})
    np.testing.assert_allclose(g["x"], [1.0, 1.0, 1.0], rtol=1e-5)


def test_missing_input_is_named():
    with pytest.raises(KeyError, match="missing program inputs"):
        interpret(PROGRAMS[:1], SPACE, {"x": np.ones(3, np.float32)})
