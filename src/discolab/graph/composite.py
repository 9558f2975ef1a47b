"""Candidates made of several programs: MetaPG's (actor loss, critic loss) pair.

A ``CompositeSpace`` names a fixed tuple of search spaces; a ``ProgramTuple``
holds one program of each. The graph functions (validation, hashing,
fingerprints, mutation, random generation, rendering, JSON) accept either a
``(Program, SearchSpace)`` or a ``(ProgramTuple, CompositeSpace)``, so the
study loop, the store and the searchers handle a candidate of several
programs without a special case.

Example:
    >>> from discolab.graph.space import SearchSpace
    >>> s = SearchSpace(inputs=(("x", "float"),), ops=("add", "mul"))
    >>> space = CompositeSpace((("actor", s), ("critic", s)))
    >>> pair = ProgramTuple.from_json('{"parts": [[["add", [0, 0]]], [["mul", [0, 0]]]]}')
    >>> len(pair), space.names
    (2, ('actor', 'critic'))
    >>> space_from_dict(space.to_dict()) == space
    True
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from typing import Any

from discolab.graph.program import InvalidProgram, Program
from discolab.graph.space import SearchSpace


@dataclasses.dataclass(frozen=True)
class CompositeSpace:
    """A fixed, named tuple of search spaces; a candidate holds one program of each."""

    parts: tuple[tuple[str, SearchSpace], ...]

    def __post_init__(self) -> None:
        parts = tuple((str(n), s) for n, s in self.parts)
        object.__setattr__(self, "parts", parts)
        names = [n for n, _ in parts]
        if len(parts) < 2:
            raise ValueError("composite space: needs at least two parts")
        if len(set(names)) != len(names):
            raise ValueError(f"composite space: duplicate part names in {names}")
        for name, s in parts:
            if not isinstance(s, SearchSpace):
                raise ValueError(f"composite space: part {name!r} is not a SearchSpace")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.parts)

    @property
    def max_nodes(self) -> int:
        return sum(s.max_nodes for _, s in self.parts)

    def part(self, name: str) -> SearchSpace:
        for n, s in self.parts:
            if n == name:
                return s
        raise KeyError(f"composite space has no part {name!r}; parts: {list(self.names)}")

    def to_dict(self) -> dict[str, Any]:
        return {"composite": [[n, s.to_dict()] for n, s in self.parts]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompositeSpace:
        return cls(tuple((n, SearchSpace.from_dict(d)) for n, d in data["composite"]))


@dataclasses.dataclass(frozen=True)
class ProgramTuple:
    """One program per part of a ``CompositeSpace``, in the space's order.

    Like ``Program``, it does not carry its space; its length is the total
    number of nodes.
    """

    parts: tuple[Program, ...]

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def to_json(self) -> str:
        return json.dumps({"parts": [json.loads(p.to_json()) for p in self.parts]}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ProgramTuple:
        try:
            data = json.loads(text)
            parts = data["parts"]
            if not isinstance(parts, list):
                raise TypeError("'parts' is not a list")
            return cls(tuple(Program.from_nodes(p) for p in parts))
        except (ValueError, TypeError, KeyError) as err:
            raise InvalidProgram(f"program tuple JSON is malformed: {err}") from None


def is_composite(space: Any) -> bool:
    return isinstance(space, CompositeSpace)


def zip_parts(candidate: Any, space: CompositeSpace) -> Iterator[tuple[str, Program, SearchSpace]]:
    """``(name, program, space)`` of each part; InvalidProgram if the candidate does not fit the space."""
    if not isinstance(candidate, ProgramTuple):
        raise InvalidProgram(f"a composite space wants a ProgramTuple, got {type(candidate).__name__}")
    if len(candidate.parts) != len(space.parts):
        raise InvalidProgram(
            f"candidate has {len(candidate.parts)} programs; the space has parts {list(space.names)}"
        )
    for program, (name, s) in zip(candidate.parts, space.parts):
        yield name, program, s


def replace_part(candidate: ProgramTuple, index: int, program: Program) -> ProgramTuple:
    parts = list(candidate.parts)
    parts[index] = program
    return ProgramTuple(tuple(parts))


def decode(text: str) -> Program | ProgramTuple:
    """A stored candidate from its JSON: an object is a ``ProgramTuple``, a list a ``Program``."""
    if text.lstrip().startswith("{"):
        return ProgramTuple.from_json(text)
    return Program.from_json(text)


def space_from_dict(data: dict[str, Any]) -> SearchSpace | CompositeSpace:
    """Inverse of either space's ``to_dict`` (a study stores its space this way)."""
    return CompositeSpace.from_dict(data) if "composite" in data else SearchSpace.from_dict(data)


def join_text(parts: Sequence[tuple[str, str]]) -> str:
    """``"actor: f | critic: g"``: one line per candidate in tables and logs."""
    return " | ".join(f"{name}: {text}" for name, text in parts)
