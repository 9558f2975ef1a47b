"""Discrete DARTS cells: the genotype, discretization of alphas, random cells, text and figures.

A cell has two input states (0 = ``c_{k-2}``, 1 = ``c_{k-1}``) and ``nodes``
intermediate nodes; node ``i`` (0-based) is state ``i + 2`` and may read any
state ``0 .. i + 1``. The supernet has one edge per such pair, laid out node by
node (DARTS' order): node 0 owns edges 0-1, node 1 edges 2-4, node 2 edges 5-8,
... so ``nodes * (nodes + 3) / 2`` edges. A genotype keeps two edges per node,
each with one non-zero op, as in DARTS' ``Genotype(normal=[(op, input), ...])``.

Example:
    >>> g = random_genotype(np.random.default_rng(0), "small", 3)
    >>> discretize(*one_hot_alphas(g), "small", 3) == g
    True
    >>> Genotype.from_json(g.to_json()) == g
    True
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from discolab.darts.ops import op_names

#: Logit of the ops a one-hot alpha switches off: ``exp`` underflows to exactly 0 in float32.
NEG_LOGIT = -1e9

Cell = tuple[tuple[str, int], ...]


def num_edges(nodes: int) -> int:
    """Edges of a supernet cell with ``nodes`` intermediate nodes: ``2 + 3 + ... + (nodes + 1)``."""
    return nodes * (nodes + 3) // 2


def edge_index(node: int, state: int) -> int:
    """Row of the alpha array for the edge ``state -> node`` (DARTS' node-by-node order)."""
    if not 0 <= state < node + 2:
        raise ValueError(f"node {node} reads states 0..{node + 1}, not {state}")
    return node * (node + 3) // 2 + state


def state_name(state: int) -> str:
    """``c_{k-2}``, ``c_{k-1}``, ``node 0``, ``node 1``, ..."""
    return ("c_{k-2}", "c_{k-1}")[state] if state < 2 else f"node {state - 2}"


def _canonical(cell: Cell) -> Cell:
    """Each node's two edges sorted by input state, so one architecture has one spelling."""
    pairs = [(str(op), int(j)) for op, j in cell]
    return tuple(e for i in range(0, len(pairs), 2) for e in sorted(pairs[i : i + 2], key=lambda e: e[1]))


@dataclasses.dataclass(frozen=True)
class Genotype:
    """A discrete normal and reduction cell: for node ``i``, entries ``2i`` and ``2i + 1``.

    Validated on construction (two distinct inputs per node, in range, non-zero
    ops of ``op_set``); each node's pair is stored sorted by input state so that
    equal architectures compare equal.
    """

    normal: Cell
    reduce: Cell
    nodes: int
    op_set: str

    def __post_init__(self) -> None:
        ops = op_names(self.op_set)
        for kind in ("normal", "reduce"):
            cell = _canonical(getattr(self, kind))
            if len(cell) != 2 * self.nodes:
                raise ValueError(f"{kind} cell needs 2 edges for each of {self.nodes} nodes, got {len(cell)}")
            for i in range(self.nodes):
                (op_a, a), (op_b, b) = cell[2 * i : 2 * i + 2]
                if a == b or not (0 <= a < i + 2 and 0 <= b < i + 2):
                    raise ValueError(f"{kind} node {i} needs two distinct inputs in 0..{i + 1}, got {a}, {b}")
                for op in (op_a, op_b):
                    if op not in ops or op == "zero":
                        raise ValueError(f"{kind} node {i}: {op!r} is not a non-zero op of {self.op_set!r}")
            object.__setattr__(self, kind, cell)

    def to_dict(self) -> dict:
        return {"normal": [list(e) for e in self.normal], "reduce": [list(e) for e in self.reduce],
                "nodes": self.nodes, "op_set": self.op_set}

    @classmethod
    def from_dict(cls, d: dict) -> Genotype:
        return cls(normal=tuple((op, j) for op, j in d["normal"]), reduce=tuple((op, j) for op, j in d["reduce"]),
                   nodes=int(d["nodes"]), op_set=str(d["op_set"]))

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Genotype:
        return cls.from_dict(json.loads(text))


def _softmax(alpha: np.ndarray, temperature: float) -> np.ndarray:
    z = np.asarray(alpha, np.float64) / temperature
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _discretize_cell(weights: np.ndarray, ops: tuple[str, ...], nodes: int) -> Cell:
    """DARTS' ``_parse``: per node, the 2 inputs whose strongest non-zero op weighs most, with that op.

    Ties go to the lower input state and the earlier op (stable sort, first argmax).
    """
    nonzero = [k for k, op in enumerate(ops) if op != "zero"]
    cell = []
    for i in range(nodes):
        rows = weights[edge_index(i, 0) : edge_index(i, 0) + i + 2][:, nonzero]
        kept = sorted(range(i + 2), key=lambda j: -rows[j].max())[:2]
        cell += [(ops[nonzero[int(np.argmax(rows[j]))]], j) for j in sorted(kept)]
    return tuple(cell)


def discretize(alpha_normal: np.ndarray, alpha_reduce: np.ndarray, op_set: str, nodes: int,
               temperature: float = 1.0) -> Genotype:
    """The genotype of a trained supernet: ``alpha_*`` are ``[num_edges, num_ops]`` logits.

    Edges are ranked by softmax(alpha / temperature), as DARTS ranks them, so
    the zero op is never kept even when it dominates an edge.
    """
    ops = op_names(op_set)
    shape = (num_edges(nodes), len(ops))
    cells = []
    for name, alpha in (("alpha_normal", alpha_normal), ("alpha_reduce", alpha_reduce)):
        alpha = np.asarray(alpha)
        if alpha.shape != shape:
            raise ValueError(f"{name} has shape {alpha.shape}; {op_set!r} with {nodes} nodes needs {shape}")
        cells.append(_discretize_cell(_softmax(alpha, temperature), ops, nodes))
    return Genotype(normal=cells[0], reduce=cells[1], nodes=nodes, op_set=op_set)


def random_genotype(rng: np.random.Generator, op_set: str = "small", nodes: int = 3) -> Genotype:
    """Uniform over the discrete space: 2 distinct inputs per node, each with a uniform non-zero op."""
    ops = [op for op in op_names(op_set) if op != "zero"]

    def cell() -> Cell:
        out = []
        for i in range(nodes):
            for j in sorted(rng.choice(i + 2, size=2, replace=False).tolist()):
                out.append((ops[int(rng.integers(len(ops)))], int(j)))
        return tuple(out)

    normal = cell()
    return Genotype(normal=normal, reduce=cell(), nodes=nodes, op_set=op_set)


def one_hot_alphas(genotype: Genotype) -> tuple[np.ndarray, np.ndarray]:
    """Alphas whose softmax is exactly the genotype (float32, ``[num_edges, num_ops]``).

    Kept edges: logit 0 on their op; dropped edges: logit 0 on ``zero``; all
    other logits ``NEG_LOGIT``. A supernet run with these equals the fixed cell.
    """
    ops = op_names(genotype.op_set)
    out = []
    for cell in (genotype.normal, genotype.reduce):
        alpha = np.full((num_edges(genotype.nodes), len(ops)), NEG_LOGIT, np.float32)
        alpha[:, ops.index("zero")] = 0.0
        for n, (op, j) in enumerate(cell):
            e = edge_index(n // 2, j)
            alpha[e, :] = NEG_LOGIT
            alpha[e, ops.index(op)] = 0.0
        out.append(alpha)
    return out[0], out[1]


def describe(genotype: Genotype) -> str:
    """Readable text, one line per node: ``normal node 2 = conv3x3(c_{k-1}) + skip(node 0)``."""
    lines = [f"genotype: op set {genotype.op_set!r}, {genotype.nodes} nodes"]
    for kind in ("normal", "reduce"):
        cell = getattr(genotype, kind)
        for i in range(genotype.nodes):
            terms = " + ".join(f"{op}({state_name(j)})" for op, j in cell[2 * i : 2 * i + 2])
            lines.append(f"{kind} node {i} = {terms}")
        nodes = ", ".join(state_name(i + 2) for i in range(genotype.nodes))
        lines.append(f"{kind} output = project(concat({nodes}))")
    return "\n".join(lines)


def draw(genotype: Genotype, path: str | Path) -> Path:
    """Save both cells as a small DAG figure (inputs left, nodes in a row, labelled edges)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = genotype.nodes
    fig = Figure(figsize=(3.0 + 1.6 * n, 6.0))
    FigureCanvasAgg(fig)
    pos = {0: (0.0, 1.0), 1: (0.0, -1.0), **{i + 2: (1.5 * (i + 1), 0.6 * (-1) ** i) for i in range(n)}}
    out = (1.5 * (n + 1), 0.0)
    for ax, kind in zip(fig.subplots(2, 1), ("normal", "reduce"), strict=True):
        cell = getattr(genotype, kind)
        for k, (op, j) in enumerate(cell):
            (x0, y0), (x1, y1) = pos[j], pos[k // 2 + 2]
            ax.annotate("", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "->", "color": "0.3",
                                                             "shrinkA": 14, "shrinkB": 14,
                                                             "connectionstyle": "arc3,rad=0.15"})
            ax.text(x0 + 0.55 * (x1 - x0), y0 + 0.55 * (y1 - y0), op, fontsize=8, ha="center", va="center",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "lightyellow", "ec": "0.6"})
        for i in range(n):
            ax.annotate("", out, pos[i + 2], arrowprops={"arrowstyle": "->", "color": "0.7", "ls": "--",
                                                         "shrinkA": 14, "shrinkB": 14})
        for s, (x, y) in [*pos.items(), ("out", out)]:
            label = "out" if s == "out" else state_name(s).replace("node ", "")
            color = "lightblue" if s in (0, 1) else "lightgreen" if s == "out" else "white"
            ax.text(x, y, label, ha="center", va="center", fontsize=9,
                    bbox={"boxstyle": "circle,pad=0.3", "fc": color, "ec": "0.2"})
        ax.set_title(f"{kind} cell ({genotype.op_set})", fontsize=10)
        ax.set_xlim(-0.6, out[0] + 0.6)
        ax.set_ylim(-1.6, 1.6)
        ax.axis("off")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    return path
