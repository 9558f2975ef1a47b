"""RL-DARTS encoders: ops, genotypes, supernet == fixed cell under one-hot alphas, the baseline."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from discolab.darts import (
    OP_SETS,
    FixedCellEncoder,
    Genotype,
    ImpalaSmall,
    MixedOp,
    SupernetEncoder,
    arch_weights,
    describe,
    discretize,
    draw,
    edge_index,
    fixed_variables_from_supernet,
    make_op,
    num_edges,
    one_hot_alphas,
    param_count,
    random_genotype,
)

C = 6  # small width keeps the tests fast; the maths does not depend on it


def _obs(batch: int = 3, channels: int = 4, seed: int = 0) -> jax.Array:
    return jnp.asarray(np.random.default_rng(seed).normal(size=(batch, 10, 10, channels)), jnp.float32)


# --- ops -------------------------------------------------------------------------------------

@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("op_set", sorted(OP_SETS))
def test_mixed_op_with_one_hot_weights_is_the_chosen_op(op_set: str, stride: int) -> None:
    x = _obs(2, C)
    mixed = MixedOp(op_set, C, stride)
    ops = OP_SETS[op_set]
    variables = mixed.init(jax.random.key(0), x, jnp.ones(len(ops)) / len(ops))
    for k, name in enumerate(ops):
        op = make_op(name, C, stride)
        params = variables["params"].get(name)
        op_vars = {"params": params} if params is not None else {}
        expected = op.apply(op_vars, x)
        got = mixed.apply(variables, x, jax.nn.one_hot(k, len(ops)))
        assert got.shape == expected.shape == (2, 10 // stride, 10 // stride, C), name
        np.testing.assert_allclose(got, expected, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("name", sorted({op for ops in OP_SETS.values() for op in ops}))
def test_every_op_halves_odd_sizes_with_ceil(name: str) -> None:
    x = _obs(1, C)[:, :5, :5, :]
    op = make_op(name, C, 2)
    assert op.apply(op.init(jax.random.key(0), x), x).shape == (1, 3, 3, C)


def test_unknown_names_list_the_choices() -> None:
    with pytest.raises(ValueError, match="known"):
        make_op("sep_conv3x3", C, 1)
    with pytest.raises(ValueError, match="known"):
        random_genotype(np.random.default_rng(0), "nope", 3)


# --- genotype ----------------------------------------------------------------------------------

def test_edge_order_is_darts() -> None:
    assert [num_edges(n) for n in (1, 2, 3, 4)] == [2, 5, 9, 14]
    assert [edge_index(i, j) for i in range(3) for j in range(i + 2)] == list(range(9))


def _alpha(rows: dict[int, list[float]], op_set: str, nodes: int, fill: float = -5.0) -> np.ndarray:
    alpha = np.full((num_edges(nodes), len(OP_SETS[op_set])), fill)
    for e, row in rows.items():
        alpha[e] = row
    return alpha


def test_discretize_picks_the_strongest_nonzero_edges_and_ops() -> None:
    # small set: zero, skip, conv3x3, relu, tanh; 2 nodes -> edges 0,1 (node 0) and 2,3,4 (node 1)
    normal = _alpha({
        0: [9.0, 0.0, 1.0, 0.0, 0.0],   # zero dominates but conv3x3 is its strongest non-zero op
        1: [0.0, 0.0, 0.0, 2.0, 0.0],   # relu
        2: [0.0, 3.0, 0.0, 0.0, 0.0],   # skip, strong
        3: [9.0, 0.0, 0.0, 0.0, 0.1],   # weak after softmax: the large zero weight shrinks the rest
        4: [0.0, 0.0, 0.0, 0.0, 2.5],   # tanh
    }, "small", 2)
    reduce = np.zeros_like(normal)      # all ties: lower inputs, first non-zero op (skip)
    g = discretize(normal, reduce, "small", 2)
    assert g.normal == (("conv3x3", 0), ("relu", 1), ("skip", 0), ("tanh", 2))
    assert g.reduce == (("skip", 0), ("skip", 1), ("skip", 0), ("skip", 1))


def test_discretize_never_keeps_zero_and_checks_shapes() -> None:
    alpha = np.tile([10.0, 0.0, 0.0, 0.0, 0.0], (num_edges(3), 1))
    g = discretize(alpha, alpha, "small", 3)
    assert all(op != "zero" for op, _ in g.normal + g.reduce)
    with pytest.raises(ValueError, match="shape"):
        discretize(alpha[:, :4], alpha, "small", 3)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), op_set=st.sampled_from(sorted(OP_SETS)), nodes=st.integers(1, 5))
def test_discretize_inverts_one_hot_alphas(seed: int, op_set: str, nodes: int) -> None:
    g = random_genotype(np.random.default_rng(seed), op_set, nodes)
    a_normal, a_reduce = one_hot_alphas(g)
    assert discretize(a_normal, a_reduce, op_set, nodes) == g
    w = np.asarray(jax.nn.softmax(jnp.asarray(a_normal), axis=-1))
    assert set(np.unique(w)) <= {0.0, 1.0}  # exactly one-hot in float32


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), op_set=st.sampled_from(sorted(OP_SETS)), nodes=st.integers(1, 5))
def test_random_genotypes_are_valid_and_round_trip_json(seed: int, op_set: str, nodes: int) -> None:
    g = random_genotype(np.random.default_rng(seed), op_set, nodes)
    for cell in (g.normal, g.reduce):
        assert len(cell) == 2 * nodes
        for i in range(nodes):
            (op_a, a), (op_b, b) = cell[2 * i : 2 * i + 2]
            assert a < b < i + 2 and a >= 0
            assert {op_a, op_b} <= set(OP_SETS[op_set]) - {"zero"}
    assert Genotype.from_json(g.to_json()) == g


def test_genotype_rejects_invalid_cells_and_canonicalizes_order() -> None:
    with pytest.raises(ValueError, match="distinct"):
        Genotype(normal=(("skip", 1), ("relu", 1)), reduce=(("skip", 0), ("relu", 1)), nodes=1, op_set="small")
    with pytest.raises(ValueError, match="non-zero"):
        Genotype(normal=(("zero", 0), ("relu", 1)), reduce=(("skip", 0), ("relu", 1)), nodes=1, op_set="small")
    g = Genotype(normal=(("relu", 1), ("skip", 0)), reduce=(("skip", 0), ("relu", 1)), nodes=1, op_set="small")
    assert g.normal == (("skip", 0), ("relu", 1))


def test_describe_mentions_every_kept_op_and_draw_writes_a_png(tmp_path) -> None:
    g = random_genotype(np.random.default_rng(3), "darts", 3)
    text = describe(g)
    for kind in ("normal", "reduce"):
        for i in range(3):
            line = next(line for line in text.splitlines() if line.startswith(f"{kind} node {i} ="))
            for op, _ in getattr(g, kind)[2 * i : 2 * i + 2]:
                assert op in line
    path = draw(g, tmp_path / "cell.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000


# --- supernet and fixed cell -----------------------------------------------------------------

@pytest.mark.parametrize(("op_set", "nodes", "layout", "seed"), [
    ("small", 3, ("normal", "reduce"), 0),
    ("small", 3, ("normal", "reduce"), 1),
    ("small", 2, ("reduce", "normal", "reduce"), 2),
    ("darts", 3, ("normal", "reduce"), 3),
    ("darts", 2, ("reduce", "reduce", "normal"), 4),
])
def test_supernet_with_one_hot_alphas_equals_the_fixed_cell(op_set, nodes, layout, seed) -> None:
    x = _obs(2, 5, seed)
    supernet = SupernetEncoder(op_set=op_set, channels=C, nodes=nodes, layout=layout)
    variables = supernet.init(jax.random.key(seed), x)
    g = random_genotype(np.random.default_rng(seed), op_set, nodes)
    a_normal, a_reduce = one_hot_alphas(g)
    one_hot = {"params": variables["params"],
               "arch": {"alpha_normal": jnp.asarray(a_normal), "alpha_reduce": jnp.asarray(a_reduce)}}
    fixed = FixedCellEncoder(g, channels=C, layout=layout)
    fixed_vars = fixed_variables_from_supernet(variables, g)
    # the pruned tree is exactly the fixed encoder's tree
    expected = fixed.init(jax.random.key(0), x)
    assert jax.tree.structure(fixed_vars) == jax.tree.structure(expected)
    assert jax.tree.map(jnp.shape, fixed_vars) == jax.tree.map(jnp.shape, expected)
    out = fixed.apply(fixed_vars, x)
    np.testing.assert_allclose(supernet.apply(one_hot, x), out, atol=1e-5)
    assert out.shape[0] == 2 and np.all(np.isfinite(out))


def test_supernet_shapes_arch_collection_and_weights() -> None:
    x = _obs(3, 7)
    supernet = SupernetEncoder(channels=C)
    variables = supernet.init(jax.random.key(0), x)
    assert set(variables) == {"params", "arch"}
    assert variables["arch"]["alpha_normal"].shape == (9, 5)
    assert 0 < float(jnp.abs(variables["arch"]["alpha_reduce"]).max()) < 1e-2  # 1e-3 * N(0, 1)
    assert supernet.apply(variables, x).shape == (3, 5 * 5 * C)
    assert supernet.apply(variables, x[0]).shape == (5 * 5 * C,)  # unbatched obs too
    w = arch_weights(variables, temperature=0.5)
    np.testing.assert_allclose(w["normal"].sum(-1), 1.0, rtol=1e-6)
    nested = {"arch": {"encoder": variables["arch"]}}  # the encoder inside an actor-critic
    np.testing.assert_allclose(arch_weights(nested)["reduce"], arch_weights(variables)["reduce"])


def test_gradients_reach_the_arch_collection() -> None:
    x = _obs(2, 4)
    supernet = SupernetEncoder(channels=C, temperature=0.7)
    variables = supernet.init(jax.random.key(0), x)

    def loss(arch):
        return jnp.sum(supernet.apply({"params": variables["params"], "arch": arch}, x) ** 2)

    grads = jax.grad(loss)(variables["arch"])
    for name in ("alpha_normal", "alpha_reduce"):
        g = np.asarray(grads[name])
        assert g.shape == (9, 5) and np.all(np.isfinite(g))
        assert np.all(np.abs(g).sum(-1) > 0), f"an edge of {name} gets no gradient"


def test_arch_params_train_with_their_own_optimizer() -> None:
    import optax

    x = _obs(2, 4)
    supernet = SupernetEncoder(channels=C)
    variables = supernet.init(jax.random.key(0), x)
    labels = {"params": jax.tree.map(lambda _: "net", variables["params"]),
              "arch": jax.tree.map(lambda _: "arch", variables["arch"])}
    tx = optax.multi_transform({"net": optax.adam(1e-3), "arch": optax.sgd(0.0)}, labels)
    grads = jax.grad(lambda v: jnp.mean(supernet.apply(v, x)))(variables)
    updates, _ = tx.update(grads, tx.init(variables), variables)
    new = optax.apply_updates(variables, updates)
    np.testing.assert_array_equal(new["arch"]["alpha_normal"], variables["arch"]["alpha_normal"])
    assert not np.allclose(new["params"]["stem"]["kernel"], variables["params"]["stem"]["kernel"])


# --- baseline ---------------------------------------------------------------------------------

def test_impala_small_shape_and_comparable_size() -> None:
    x = _obs(3, 4)
    impala = ImpalaSmall()
    variables = impala.init(jax.random.key(0), x)
    assert impala.apply(variables, x).shape == (3, 3 * 3 * 32)
    n_impala = param_count(variables)
    # a discretized small-set cell (channels 16, nodes 3) with half its 12 edges conv3x3
    half = Genotype(normal=(("conv3x3", 0), ("skip", 1), ("conv3x3", 0), ("relu", 2), ("conv3x3", 1), ("tanh", 3)),
                    reduce=(("conv3x3", 0), ("relu", 1), ("conv3x3", 1), ("skip", 2), ("conv3x3", 2), ("tanh", 3)),
                    nodes=3, op_set="small")
    n_cell = param_count(jax.eval_shape(FixedCellEncoder(half, channels=16).init, jax.random.key(0), x))
    assert (n_impala, n_cell) == (28368, 17168)  # the counts quoted in encoders.py
    assert 0.5 < n_impala / n_cell < 2.0
