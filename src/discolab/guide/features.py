"""Programs as padded graph arrays, the input of the GNN encoder.

A program becomes the graph of its *live* computation: one node per live
fixed slot (an input or a constant the output reads) and per live op node;
dead nodes are dropped, so a mutation of dead code leaves the graph, and the
prediction, unchanged. Node features are a token (which input, which
constant, which op), the node's value type and an "is the output" flag.
Edges run from an argument to the node that reads it and carry the argument's
position (``sub(a, b)`` is not ``sub(b, a)``); they are stored as one dense
adjacency matrix per position, ``adj[p, i, j] = 1`` when argument ``p`` of node
``i`` reads node ``j``.

Every graph of a space is padded to ``n_nodes = n_fixed + max_nodes`` nodes,
so a batch of graphs has a fixed shape per batch size, and batch sizes are
padded to buckets (:func:`bucket`): the jitted encoder compiles a handful of
times per search, never per batch. Node order inside the arrays is the
program's order, but nothing downstream depends on it: the encoder is
permutation-equivariant and pools with a permutation-invariant readout, so
two numberings of one graph embed identically (a test checks this).

Optional probe values (``probes = K > 0``, off by default; not in the
paper): every node also carries its value at ``K`` fixed random inputs
(standard normal per input, the same for every program), squashed by
``sign(x) log(1 + |x|)``. Tokens say what a node computes; probes say what it
computes *to*, so two rules that differ only in a constant, or two
equivalent spellings, are told apart or matched. They cost one host
evaluation of the live nodes per distinct program (memoized) and need a space
whose values are all FLOAT with numpy forms of every op. On a domain whose
evaluation is itself a few host evaluations (Nguyen), probes at points inside
the data's range are close to an evaluation: say so when reporting them.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from discolab.graph import Program, SearchSpace, ValueType, live_slots
from discolab.graph import ops as ops_lib

#: Smallest padded batch of graphs; larger batches pad to the next power of two.
MIN_BUCKET = 16
#: Seed of the probe inputs (fixed: a program's probe values never change within or across searches).
PROBE_SEED = 20240603


class GraphBatch(NamedTuple):
    """A batch of padded program graphs (numpy on the host, jax arrays inside jit).

    Attributes:
      tokens: ``[G, N]`` int32, the node's input, constant or op (0 = padding).
      types: ``[G, N]`` int32, the node's value type (index into ``space.types``).
      output: ``[G, N]`` float32, 1.0 at the output node.
      mask: ``[G, N]`` float32, 1.0 at real nodes.
      adj: ``[G, P, N, N]`` float32, ``adj[g, p, i, j] = 1`` when argument ``p`` of node ``i`` reads node ``j``.
      values: ``[G, N, K]`` float32, each node's squashed values at the ``K`` probe inputs (``K = 0``: off).
    """

    tokens: np.ndarray
    types: np.ndarray
    output: np.ndarray
    mask: np.ndarray
    adj: np.ndarray
    values: np.ndarray


def bucket(n: int, minimum: int = MIN_BUCKET) -> int:
    """The padded batch size for ``n`` graphs: the next power of two, at least ``minimum``.

    >>> [bucket(n) for n in (1, 16, 17, 500)]
    [16, 16, 32, 512]
    """
    size = minimum
    while size < n:
        size *= 2
    return size


@dataclasses.dataclass(frozen=True)
class Featurizer:
    """Turns programs of one space into :class:`GraphBatch` arrays.

    Token ids: 0 is padding, ``1 .. n_fixed`` the fixed slots (inputs, then
    constants), then one id per op of the space.

    >>> space = SearchSpace(inputs=(("x0", "float"),), ops=("add", "sin"), constants=(1.0,), max_nodes=4)
    >>> f = Featurizer(space)
    >>> g = f.batch([Program.from_nodes([("sin", [0]), ("add", [2, 1])])])
    >>> g.tokens.shape, int(g.mask.sum()), g.tokens[0, :4].tolist()  # x0, 1.0, sin (op 2), add (op 1)
    ((16, 6), 4, [1, 2, 4, 3])
    """

    space: SearchSpace
    probes: int = 0
    points: tuple[tuple[float, ...], ...] = ()

    def __post_init__(self) -> None:
        if self.probes < 0:
            raise ValueError(f"probes must be >= 0, got {self.probes}")
        if self.points and (len(self.points) != len(self.space.inputs)
                            or any(len(row) != self.probes for row in self.points)):
            raise ValueError(f"probe points: need {self.probes} points for each of the space's "
                             f"{len(self.space.inputs)} inputs, got {[len(row) for row in self.points]}")
        if self.probes:
            kinds = {t for _, t in self.space.inputs} | {ops_lib.get(name).out_type for name in self.space.ops}
            no_host = [name for name in self.space.ops if ops_lib.get(name).host is None]
            if kinds != {ValueType.FLOAT} or no_host:
                raise ValueError(
                    f"probes: probe values need a space of FLOAT values whose ops all have numpy forms "
                    f"(value types {sorted(map(str, kinds))}, ops without numpy forms {no_host}); set probes = 0"
                )

    @functools.cached_property
    def probe_inputs(self) -> np.ndarray:
        """``[n_fixed, K]``: each input's probe points (``points``, else standard normal), then each
        constant repeated."""
        if self.points:
            inputs = np.asarray(self.points, np.float64).reshape(len(self.space.inputs), self.probes)
        else:
            inputs = np.random.default_rng(PROBE_SEED).standard_normal((len(self.space.inputs), self.probes))
        constants = np.repeat(np.asarray(self.space.constants, np.float64)[:, None], self.probes, axis=1)
        return np.concatenate([inputs, constants.reshape(-1, self.probes)])

    @functools.cached_property
    def n_nodes(self) -> int:
        return self.space.n_fixed + self.space.max_nodes

    @functools.cached_property
    def n_positions(self) -> int:
        return self.space.max_arity

    @functools.cached_property
    def n_tokens(self) -> int:
        return 1 + self.space.n_fixed + len(self.space.ops)

    @functools.cached_property
    def n_types(self) -> int:
        return len(self.space.types)

    @functools.cached_property
    def _op_token(self) -> dict[str, int]:
        return {name: 1 + self.space.n_fixed + k for k, name in enumerate(self.space.ops)}

    @functools.cached_property
    def _type_index(self) -> dict:
        return {t: k for k, t in enumerate(self.space.types)}

    def graph(self, program: Program) -> tuple[np.ndarray, ...]:
        """One program's ``(tokens, types, output, mask, adj)`` arrays, unbatched."""
        return _graph(self, program.to_json())

    def batch(self, programs: Sequence[Program], pad_to: int | None = None) -> GraphBatch:
        """Stacks ``programs`` into a batch padded to ``pad_to`` graphs (default: :func:`bucket`)."""
        size = bucket(len(programs)) if pad_to is None else pad_to
        if size < len(programs):
            raise ValueError(f"pad_to={size} is smaller than the {len(programs)} programs")
        n, p = self.n_nodes, self.n_positions
        out = GraphBatch(np.zeros((size, n), np.int32), np.zeros((size, n), np.int32), np.zeros((size, n), np.float32),
                         np.zeros((size, n), np.float32), np.zeros((size, p, n, n), np.float32),
                         np.zeros((size, n, self.probes), np.float32))
        for g, program in enumerate(programs):
            for field, value in zip(out, self.graph(program)):
                field[g] = value
        return out


@functools.lru_cache(maxsize=16384)
def _graph(featurizer: Featurizer, program_json: str) -> tuple[np.ndarray, ...]:
    """Memoized on the program's JSON (a pure function: parents and archive members recur)."""
    return _build(featurizer, Program.from_json(program_json))


def _build(f: Featurizer, program: Program) -> tuple[np.ndarray, ...]:
    space = f.space
    n, p, n_fixed = f.n_nodes, f.n_positions, space.n_fixed
    live = live_slots(program, space)
    slots = sorted(live)  # fixed slots first, then op nodes in program order
    row = {slot: k for k, slot in enumerate(slots)}
    tokens = np.zeros(n, np.int32)
    types = np.zeros(n, np.int32)
    output = np.zeros(n, np.float32)
    mask = np.zeros(n, np.float32)
    adj = np.zeros((p, n, n), np.float32)
    values = np.zeros((n, f.probes), np.float32)
    if f.probes:
        for slot, value in _probe_values(f, program, slots).items():
            values[row[slot]] = value
    for slot, k in row.items():
        mask[k] = 1.0
        if slot < n_fixed:
            tokens[k] = 1 + slot
            types[k] = f._type_index[space.slot_types[slot]]
            continue
        node = program.nodes[slot - n_fixed]
        tokens[k] = f._op_token[node.op]
        types[k] = f._type_index[ops_lib.get(node.op).out_type]
        for position, arg in enumerate(node.args):
            adj[position, k, row[arg]] = 1.0
    output[row[n_fixed + len(program.nodes) - 1]] = 1.0
    for a in (tokens, types, output, mask, adj, values):
        a.setflags(write=False)
    return tokens, types, output, mask, adj, values


def _probe_values(f: Featurizer, program: Program, slots: list[int]) -> dict[int, np.ndarray]:
    """Each live slot's squashed values at the probe inputs (float64 on the host; non-finite -> 0)."""
    n_fixed = f.space.n_fixed
    raw: dict[int, np.ndarray] = {}
    with np.errstate(all="ignore"):
        for slot in slots:  # ascending: a node's arguments come first
            if slot < n_fixed:
                raw[slot] = f.probe_inputs[slot]
            else:
                node = program.nodes[slot - n_fixed]
                raw[slot] = np.asarray(ops_lib.get(node.op).host(*(raw[a] for a in node.args)), np.float64)
        return {slot: np.nan_to_num(np.sign(x) * np.log1p(np.abs(x)), nan=0.0, posinf=0.0, neginf=0.0)
                for slot, x in raw.items()}
