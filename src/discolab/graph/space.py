"""SearchSpace: what programs of one search may contain.

The space is static configuration: it is hashable and keys the interpreter's
compile cache, so two searches over the same space share one compiled
function.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from types import MappingProxyType

from discolab.graph import ops as ops_lib
from discolab.graph.types import ValueType


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """Typed inputs, allowed ops, constants, a node cap and the output type.

    Slots are numbered: first the inputs, then the constants (each a FLOAT),
    then one slot per program node. A node may read any earlier slot.

    Attributes:
      inputs: ``(name, type)`` of each program input, e.g. ``("x0", FLOAT)``.
      ops: names of the allowed ops (see ``discolab.graph.ops``).
      constants: fixed FLOAT constants a node may read.
      max_nodes: the most op nodes a program may have.
      output_type: the type of the last node, the program's result.
      required_inputs: the output must depend on at least one of these inputs
        (Evolving RL: a loss that ignores theta is invalid; regression: a
        formula must read a variable). Empty means no requirement.
    """

    inputs: tuple[tuple[str, ValueType], ...]
    ops: tuple[str, ...]
    constants: tuple[float, ...] = ()
    max_nodes: int = 20
    output_type: ValueType = ValueType.FLOAT
    required_inputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple((str(n), ValueType(t)) for n, t in self.inputs))
        object.__setattr__(self, "ops", tuple(self.ops))
        object.__setattr__(self, "constants", tuple(float(c) for c in self.constants))
        object.__setattr__(self, "output_type", ValueType(self.output_type))
        object.__setattr__(self, "required_inputs", tuple(self.required_inputs))
        if not self.inputs:
            raise ValueError("search space: needs at least one input")
        names = [n for n, _ in self.inputs]
        if len(set(names)) != len(names):
            raise ValueError(f"search space: duplicate input names in {names}")
        if not self.ops:
            raise ValueError("search space: needs at least one op")
        if len(set(self.ops)) != len(self.ops):
            raise ValueError(f"search space: duplicate ops in {list(self.ops)}")
        for name in self.ops:
            ops_lib.get(name)  # raises KeyError naming the unknown op
        if self.max_nodes < 1:
            raise ValueError(f"search space: max_nodes must be >= 1, got {self.max_nodes}")
        for name in self.required_inputs:
            if name not in names:
                raise ValueError(f"search space: required input {name!r} is not an input; inputs: {names}")
        fixed = set(self.slot_types)
        if not any(set(op.in_types) <= fixed for op in self.op_defs if op.out_type == self.output_type):
            raise ValueError(
                f"search space: no op produces the output type {self.output_type} from the inputs' types"
            )
        if self.required_inputs:
            start = {t for n, t in self.inputs if n in self.required_inputs}
            chain = dependency_chain(self.op_defs, start, producible_types(self), self.output_type)
            if chain is None or len(chain) > self.max_nodes:
                raise ValueError(
                    f"search space: no chain of at most {self.max_nodes} ops makes the output "
                    f"({self.output_type}) depend on any of the required inputs {list(self.required_inputs)}"
                )

    @functools.cached_property
    def op_defs(self) -> tuple[ops_lib.Op, ...]:
        return tuple(ops_lib.get(name) for name in self.ops)

    @functools.cached_property
    def ops_by_name(self) -> Mapping[str, ops_lib.Op]:
        """The space's ops by name, read-only (validation and encoding look up an op per node)."""
        return MappingProxyType(dict(zip(self.ops, self.op_defs)))

    @functools.cached_property
    def n_fixed(self) -> int:
        """Slots before the first node: inputs, then constants."""
        return len(self.inputs) + len(self.constants)

    @functools.cached_property
    def slot_types(self) -> tuple[ValueType, ...]:
        """Type of each fixed slot (inputs, then constants)."""
        return tuple(t for _, t in self.inputs) + (ValueType.FLOAT,) * len(self.constants)

    @functools.cached_property
    def slot_names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.inputs) + tuple(f"{c:g}" for c in self.constants)

    @functools.cached_property
    def max_arity(self) -> int:
        return max(op.arity for op in self.op_defs)

    @functools.cached_property
    def types(self) -> tuple[ValueType, ...]:
        """Every type that a slot of this space can hold, in a fixed order."""
        seen = dict.fromkeys(self.slot_types)
        for op in self.op_defs:
            seen.setdefault(op.out_type)
            for t in op.in_types:
                seen.setdefault(t)
        return tuple(seen)

    def to_dict(self) -> dict:
        return {
            "inputs": [[n, t.value] for n, t in self.inputs],
            "ops": list(self.ops),
            "constants": list(self.constants),
            "max_nodes": self.max_nodes,
            "output_type": self.output_type.value,
            "required_inputs": list(self.required_inputs),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "SearchSpace":
        """Inverse of ``to_dict`` (a study stores its space this way)."""
        return cls(
            inputs=tuple((n, t) for n, t in data["inputs"]),
            ops=tuple(data["ops"]),
            constants=tuple(data.get("constants", ())),
            max_nodes=int(data["max_nodes"]),
            output_type=data.get("output_type", "float"),
            required_inputs=tuple(data.get("required_inputs", ())),
        )


def producible_types(space: SearchSpace) -> set[ValueType]:
    """Every type some program of the space can compute (the fixed slots' types included)."""
    types = set(space.slot_types)
    grew = True
    while grew:
        grew = False
        for op in space.op_defs:
            if op.out_type not in types and set(op.in_types) <= types:
                types.add(op.out_type)
                grew = True
    return types


def dependency_chain(
    op_defs: tuple[ops_lib.Op, ...], start: set[ValueType], available: set[ValueType], target: ValueType
) -> list[tuple[ops_lib.Op, int, ValueType]] | None:
    """The shortest chain of at least one op carrying a value of a ``start`` type to ``target``.

    Each link is ``(op, j, t)``: argument ``j`` of ``op`` (of type ``t``) reads
    the previous link, the first link reads a value of a ``start`` type; the
    other arguments need types in ``available``. None if no chain exists.
    Used to make an output depend on a required input.
    """
    reached: dict[ValueType, tuple[ops_lib.Op, int, ValueType]] = {}
    carrying = set(start)
    while True:
        new: dict[ValueType, tuple[ops_lib.Op, int, ValueType]] = {}
        for op in op_defs:
            if op.out_type in reached or op.out_type in new:
                continue
            for j, t in enumerate(op.in_types):
                if t in carrying and all(u in available for k, u in enumerate(op.in_types) if k != j):
                    new[op.out_type] = (op, j, t)
                    break
        if not new:
            break
        reached.update(new)
        carrying |= set(new)
    if target not in reached:
        return None
    chain = []
    t = target
    while True:  # each link's input was reached at an earlier level, so this ends
        link = reached[t]
        chain.insert(0, link)
        if link[2] in start:
            return chain
        t = link[2]

