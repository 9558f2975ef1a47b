"""The dqn_loss domain's compiled functions: the batched DQN trainer over loss programs and the gradient check.

Both take programs as data (``EncodedPrograms``), so a new batch never
recompiles; each is built once per search space (and env, for the trainer).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Literal

import jax
import jax.numpy as jnp

from discolab.graph import EncodedPrograms, SearchSpace
from discolab.graph.interpret import BatchPlan, interpret_one, interpret_one_naive, plan_batch

if TYPE_CHECKING:
    from discolab.rl import DQNConfig, Metrics


@functools.lru_cache(maxsize=8)
def gradient_check(
    space: SearchSpace, theta_inputs: tuple[str, ...]
) -> Callable[[EncodedPrograms, Mapping[str, jax.Array]], jax.Array]:
    """``jit((encoded [P, ...], inputs) -> [P] bool)``: some gradient of the mean loss in ``theta_inputs`` is nonzero."""

    def one(op_ids: jax.Array, args: jax.Array, output: jax.Array, inputs: Mapping[str, jax.Array]) -> jax.Array:
        def mean_loss(theta: dict[str, jax.Array]) -> jax.Array:
            return jnp.mean(interpret_one(space, op_ids, args, output, {**inputs, **theta}))

        grads = jax.grad(mean_loss)({k: inputs[k] for k in theta_inputs})
        return jnp.any(jnp.stack([jnp.any(g != 0) for g in grads.values()]))  # NaN != 0: counts as moving

    batched = jax.vmap(one, in_axes=(0, 0, 0, None))
    return jax.jit(lambda encoded, inputs: batched(encoded.op_ids, encoded.args, encoded.output, inputs))


def make_runner(
    space: SearchSpace, dqn_config: DQNConfig, interpreter: Literal["vjp", "static", "unrolled", "naive"] = "vjp"
) -> Callable[[EncodedPrograms, jax.Array], Metrics]:
    """``jit((encoded [P, ...], keys [S]) -> Metrics [P, S, ...])``: every program x seed trains a DQN agent.

    The loss is the interpreted program (``discolab.graph.interpret``):
    ``"vjp"``, the default, runs the nodes up to the batch's longest program
    (encode without dead nodes to shorten it) and has its own reverse pass;
    ``"static"`` is the same interpreter without the batch's plan: every op at
    every one of ``max_nodes`` nodes, loops of a fixed length and no switch
    (on a GPU a loop of data-dependent length, a ``switch`` or a ``cond``
    waits for the host at each use); ``"unrolled"`` is ``"static"`` as
    straight-line code; ``"naive"`` is the reference interpreter
    (``bench/dqn_interpreter.py`` compares them).
    """
    known = ("naive", "static", "unrolled", "vjp")
    if interpreter not in known:
        raise ValueError(f"unknown interpreter {interpreter!r}; known: {list(known)}")

    def loss_fn(params: tuple[EncodedPrograms, BatchPlan], inputs: Mapping[str, jax.Array]) -> jax.Array:
        encoded, plan = params
        program = (encoded.op_ids, encoded.args, encoded.output)
        if interpreter == "naive":
            return interpret_one_naive(space, *program, inputs)
        return interpret_one(space, *program, inputs, plan=plan if interpreter == "vjp" else None,
                             unroll=interpreter == "unrolled")

    from discolab import rl  # gymnax, flax, optax: imported when a runner is built

    train = rl.make_train(dqn_config, loss_fn)
    # Programs along the first axis; the batch's plan (node count, ops named at each node) is shared.
    batched = jax.vmap(jax.vmap(train, (None, 0)), ((0, None), None))

    def run(encoded: EncodedPrograms, keys: jax.Array) -> Metrics:
        return batched((encoded, plan_batch(encoded, space)), keys)

    return jax.jit(run)
