"""Spaces and test-only ops shared by the graph tests (fixtures live in conftest.py).

The mixed-type ops below mimic the DQN-loss language of Evolving RL (select the
Q-value of the taken action, max over actions, argmax, softmax, ...). They are
registered under ``testonly_*`` names for the duration of each test module and
removed afterwards, so tests elsewhere never see them in ``ops.known()``.
"""

from __future__ import annotations

import jax.numpy as jnp

from discolab.graph import SearchSpace, ValueType
from discolab.graph import ops as ops_lib

F, L, P, A = ValueType.FLOAT, ValueType.LIST, ValueType.PROB, ValueType.ACTION

#: How often the body of ``testonly_trace_count`` ran: it runs when JAX traces, not per call.
TRACE_COUNT = {"n": 0}


def _select(q: jnp.ndarray, a: jnp.ndarray) -> jnp.ndarray:
    index = jnp.clip(a.astype(jnp.int32), 0, q.shape[-1] - 1)
    return jnp.take_along_axis(q, index[..., None], axis=-1)[..., 0]


def _softmax(q: jnp.ndarray) -> jnp.ndarray:
    z = q - jnp.max(q, axis=-1, keepdims=True)
    return jnp.exp(z) / jnp.sum(jnp.exp(z), axis=-1, keepdims=True)


def _trace_count(x: jnp.ndarray) -> jnp.ndarray:
    TRACE_COUNT["n"] += 1
    return x


TEST_OPS = (
    ops_lib.Op("testonly_select", (L, A), F, _select, "{0}[{1}]", "select({0}, {1})"),
    ops_lib.Op("testonly_max_list", (L,), F, lambda q: jnp.max(q, axis=-1), "max_a({0})", "{0}.max(-1)"),
    ops_lib.Op("testonly_argmax", (L,), A, lambda q: jnp.argmax(q, axis=-1).astype(jnp.float32),
               "argmax({0})", "{0}.argmax(-1)"),
    ops_lib.Op("testonly_softmax", (L,), P, _softmax, "softmax({0})", "softmax({0})"),
    ops_lib.Op("testonly_log_prob", (P,), L, lambda p: jnp.log(p + 1e-12), "log({0})", "jnp.log({0} + 1e-12)"),
    ops_lib.Op("testonly_dot", (P, L), F, lambda p, q: jnp.sum(p * q, axis=-1), "<{0}, {1}>",
               "({0} * {1}).sum(-1)"),
    ops_lib.Op("testonly_list_add", (L, L), L, jnp.add, "({0} + {1})", "{0} + {1}", None, True),
    ops_lib.Op("testonly_scale_list", (F, L), L, lambda x, q: x[..., None] * q, "({0} * {1})",
               "{0}[..., None] * {1}"),
    # A FLOAT op with no algebraic form: the program then has no sympy rendering.
    ops_lib.Op("testonly_nosym", (F,), F, lambda x: jnp.sinh(jnp.clip(x, -20.0, 20.0)), "nosym({0})",
               "jnp.sinh(jnp.clip({0}, -20.0, 20.0))", None),
    ops_lib.Op("testonly_trace_count", (F,), F, _trace_count, "id({0})", "{0}"),
)

FLOAT_OPS = ("add", "sub", "mul", "div", "max", "min", "distance", "neg", "abs", "square", "cube", "sin", "cos",
             "tanh", "exp", "log", "sqrt", "inv", "scale_0.1")


def regression_space(max_nodes: int = 12) -> SearchSpace:
    """FLOAT-only, with constants, and the output must read x0 (a regression formula)."""
    return SearchSpace(
        inputs=(("x0", F), ("x1", F)),
        ops=FLOAT_OPS,
        constants=(1.0, 2.0, -0.5),
        max_nodes=max_nodes,
        required_inputs=("x0",),
    )


def dqn_space(max_nodes: int = 15) -> SearchSpace:
    """Mixed types like Evolving RL's DQN loss; the loss must read Q(s_t, .), a LIST."""
    return SearchSpace(
        inputs=(("q_tm1", L), ("a_tm1", A), ("r_t", F), ("discount", F), ("q_t", L)),
        ops=("add", "sub", "mul", "div", "max", "neg", "square", "log", "exp", "distance", "testonly_select",
             "testonly_max_list", "testonly_argmax", "testonly_softmax", "testonly_dot", "testonly_list_add",
             "testonly_scale_list"),
        constants=(0.5, 1.0),
        max_nodes=max_nodes,
        required_inputs=("q_tm1",),
    )


def prob_chain_space(max_nodes: int = 6) -> SearchSpace:
    """The required input (a PROB) reaches the FLOAT output only through two ops."""
    return SearchSpace(
        inputs=(("x", F), ("pi", P)),
        ops=("add", "mul", "testonly_log_prob", "testonly_max_list"),
        max_nodes=max_nodes,
        required_inputs=("pi",),
    )


def tiny_space() -> SearchSpace:
    """One input, one unary op, one node: nothing can mutate."""
    return SearchSpace(inputs=(("x", F),), ops=("neg",), max_nodes=1)
