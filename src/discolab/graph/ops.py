"""The op registry: name, typed signature, JAX (and, for FLOAT ops, numpy) implementation, renderings.

Ops are protected (``div``, ``log``, ``exp``, ``sqrt`` never return NaN or inf
for finite inputs) as in the public code of Evolving RL, so that the batched
interpreter can compute every op at every node and select one without the
unselected branches poisoning values or gradients.

Besides the FLOAT ops, the registry holds the typed ops of Evolving RL's loss
language (PAPERS.md section 1) over LIST (one value per action, ``[..., A]``),
PROB (a softmax of a LIST) and ACTION (an action index stored as float):
elementwise LIST arithmetic and its FLOAT-broadcast variants, reductions over
actions (``max_a``, ``sum_a``, ``mean_a``, ``std_a``, ``logsumexp_a``),
``argmax_a``, ``select``, ``softmax``, ``kl``, ``entropy`` and the batch
statistics ``batch_mean``/``batch_std``. Their protected forms keep values and
gradients finite for finite inputs too (``std_a`` uses the guarded square root
of ``sqrt``; ``kl``/``entropy`` take ``log(p + 1e-8)`` as the public code does).
Ops that are not algebraic (reductions, select, softmax, ...) render in sympy
as undefined functions of their arguments (``max_a(q_t_target)``): sympy keeps
them opaque, so simplification stays sound, but such an expression cannot be
evaluated numerically (``lambdify``). Random ops (Gaussian noise, N(0, 1) and
U(0, 1) constants) are left out: the interpreter takes no key.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from discolab.graph.types import ValueType

F = ValueType.FLOAT
L = ValueType.LIST
P = ValueType.PROB
A = ValueType.ACTION
EXP_CLIP = 50.0
DIV_EPS = 1e-10
LOG_EPS = 1e-12
#: ``kl`` and ``entropy`` take ``log(p + PROB_EPS)`` (the public code's 1e-8).
PROB_EPS = 1e-8


@dataclasses.dataclass(frozen=True)
class Op:
    """One primitive of the language.

    Attributes:
      name: registry key, used in programs and configs.
      in_types: the type of each argument.
      out_type: the type of the result.
      fn: the JAX implementation, elementwise or broadcasting.
      infix: a format string over the rendered arguments, e.g. ``"({0} + {1})"``.
      source: a format string of Python/JAX source over argument names.
      sympy: builds the sympy expression from sympy arguments, or None when the
        op has no algebraic form (the program then has no sympy rendering).
      commutative: argument order does not matter (hashing sorts them).
      host: the same function in numpy, or None. It lets the host interpreter
        (:mod:`discolab.graph.interpret_host`) run the op with no compile; the
        FLOAT ops have one, written once for both array modules.
    """

    name: str
    in_types: tuple[ValueType, ...]
    out_type: ValueType
    fn: Callable[..., Any]
    infix: str
    source: str
    sympy: Callable[..., Any] | None = None
    commutative: bool = False
    host: Callable[..., Any] | None = None

    @property
    def arity(self) -> int:
        return len(self.in_types)


_OPS: dict[str, Op] = {}


def register(op: Op) -> Op:
    """Adds an op to the registry; a name can be registered once."""
    if op.name in _OPS:
        raise ValueError(f"op {op.name!r} is already registered")
    _OPS[op.name] = op
    return op


def get(name: str) -> Op:
    """Returns the op called ``name``; the error lists the known ops."""
    try:
        return _OPS[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}; known: {', '.join(sorted(_OPS))}") from None


def known() -> tuple[str, ...]:
    return tuple(sorted(_OPS))


# The protected FLOAT ops take the array module (jax.numpy or numpy) as ``xp``:
# one definition serves the jitted interpreters and the host interpreter.


def _safe_div(x: jnp.ndarray, y: jnp.ndarray, xp: Any = jnp) -> jnp.ndarray:
    # x / (y + eps) keeps the sign of y and never divides by zero.
    return x / xp.where(y >= 0, y + DIV_EPS, y - DIV_EPS)


def _safe_log(x: jnp.ndarray, xp: Any = jnp) -> jnp.ndarray:
    return xp.log(xp.abs(x) + LOG_EPS)


def _safe_exp(x: jnp.ndarray, xp: Any = jnp) -> jnp.ndarray:
    return xp.exp(xp.clip(x, -EXP_CLIP, EXP_CLIP))


def _safe_sqrt(x: jnp.ndarray, xp: Any = jnp) -> jnp.ndarray:
    # sqrt(|x| + eps) - sqrt(eps): zero at zero and a finite gradient there. sqrt(eps) in x's dtype, as a
    # Python constant would be in JAX (a numpy float64 scalar would promote a float32 x in numpy).
    return xp.sqrt(xp.abs(x) + LOG_EPS) - xp.sqrt(xp.full_like(x, LOG_EPS))


def _inv(x: jnp.ndarray, xp: Any = jnp) -> jnp.ndarray:
    return _safe_div(xp.ones_like(x), x, xp)


def _on_host(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The numpy form of a protected op written over ``xp``."""
    return functools.partial(fn, xp=np)


def _sym(name: str) -> Callable[..., Any]:
    def build(*args: Any) -> Any:
        import sympy

        return getattr(sympy, name)(*args)

    return build


def _sym_log(x: Any) -> Any:
    import sympy

    return sympy.log(sympy.Abs(x))


def _sym_sqrt(x: Any) -> Any:
    import sympy

    return sympy.sqrt(sympy.Abs(x))


def _binary(name: str, fn: Callable, host: Callable, infix: str, source: str, sym: Callable | None,
            commutative: bool) -> Op:
    return register(Op(name, (F, F), F, fn, infix, source, sym, commutative, host))


def _unary(name: str, fn: Callable, host: Callable, infix: str, source: str, sym: Callable | None) -> Op:
    return register(Op(name, (F,), F, fn, infix, source, sym, host=host))


def _distance(x: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
    return 0.5 * (x - y) ** 2


def _cube(x: jnp.ndarray) -> jnp.ndarray:
    return x**3


def _scale_tenth(x: jnp.ndarray) -> jnp.ndarray:
    return 0.1 * x


_binary("add", jnp.add, np.add, "({0} + {1})", "{0} + {1}", lambda a, b: a + b, True)
_binary("sub", jnp.subtract, np.subtract, "({0} - {1})", "{0} - {1}", lambda a, b: a - b, False)
_binary("mul", jnp.multiply, np.multiply, "({0} * {1})", "{0} * {1}", lambda a, b: a * b, True)
_binary("div", _safe_div, _on_host(_safe_div), "({0} / {1})", "safe_div({0}, {1})", lambda a, b: a / b, False)
_binary("max", jnp.maximum, np.maximum, "max({0}, {1})", "jnp.maximum({0}, {1})", _sym("Max"), True)
_binary("min", jnp.minimum, np.minimum, "min({0}, {1})", "jnp.minimum({0}, {1})", _sym("Min"), True)
_binary("distance", _distance, _distance, "0.5*({0} - {1})^2",
        "0.5 * ({0} - {1}) ** 2", lambda a, b: (a - b) ** 2 / 2, True)
_unary("neg", jnp.negative, np.negative, "(-{0})", "-{0}", lambda a: -a)
_unary("abs", jnp.abs, np.abs, "|{0}|", "jnp.abs({0})", _sym("Abs"))
_unary("square", jnp.square, np.square, "{0}^2", "{0} ** 2", lambda a: a**2)
_unary("cube", _cube, _cube, "{0}^3", "{0} ** 3", lambda a: a**3)
_unary("sin", jnp.sin, np.sin, "sin({0})", "jnp.sin({0})", _sym("sin"))
_unary("cos", jnp.cos, np.cos, "cos({0})", "jnp.cos({0})", _sym("cos"))
_unary("tanh", jnp.tanh, np.tanh, "tanh({0})", "jnp.tanh({0})", _sym("tanh"))
_unary("exp", _safe_exp, _on_host(_safe_exp), "exp({0})", "safe_exp({0})", _sym("exp"))
_unary("log", _safe_log, _on_host(_safe_log), "log|{0}|", "safe_log({0})", _sym_log)
_unary("sqrt", _safe_sqrt, _on_host(_safe_sqrt), "sqrt|{0}|", "safe_sqrt({0})", _sym_sqrt)
_unary("inv", _inv, _on_host(_inv), "(1 / {0})", "safe_div(1.0, {0})", lambda a: 1 / a)
_unary("scale_0.1", _scale_tenth, _scale_tenth, "(0.1 * {0})", "0.1 * {0}", lambda a: a / 10)


# ---- Evolving RL's typed ops: LIST (values per action), PROB, ACTION ----------------------


def _per_action(x: jnp.ndarray) -> jnp.ndarray:
    """A FLOAT ``[...]`` as ``[..., 1]``, to broadcast against a LIST ``[..., A]``."""
    return jnp.asarray(x)[..., None]


def _safe_std(x: jnp.ndarray, axis: int | None) -> jnp.ndarray:
    # Population std through the guarded square root: finite gradient when all values are equal.
    mean = jnp.mean(x, axis=axis, keepdims=True)
    return _safe_sqrt(jnp.mean(jnp.square(x - mean), axis=axis))


def _select(q: jnp.ndarray, a: jnp.ndarray) -> jnp.ndarray:
    """``q[..., a]``: the action (stored as float) is cast back to an index and clipped."""
    index = jnp.clip(jnp.asarray(a).astype(jnp.int32), 0, q.shape[-1] - 1)
    return jnp.take_along_axis(q, index[..., None], axis=-1)[..., 0]


def _argmax(q: jnp.ndarray) -> jnp.ndarray:
    return jnp.argmax(q, axis=-1).astype(q.dtype)


def _kl(p: jnp.ndarray, q: jnp.ndarray) -> jnp.ndarray:
    return jnp.sum(p * (jnp.log(jnp.abs(p) + PROB_EPS) - jnp.log(jnp.abs(q) + PROB_EPS)), axis=-1)


def _entropy(p: jnp.ndarray) -> jnp.ndarray:
    return -jnp.sum(p * jnp.log(jnp.abs(p) + PROB_EPS), axis=-1)


def _batch_mean(x: jnp.ndarray) -> jnp.ndarray:
    """The mean over the whole batch, broadcast back to every sample."""
    return jnp.broadcast_to(jnp.mean(x), jnp.shape(x))


def _batch_std(x: jnp.ndarray) -> jnp.ndarray:
    return jnp.broadcast_to(_safe_std(x, None), jnp.shape(x))


def _opaque(name: str) -> Callable[..., Any]:
    """A sympy rendering as an undefined function ``name(args)``: kept opaque by sympy."""

    def build(*args: Any) -> Any:
        import sympy

        return sympy.Function(name, real=True)(*args)

    return build


def _typed(name: str, in_types: tuple[ValueType, ...], out_type: ValueType, fn: Callable, infix: str,
           source: str, sym: Callable | None, commutative: bool = False) -> Op:
    return register(Op(name, in_types, out_type, fn, infix, source, sym, commutative))


# Elementwise LIST arithmetic.
_typed("list_add", (L, L), L, jnp.add, "({0} + {1})", "{0} + {1}", lambda a, b: a + b, True)
_typed("list_sub", (L, L), L, jnp.subtract, "({0} - {1})", "{0} - {1}", lambda a, b: a - b)
_typed("list_max", (L, L), L, jnp.maximum, "max({0}, {1})", "jnp.maximum({0}, {1})", _sym("Max"), True)
_typed("list_min", (L, L), L, jnp.minimum, "min({0}, {1})", "jnp.minimum({0}, {1})", _sym("Min"), True)
# A FLOAT broadcast over the actions of a LIST.
_typed("list_add_float", (L, F), L, lambda q, x: q + _per_action(x), "({0} + {1})", "{0} + per_action({1})",
       lambda a, b: a + b)
_typed("list_sub_float", (L, F), L, lambda q, x: q - _per_action(x), "({0} - {1})", "{0} - per_action({1})",
       lambda a, b: a - b)
_typed("list_mul_float", (L, F), L, lambda q, x: q * _per_action(x), "({0} * {1})", "{0} * per_action({1})",
       lambda a, b: a * b)
_typed("list_max_float", (L, F), L, lambda q, x: jnp.maximum(q, _per_action(x)), "max({0}, {1})",
       "jnp.maximum({0}, per_action({1}))", _sym("Max"))
# Reductions over the actions: LIST -> FLOAT.
_typed("max_a", (L,), F, lambda q: jnp.max(q, axis=-1), "max_a({0})", "jnp.max({0}, axis=-1)", _opaque("max_a"))
_typed("sum_a", (L,), F, lambda q: jnp.sum(q, axis=-1), "sum_a({0})", "jnp.sum({0}, axis=-1)", _opaque("sum_a"))
_typed("mean_a", (L,), F, lambda q: jnp.mean(q, axis=-1), "mean_a({0})", "jnp.mean({0}, axis=-1)",
       _opaque("mean_a"))
_typed("std_a", (L,), F, lambda q: _safe_std(q, -1), "std_a({0})", "safe_std({0}, -1)", _opaque("std_a"))
_typed("logsumexp_a", (L,), F, lambda q: jax.nn.logsumexp(q, axis=-1), "logsumexp_a({0})",
       "jax.nn.logsumexp({0}, axis=-1)", _opaque("logsumexp_a"))
# Actions and probabilities.
_typed("argmax_a", (L,), A, _argmax, "argmax_a({0})", "jnp.argmax({0}, axis=-1)", _opaque("argmax_a"))
_typed("select", (L, A), F, _select, "{0}[{1}]", "select({0}, {1})", _opaque("select"))
_typed("softmax", (L,), P, lambda q: jax.nn.softmax(q, axis=-1), "softmax({0})", "jax.nn.softmax({0}, axis=-1)",
       _opaque("softmax"))
_typed("kl", (P, P), F, _kl, "KL({0} || {1})", "kl({0}, {1})", _opaque("KL"))
_typed("entropy", (P,), F, _entropy, "H({0})", "entropy({0})", _opaque("H"))
# Statistics over the batch: FLOAT -> FLOAT, the same value for every sample.
_typed("batch_mean", (F,), F, _batch_mean, "batch_mean({0})", "batch_mean({0})", _opaque("batch_mean"))
_typed("batch_std", (F,), F, _batch_std, "batch_std({0})", "batch_std({0})", _opaque("batch_std"))

#: Helper definitions the generated Python source relies on.
SOURCE_PRELUDE = f'''import jax.numpy as jnp
import jax


def safe_div(x, y):
    return x / jnp.where(y >= 0, y + {DIV_EPS!r}, y - {DIV_EPS!r})


def safe_log(x):
    return jnp.log(jnp.abs(x) + {LOG_EPS!r})


def safe_exp(x):
    return jnp.exp(jnp.clip(x, -{EXP_CLIP!r}, {EXP_CLIP!r}))


def safe_sqrt(x):
    return jnp.sqrt(jnp.abs(x) + {LOG_EPS!r}) - jnp.sqrt({LOG_EPS!r})


def per_action(x):
    return jnp.asarray(x)[..., None]


def safe_std(x, axis):
    mean = jnp.mean(x, axis=axis, keepdims=True)
    return safe_sqrt(jnp.mean(jnp.square(x - mean), axis=axis))


def select(q, a):
    index = jnp.clip(jnp.asarray(a).astype(jnp.int32), 0, q.shape[-1] - 1)
    return jnp.take_along_axis(q, index[..., None], axis=-1)[..., 0]


def kl(p, q):
    return jnp.sum(p * (jnp.log(jnp.abs(p) + {PROB_EPS!r}) - jnp.log(jnp.abs(q) + {PROB_EPS!r})), axis=-1)


def entropy(p):
    return -jnp.sum(p * jnp.log(jnp.abs(p) + {PROB_EPS!r}), axis=-1)


def batch_mean(x):
    return jnp.broadcast_to(jnp.mean(x), jnp.shape(x))


def batch_std(x):
    return jnp.broadcast_to(safe_std(x, None), jnp.shape(x))
'''


def producing(ops: Sequence[Op], out_type: ValueType) -> list[Op]:
    """The ops of ``ops`` whose result has type ``out_type``."""
    return [op for op in ops if op.out_type == out_type]
