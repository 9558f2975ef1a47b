"""The Pareto front of a multi-objective study, with the domain's named references beside it.

The objectives and their senses are the study's own: those its NSGA-II
config names, or, for any other searcher, the domain's ``senses`` if it has
them (MetaPG's actor_critic: performance and generalizability maximized,
instability minimized). References are the domain's ``named_programs`` (SAC
for MetaPG), found in the store by structural hash.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from discolab.domains.base import Status
from discolab.graph import prune, structural_hash, to_infix
from discolab.search.nsga2 import pareto_front
from discolab.study import Store
from discolab.study.config import parse_config
from discolab.study.store import ProgramRecord


@dataclasses.dataclass(frozen=True)
class Front:
    """The non-dominated evaluated candidates and the references found in the study.

    Attributes:
      objectives: ``(name, sense)`` pairs, in the config's order.
      members: front rows, best first by the first objective.
      references: ``name -> row`` of each named program the study evaluated.
      formulas: ``id -> formula`` of every listed row.
    """

    objectives: tuple[tuple[str, str], ...]
    members: tuple[ProgramRecord, ...]
    references: Mapping[str, ProgramRecord]
    formulas: Mapping[int, str]


def objectives_of(store: Store) -> tuple[tuple[str, str], ...]:
    """The study's objectives and senses; ``(("fitness", "max"),)`` if it names none."""
    config = parse_config(store.config())
    options = config.searcher_config()
    named = getattr(options, "objectives", None)
    if named and len(named) > 1:
        return tuple((o.name, o.sense) for o in named)
    senses = getattr(config.make_domain(), "senses", None)
    if senses:
        return tuple(senses.items())
    return (("fitness", "max"),)


def is_multi_objective(store: Store) -> bool:
    return len(objectives_of(store)) > 1


def pareto(store: Store) -> Front:
    """The front over the study's ``ok`` evaluations (duplicates excluded)."""
    config = parse_config(store.config())
    domain = config.make_domain()
    space = domain.space
    objectives = objectives_of(store)
    names = [n for n, _ in objectives]
    rows = [r for r in store.rows() if r.duplicate_of is None and r.status == Status.OK
            and all(n in r.objectives and np.isfinite(r.objectives[n]) for n in names)]
    members: list[ProgramRecord] = []
    if rows:
        values = np.array([[r.objectives[n] for n in names] for r in rows], np.float64)
        members = [rows[i] for i in pareto_front(values, [s for _, s in objectives])]
        sign = -1.0 if objectives[0][1] == "max" else 1.0
        members.sort(key=lambda r: (sign * r.objectives[names[0]], r.id))
    references: dict[str, ProgramRecord] = {}
    for ref_name, program in getattr(domain, "named_programs", {}).items():
        found = store.lookup_hash(structural_hash(program, space))
        if found is not None:
            original = store.get(found.duplicate_of) if found.duplicate_of is not None else found
            if original is not None:
                references[ref_name] = original
    formulas = {r.id: to_infix(prune(r.program, space), space) for r in [*members, *references.values()]}
    return Front(objectives, tuple(members), references, formulas)


def front_table_rows(front: Front) -> tuple[list[str], list[list[str]]]:
    """Header and rows: the references first (``sac``, or ``sac, front`` if on the front), then the front.

    Formulas are not in the rows (they are long): ``front.formulas`` has them by id.
    """
    names = [n for n, _ in front.objectives]
    header = ["id", "", *(f"{n} ({'+' if s == 'max' else '-'})" for n, s in front.objectives)]
    on_front = {r.id for r in front.members}
    rows = []
    for ref_name, r in front.references.items():
        mark = f"{ref_name}, front" if r.id in on_front else ref_name
        rows.append([str(r.id), mark, *(f"{r.objectives.get(n, float('nan')):.4g}" for n in names)])
    shown = {r.id for r in front.references.values()}
    for r in front.members:
        if r.id not in shown:
            rows.append([str(r.id), "front", *(f"{r.objectives[n]:.4g}" for n in names)])
    return header, rows


def dominates(a: Mapping[str, float], b: Mapping[str, float], objectives: Sequence[tuple[str, str]]) -> bool:
    """Whether ``a`` is at least as good as ``b`` on every objective and better on one."""
    better = False
    for name, sense in objectives:
        x, y = (a[name], b[name]) if sense == "max" else (-a[name], -b[name])
        if x < y:
            return False
        better |= x > y
    return better


def front_figure(front: Front, path: str | Path, all_rows: Sequence[ProgramRecord] = ()) -> Path:
    """The front's 2-D projections (one panel per pair of objectives), references marked; a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n, _ in front.objectives]
    pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))] or [(0, 0)]
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.2 * len(pairs), 3.8), squeeze=False)
    for ax, (i, j) in zip(axes[0], pairs):
        if all_rows:
            ax.scatter([r.objectives[names[i]] for r in all_rows], [r.objectives[names[j]] for r in all_rows],
                       s=8, c="0.8", label="evaluated")
        ax.scatter([r.objectives[names[i]] for r in front.members], [r.objectives[names[j]] for r in front.members],
                   s=22, c="tab:blue", label="Pareto front")
        for ref_name, r in front.references.items():
            ax.scatter([r.objectives[names[i]]], [r.objectives[names[j]]], marker="*", s=160, c="tab:red",
                       label=ref_name)
        ax.set_xlabel(f"{names[i]} ({front.objectives[i][1]})")
        ax.set_ylabel(f"{names[j]} ({front.objectives[j][1]})")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def ok_rows(store: Store, names: Sequence[str]) -> list[ProgramRecord]:
    """Every ``ok`` evaluated row that carries all of ``names`` (for the figure's background)."""
    return [r for r in store.rows() if r.duplicate_of is None and r.status == Status.OK
            and all(n in r.objectives for n in names)]


def summary(front: Front) -> dict[str, Any]:
    """JSON-ready front: objectives, references and members with formulas."""
    def row(r: ProgramRecord) -> dict[str, Any]:
        return {"id": r.id, "objectives": dict(r.objectives), "formula": front.formulas[r.id]}

    return {"objectives": [list(o) for o in front.objectives],
            "references": {k: row(r) for k, r in front.references.items()},
            "front": [row(r) for r in front.members]}
