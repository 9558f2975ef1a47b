"""Program graphs and the GNN encoder: dead code dropped, argument order kept, renumbering invisible."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from discolab.graph import Program, SearchSpace, prune, random_program
from discolab.guide import Featurizer, GraphBatch, GraphEncoder, PairDiscriminator, bucket

SPACE = SearchSpace(
    inputs=(("x0", "float"), ("x1", "float")), ops=("add", "sub", "mul", "div", "sin", "cos", "exp", "log"),
    constants=(1.0,), max_nodes=10, required_inputs=("x0",),
)
F = Featurizer(SPACE)
# x0 = 0, x1 = 1, 1.0 = 2; node k writes slot 3 + k.
#   sin(x0) - (x1 * x0), with a dead node
PROGRAM = Program.from_nodes([("sin", [0]), ("cos", [1]), ("mul", [1, 0]), ("sub", [3, 5])])
#   the same graph, nodes numbered in another topological order, dead node moved
RENUMBERED = Program.from_nodes([("mul", [1, 0]), ("exp", [2]), ("sin", [0]), ("sub", [5, 3])])
#   the arguments of sub swapped: another function
SWAPPED = Program.from_nodes([("sin", [0]), ("cos", [1]), ("mul", [1, 0]), ("sub", [5, 3])])


ENCODER = GraphEncoder(F.n_tokens, F.n_types, dim=16, layers=2, heads=2)
ENCODE = jax.jit(ENCODER.apply)  # one compile for the module: every batch below pads to 16 graphs


def embed(programs: list[Program], seed: int = 0) -> np.ndarray:
    g = F.batch(programs)
    params = ENCODER.init(jax.random.key(seed), g)
    return np.asarray(ENCODE(params, g))[: len(programs)]


def permute(g: GraphBatch, perm: np.ndarray) -> GraphBatch:
    """Renumbers the nodes of every graph of the batch by ``perm``."""
    return GraphBatch(g.tokens[:, perm], g.types[:, perm], g.output[:, perm], g.mask[:, perm],
                      g.adj[:, :, perm][:, :, :, perm], g.values[:, perm])


def test_graph_keeps_live_nodes_and_argument_positions():
    tokens, types, output, mask, adj, values = F.graph(PROGRAM)
    assert values.shape == (F.n_nodes, 0)  # probes off by default
    assert mask.sum() == 5  # x0, x1, sin, mul, sub; the constant and cos are dead
    op_token = {name: 1 + SPACE.n_fixed + k for k, name in enumerate(SPACE.ops)}
    assert tokens[:5].tolist() == [1, 2, op_token["sin"], op_token["mul"], op_token["sub"]]
    assert output.tolist().index(1.0) == 4 and output.sum() == 1
    # sub(sin, mul): position 0 reads sin (row 2), position 1 reads mul (row 3)
    assert adj[0, 4, 2] == 1 and adj[1, 4, 3] == 1 and adj.sum() == 1 + 2 + 2


def test_dead_nodes_do_not_change_the_graph():
    rng = np.random.default_rng(0)
    for _ in range(30):
        p = random_program(SPACE, rng)
        for a, b in zip(F.graph(p), F.graph(prune(p, SPACE))):
            np.testing.assert_array_equal(a, b)


def test_batches_pad_to_buckets():
    g = F.batch([PROGRAM] * 20)
    assert g.tokens.shape == (32, F.n_nodes) and g.adj.shape == (32, SPACE.max_arity, F.n_nodes, F.n_nodes)
    assert g.mask[20:].sum() == 0
    assert [bucket(n) for n in (0, 16, 33, 1000)] == [16, 16, 64, 1024]
    with pytest.raises(ValueError, match="smaller"):
        F.batch([PROGRAM] * 3, pad_to=2)


def test_encoder_is_invariant_to_node_renumbering():
    e = embed([PROGRAM, RENUMBERED, SWAPPED])
    np.testing.assert_allclose(e[0], e[1], rtol=1e-5, atol=1e-5)
    assert np.abs(e[0] - e[2]).max() > 1e-3  # argument order is seen
    # Any permutation of the padded arrays, not only a topological one.
    rng = np.random.default_rng(1)
    programs = [random_program(SPACE, rng) for _ in range(8)]
    g = F.batch(programs)
    params = ENCODER.init(jax.random.key(3), g)
    perm = rng.permutation(F.n_nodes)
    a = np.asarray(ENCODE(params, g))
    b = np.asarray(ENCODE(params, permute(g, perm)))
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_discriminator_is_antisymmetric():
    rng = np.random.default_rng(2)
    a = F.batch([random_program(SPACE, rng) for _ in range(16)])
    b = F.batch([random_program(SPACE, rng) for _ in range(16)])
    model = PairDiscriminator(F.n_tokens, F.n_types, dim=16, layers=1, heads=2)
    params = model.init(jax.random.key(0), a, b)
    apply = jax.jit(model.apply)
    ab, ba, aa = apply(params, a, b), apply(params, b, a), apply(params, a, a)
    np.testing.assert_allclose(np.asarray(ab), -np.asarray(ba), atol=1e-5)
    np.testing.assert_allclose(np.asarray(aa), 0.0, atol=1e-6)
    assert jnp.all(jnp.isfinite(ab))


PROBED = Featurizer(SPACE, probes=8)


def test_probe_values_are_each_nodes_values_at_fixed_inputs():
    tokens, types, output, mask, adj, values = PROBED.graph(PROGRAM)  # sin(x0) - x1 * x0
    x0, x1 = PROBED.probe_inputs[0], PROBED.probe_inputs[1]
    squash = lambda x: np.sign(x) * np.log1p(np.abs(x))  # noqa: E731
    np.testing.assert_allclose(values[0], squash(x0), rtol=1e-6)
    np.testing.assert_allclose(values[4], squash(np.sin(x0) - x1 * x0), rtol=1e-5)
    assert not values[5:].any()  # padding rows carry nothing
    # Same tokens and edges, another constant in play: only probes tell them apart.
    one, two = Featurizer(SearchSpace(inputs=(("x0", "float"),), ops=("mul",), constants=(1.0, 2.0), max_nodes=2),
                          probes=4).batch([Program.from_nodes([("mul", [0, 1])]), Program.from_nodes([("mul", [0, 2])])],
                                          pad_to=2).values
    assert not np.allclose(one, two)


def test_encoder_with_probes_is_invariant_to_node_renumbering():
    rng = np.random.default_rng(4)
    g = PROBED.batch([random_program(SPACE, rng) for _ in range(8)])
    encoder = GraphEncoder(PROBED.n_tokens, PROBED.n_types, dim=16, layers=1, heads=2)
    params = encoder.init(jax.random.key(0), g)
    perm = rng.permutation(PROBED.n_nodes)
    a, b = encoder.apply(params, g), encoder.apply(params, permute(g, perm))
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)


def test_probes_refuse_a_space_with_other_value_types():
    space = SearchSpace(inputs=(("q", "list"), ("a", "action")), ops=("select", "max_a"), max_nodes=3)
    with pytest.raises(ValueError, match="probes: probe values need a space of FLOAT values"):
        Featurizer(space, probes=4)


def test_probe_points_replace_the_standard_normal_inputs():
    points = ((0.5, -1.0, 2.0), (3.0, 0.0, -0.25))  # x0's three points, then x1's
    f = Featurizer(SPACE, probes=3, points=points)
    np.testing.assert_array_equal(f.probe_inputs[:2], np.asarray(points))
    values = f.graph(PROGRAM)[-1]  # sin(x0) - x1 * x0
    x0, x1 = np.asarray(points[0]), np.asarray(points[1])
    expected = np.sin(x0) - x1 * x0
    np.testing.assert_allclose(values[4], np.sign(expected) * np.log1p(np.abs(expected)), rtol=1e-5)
    with pytest.raises(ValueError, match="need 3 points for each of the space's 2 inputs"):
        Featurizer(SPACE, probes=3, points=((0.5, -1.0, 2.0),))
