"""The program language: types, ops, spaces, programs, variation, hashing, rendering."""

from discolab.graph.crossover import crossover
from discolab.graph.fingerprint import fingerprints, hash_outputs, random_inputs
from discolab.graph.generate import random_program
from discolab.graph.hashing import structural_hash
from discolab.graph.interpret import EncodedPrograms, batched_interpreter, encode, interpret
from discolab.graph.mutate import MUTATIONS, mutate
from discolab.graph.ops import Op
from discolab.graph.composite import CompositeSpace, ProgramTuple, decode, space_from_dict
from discolab.graph.program import InvalidProgram, Node, Program, is_valid, live_slots, prune, validate
from discolab.graph.render import to_infix, to_source, to_sympy
from discolab.graph.space import SearchSpace
from discolab.graph.types import ValueType

__all__ = [
    "CompositeSpace", "EncodedPrograms", "InvalidProgram", "MUTATIONS", "Node", "Op", "Program", "SearchSpace", "ValueType",
    "batched_interpreter", "crossover", "decode", "encode", "fingerprints", "hash_outputs", "interpret", "is_valid", "live_slots",
    "mutate", "ProgramTuple", "prune", "random_inputs", "random_program", "space_from_dict", "structural_hash", "to_infix", "to_source",
    "to_sympy", "validate",
]
