"""Structural hash: equal for programs that compute the same expression DAG.

Dead nodes, node order and the argument order of commutative ops do not
change the hash, so a mutation of dead code is recognised as a duplicate
without evaluating anything.
"""

from __future__ import annotations

import hashlib

from discolab.graph import composite
from discolab.graph import ops as ops_lib
from discolab.graph.program import Program, live_slots
from discolab.graph.space import SearchSpace


def _digest(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def structural_hash(program: Program, space: SearchSpace) -> str:
    """A 32-hex-digit hash of the output's expression DAG (of each part's, for a tuple)."""
    if composite.is_composite(space):
        return _digest("tuple", *(f"{n}={structural_hash(p, s)}" for n, p, s in composite.zip_parts(program, space)))
    digests = [_digest("input", name, t.value) for name, t in space.inputs]
    digests += [_digest("const", repr(c)) for c in space.constants]
    live = live_slots(program, space)
    for slot, node in enumerate(program.nodes, start=space.n_fixed):
        if slot not in live:  # dead code does not change the function
            digests.append("")
            continue
        children = [digests[a] for a in node.args]
        if ops_lib.get(node.op).commutative:
            children.sort()
        digests.append(_digest("op", node.op, *children))
    return digests[-1]
