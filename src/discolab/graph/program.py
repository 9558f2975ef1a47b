"""Program: an immutable typed DAG, its JSON form and its validation."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Sequence
from typing import Any

from discolab.graph import ops as ops_lib
from discolab.graph.space import SearchSpace
from discolab.graph.types import ValueType


#: ``json.dumps(..., separators=(",", ":"))`` without building an encoder per call; nodes (strings
#: and integers in tuples) cannot hold a cycle, so the encoder does not look for one.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), check_circular=False)


class InvalidProgram(ValueError):
    """A program that breaks a rule of its search space; the message says which."""


@dataclasses.dataclass(frozen=True)
class Node:
    """An op applied to earlier slots (inputs, constants or nodes)."""

    op: str
    args: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Program:
    """A straight-line program; node ``i`` writes slot ``space.n_fixed + i``.

    The last node is the output. Programs do not carry their space: the same
    JSON is meaningful only beside the space it was made for (a study stores
    both).
    """

    nodes: tuple[Node, ...]

    # Derived data (the JSON here; liveness, node types and the interpreter's encoding where they
    # are made) is cached in the instance ``__dict__``, beside the one field: a program never
    # changes (frozen, ``nodes`` a tuple of frozen nodes), so a cache cannot go stale, and a study
    # asks for the same program's JSON, liveness and encoding several times.

    def __post_init__(self) -> None:
        if type(self.nodes) is not tuple:  # a list would make the program (and its caches) mutable
            object.__setattr__(self, "nodes", tuple(self.nodes))

    def __len__(self) -> int:
        return len(self.nodes)

    def __getstate__(self) -> dict[str, Any]:
        return {"nodes": self.nodes}  # pickles (Ray) carry the program, not its caches

    def to_json(self) -> str:
        text = self.__dict__.get("_json")
        if text is None:  # a tuple encodes as a list
            text = self.__dict__["_json"] = _COMPACT_JSON.encode([[n.op, n.args] for n in self.nodes])
        return text

    @classmethod
    def from_json(cls, text: str) -> Program:
        try:
            return cls.from_nodes(json.loads(text))
        except (ValueError, TypeError) as err:  # int("a") fails here, as does a non-list
            raise InvalidProgram(f"program JSON is malformed: {err}") from None

    @classmethod
    def from_nodes(cls, nodes: Sequence[tuple[str, Sequence[int]]]) -> Program:
        """Builds a program from ``(op, args)`` pairs, normalizing names and indices.

        The plain constructor trusts its ``Node`` tuples (mutation builds them
        already normal); outside input comes through here or ``from_json``.
        """
        return cls(tuple([Node(str(op), tuple(map(int, args))) for op, args in nodes]))


def slot_type(program: Program, space: SearchSpace, slot: int) -> ValueType:
    if slot < space.n_fixed:
        return space.slot_types[slot]
    return ops_lib.get(program.nodes[slot - space.n_fixed].op).out_type


def live_slots(program: Program, space: SearchSpace) -> set[int]:
    """Slots the output depends on (the output's slot included)."""
    return set(live_set(program, space.n_fixed))


def live_set(program: Program, n_fixed: int) -> frozenset[int]:
    """``live_slots`` for a space with ``n_fixed`` fixed slots, computed once per program."""
    return _liveness(program, n_fixed)[1]


def live_nodes(program: Program, n_fixed: int) -> tuple[int, ...]:
    """Indices of the nodes the output reads (itself included), ascending; computed once per program."""
    return _liveness(program, n_fixed)[2]


def _liveness(program: Program, n_fixed: int) -> tuple[int, frozenset[int], tuple[int, ...]]:
    """``(n_fixed, live slots, live node indices)``, kept on the program for its (one) space."""
    cached = program.__dict__.get("_liveness")
    if cached is None or cached[0] != n_fixed:
        last = n_fixed + len(program.nodes) - 1
        live = {last}
        indices = reached_nodes(program.nodes, n_fixed, live, last)
        cached = program.__dict__["_liveness"] = (n_fixed, frozenset(live), tuple(reversed(indices)))
    return cached


def reached_nodes(nodes: Sequence[Node], n_fixed: int, wanted: set[int], top: int) -> list[int]:
    """Indices of the nodes at slots ``top`` and below that the slots in ``wanted`` read, descending.

    A node is reached if its slot is wanted; it then wants its arguments.
    ``wanted`` is updated in place and ends as every slot reached (fixed
    slots included). Liveness starts from the output; crossover starts from
    a node, or from what the nodes after a grafted one read.
    """
    found = []
    for slot in range(top, n_fixed - 1, -1):
        if slot in wanted:
            wanted.update(nodes[slot - n_fixed].args)
            found.append(slot - n_fixed)
    return found


def node_types(program: Program) -> tuple[ValueType, ...]:
    """The output type of each node (a space's slot types are ``space.slot_types + node_types(p)``)."""
    found = program.__dict__.get("_node_types")
    if found is None:
        found = program.__dict__["_node_types"] = tuple(ops_lib.get(n.op).out_type for n in program.nodes)
    return found


def depends_on(program: Program, space: SearchSpace, input_names: Sequence[str]) -> bool:
    """Whether the output reads any of the named inputs."""
    if not input_names:
        return True
    return not _input_slots(space.inputs, tuple(input_names)).isdisjoint(live_set(program, space.n_fixed))


@functools.lru_cache(maxsize=256)
def _input_slots(inputs: tuple[tuple[str, ValueType], ...], names: tuple[str, ...]) -> frozenset[int]:
    """Slots of the named inputs (memoized: every new program asks for the required inputs' slots)."""
    return frozenset(i for i, (n, _) in enumerate(inputs) if n in names)


def validate(program: Program, space: SearchSpace) -> None:
    """Raises InvalidProgram naming the first rule the program breaks (and, for a tuple, which part)."""
    from discolab.graph import composite

    if composite.is_composite(space):
        for name, part, part_space in composite.zip_parts(program, space):
            try:
                validate(part, part_space)
            except InvalidProgram as err:
                raise InvalidProgram(f"{name}: {err}") from None
        return
    if not program.nodes:
        raise InvalidProgram("program has no nodes")
    if len(program.nodes) > space.max_nodes:
        raise InvalidProgram(f"program has {len(program.nodes)} nodes; the space allows {space.max_nodes}")
    allowed = space.ops_by_name
    types = list(space.slot_types)
    for i, node in enumerate(program.nodes):
        op = allowed.get(node.op)
        if op is None:
            raise InvalidProgram(f"node {i}: op {node.op!r} is not in the space; allowed: {sorted(allowed)}")
        args, in_types = node.args, op.in_types
        if len(args) != len(in_types):
            raise InvalidProgram(f"node {i}: op {node.op!r} takes {op.arity} arguments, got {len(args)}")
        below = len(types)  # slots before this node
        for j, arg in enumerate(args):
            if not 0 <= arg < below:
                raise InvalidProgram(f"node {i}: argument {j} reads slot {arg}, which is not earlier")
            if types[arg] != in_types[j]:
                raise InvalidProgram(
                    f"node {i}: op {node.op!r} argument {j} wants {in_types[j]}, slot {arg} holds {types[arg]}"
                )
        types.append(op.out_type)
    if types[-1] != space.output_type:
        raise InvalidProgram(f"output is {types[-1]}; the space wants {space.output_type}")
    if not depends_on(program, space, space.required_inputs):
        raise InvalidProgram(f"output does not depend on any of {list(space.required_inputs)}")


def is_valid(program: Program, space: SearchSpace) -> bool:
    try:
        validate(program, space)
    except InvalidProgram:
        return False
    return True


def prune(program: Program, space: SearchSpace) -> Program:
    """The same program without dead nodes (renumbered); a tuple is pruned part by part."""
    from discolab.graph import composite

    if composite.is_composite(space):
        return composite.ProgramTuple(tuple(prune(p, s) for _, p, s in composite.zip_parts(program, space)))
    n_fixed = space.n_fixed
    live = live_slots(program, space)
    remap = {s: s for s in range(n_fixed)}
    nodes = []
    for i, node in enumerate(program.nodes):
        if n_fixed + i in live:
            remap[n_fixed + i] = n_fixed + len(nodes)
            nodes.append(Node(node.op, tuple(remap[a] for a in node.args)))
    return Program(tuple(nodes))
