"""The op registry and the protected semantics of the built-in ops."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from discolab.graph import ValueType
from discolab.graph import ops as ops_lib

F = ValueType.FLOAT
BUILTIN = ("abs", "add", "cos", "cube", "distance", "div", "exp", "inv", "log", "max", "min", "mul", "neg",
           "scale_0.1", "sin", "sqrt", "square", "sub", "tanh")
# Finite inputs around the guards: zero, tiny, ordinary and large values of both signs.
GRID = np.array([-1e3, -2.5, -1.0, -1e-12, 0.0, 1e-12, 0.7, 1.0, 3.0, 60.0, 1e3], np.float32)


def test_builtins_are_registered_and_known_is_sorted():
    known = ops_lib.known()
    assert set(BUILTIN) <= set(known)
    assert list(known) == sorted(known)
    for name in BUILTIN:
        op = ops_lib.get(name)
        assert op.name == name
        assert op.out_type == F and all(t == F for t in op.in_types)


def test_duplicate_registration_is_rejected():
    clone = ops_lib.Op("add", (F, F), F, jnp.add, "({0} + {1})", "{0} + {1}")
    with pytest.raises(ValueError, match="'add' is already registered"):
        ops_lib.register(clone)
    assert ops_lib.get("add") is not clone  # the original is untouched


def test_register_then_get_returns_the_op():
    op = ops_lib.Op("testonly_registry_roundtrip", (F,), F, jnp.negative, "(-{0})", "-{0}")
    try:
        assert ops_lib.register(op) is op
        assert ops_lib.get(op.name) is op
        assert op.name in ops_lib.known()
    finally:
        ops_lib._OPS.pop(op.name, None)
    assert op.name not in ops_lib.known()


def test_get_unknown_op_lists_the_known_ones():
    with pytest.raises(KeyError) as info:
        ops_lib.get("frobnicate")
    message = str(info.value)
    assert "unknown op 'frobnicate'" in message
    for name in ("add", "sub", "tanh"):
        assert name in message


def test_arity_and_producing():
    assert ops_lib.get("add").arity == 2
    assert ops_lib.get("neg").arity == 1
    defs = [ops_lib.get(n) for n in ("add", "neg", "sin")]
    assert ops_lib.producing(defs, F) == defs
    assert ops_lib.producing(defs, ValueType.LIST) == []


@pytest.mark.parametrize("name", [n for n in BUILTIN if ops_lib.get(n).arity == 2])
def test_commutative_flag_matches_the_function(name):
    op = ops_lib.get(name)
    a = jnp.array([1.5, -2.0, 3.0, 0.25])
    b = jnp.array([-0.5, 4.0, 3.0, 2.0])
    symmetric = bool(jnp.allclose(op.fn(a, b), op.fn(b, a)))
    assert symmetric == op.commutative, name


def test_protected_semantics():
    x = jnp.array([3.0, -3.0, 0.0])
    zero = jnp.zeros(3)
    div = ops_lib.get("div").fn
    # x / (y + eps) keeps the sign of y; zero counts as positive.
    np.testing.assert_allclose(div(x, zero), x / ops_lib.DIV_EPS, rtol=1e-6)
    np.testing.assert_allclose(div(jnp.ones(3), jnp.full(3, -2.0)), -0.5, rtol=1e-6)
    np.testing.assert_allclose(ops_lib.get("inv").fn(jnp.array([4.0, -0.5])), [0.25, -2.0], rtol=1e-6)
    log = ops_lib.get("log").fn
    np.testing.assert_allclose(log(jnp.array([-np.e, np.e])), [1.0, 1.0], rtol=1e-6)
    assert float(log(jnp.array(0.0))) == pytest.approx(np.log(ops_lib.LOG_EPS), rel=1e-6)
    exp = ops_lib.get("exp").fn
    assert float(exp(jnp.array(1e4))) == pytest.approx(np.exp(ops_lib.EXP_CLIP), rel=1e-5)
    assert float(exp(jnp.array(-1e4))) == pytest.approx(np.exp(-ops_lib.EXP_CLIP), rel=1e-5)
    sqrt = ops_lib.get("sqrt").fn
    assert float(sqrt(jnp.array(0.0))) == 0.0
    np.testing.assert_allclose(sqrt(jnp.array([4.0, -9.0])), [2.0, 3.0], atol=1e-5)


@pytest.mark.parametrize("name", BUILTIN)
def test_values_and_gradients_are_finite_on_finite_inputs(name):
    op = ops_lib.get(name)
    xs = jnp.asarray(GRID)
    if op.arity == 1:
        args = (xs,)
    else:  # every pair of grid values
        args = tuple(jnp.asarray(a.ravel()) for a in np.meshgrid(GRID, GRID / 100.0))
    values = op.fn(*args)
    assert bool(jnp.all(jnp.isfinite(values))), name
    grads = jax.grad(lambda *a: jnp.sum(op.fn(*a)), argnums=tuple(range(op.arity)))(*args)
    for g in grads:
        assert bool(jnp.all(jnp.isfinite(g))), name


def test_source_prelude_helpers_match_the_ops():
    namespace: dict = {}
    exec(ops_lib.SOURCE_PRELUDE, namespace)  # the generated-source prelude; only tests run it
    x = jnp.asarray(GRID)
    y = jnp.asarray(GRID[::-1] / 10.0)
    np.testing.assert_array_equal(namespace["safe_div"](x, y), ops_lib.get("div").fn(x, y))
    np.testing.assert_array_equal(namespace["safe_log"](x), ops_lib.get("log").fn(x))
    np.testing.assert_array_equal(namespace["safe_exp"](x), ops_lib.get("exp").fn(x))
    np.testing.assert_array_equal(namespace["safe_sqrt"](x), ops_lib.get("sqrt").fn(x))
