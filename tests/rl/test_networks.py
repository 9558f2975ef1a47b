"""The networks' orthogonal initializer: flax's matrices, without a batched QR under vmap."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from discolab.rl.networks import ActorCritic, MLPEncoder, _orthogonal


def _qr_operand_shapes(jaxpr: jax.core.Jaxpr) -> list[tuple[int, ...]]:
    """Shapes of every ``qr`` operand in ``jaxpr`` and the jaxprs nested in it."""
    shapes = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "qr":
            shapes.append(tuple(eqn.invars[0].aval.shape))
        for param in eqn.params.values():
            for sub in param if isinstance(param, (list, tuple)) else [param]:
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    shapes += _qr_operand_shapes(inner)
    return shapes


def test_vmapped_init_equals_flax_and_factors_one_matrix_at_a_time():
    # A batched LAPACK QR waits on XLA:CPU's intra-op pool from inside it: two at once on two
    # threads never return. Ours maps over the batch, and must still give flax's exact matrices.
    keys = jax.random.split(jax.random.key(3), 12).reshape(3, 4)
    ours = jax.vmap(jax.vmap(lambda k: _orthogonal(1.4)(k, (16, 8))))
    flax_init = jax.vmap(jax.vmap(lambda k: nn.initializers.orthogonal(1.4)(k, (16, 8))))
    assert jnp.array_equal(jax.jit(ours)(keys), jax.jit(flax_init)(keys))
    assert _qr_operand_shapes(jax.make_jaxpr(ours)(keys).jaxpr) == [(16, 8)]
    assert _qr_operand_shapes(jax.make_jaxpr(flax_init)(keys).jaxpr) == [(3, 4, 16, 8)]


def test_an_actor_critic_population_initializes_without_a_batched_qr():
    model = ActorCritic(MLPEncoder((8,)), num_actions=3, hidden=8)
    init = jax.vmap(lambda k: model.init(k, jnp.zeros((1, 4))))
    keys = jax.random.split(jax.random.key(0), 5)
    shapes = _qr_operand_shapes(jax.make_jaxpr(init)(keys).jaxpr)
    assert shapes and all(len(s) == 2 for s in shapes)
    params = jax.jit(init)(keys)
    kernel = params["params"]["encoder"]["Dense_0"]["kernel"]  # [5, 4, 8], orthogonal rows, scale sqrt(2)
    gram = jnp.einsum("pij,pkj->pik", kernel, kernel) / 2.0
    assert jnp.allclose(gram, jnp.broadcast_to(jnp.eye(4), gram.shape), atol=1e-5)
    assert not jnp.allclose(kernel[0], kernel[1])
