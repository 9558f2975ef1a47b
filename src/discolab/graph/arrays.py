"""A batch of programs as padded integer arrays, made and mutated without a Program object.

The arrays engine (:mod:`discolab.study.array_loop`) keeps a whole batch as
arrays from its birth to the store: random generation, type-preserving
mutation (change an op, rewire an argument, insert or delete a node, the
kinds of :mod:`discolab.graph.mutate`), the required-input repair, liveness
and a structural hash are numpy operations over the batch, a few dozen per
batch instead of a Python object per node per proposal. Only spaces of one
value type qualify (every slot and every op's inputs and output the space's
output type: symbolic regression), where any slot may feed any argument.

Canonical form: nodes at or past a program's length are op 0 with arguments
0, and argument positions at or past an op's arity are 0, so two programs
are equal exactly when their rows are. Node ``i`` writes slot
``n_fixed + i``; the last node (``lengths - 1``) is the output, as in
:class:`~discolab.graph.Program`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from discolab.graph.interpret import EncodedPrograms
from discolab.graph.program import Node, Program
from discolab.graph.space import SearchSpace

#: Redraws for the children that a mutation left equal to their parent (see ``mutate_arrays``).
MUTATION_RETRIES = 8
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
#: Odd multiplier of a node's op id in its digest (the arguments' are ``_arg_salts``).
_OP_SALT = np.uint64(0xD6E8FEB86659FD93)


class ProgramArrays(NamedTuple):
    """Programs in canonical padded form (see the module docstring)."""

    op_ids: np.ndarray  # [B, N] int32: index into space.ops
    args: np.ndarray  # [B, N, A] int32: argument slots
    lengths: np.ndarray  # [B] int32: nodes per program, >= 1

    def __len__(self) -> int:
        return len(self.lengths)

    def take(self, rows: np.ndarray | Sequence[int]) -> ProgramArrays:
        rows = np.asarray(rows, np.intp)
        return ProgramArrays(self.op_ids[rows], self.args[rows], self.lengths[rows])

    def encoded(self, n_fixed: int, pad_to: int | None = None) -> EncodedPrograms:
        """The interpreter's encoding, the batch padded to ``pad_to`` by repeating the first row."""
        pad = max(0, (pad_to or 0) - len(self))
        rows = np.concatenate([np.arange(len(self)), np.zeros(pad, np.intp)]) if pad else slice(None)
        return EncodedPrograms(self.op_ids[rows], self.args[rows], (n_fixed + self.lengths - 1)[rows].astype(np.int32))


def concat(parts: Sequence[ProgramArrays]) -> ProgramArrays:
    return ProgramArrays(*(np.concatenate([getattr(p, f) for p in parts]) for f in ProgramArrays._fields))


@dataclasses.dataclass(frozen=True, eq=False)
class ArraySpace:
    """What the array operations need to know of a one-type space."""

    space: SearchSpace
    n_fixed: int
    max_nodes: int
    max_arity: int
    arity: np.ndarray  # [ops] int
    commutative: np.ndarray  # [ops] bool
    required: np.ndarray  # [r] slots of the required inputs (all inputs if none are required)
    node_json: np.ndarray | None  # [ops, S, S] object: a node's JSON, where max_arity <= 2

    @property
    def n_ops(self) -> int:
        return len(self.arity)


class NotOneTypeSpace(ValueError):
    """A space the array operations cannot handle; the message names the op or input that breaks it."""


@functools.lru_cache(maxsize=64)
def array_space(space: SearchSpace) -> ArraySpace:
    """The array view of ``space``; raises ``NotOneTypeSpace`` unless every slot and op has its output type."""
    t = space.output_type
    for name, vt in space.inputs:
        if vt != t:
            raise NotOneTypeSpace(
                f"input {name!r} is {vt.value}, not {t.value}: the arrays engine needs one value type"
            )
    for op in space.op_defs:
        if op.out_type != t or any(u != t for u in op.in_types) or op.arity < 1:
            raise NotOneTypeSpace(f"op {op.name!r} does not map {t.value} arguments to a {t.value}: "
                                  "the arrays engine needs one value type")
    names = [n for n, _ in space.inputs]
    required = [names.index(n) for n in space.required_inputs]
    arity = np.array([op.arity for op in space.op_defs], np.int32)
    slots = space.n_fixed + space.max_nodes
    node_json = None
    if space.max_arity <= 2:
        node_json = np.empty((len(space.ops), slots, slots), object)
        for k, op in enumerate(space.op_defs):
            for a in range(slots):
                for b in range(slots):
                    node_json[k, a, b] = f'["{op.name}",[{a}]]' if op.arity == 1 else f'["{op.name}",[{a},{b}]]'
    return ArraySpace(
        space=space, n_fixed=space.n_fixed, max_nodes=space.max_nodes, max_arity=max(space.max_arity, 1),
        arity=arity, commutative=np.array([op.commutative for op in space.op_defs], bool),
        required=np.array(required or range(len(names)), np.int32), node_json=node_json,
    )


# -- conversion ---------------------------------------------------------------


def from_programs(programs: Sequence[Program], a: ArraySpace) -> ProgramArrays:
    """Programs of ``a.space`` as canonical arrays."""
    b, n, m = len(programs), a.max_nodes, a.max_arity
    op_ids, args = np.zeros((b, n), np.int32), np.zeros((b, n, m), np.int32)
    index = {name: k for k, name in enumerate(a.space.ops)}
    for r, program in enumerate(programs):
        for i, node in enumerate(program.nodes):
            op_ids[r, i] = index[node.op]
            args[r, i, : len(node.args)] = node.args
    return ProgramArrays(op_ids, args, np.array([len(p.nodes) for p in programs], np.int32))


def to_programs(p: ProgramArrays, a: ArraySpace) -> list[Program]:
    names = a.space.ops
    arity = a.arity.tolist()
    out = []
    for ops, args, length in zip(p.op_ids.tolist(), p.args.tolist(), p.lengths.tolist()):
        out.append(Program(tuple(Node(names[o], tuple(args[i][: arity[o]])) for i, o in enumerate(ops[:length]))))
    return out


def to_json(p: ProgramArrays, a: ArraySpace) -> list[str]:
    """Each program's JSON, the same text as ``Program.to_json`` (a table lookup per node)."""
    if a.node_json is None:
        return [program.to_json() for program in to_programs(p, a)]
    second = p.args[:, :, 1] if a.max_arity > 1 else np.zeros_like(p.op_ids)
    nodes = a.node_json[p.op_ids, p.args[:, :, 0], second].tolist()
    return ["[" + ",".join(row[:length]) + "]" for row, length in zip(nodes, p.lengths.tolist())]


# -- structure -----------------------------------------------------------------


def live_mask(p: ProgramArrays, a: ArraySpace) -> np.ndarray:
    """``[B, n_fixed + N]``: the slots the output reads, itself included."""
    b, n = p.op_ids.shape
    slots = a.n_fixed + n
    live = np.zeros(b * slots, bool)  # flat: one fancy index per node and argument
    base = np.arange(b) * slots
    live[base + a.n_fixed + p.lengths - 1] = True
    arity = a.arity[p.op_ids]
    flat_args = p.args + base[:, None, None]
    for i in range(n - 1, -1, -1):
        on = live[base + a.n_fixed + i]
        for j in range(a.max_arity):
            live[flat_args[on & (arity[:, i] > j), i, j]] = True
    return live.reshape(b, slots)


def reads_required(p: ProgramArrays, a: ArraySpace, live: np.ndarray | None = None) -> np.ndarray:
    """``[B]``: whether the output reads a required input (any input if the space requires none)."""
    live = live_mask(p, a) if live is None else live
    return live[:, a.required].any(axis=1)


def _splitmix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer: a well-mixed uint64 per uint64 (wrapping arithmetic)."""
    x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK64
    x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK64
    x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK64
    return x ^ (x >> np.uint64(31))


def structural_hashes(p: ProgramArrays, a: ArraySpace) -> np.ndarray:
    """``[B]`` uint64: equal for programs of the same expression DAG.

    A node's digest mixes its op with its arguments' digests (sorted for a
    commutative op), so dead nodes, node order and commutative argument order
    do not change the output's digest: the rules of
    :func:`discolab.graph.structural_hash`, with a 64-bit mix instead of blake2b.
    """
    return node_digests(p, a)[np.arange(len(p)), a.n_fixed + p.lengths - 1]


def node_digests(p: ProgramArrays, a: ArraySpace) -> np.ndarray:
    """``[B, n_fixed + N]`` uint64: each slot's digest, equal for equal subexpressions (see ``structural_hashes``)."""
    b, n = p.op_ids.shape
    digests = np.zeros((b, a.n_fixed + n), np.uint64)
    digests[:, : a.n_fixed] = _splitmix(np.arange(a.n_fixed, dtype=np.uint64) + np.uint64(1 << 40))
    rows = np.arange(b)
    arity = a.arity[p.op_ids]
    commutative = a.commutative[p.op_ids]
    salts = _splitmix(np.arange(a.max_arity, dtype=np.uint64)) | np.uint64(1)
    with np.errstate(over="ignore"):
        for i in range(n):
            children = digests[rows[:, None], p.args[:, i, :]]  # [B, A]
            children = np.where(np.arange(a.max_arity)[None] < arity[:, i, None], children, np.uint64(0))
            if a.max_arity > 1:
                swapped = commutative[:, i] & (children[:, 0] > children[:, 1])
                children[swapped, :2] = children[swapped, 1::-1]
            h = p.op_ids[:, i].astype(np.uint64) * _OP_SALT
            for j in range(a.max_arity):
                h = h + children[:, j] * salts[j]  # wraps mod 2^64; a distinct odd factor per position
            digests[:, a.n_fixed + i] = _splitmix(h)
    return digests


# -- generation and mutation ---------------------------------------------------


def canonical(p: ProgramArrays, a: ArraySpace) -> ProgramArrays:
    """Zeroes the nodes past each length and the argument positions past each op's arity."""
    n = p.op_ids.shape[1]
    inside = np.arange(n)[None] < p.lengths[:, None]
    op_ids = np.where(inside, p.op_ids, 0).astype(np.int32)
    used = inside[:, :, None] & (np.arange(a.max_arity)[None, None] < a.arity[op_ids][:, :, None])
    return ProgramArrays(op_ids, np.where(used, p.args, 0).astype(np.int32), p.lengths.astype(np.int32))


def _below(rng: np.random.Generator, limit: np.ndarray) -> np.ndarray:
    """A uniform integer in ``[0, limit)`` per element (``limit >= 1``)."""
    return np.minimum((rng.random(limit.shape) * limit).astype(np.int64), limit - 1)


def _pick(rng: np.random.Generator, allowed: np.ndarray) -> np.ndarray:
    """Per row of ``allowed [B, K]`` (each with a True), the index of a uniformly drawn True."""
    keys = np.where(allowed, rng.random(allowed.shape), -1.0)
    return keys.argmax(axis=1)


def random_arrays(
    rng: np.random.Generator, a: ArraySpace, count: int, lengths: np.ndarray | None = None
) -> ProgramArrays:
    """``count`` random valid programs (lengths uniform in ``[1, max_nodes]`` unless given).

    As :func:`discolab.graph.random_program` draws them: each node an op drawn
    uniformly, each argument a uniformly drawn earlier slot; then the
    required-input repair.
    """
    n, m = a.max_nodes, a.max_arity
    if lengths is None:
        lengths = rng.integers(1, n + 1, count)
    op_ids = rng.integers(0, a.n_ops, (count, n))
    limit = np.broadcast_to((a.n_fixed + np.arange(n))[None, :, None], (count, n, m))
    args = _below(rng, limit)
    p = canonical(ProgramArrays(op_ids, args, np.asarray(lengths, np.int32)), a)
    return ensure_required(rng, p, a)


def ensure_required(rng: np.random.Generator, p: ProgramArrays, a: ArraySpace) -> ProgramArrays:
    """Rewires one live argument to a required input in each program whose output reads none."""
    live = live_mask(p, a)
    bad = np.flatnonzero(~reads_required(p, a, live))
    if not len(bad):
        return p
    n, m = a.max_nodes, a.max_arity
    node_live = live[bad, a.n_fixed :]
    positions = node_live[:, :, None] & (np.arange(m)[None, None] < a.arity[p.op_ids[bad]][:, :, None])
    flat = _pick(rng, positions.reshape(len(bad), n * m))
    args = p.args.copy()
    args[bad, flat // m, flat % m] = a.required[_below(rng, np.full(len(bad), len(a.required)))]
    return ProgramArrays(p.op_ids, args, p.lengths)


def _change_op(rng: np.random.Generator, p: ProgramArrays, a: ArraySpace, live: np.ndarray) -> ProgramArrays:
    """A random live node gets another op; arguments it keeps stay, new ones read random earlier slots."""
    b = len(p)
    rows = np.arange(b)
    i = _pick(rng, live)
    old = p.op_ids[rows, i]
    new = (old + 1 + _below(rng, np.full(b, a.n_ops - 1))) % a.n_ops
    op_ids = p.op_ids.copy()
    op_ids[rows, i] = new
    args = p.args.copy()
    for j in range(a.max_arity):
        fresh = j >= a.arity[old]
        args[rows[fresh], i[fresh], j] = _below(rng, a.n_fixed + i[fresh])
    return canonical(ProgramArrays(op_ids, args, p.lengths), a)


def _rewire(rng: np.random.Generator, p: ProgramArrays, a: ArraySpace, live: np.ndarray) -> ProgramArrays:
    """One argument of a random live node (one with two or more earlier slots) reads another earlier slot."""
    b, n = p.op_ids.shape
    rows = np.arange(b)
    i = _pick(rng, live & (a.n_fixed + np.arange(n) >= 2)[None])
    j = _below(rng, a.arity[p.op_ids[rows, i]])
    current = p.args[rows, i, j]
    slot = _below(rng, a.n_fixed + i - 1)
    args = p.args.copy()
    args[rows, i, j] = slot + (slot >= current)
    return ProgramArrays(p.op_ids, args, p.lengths)


def _insert(rng: np.random.Generator, p: ProgramArrays, a: ArraySpace, live: np.ndarray) -> ProgramArrays:
    """A new random node goes before a random live consumer and feeds one of its arguments."""
    b, n = p.op_ids.shape
    rows = np.arange(b)
    consumer = _pick(rng, live)
    at = _below(rng, consumer + 1)  # the new node's index
    d = np.arange(n)[None]
    source = np.clip(d - (d > at[:, None]), 0, n - 1)  # [B, N]: old index of each new index
    op_ids = np.take_along_axis(p.op_ids, source, axis=1)
    args = np.take_along_axis(p.args, source[:, :, None], axis=1)
    slot = (a.n_fixed + at)[:, None, None]
    args = np.where((d > at[:, None])[:, :, None] & (args >= slot), args + 1, args)
    op_ids[rows, at] = rng.integers(0, a.n_ops, b)
    args[rows, at] = _below(rng, np.broadcast_to((a.n_fixed + at)[:, None], (b, a.max_arity)))
    fed = consumer + 1
    j = _below(rng, a.arity[op_ids[rows, fed]])
    args[rows, fed, j] = a.n_fixed + at
    return canonical(ProgramArrays(op_ids, args, p.lengths + 1), a)


def _delete(rng: np.random.Generator, p: ProgramArrays, a: ArraySpace, live: np.ndarray) -> ProgramArrays:
    """A random non-output node goes; its readers read a random earlier slot instead."""
    b, n = p.op_ids.shape
    i = _below(rng, p.lengths - 1)
    slot = (a.n_fixed + i)[:, None, None]
    replacement = _below(rng, a.n_fixed + i)[:, None, None]
    d = np.arange(n)[None]
    source = np.clip(d + (d >= i[:, None]), 0, n - 1)
    op_ids = np.take_along_axis(p.op_ids, source, axis=1)
    args = np.take_along_axis(p.args, source[:, :, None], axis=1)
    after = (d >= i[:, None])[:, :, None]
    args = np.where(after & (args == slot), replacement, np.where(after & (args > slot), args - 1, args))
    return canonical(ProgramArrays(op_ids, args, p.lengths - 1), a)


_KINDS = (_change_op, _rewire, _insert, _delete)


def _applicable(p: ProgramArrays, a: ArraySpace, live: np.ndarray) -> np.ndarray:
    """``[B, 4]``: which kinds (change_op, rewire, insert, delete) can change each program."""
    n = p.op_ids.shape[1]
    return np.stack([
        np.full(len(p), a.n_ops > 1),
        (live & (a.n_fixed + np.arange(n) >= 2)[None]).any(axis=1),
        p.lengths < a.max_nodes,
        p.lengths >= 2,
    ], axis=1)


def equal_rows(x: ProgramArrays, y: ProgramArrays) -> np.ndarray:
    """``[B]``: whether row k of ``x`` is the same program as row k of ``y`` (both canonical)."""
    return (x.lengths == y.lengths) & (x.op_ids == y.op_ids).all(axis=1) & (x.args == y.args).all(axis=(1, 2))


def mutate_arrays(rng: np.random.Generator, parents: ProgramArrays, a: ArraySpace) -> ProgramArrays:
    """One random type-preserving mutation of each parent.

    A kind is drawn uniformly among those that can change the program, then
    the required-input repair runs; a child the repair turned back into its
    parent is drawn again, up to ``MUTATION_RETRIES`` times (a parent no kind
    can change, one node over one input, stays as it is).
    """
    children = parents
    todo = np.arange(len(parents))
    live_nodes = live_mask(parents, a)[:, a.n_fixed :]
    for _ in range(MUTATION_RETRIES):
        if not len(todo):
            break
        p = parents.take(todo)
        live = live_nodes[todo]
        allowed = _applicable(p, a, live)
        can = allowed.any(axis=1)
        todo, p, allowed, live = todo[can], p.take(np.flatnonzero(can)), allowed[can], live[can]
        kind = _pick(rng, allowed) if len(todo) else np.zeros(0, np.intp)
        made = [children.op_ids.copy(), children.args.copy(), children.lengths.copy()]
        for k, fn in enumerate(_KINDS):
            sel = np.flatnonzero(kind == k)
            if len(sel):
                made[0][todo[sel]], made[1][todo[sel]], made[2][todo[sel]] = fn(rng, p.take(sel), a, live[sel])
        repaired = ensure_required(rng, ProgramArrays(*made).take(todo), a)  # one pass for every kind
        made[0][todo], made[1][todo], made[2][todo] = repaired
        children = ProgramArrays(*made)
        same = equal_rows(children.take(todo), parents.take(todo))
        todo = todo[same]
    return children
