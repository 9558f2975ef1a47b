"""Structural hash: equal for programs that compute the same expression DAG.

Dead nodes, node order and the argument order of commutative ops do not
change the hash, so a mutation of dead code is recognised as a duplicate
without evaluating anything.
"""

from __future__ import annotations

import functools
import hashlib

from discolab.graph import composite
from discolab.graph import ops as ops_lib
from discolab.graph.program import Program, live_nodes
from discolab.graph.space import SearchSpace


def _digest(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


@functools.lru_cache(maxsize=256)
def _fixed_digests(space: SearchSpace) -> tuple[str, ...]:
    """Digests of the fixed slots (inputs, then constants): the same for every program of a space."""
    inputs = [_digest("input", name, t.value) for name, t in space.inputs]
    return (*inputs, *(_digest("const", repr(c)) for c in space.constants))


def structural_hash(program: Program, space: SearchSpace) -> str:
    """A 32-hex-digit hash of the output's expression DAG (of each part's, for a tuple)."""
    if composite.is_composite(space):
        return _digest("tuple", *(f"{n}={structural_hash(p, s)}" for n, p, s in composite.zip_parts(program, space)))
    nodes = program.nodes
    n_fixed = space.n_fixed
    digests = [*_fixed_digests(space), *([""] * len(nodes))]  # dead code does not change the function
    table = space.ops_by_name
    blake2b = hashlib.blake2b
    for i in live_nodes(program, n_fixed):
        node = nodes[i]
        children = [digests[a] for a in node.args]
        if (table.get(node.op) or ops_lib.get(node.op)).commutative:
            children.sort()
        # _digest("op", node.op, *children), inlined: this runs for every live node of every proposal.
        digests[n_fixed + i] = blake2b("\x1f".join(["op", node.op, *children]).encode(), digest_size=16).hexdigest()
    return digests[-1]
