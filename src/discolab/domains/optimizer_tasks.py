"""Training tasks that score an update rule, and the batched trainer that runs them.

A task is a small model, a fixed dataset and a fixed minibatch schedule, all
drawn from ``numpy.random.default_rng([seed, k])``: every candidate rule trains
the same initial weights on the same batches, so a rule's score is a pure
function of the rule (no luck of the draw, unlike an RL loss's score).

The trainer runs ``P`` rules at once, each on its own copy of the weights:
one jitted ``lax.scan`` over the steps, the gradients of all copies from one
``vmap``, the rules' updates from one interpreter call per step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

__all__ = ["TASKS", "Task", "UpdateRule", "make_task", "make_trainer"]

#: ``update(rule_args, g, m, v) -> d`` on ``[P, D]`` arrays: the direction each copy moves against.
UpdateRule = Callable[[Any, jax.Array, jax.Array, jax.Array], jax.Array]


@dataclasses.dataclass(frozen=True)
class Task:
    """A model to train: initial weights, a loss, data and its batch size.

    Attributes:
      name: the task's registry name.
      params: the initial weights (a pytree of float32 arrays).
      loss: ``loss(params, x, y) -> scalar`` (mean over the rows).
      x, y: the whole dataset; the final loss is taken on all of it.
      batch_size: rows per training step.
      seed: the seed that drew weights, data and batches.
    """

    name: str
    params: Any
    loss: Callable[[Any, jax.Array, jax.Array], jax.Array]
    x: np.ndarray
    y: np.ndarray
    batch_size: int
    seed: int


def _dense(rng: np.random.Generator, fan_in: int, fan_out: int, gain: float = 1.0) -> dict[str, np.ndarray]:
    w = rng.normal(0.0, gain / np.sqrt(fan_in), (fan_in, fan_out)).astype(np.float32)
    return {"w": w, "b": np.zeros(fan_out, np.float32)}


def _mlp(params: list[dict[str, jax.Array]], x: jax.Array) -> jax.Array:
    for layer in params[:-1]:
        x = jnp.tanh(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def teacher_mlp(seed: int) -> Task:
    """Regress a random tanh teacher network (8 -> 16 -> 1) with a 8 -> 32 -> 32 -> 1 student (1,377 weights)."""
    data, init = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
    x = data.normal(size=(512, 8)).astype(np.float32)
    teacher = [_dense(data, 8, 16, gain=2.0), _dense(data, 16, 1, gain=1.0)]
    y = np.asarray(_mlp(teacher, x)).astype(np.float32)
    y = (y - y.mean()) / y.std()
    student = [_dense(init, 8, 32), _dense(init, 32, 32), _dense(init, 32, 1)]

    def loss(params: Any, xb: jax.Array, yb: jax.Array) -> jax.Array:
        return jnp.mean((_mlp(params, xb) - yb) ** 2)

    return Task("teacher_mlp", student, loss, x, y, 64, seed)


def ill_conditioned_logistic(seed: int) -> Task:
    """Logistic regression on 16 features whose scales span 10^-1.5 .. 10^1.5: plain SGD crawls here."""
    data = np.random.default_rng([seed, 2])
    z = data.normal(size=(512, 16)).astype(np.float32)
    labels = (z @ data.normal(size=16) > 0).astype(np.float32)
    x = z * np.logspace(-1.5, 1.5, 16, dtype=np.float32)[None]
    params = {"w": np.zeros(16, np.float32), "b": np.zeros((), np.float32)}

    def loss(params: Any, xb: jax.Array, yb: jax.Array) -> jax.Array:
        logits = xb @ params["w"] + params["b"]
        return jnp.mean(jnp.logaddexp(0.0, logits) - yb * logits)

    return Task("ill_conditioned_logistic", params, loss, x, labels, 64, seed)


TASKS: Mapping[str, Callable[[int], Task]] = {
    "teacher_mlp": teacher_mlp,
    "ill_conditioned_logistic": ill_conditioned_logistic,
}


def make_task(name: str, seed: int) -> Task:
    """The task ``name`` drawn with ``seed``; KeyError names the known tasks."""
    try:
        return TASKS[name](seed)
    except KeyError:
        raise KeyError(f"unknown optimizer task {name!r}; known: {', '.join(TASKS)}") from None


def make_trainer(
    task: Task, update: UpdateRule, steps: int, beta1: float = 0.9, beta2: float = 0.999
) -> Callable[[Any, jax.Array], tuple[jax.Array, jax.Array]]:
    """The jitted ``train(rule_args, learning_rates [P]) -> (initial loss, final losses [P])`` on ``task``.

    Trains ``P`` copies of the task's weights, copy ``k`` with row ``k`` of
    the rules (``rule_args``) and step size ``learning_rates[k]``. At step
    ``t`` each copy's rule sees its minibatch gradient ``g`` and Adam's
    bias-corrected moments ``m``, ``v`` of it, and the copy moves by
    ``-learning_rate * update(rule_args, g, m, v)``. One compile per ``P``; a
    copy that diverges ends with a non-finite loss.
    """
    flat0, unravel = ravel_pytree(jax.tree_util.tree_map(jnp.asarray, task.params))
    x, y = jnp.asarray(task.x), jnp.asarray(task.y)
    rows = np.random.default_rng([task.seed, 3]).integers(0, len(task.x), (steps, task.batch_size))

    def loss_flat(flat: jax.Array, xb: jax.Array, yb: jax.Array) -> jax.Array:
        return task.loss(unravel(flat), xb, yb)

    grads = jax.vmap(jax.grad(loss_flat), in_axes=(0, None, None))
    final_losses = jax.vmap(loss_flat, in_axes=(0, None, None))

    def train(rule_args: Any, learning_rates: jax.Array) -> tuple[jax.Array, jax.Array]:
        learning_rates = jnp.asarray(learning_rates, jnp.float32)[:, None]
        flat = jnp.broadcast_to(flat0, (learning_rates.shape[0], flat0.size))
        zeros = jnp.zeros_like(flat)

        def step(carry: tuple, inp: tuple) -> tuple[tuple, None]:
            flat, m, v = carry
            t, batch = inp
            g = grads(flat, x[batch], y[batch])
            m = beta1 * m + (1.0 - beta1) * g
            v = beta2 * v + (1.0 - beta2) * g * g
            m_hat, v_hat = m / (1.0 - beta1**t), v / (1.0 - beta2**t)
            return (flat - learning_rates * update(rule_args, g, m_hat, v_hat), m, v), None

        (flat, _, _), _ = jax.lax.scan(step, (flat, zeros, zeros), (jnp.arange(1, steps + 1, dtype=jnp.float32), rows))
        return loss_flat(flat0, x, y), final_losses(flat, x, y)

    return jax.jit(train)
