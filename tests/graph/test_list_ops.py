"""The typed ops of Evolving RL's loss language: LIST, PROB and ACTION values."""

from __future__ import annotations

import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy

from discolab.graph import EncodedPrograms, Program, SearchSpace, ValueType, batched_interpreter, encode
from discolab.graph import ops as ops_lib
from discolab.graph import to_infix, to_source, to_sympy

F, L, P, A = ValueType.FLOAT, ValueType.LIST, ValueType.PROB, ValueType.ACTION
SIGNATURES = {
    "list_add": ((L, L), L), "list_sub": ((L, L), L), "list_max": ((L, L), L), "list_min": ((L, L), L),
    "list_add_float": ((L, F), L), "list_sub_float": ((L, F), L), "list_mul_float": ((L, F), L),
    "list_max_float": ((L, F), L),
    "max_a": ((L,), F), "sum_a": ((L,), F), "mean_a": ((L,), F), "std_a": ((L,), F), "logsumexp_a": ((L,), F),
    "argmax_a": ((L,), A), "select": ((L, A), F), "softmax": ((L,), P), "kl": ((P, P), F), "entropy": ((P,), F),
    "batch_mean": ((F,), F), "batch_std": ((F,), F),
}
B, N_ACTIONS = 6, 4


def _value(t: ValueType, rng: np.random.Generator, scale: float = 100.0) -> jnp.ndarray:
    if t == F:
        return jnp.asarray(rng.uniform(-scale, scale, B), jnp.float32)
    if t == L:
        return jnp.asarray(rng.uniform(-scale, scale, (B, N_ACTIONS)), jnp.float32)
    if t == P:
        return jax.nn.softmax(jnp.asarray(rng.normal(size=(B, N_ACTIONS)), jnp.float32))
    return jnp.asarray(rng.integers(0, N_ACTIONS, B), jnp.float32)


def _neutral(t: ValueType) -> jnp.ndarray:
    """What the interpreter feeds the ops a node does not name: all ones (action 0)."""
    shape = (B,) if t in (F, A) else (B, N_ACTIONS)
    return jnp.zeros(shape) if t == A else jnp.ones(shape)


def test_signatures_are_registered():
    for name, (ins, out) in SIGNATURES.items():
        op = ops_lib.get(name)
        assert (op.in_types, op.out_type) == (ins, out), name
    # The FLOAT ops keep their FLOAT signatures (x * 0.1 is the existing scale_0.1).
    assert ops_lib.get("scale_0.1").in_types == (F,)


@pytest.mark.parametrize("name", sorted(SIGNATURES))
@pytest.mark.parametrize("inputs", ["random", "neutral", "equal"])
def test_values_and_gradients_are_finite(name, inputs):
    """Finite values and gradients on random inputs in +-100, on the neutral ones, and on ties."""
    op = ops_lib.get(name)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    if inputs == "random":
        args = [_value(t, rng) for t in op.in_types]
    elif inputs == "neutral":
        args = [_neutral(t) for t in op.in_types]
    else:  # every entry equal: zero variance, ties everywhere
        args = [jnp.full_like(_neutral(t), 0.0 if t == A else 3.0) for t in op.in_types]
    out = op.fn(*args)
    want_shape = (B,) if op.out_type in (F, A) else (B, N_ACTIONS)
    assert out.shape == want_shape
    assert bool(jnp.all(jnp.isfinite(out)))
    floats = [k for k, t in enumerate(op.in_types) if t != A]
    if not floats or op.out_type == A:
        return
    grads = jax.grad(lambda *a: jnp.sum(op.fn(*a)), argnums=tuple(floats))(*args)
    for g in grads:
        assert bool(jnp.all(jnp.isfinite(g))), name


def test_semantics():
    q = jnp.array([[1.0, 5.0, -2.0], [0.0, -1.0, 4.0]])
    x = jnp.array([10.0, -3.0])
    a = jnp.array([1.0, 2.0])
    get = lambda n: ops_lib.get(n).fn  # noqa: E731
    np.testing.assert_allclose(get("select")(q, a), [5.0, 4.0])
    np.testing.assert_allclose(get("select")(q, jnp.array([7.0, -1.0])), [-2.0, 0.0])  # clipped to a valid index
    np.testing.assert_array_equal(get("argmax_a")(q), [1.0, 2.0])
    np.testing.assert_allclose(get("max_a")(q), [5.0, 4.0])
    np.testing.assert_allclose(get("sum_a")(q), [4.0, 3.0])
    np.testing.assert_allclose(get("mean_a")(q), [4 / 3, 1.0])
    np.testing.assert_allclose(get("std_a")(q), np.std(np.asarray(q), axis=-1), rtol=1e-5)
    np.testing.assert_allclose(get("logsumexp_a")(q), np.log(np.exp(np.asarray(q)).sum(-1)), rtol=1e-5)
    np.testing.assert_allclose(get("list_add_float")(q, x), np.asarray(q) + np.asarray(x)[:, None])
    np.testing.assert_allclose(get("list_sub_float")(q, x), np.asarray(q) - np.asarray(x)[:, None])
    np.testing.assert_allclose(get("list_mul_float")(q, x), np.asarray(q) * np.asarray(x)[:, None])
    np.testing.assert_allclose(get("list_max_float")(q, x), np.maximum(np.asarray(q), np.asarray(x)[:, None]))
    p = get("softmax")(q)
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(get("kl")(p, p), 0.0, atol=1e-6)
    assert bool(jnp.all(get("kl")(p, get("softmax")(-q)) > 0))
    uniform = jnp.full((2, 4), 0.25)
    np.testing.assert_allclose(get("entropy")(uniform), np.log(4.0), rtol=1e-5)
    np.testing.assert_allclose(get("batch_mean")(x), [3.5, 3.5])
    np.testing.assert_allclose(get("batch_std")(x), [6.5, 6.5], rtol=1e-5)


@pytest.mark.parametrize("name", [n for n in SIGNATURES if ops_lib.get(n).arity == 2])
def test_commutative_flag_matches_the_function(name):
    op = ops_lib.get(name)
    if op.in_types[0] != op.in_types[1]:
        assert not op.commutative
        return
    rng = np.random.default_rng(0)
    x, y = _value(op.in_types[0], rng), _value(op.in_types[1], rng)
    assert bool(jnp.allclose(op.fn(x, y), op.fn(y, x))) == op.commutative


def test_source_prelude_helpers_match_the_ops():
    namespace: dict = {}
    exec(ops_lib.SOURCE_PRELUDE, namespace)  # the generated-source prelude; only tests run it
    rng = np.random.default_rng(1)
    q, x, p = _value(L, rng), _value(F, rng), _value(P, rng)
    a = _value(A, rng)
    np.testing.assert_array_equal(namespace["select"](q, a.astype(jnp.int32)), ops_lib.get("select").fn(q, a))
    np.testing.assert_array_equal(namespace["safe_std"](q, -1), ops_lib.get("std_a").fn(q))
    np.testing.assert_array_equal(namespace["kl"](p, p[::-1]), ops_lib.get("kl").fn(p, p[::-1]))
    np.testing.assert_array_equal(namespace["entropy"](p), ops_lib.get("entropy").fn(p))
    np.testing.assert_array_equal(namespace["batch_mean"](x), ops_lib.get("batch_mean").fn(x))
    np.testing.assert_array_equal(namespace["batch_std"](x), ops_lib.get("batch_std").fn(x))
    np.testing.assert_array_equal(q + namespace["per_action"](x), ops_lib.get("list_add_float").fn(q, x))


SPACE = SearchSpace(
    inputs=(("q", L), ("q2", L), ("a", A), ("r", F)),
    ops=("add", "mul", "distance", "select", "max_a", "argmax_a", "list_sub_float", "softmax", "entropy", "kl",
         "std_a", "batch_mean", "list_max"),
    constants=(0.5,),
    max_nodes=8,
    required_inputs=("q",),
)
# slots: q=0, q2=1, a=2, r=3, 0.5=4, first node=5
MIXED = Program.from_nodes([
    ("list_sub_float", [0, 3]),  # 5: q - r
    ("softmax", [5]),  # 6
    ("softmax", [1]),  # 7
    ("kl", [6, 7]),  # 8
    ("select", [1, 2]),  # 9: dead code, not rendered
    ("argmax_a", [5]),  # 10
    ("select", [0, 10]),  # 11: q[argmax(q - r)]
    ("add", [8, 11]),  # 12
])


def _inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "q": rng.normal(size=(B, N_ACTIONS)).astype(np.float32),
        "q2": rng.normal(size=(B, N_ACTIONS)).astype(np.float32),
        "a": rng.integers(0, N_ACTIONS, B).astype(np.int32),  # the interpreter casts the action to float
        "r": rng.normal(size=B).astype(np.float32),
    }


def _by_hand(x: dict) -> np.ndarray:
    q, q2, r = (np.asarray(x[k], np.float64) for k in ("q", "q2", "r"))
    z = q - r[:, None]
    p1 = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    p2 = np.exp(q2) / np.exp(q2).sum(-1, keepdims=True)
    kl = np.sum(p1 * (np.log(p1 + 1e-8) - np.log(p2 + 1e-8)), -1)
    return kl + q[np.arange(B), z.argmax(-1)]


def test_mixed_program_interprets_renders_and_exports():
    rng = np.random.default_rng(2)
    x = _inputs(rng)
    out = np.asarray(batched_interpreter(SPACE)(EncodedPrograms(*encode([MIXED], SPACE)), x))[0]
    np.testing.assert_allclose(out, _by_hand(x), rtol=1e-4, atol=1e-5)
    namespace: dict = {}
    exec(to_source(MIXED, SPACE), namespace)  # only the test runs generated source
    np.testing.assert_allclose(namespace["program"](*(x[n] for n, _ in SPACE.inputs)), out, rtol=1e-5, atol=1e-5)
    assert to_infix(MIXED, SPACE) == "KL(softmax((q - r)) || softmax(q2)) + q[argmax_a((q - r))]"
    expr = to_sympy(MIXED, SPACE)
    assert expr is not None and {s.name for s in expr.free_symbols} == {"q", "q2", "r"}
    # Opaque functions keep simplification sound: the expression minus itself is zero, nothing more.
    assert sympy.simplify(expr - to_sympy(MIXED, SPACE)) == 0


def test_gradient_flows_through_select_not_through_the_action():
    """d/dq of q[argmax(q)] is one-hot: select is differentiable in q, argmax is not."""
    program = Program.from_nodes([("argmax_a", [0]), ("select", [0, 5])])
    x = _inputs(np.random.default_rng(3))
    encoded = EncodedPrograms(*map(jnp.asarray, encode([program], SPACE)))

    def loss(q: jax.Array) -> jax.Array:
        return jnp.sum(batched_interpreter(SPACE)(encoded, {**x, "q": q}))

    grad = np.asarray(jax.grad(loss)(jnp.asarray(x["q"])))
    np.testing.assert_array_equal(grad, np.eye(N_ACTIONS)[np.asarray(x["q"]).argmax(-1)])
