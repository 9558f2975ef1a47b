"""Renderings: infix text, Python/JAX source and sympy agree with the interpreter."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from graphtest_support import regression_space
from hypothesis import given, settings
from hypothesis import strategies as st

from discolab.graph import EncodedPrograms, Program, SearchSpace, batched_interpreter, encode, random_program
from discolab.graph import to_infix, to_source, to_sympy

SPACE = regression_space()  # slots: x0=0, x1=1, constants 1.0=2, 2.0=3, -0.5=4, first node=5
# Ops whose sympy form equals the protected op away from the guards, for random programs.
SMOOTH = SearchSpace(
    inputs=(("x0", "float"), ("x1", "float")),
    ops=("add", "sub", "mul", "max", "min", "distance", "neg", "abs", "square", "sin", "cos", "tanh", "scale_0.1"),
    constants=(1.0, -0.5),
    max_nodes=6,
)
N = 16
PAD = 8


def inputs_for(space: SearchSpace, seed: int, low: float = -2.0, high: float = 2.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(low, high, N).astype(np.float32) for name, _ in space.inputs}


def interpret_padded(programs, space, inputs) -> np.ndarray:
    encoded = encode(programs, space, pad_to=PAD)  # one batch size: one compile per space
    return np.asarray(batched_interpreter(space)(EncodedPrograms(*encoded), inputs))[: len(programs)]


def run_source(program: Program, space: SearchSpace, inputs: dict) -> np.ndarray:
    namespace: dict = {}
    exec(to_source(program, space), namespace)  # only the test runs generated source
    out = namespace["program"](*(inputs[name] for name, _ in space.inputs))
    return np.broadcast_to(np.asarray(out), (N,))


def run_sympy(expr, space: SearchSpace, inputs: dict) -> np.ndarray:
    symbols = [sympy.Symbol(name, real=True) for name, _ in space.inputs]
    fn = sympy.lambdify(symbols, expr, "numpy")
    args = [inputs[name].astype(np.float64) for name, _ in space.inputs]
    return np.broadcast_to(np.asarray(fn(*args), np.float64), (N,))


@pytest.mark.parametrize(
    ("nodes", "text"),
    [
        ([("add", [0, 3]), ("mul", [5, 1])], "(x0 + 2) * x1"),
        ([("sub", [0, 4])], "x0 - -0.5"),
        ([("neg", [0])], "-x0"),
        ([("square", [0]), ("sin", [5])], "sin(x0^2)"),
        ([("add", [0, 1]), ("square", [5])], "(x0 + x1)^2"),
        ([("log", [0]), ("sqrt", [1]), ("div", [5, 6])], "log|x0| / sqrt|x1|"),
        ([("cos", [1]), ("distance", [0, 2])], "0.5*(x0 - 1)^2"),  # the dead cos is not rendered
        ([("sub", [0, 1]), ("add", [0, 1]), ("mul", [5, 6])], "(x0 - x1) * (x0 + x1)"),
        ([("max", [0, 1]), ("inv", [5])], "1 / max(x0, x1)"),
    ],
)
def test_to_infix_of_known_programs(nodes, text):
    assert to_infix(Program.from_nodes(nodes), SPACE) == text


def test_to_source_is_readable_and_skips_dead_nodes():
    program = Program.from_nodes([("add", [0, 3]), ("sin", [1]), ("mul", [5, 4])])
    body = to_source(program, SPACE, name="f", prelude=False)
    assert body == "def f(x0, x1):\n    v0 = x0 + 2.0\n    v2 = v0 * (-0.5)\n    return v2\n"
    full = to_source(program, SPACE)
    assert full.startswith("import jax.numpy as jnp") and "def safe_div" in full and "def program(x0, x1):" in full
    assert "jnp.sin" not in full


TABLE = [
    [("add", [0, 3]), ("mul", [5, 1])],
    [("div", [0, 1]), ("log", [5]), ("exp", [6])],
    [("sqrt", [0]), ("inv", [1]), ("sub", [5, 6]), ("cube", [7])],
    [("distance", [0, 1]), ("tanh", [5]), ("scale_0.1", [6]), ("max", [7, 4])],
    [("neg", [0]), ("abs", [5]), ("min", [6, 1]), ("cos", [7]), ("square", [8])],
    [("sub", [0, 0]), ("div", [1, 5])],  # protected division by zero
    [("mul", [0, 0]), ("mul", [5, 5]), ("mul", [6, 6]), ("exp", [7])],  # exp clipped at EXP_CLIP
]


def test_to_source_matches_the_interpreter_including_guards():
    programs = [Program.from_nodes(nodes) for nodes in TABLE]
    inputs = inputs_for(SPACE, seed=0, low=-3.0, high=3.0)
    out = interpret_padded(programs, SPACE, inputs)
    for p, program in enumerate(programs):
        np.testing.assert_allclose(run_source(program, SPACE, inputs), out[p], rtol=1e-5, atol=1e-6,
                                   err_msg=to_infix(program, SPACE))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_to_source_matches_the_interpreter_on_random_programs(seed):
    rng = np.random.default_rng(seed)
    programs = [random_program(SPACE, rng) for _ in range(PAD)]
    inputs = inputs_for(SPACE, seed)
    out = interpret_padded(programs, SPACE, inputs)
    for p, program in enumerate(programs):
        np.testing.assert_allclose(run_source(program, SPACE, inputs), out[p], rtol=1e-4, atol=1e-5,
                                   equal_nan=True, err_msg=to_infix(program, SPACE))


def test_to_sympy_matches_the_interpreter_where_guards_are_inactive():
    programs = [Program.from_nodes(nodes) for nodes in TABLE[:5]]
    # |x| in [0.5, 2]: no division by a tiny number, exp far below its clip.
    inputs = inputs_for(SPACE, seed=1, low=0.5, high=2.0)
    inputs["x1"] = -inputs["x1"]
    out = interpret_padded(programs, SPACE, inputs)
    for p, program in enumerate(programs):
        expr = to_sympy(program, SPACE)
        assert expr is not None
        np.testing.assert_allclose(run_sympy(expr, SPACE, inputs), out[p], rtol=1e-4, atol=1e-5,
                                   err_msg=str(expr))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_to_sympy_matches_the_interpreter_on_random_smooth_programs(seed):
    rng = np.random.default_rng(seed)
    programs = [random_program(SMOOTH, rng) for _ in range(PAD)]
    inputs = inputs_for(SMOOTH, seed)
    out = interpret_padded(programs, SMOOTH, inputs)
    for p, program in enumerate(programs):
        expr = to_sympy(program, SMOOTH)
        np.testing.assert_allclose(run_sympy(expr, SMOOTH, inputs), out[p], rtol=1e-3, atol=1e-3,
                                   err_msg=str(expr))


def test_to_sympy_is_algebra():
    x0, x1 = sympy.symbols("x0 x1", real=True)
    assert to_sympy(Program.from_nodes([("add", [0, 0])]), SPACE) == 2 * x0
    assert to_sympy(Program.from_nodes([("mul", [0, 4])]), SPACE) == -x0 / 2  # constants become rationals
    expr = to_sympy(Program.from_nodes([("add", [0, 1]), ("sub", [0, 1]), ("mul", [5, 6])]), SPACE)
    assert sympy.expand(expr - (x0**2 - x1**2)) == 0


def test_to_sympy_is_none_for_an_op_without_algebraic_form(mixed_ops):
    space = SearchSpace(inputs=(("x", "float"),), ops=("add", "testonly_nosym"), max_nodes=4)
    live = Program.from_nodes([("testonly_nosym", [0]), ("add", [1, 0])])
    assert to_sympy(live, space) is None
    dead = Program.from_nodes([("testonly_nosym", [0]), ("add", [0, 0])])
    assert to_sympy(dead, space) == 2 * sympy.Symbol("x", real=True)  # a dead node does not matter
    assert to_infix(live, space) == "nosym(x) + x"
