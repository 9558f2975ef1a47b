"""The op registry: name, typed signature, JAX implementation, renderings.

Ops are protected (``div``, ``log``, ``exp``, ``sqrt`` never return NaN or inf
for finite inputs) as in the public code of Evolving RL, so that the batched
interpreter can compute every op at every node and select one without the
unselected branches poisoning values or gradients.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax.numpy as jnp

from discolab.graph.types import ValueType

F = ValueType.FLOAT
EXP_CLIP = 50.0
DIV_EPS = 1e-10
LOG_EPS = 1e-12


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
    """

    name: str
    in_types: tuple[ValueType, ...]
    out_type: ValueType
    fn: Callable[..., Any]
    infix: str
    source: str
    sympy: Callable[..., Any] | None = None
    commutative: bool = False

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


def _safe_div(x: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
    # x / (y + eps) keeps the sign of y and never divides by zero.
    return x / jnp.where(y >= 0, y + DIV_EPS, y - DIV_EPS)


def _safe_log(x: jnp.ndarray) -> jnp.ndarray:
    return jnp.log(jnp.abs(x) + LOG_EPS)


def _safe_exp(x: jnp.ndarray) -> jnp.ndarray:
    return jnp.exp(jnp.clip(x, -EXP_CLIP, EXP_CLIP))


def _safe_sqrt(x: jnp.ndarray) -> jnp.ndarray:
    # sqrt(|x| + eps) - sqrt(eps): zero at zero and a finite gradient there.
    return jnp.sqrt(jnp.abs(x) + LOG_EPS) - jnp.sqrt(LOG_EPS)


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


def _binary(name: str, fn: Callable, infix: str, source: str, sym: Callable | None,
            commutative: bool) -> Op:
    return register(Op(name, (F, F), F, fn, infix, source, sym, commutative))


def _unary(name: str, fn: Callable, infix: str, source: str, sym: Callable | None) -> Op:
    return register(Op(name, (F,), F, fn, infix, source, sym))


_binary("add", jnp.add, "({0} + {1})", "{0} + {1}", lambda a, b: a + b, True)
_binary("sub", jnp.subtract, "({0} - {1})", "{0} - {1}", lambda a, b: a - b, False)
_binary("mul", jnp.multiply, "({0} * {1})", "{0} * {1}", lambda a, b: a * b, True)
_binary("div", _safe_div, "({0} / {1})", "safe_div({0}, {1})", lambda a, b: a / b, False)
_binary("max", jnp.maximum, "max({0}, {1})", "jnp.maximum({0}, {1})", _sym("Max"), True)
_binary("min", jnp.minimum, "min({0}, {1})", "jnp.minimum({0}, {1})", _sym("Min"), True)
_binary("distance", lambda x, y: 0.5 * (x - y) ** 2, "0.5*({0} - {1})^2",
        "0.5 * ({0} - {1}) ** 2", lambda a, b: (a - b) ** 2 / 2, True)
_unary("neg", jnp.negative, "(-{0})", "-{0}", lambda a: -a)
_unary("abs", jnp.abs, "|{0}|", "jnp.abs({0})", _sym("Abs"))
_unary("square", jnp.square, "{0}^2", "{0} ** 2", lambda a: a**2)
_unary("cube", lambda x: x**3, "{0}^3", "{0} ** 3", lambda a: a**3)
_unary("sin", jnp.sin, "sin({0})", "jnp.sin({0})", _sym("sin"))
_unary("cos", jnp.cos, "cos({0})", "jnp.cos({0})", _sym("cos"))
_unary("tanh", jnp.tanh, "tanh({0})", "jnp.tanh({0})", _sym("tanh"))
_unary("exp", _safe_exp, "exp({0})", "safe_exp({0})", _sym("exp"))
_unary("log", _safe_log, "log|{0}|", "safe_log({0})", _sym_log)
_unary("sqrt", _safe_sqrt, "sqrt|{0}|", "safe_sqrt({0})", _sym_sqrt)
_unary("inv", lambda x: _safe_div(jnp.ones_like(x), x), "(1 / {0})", "safe_div(1.0, {0})",
       lambda a: 1 / a)
_unary("scale_0.1", lambda x: 0.1 * x, "(0.1 * {0})", "0.1 * {0}", lambda a: a / 10)

#: Helper definitions the generated Python source relies on.
SOURCE_PRELUDE = f'''import jax.numpy as jnp


def safe_div(x, y):
    return x / jnp.where(y >= 0, y + {DIV_EPS!r}, y - {DIV_EPS!r})


def safe_log(x):
    return jnp.log(jnp.abs(x) + {LOG_EPS!r})


def safe_exp(x):
    return jnp.exp(jnp.clip(x, -{EXP_CLIP!r}, {EXP_CLIP!r}))


def safe_sqrt(x):
    return jnp.sqrt(jnp.abs(x) + {LOG_EPS!r}) - jnp.sqrt({LOG_EPS!r})
'''


def producing(ops: Sequence[Op], out_type: ValueType) -> list[Op]:
    """The ops of ``ops`` whose result has type ``out_type``."""
    return [op for op in ops if op.out_type == out_type]
