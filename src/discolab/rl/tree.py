"""Pytree helpers of the trainers: skip a non-finite update without a host sync."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp


def all_finite(tree: Any) -> jax.Array:
    """A scalar bool: every leaf of ``tree`` is finite."""
    leaves = jax.tree.leaves(tree)
    return functools.reduce(jnp.logical_and, [jnp.all(jnp.isfinite(x)) for x in leaves], jnp.bool_(True))


def where(cond: jax.Array, new: Any, old: Any) -> Any:
    """``new`` where ``cond`` holds, else ``old``, leaf by leaf (keep params and optimizer state on a bad update)."""
    return jax.tree.map(lambda a, b: jnp.where(cond, a, b), new, old)
