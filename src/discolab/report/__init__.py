"""Reports over a stored study: the best programs as formulas, counts, exports.

Everything here reads a `Store`; nothing writes. The space is rebuilt from
the study file, so a report needs no config and no domain.
"""

from __future__ import annotations

import json
from discolab.graph import SearchSpace, prune, space_from_dict, to_infix, to_source, to_sympy
from discolab.graph.composite import join_text
from discolab.study.store import ProgramRecord, Store

__all__ = ["ReportError", "best_summary", "counts_line", "export_best", "space_of", "top_table_rows"]


SIMPLIFY_MAX_NODES = 10


class ReportError(ValueError):
    """A report that cannot be made (an empty study, a format the program has no form in)."""


def space_of(store: Store) -> SearchSpace:
    return space_from_dict(store.space())


def _best(store: Store) -> ProgramRecord:
    top = store.top(1)
    if not top:
        raise ReportError(f"study has no evaluated program yet: {store.path}")
    return top[0]


def counts_line(store: Store) -> str:
    """One line: proposals, evaluations, duplicates and each failure status."""
    c = store.counts()
    # Hurdle failures and errors are always shown, zero included: their absence is news too.
    by_status = {"hurdle_failed": 0, "error": 0, **c.by_status}
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(by_status.items()))
    rate = c.duplicates / c.proposals if c.proposals else 0.0
    return (f"{c.proposals} proposals: {c.evaluated} evaluated, {c.duplicates} duplicates ({rate:.0%}); "
            f"evaluated by status: {statuses or 'none'}")


def top_table_rows(store: Store, n: int) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the ``n`` best evaluated programs, formulas included."""
    space = space_of(store)
    records = store.top(n)
    objective_names: list[str] = []
    for r in records:
        objective_names += [k for k in r.objectives if k != "fitness" and k not in objective_names]
    flags = sorted({k for r in records for k, v in r.details.items() if isinstance(v, bool)})
    header = ["id", "fitness", *objective_names, *flags, "status", "nodes", "formula"]
    rows = []
    for r in records:
        program = prune(r.program, space)
        rows.append([
            str(r.id), f"{r.fitness:.6g}",
            *(f"{r.objectives[k]:.4g}" if k in r.objectives else "-" for k in objective_names),
            *("yes" if r.details.get(k) else "no" for k in flags),
            str(r.status), str(len(program)), to_infix(program, space),
        ])
    return header, rows


def best_summary(store: Store) -> str:
    """A few lines on the best program: id, fitness, objectives and formula."""
    space = space_of(store)
    best = _best(store)
    program = prune(best.program, space)
    objectives = ", ".join(f"{k} {v:.4g}" for k, v in best.objectives.items() if k != "fitness")
    flags = ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in best.details.items() if isinstance(v, bool))
    lines = [f"best program #{best.id}: fitness {best.fitness:.6g}" + (f" ({objectives})" if objectives else "")
             + (f"; {flags}" if flags else ""),
             f"  {to_infix(program, space)}"]
    expr = _simplified(program, space)
    if expr is not None:
        lines.append(f"  simplified: {expr}")
    return "\n".join(lines)


def _simplified(program, space: SearchSpace) -> str | None:
    expr = to_sympy(program, space)
    if isinstance(expr, dict):  # a tuple of programs: simplify each part
        parts = [(name, _simplified(part, sub)) for (name, sub), part in zip(space.parts, program.parts)]
        return None if any(text is None for _, text in parts) else join_text(parts)
    # simplify has no time limit and can take minutes on a 20-node trigonometric
    # formula, so only small programs get it.
    if expr is None or len(program) > SIMPLIFY_MAX_NODES:
        return None
    import sympy

    try:
        simple = sympy.simplify(expr)
    except Exception:  # sympy can fail on exotic expressions; the raw formula is still shown
        return None
    # log|log|1|| is log(0) in exact arithmetic: the protected ops differ there, so say nothing.
    if simple.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
        return None
    return str(simple)


def export_best(store: Store, fmt: str) -> str:
    """The best program as Python/JAX source (``python``), ``sympy`` text or ``json``."""
    space = space_of(store)
    best = _best(store)
    program = prune(best.program, space)
    if fmt == "python":
        header = f"# discolab: best program #{best.id} of {store.path}, fitness {best.fitness:.6g}\n"
        return header + to_source(program, space)
    if fmt == "sympy":
        expr = to_sympy(program, space)
        if isinstance(expr, dict):  # a tuple of programs: one line per part
            if any(e is None for e in expr.values()):
                raise ReportError("the best candidate uses an op without an algebraic form; export it as python")
            return "\n".join(f"{name}: {e}" for name, e in expr.items())
        if expr is None:
            raise ReportError("the best program uses an op without an algebraic form; export it as python")
        return str(expr)
    if fmt == "json":
        return json.dumps({"id": best.id, "fitness": best.fitness, "objectives": dict(best.objectives),
                           "program": json.loads(program.to_json()), "space": space.to_dict(),
                           "formula": to_infix(program, space)}, indent=2)
    raise ReportError(f"unknown export format {fmt!r}; known: python, sympy, json")
