"""Program: an immutable typed DAG, its JSON form and its validation."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

from discolab.graph import ops as ops_lib
from discolab.graph.space import SearchSpace
from discolab.graph.types import ValueType


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

    def __len__(self) -> int:
        return len(self.nodes)

    def to_json(self) -> str:
        return json.dumps([[n.op, list(n.args)] for n in self.nodes], separators=(",", ":"))

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
        return cls(tuple(Node(str(op), tuple(int(a) for a in args)) for op, args in nodes))


def slot_type(program: Program, space: SearchSpace, slot: int) -> ValueType:
    if slot < space.n_fixed:
        return space.slot_types[slot]
    return ops_lib.get(program.nodes[slot - space.n_fixed].op).out_type


def live_slots(program: Program, space: SearchSpace) -> set[int]:
    """Slots the output depends on (the output's slot included)."""
    n_fixed = space.n_fixed
    live = {n_fixed + len(program.nodes) - 1}
    for i in range(len(program.nodes) - 1, -1, -1):
        if n_fixed + i in live:
            live.update(program.nodes[i].args)
    return live


def depends_on(program: Program, space: SearchSpace, input_names: Sequence[str]) -> bool:
    """Whether the output reads any of the named inputs."""
    if not input_names:
        return True
    slots = {i for i, (n, _) in enumerate(space.inputs) if n in input_names}
    return bool(slots & live_slots(program, space))


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
    allowed = set(space.ops)
    types = list(space.slot_types)
    for i, node in enumerate(program.nodes):
        if node.op not in allowed:
            raise InvalidProgram(f"node {i}: op {node.op!r} is not in the space; allowed: {sorted(allowed)}")
        op = ops_lib.get(node.op)
        if len(node.args) != op.arity:
            raise InvalidProgram(f"node {i}: op {node.op!r} takes {op.arity} arguments, got {len(node.args)}")
        for j, (arg, want) in enumerate(zip(node.args, op.in_types)):
            if not 0 <= arg < len(types):
                raise InvalidProgram(f"node {i}: argument {j} reads slot {arg}, which is not earlier")
            if types[arg] != want:
                raise InvalidProgram(
                    f"node {i}: op {node.op!r} argument {j} wants {want}, slot {arg} holds {types[arg]}"
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
