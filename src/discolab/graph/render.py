"""Renderings of a program: an infix formula, Python/JAX source, a sympy expression."""

from __future__ import annotations

from typing import Any

from discolab.graph import composite
from discolab.graph import ops as ops_lib
from discolab.graph.program import Program, live_slots
from discolab.graph.space import SearchSpace


def to_infix(program: Program, space: SearchSpace) -> str:
    """The output as one infix formula (shared subexpressions are repeated).

    A tuple renders as ``"actor: f | critic: g"``.
    """
    if composite.is_composite(space):
        return composite.join_text([(n, to_infix(p, s)) for n, p, s in composite.zip_parts(program, space)])
    text = list(space.slot_names)
    for node in program.nodes:
        text.append(ops_lib.get(node.op).infix.format(*(text[a] for a in node.args)))
    out = text[-1]
    return out[1:-1] if out.startswith("(") and out.endswith(")") and _balanced(out[1:-1]) else out


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def to_source(program: Program, space: SearchSpace, name: str = "program", prelude: bool = True) -> str:
    """Python/JAX source of a function computing the program (live nodes only).

    The function takes the space's inputs as arguments, in order. With
    ``prelude`` the text is a complete module, safe helpers included. A tuple
    gives one function per part, named ``{name}_{part}``.
    """
    if composite.is_composite(space):
        bodies = [to_source(p, s, f"{name}_{n}", prelude=False) for n, p, s in composite.zip_parts(program, space)]
        body = "\n\n".join(bodies)
        return f"{ops_lib.SOURCE_PRELUDE}\n\n{body}" if prelude else body
    live = live_slots(program, space)
    names = [n for n, _ in space.inputs] + [repr(c) for c in space.constants]
    lines = [f"def {name}({', '.join(n for n, _ in space.inputs)}):"]
    for i, node in enumerate(program.nodes):
        slot = space.n_fixed + i
        if slot not in live:
            names.append("None")
            continue
        var = f"v{i}"
        expr = ops_lib.get(node.op).source.format(*(_atom(names[a]) for a in node.args))
        lines.append(f"    {var} = {expr}")
        names.append(var)
    lines.append(f"    return {names[-1]}")
    body = "\n".join(lines) + "\n"
    return f"{ops_lib.SOURCE_PRELUDE}\n\n{body}" if prelude else body


def _atom(text: str) -> str:
    return f"({text})" if text.startswith("-") else text


def to_sympy(program: Program, space: SearchSpace, evaluate: bool = True) -> Any | None:
    """A sympy expression of the output, or None if an op has no algebraic form.

    Protected ops render as their mathematical meaning (``div`` as ``/``, ``log``
    as ``log|x|``), so the expression is exact where the guards are inactive.
    With ``evaluate=False`` sympy does not auto-simplify while building: its
    automatic evaluation can run for minutes on constant subtrees such as
    ``sin(exp(exp(x/x)))``, so code on a search's hot path passes False.
    A tuple gives ``{part: expression or None}``.
    """
    import sympy

    if composite.is_composite(space):
        return {n: to_sympy(p, s, evaluate) for n, p, s in composite.zip_parts(program, space)}

    with sympy.evaluate(evaluate):
        return _build_sympy(program, space)


def _build_sympy(program: Program, space: SearchSpace) -> Any | None:
    import sympy

    live = live_slots(program, space)
    values: list[Any] = [sympy.Symbol(n, real=True) for n, _ in space.inputs]
    values += [sympy.nsimplify(c) for c in space.constants]
    for i, node in enumerate(program.nodes):
        if space.n_fixed + i not in live:
            values.append(None)
            continue
        op = ops_lib.get(node.op)
        if op.sympy is None:
            return None
        values.append(op.sympy(*(values[a] for a in node.args)))
    return values[-1]
