"""Rewrites of an op's JAX code for the interpreter: which ops are costly, small reductions unrolled.

On CPU the interpreter's cost is the number of kernels XLA launches per node, not
arithmetic: every reduction is a kernel of its own, and so is every op that does
not fuse with its neighbours. Two tools, both read off the op's jaxpr (so any
registered op works, and none is special-cased by name):

- :func:`is_costly`: whether an op is more than elementwise arithmetic; the
  interpreter runs such ops under ``lax.cond`` only where a program names them.
- :func:`unrolled`: a function with its reductions over a few elements (the
  actions of a LIST) rewritten as elementwise code, which fuses.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from discolab.graph.types import ValueType

#: Primitives of ops cheap enough to compute at every node without a branch (elementwise arithmetic).
_CHEAP_PRIMITIVES = frozenset({
    "add", "sub", "mul", "neg", "max", "min", "abs", "select_n", "div", "integer_pow", "square", "sign",
    "broadcast_in_dim", "convert_element_type", "reshape", "squeeze", "expand_dims", "ge", "gt", "le", "lt",
    "eq", "ne", "and", "or", "not", "copy", "pjit", "jit", "slice", "stop_gradient", "clamp", "is_finite",
})  # "jit": newer JAX's name for "pjit" (jnp.where, clip); its body is checked like pjit's


@functools.lru_cache(maxsize=256)
def is_costly(op_name: str) -> bool:
    """Whether an op's JAX code holds more than elementwise arithmetic (transcendentals, reductions, gathers)."""
    from discolab.graph import ops as ops_lib

    op = ops_lib.get(op_name)
    shape = {ValueType.FLOAT: (4,), ValueType.ACTION: (4,), ValueType.LIST: (4, 3), ValueType.PROB: (4, 3)}
    try:
        jaxpr = jax.make_jaxpr(op.fn)(*(jnp.ones(shape[t], jnp.float32) for t in op.in_types))
    except Exception:  # noqa: BLE001  (an op we cannot trace here: treat it as costly, i.e. branch on it)
        return True

    def costly(jx: Any) -> bool:
        for eqn in jx.eqns:
            if eqn.primitive.name not in _CHEAP_PRIMITIVES:
                return True
            for param in eqn.params.values():  # the body of a nested call (pjit, custom_jvp)
                inner = getattr(param, "jaxpr", param)
                if hasattr(inner, "eqns") and costly(inner):
                    return True
        return False

    return costly(jaxpr.jaxpr)


#: Reductions over at most this many elements (the actions of a LIST) are unrolled into elementwise code.
_UNROLL_LIMIT = 16
_COMBINE = {"reduce_sum": jax.lax.add, "reduce_max": jax.lax.max, "reduce_min": jax.lax.min}


def _small(x: Any, axes: Sequence[int]) -> bool:
    return int(np.prod([x.shape[a] for a in axes])) <= _UNROLL_LIMIT


def _unroll_reduce(name: str, x: jax.Array, axes: Sequence[int]) -> jax.Array:
    for axis in sorted(axes, reverse=True):
        parts = [jax.lax.index_in_dim(x, k, axis, keepdims=False) for k in range(x.shape[axis])]
        x = functools.reduce(_COMBINE[name], parts)
    return x


def _unroll_argmax(x: jax.Array, axis: int, index_dtype: Any) -> jax.Array:
    """``argmax`` as a chain of compares: the first maximum wins, NaN counts as the largest (as XLA's)."""
    best = jax.lax.index_in_dim(x, 0, axis, keepdims=False)
    index = jnp.zeros(best.shape, index_dtype)
    for k in range(1, x.shape[axis]):
        part = jax.lax.index_in_dim(x, k, axis, keepdims=False)
        take = (part > best) | (jnp.isnan(part) & ~jnp.isnan(best))
        best, index = jnp.where(take, part, best), jnp.where(take, jnp.asarray(k, index_dtype), index)
    return index


def _eval_unrolled(jaxpr: Any, consts: Sequence[Any], *args: Any) -> list:
    """Evaluates a jaxpr with its small reductions (over the actions) unrolled into elementwise ops.

    On CPU every reduction is a kernel of its own; over 2-18 actions the elementwise
    form fuses with its neighbours. Nested calls (``pjit``, ``custom_jvp_call``: softmax)
    are inlined, so a custom JVP rule gives way to differentiating its primal code.
    """
    from jax.extend.core import Literal

    env: dict[Any, Any] = {}

    def read(v: Any) -> Any:
        return v.val if isinstance(v, Literal) else env[v]

    env.update(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        invals = [read(v) for v in eqn.invars]
        name, params = eqn.primitive.name, eqn.params
        if name in _COMBINE and _small(invals[0], params["axes"]):
            out = [_unroll_reduce(name, invals[0], params["axes"])]
        elif name == "argmax" and _small(invals[0], params["axes"]):
            out = [_unroll_argmax(invals[0], params["axes"][0], params["index_dtype"])]
        elif name in ("pjit", "closed_call", "core_call", "jit") and "jaxpr" in params:
            inner = params["jaxpr"]
            out = _eval_unrolled(inner.jaxpr, inner.consts, *invals)
        elif name == "custom_jvp_call":
            inner = params["call_jaxpr"]
            out = _eval_unrolled(inner.jaxpr, inner.consts, *invals)
        else:
            out = eqn.primitive.bind(*invals, **params)
            out = out if eqn.primitive.multiple_results else [out]
        env.update(zip(eqn.outvars, out))
    return [read(v) for v in jaxpr.outvars]


def unrolled(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with its small reductions unrolled (see :func:`_eval_unrolled`); same values and pytree.

    >>> import jax.numpy as jnp
    >>> unrolled(lambda q: jnp.max(q, axis=-1))(jnp.array([[1.0, 3.0], [2.0, 0.0]])).tolist()
    [3.0, 2.0]
    """

    def run(*args: Any) -> Any:
        flat, tree = jax.tree.flatten(args)
        specs = [jax.ShapeDtypeStruct(jnp.shape(x), jnp.result_type(x)) for x in flat]
        closed, out_shape = jax.make_jaxpr(lambda *f: fn(*jax.tree.unflatten(tree, f)), return_shape=True)(*specs)
        out = _eval_unrolled(closed.jaxpr, closed.consts, *flat)
        return jax.tree.unflatten(jax.tree.structure(out_shape), out)

    return run
