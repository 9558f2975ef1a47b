"""The VJP interpreter (the default) equals the naive one; its batch plan and dead-node encoding change nothing."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from graphtest_support import FLOAT_OPS

from discolab.graph import EncodedPrograms, Program, SearchSpace, batched_interpreter, encode, prune, random_program
from discolab.graph.interpret import interpret_one, interpret_one_naive, plan_batch

FLOATS = SearchSpace(inputs=(("x", "float"), ("y", "float")), ops=FLOAT_OPS, constants=(2.0, 0.5), max_nodes=10)


def dqn_space() -> SearchSpace:
    from discolab.domains.dqn_loss import make_space

    return make_space(max_nodes=12)


def float_inputs(seed: int, n: int = 16) -> dict[str, jax.Array]:
    rng = np.random.default_rng(seed)
    return {k: jnp.asarray(rng.choice([-1.0, 1.0], n) * rng.uniform(0.2, 2.0, n), jnp.float32) for k in ("x", "y")}


def dqn_inputs(seed: int, batch: int = 16, actions: int = 3) -> dict[str, jax.Array]:
    rng = np.random.default_rng(seed)
    q = lambda: jnp.asarray(rng.normal(size=(batch, actions)) * 2, jnp.float32)  # noqa: E731
    return {
        "q_tm1": q(), "q_t_target": q(), "q_t_online": q(), "q_tm1_target": q(),
        "a_tm1": jnp.asarray(rng.integers(0, actions, batch), jnp.int32),
        "r_t": jnp.asarray(rng.normal(size=batch), jnp.float32),
        "discount_t": jnp.asarray(0.99 * (rng.random(batch) > 0.2), jnp.float32),
    }


@functools.lru_cache(maxsize=None)
def values_and_grads(space: SearchSpace, naive: bool, plan: bool, unroll: bool = False):
    """jit((encoded, inputs) -> (outputs [P, ...], d sum(outputs) / d float inputs)), per interpreter."""

    def outputs(encoded, inputs):
        if naive:
            one = functools.partial(interpret_one_naive, space)
        else:
            one = functools.partial(interpret_one, space, plan=plan_batch(encoded, space) if plan else None,
                                    unroll=unroll)
        return jax.vmap(one, in_axes=(0, 0, 0, None))(*encoded, inputs)

    def run(encoded, inputs):
        floats = {k: v for k, v in inputs.items() if jnp.issubdtype(v.dtype, jnp.floating)}
        rest = {k: v for k, v in inputs.items() if k not in floats}
        total = lambda f: jnp.sum(outputs(encoded, {**f, **rest}))  # noqa: E731
        return outputs(encoded, inputs), jax.grad(total)(floats)

    return jax.jit(run)


def compare(space: SearchSpace, programs: list[Program], inputs: dict, plan: bool = True, unroll: bool = False) -> None:
    encoded = EncodedPrograms(*map(jnp.asarray, encode(programs, space)))
    want_v, want_g = values_and_grads(space, True, False)(encoded, inputs)
    got_v, got_g = values_and_grads(space, False, plan, unroll)(encoded, inputs)
    np.testing.assert_allclose(got_v, want_v, rtol=1e-5, atol=1e-5, equal_nan=True)
    for k in want_g:
        want, got = np.asarray(want_g[k]), np.asarray(got_g[k])
        finite = np.isfinite(want)
        # The naive interpreter differentiates dead nodes too: an infinite local derivative there
        # times a zero cotangent is NaN. The VJP interpreter skips them, so where the reference is
        # finite both agree, and the VJP interpreter is never less finite.
        assert np.isfinite(got[finite]).all(), k
        np.testing.assert_allclose(got[finite], want[finite], rtol=1e-4, atol=1e-4, err_msg=k)


@pytest.mark.parametrize("seed", [0, 1])
def test_vjp_equals_naive_on_random_float_programs(seed):
    rng = np.random.default_rng(seed)
    programs = [random_program(FLOATS, rng) for _ in range(16)]
    compare(FLOATS, programs, float_inputs(seed))


@pytest.mark.parametrize("seed", [0, 1])
def test_vjp_equals_naive_on_random_dqn_programs(seed):
    from discolab.domains.dqn_programs import bootstrap_program

    space = dqn_space()
    rng = np.random.default_rng(seed)
    programs = [random_program(space, rng) for _ in range(8)] + [bootstrap_program(space, rng) for _ in range(8)]
    compare(space, programs, dqn_inputs(seed))


def test_unrolled_equals_naive_on_random_programs_and_dqn():
    # The straight-line form (for GPUs: no loop or switch waits for the host) computes the same values and
    # gradients as the reference on the DQN space's typed programs (float ops among them). Its compile grows
    # with max_nodes x ops, so the space here is as long as DQN.
    from discolab.domains.dqn_loss import NAMED_PROGRAMS, make_space

    space = make_space(max_nodes=5)
    rng = np.random.default_rng(0)
    programs = [NAMED_PROGRAMS["dqn"]] + [random_program(space, rng) for _ in range(15)]
    compare(space, programs, dqn_inputs(0), plan=False, unroll=True)


def test_unroll_with_a_plan_is_refused():
    encoded = EncodedPrograms(*map(jnp.asarray, encode([Program.from_nodes([("add", [0, 1])])], FLOATS)))
    with pytest.raises(ValueError, match="unroll needs plan=None"):
        values_and_grads(FLOATS, False, True, True)(encoded, float_inputs(0))


def test_named_dqn_losses_with_and_without_plan():
    from discolab.domains.dqn_loss import make_space
    from discolab.domains.dqn_programs import named_programs

    space = make_space(max_nodes=12)
    programs = list(named_programs(space).values())
    compare(space, programs, dqn_inputs(5), plan=True)
    compare(space, programs, dqn_inputs(6), plan=False)


def test_plan_runs_the_longest_program_and_marks_named_ops():
    short = Program.from_nodes([("add", [0, 1])])
    long = Program.from_nodes([("mul", [0, 1]), ("sin", [4]), ("add", [5, 2])])
    encoded = encode([short, long], FLOATS, pad_to=4)
    plan = plan_batch(EncodedPrograms(*map(jnp.asarray, encoded)), FLOATS)
    assert int(plan.n_steps) == 3
    present = np.asarray(plan.present)
    assert present.shape == (FLOATS.max_nodes, len(FLOATS.ops))
    assert present[0, FLOATS.ops.index("add")] and present[0, FLOATS.ops.index("mul")]
    assert present[1, FLOATS.ops.index("sin")] and not present[1, FLOATS.ops.index("cos")]


def test_encoding_without_dead_nodes_keeps_values():
    rng = np.random.default_rng(3)
    programs = [random_program(FLOATS, rng) for _ in range(12)]
    inputs = float_inputs(3)
    fn = batched_interpreter(FLOATS)
    full = fn(EncodedPrograms(*map(jnp.asarray, encode(programs, FLOATS))), inputs)
    lean = encode(programs, FLOATS, dead_nodes=False)
    np.testing.assert_allclose(fn(EncodedPrograms(*map(jnp.asarray, lean)), inputs), full, rtol=1e-6, equal_nan=True)
    assert lean.output.tolist() == [FLOATS.n_fixed + len(prune(p, FLOATS)) - 1 for p in programs]


def test_dead_nodes_never_poison_gradients():
    # cube(x) is dead; at x = 1e20 its derivative overflows, and naive reverse mode turns
    # 0 * inf into NaN. The VJP interpreter gives d(x + y)/dx = 1.
    space = SearchSpace(inputs=(("x", "float"), ("y", "float")), ops=("cube", "add"), max_nodes=3)
    program = Program.from_nodes([("cube", [0]), ("add", [0, 1])])
    inputs = {"x": jnp.asarray([1e20, 2.0], jnp.float32), "y": jnp.asarray([1.0, 3.0], jnp.float32)}
    encoded = EncodedPrograms(*map(jnp.asarray, encode([program], space)))
    _, grads = values_and_grads(space, False, True)(encoded, inputs)
    np.testing.assert_array_equal(grads["x"][0:2], [1.0, 1.0])
    _, naive = values_and_grads(space, True, False)(encoded, inputs)
    assert np.isnan(naive["x"][0])  # the reference's weakness this design removes


def test_broadcast_inputs_get_summed_cotangents():
    # y is one number broadcast over the batch: its gradient sums over the samples.
    space = SearchSpace(inputs=(("x", "float"), ("y", "float")), ops=("mul", "add"), max_nodes=2)
    program = Program.from_nodes([("mul", [0, 1])])
    encoded = EncodedPrograms(*(jnp.asarray(a[0]) for a in encode([program], space)))
    x = jnp.asarray([1.0, 2.0, 3.0])
    grad = jax.grad(lambda y: jnp.sum(interpret_one(space, *encoded, {"x": x, "y": y})))(jnp.float32(2.0))
    assert grad.shape == () and float(grad) == pytest.approx(6.0)


def test_costly_ops_are_read_off_their_code():
    from discolab.graph.compile_jaxpr import is_costly

    assert not any(is_costly(n) for n in ("add", "mul", "max", "square", "list_add", "list_mul_float"))
    assert all(is_costly(n) for n in ("log", "exp", "max_a", "logsumexp_a", "softmax", "select", "batch_mean"))


@pytest.mark.parametrize("name", ["max_a", "sum_a", "mean_a", "std_a", "logsumexp_a", "argmax_a", "softmax", "kl",
                                  "entropy", "select", "list_add_float", "batch_std"])
def test_unrolled_reductions_keep_values_and_gradients(name):
    from discolab.graph import ops as ops_lib
    from discolab.graph.compile_jaxpr import unrolled
    from discolab.graph.types import ValueType

    op = ops_lib.get(name)
    rng = np.random.default_rng(0)
    make = {
        ValueType.FLOAT: lambda: rng.normal(size=8), ValueType.LIST: lambda: rng.normal(size=(8, 4)) * 3,
        ValueType.PROB: lambda: np.asarray(jax.nn.softmax(rng.normal(size=(8, 4)))),
        ValueType.ACTION: lambda: rng.integers(0, 4, 8).astype(np.float64),
    }
    args = tuple(jnp.asarray(make[t](), jnp.float32) for t in op.in_types)
    args[0].block_until_ready()
    fast = unrolled(op.fn)
    np.testing.assert_allclose(fast(*args), op.fn(*args), rtol=1e-6, atol=1e-6)
    ct = jnp.asarray(rng.normal(size=np.shape(op.fn(*args))), jnp.float32)
    want = jax.vjp(op.fn, *args)[1](ct)
    got = jax.vjp(fast, *args)[1](ct)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_shared_nodes_take_the_fast_path_with_equal_values_and_gradients():
    # Bootstrap programs without dead nodes share DQN's first nodes: there the plan dispatches to one
    # op group instead of every op. A batch of copies of one program is all fast path.
    from discolab.domains.dqn_programs import bootstrap_program, named_programs
    from discolab.graph.interpret_vjp import _dispatch, _groups

    space = dqn_space()
    rng = np.random.default_rng(7)
    programs = [bootstrap_program(space, rng) for _ in range(8)]
    lean = [prune(p, space) for p in programs]
    encoded = EncodedPrograms(*map(jnp.asarray, encode(lean, space)))
    groups = _groups(space)
    dispatch = np.asarray(_dispatch(plan_batch(encoded, space).present, groups))
    assert (dispatch[:4] < len(groups)).all()  # DQN's first nodes: one op group
    compare(space, lean, dqn_inputs(7))
    dqn = named_programs(space)["dqn"]
    compare(space, [dqn] * 4, dqn_inputs(8))
    compare(space, [dqn, named_programs(space)["dqn_reg"]] * 2, dqn_inputs(9))
