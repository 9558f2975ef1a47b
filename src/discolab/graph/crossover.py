"""Type-preserving subtree crossover of two programs of one space.

A child is the recipient with the cone (a node and everything it reads) of
one of its live nodes replaced by the cone of a live node of the donor with
the same output type. This is tree GP's subtree crossover (Koza; gplearn's
default operator) on straight-line DAGs: it can join two terms that two
parents found separately (``sin(x)`` from one, ``sin(y^2)`` from the other),
which one mutation at a time reaches only through worse intermediates.
"""

from __future__ import annotations

import numpy as np

from discolab.graph import composite
from discolab.graph.generate import ensure_required
from discolab.graph.program import Node, Program, live_nodes, live_set, node_types, reached_nodes
from discolab.graph.space import SearchSpace


def cone(program: Program, node: int, n_fixed: int) -> tuple[int, ...]:
    """Indices of the nodes that node ``node`` reads, directly or not, and ``node`` itself, ascending."""
    return tuple(reversed(reached_nodes(program.nodes, n_fixed, {n_fixed + node}, n_fixed + node)))


def graft(recipient: Program, at: int, donor: Program, root: int, n_fixed: int,
          donor_cone: tuple[int, ...] | None = None) -> Program:
    """``recipient`` with its live node ``at`` replaced by the cone of ``donor``'s node ``root``.

    The child has no dead nodes: the recipient's live nodes before ``at``
    that its later live nodes still read, then the donor's cone, then those
    later nodes, reading the grafted root where they read ``at``. (Crossover
    children would otherwise keep growing towards ``max_nodes`` with dead
    material.) ``donor_cone`` is ``cone(donor, root, n_fixed)`` where the
    caller has it.
    """
    nodes_in = recipient.nodes
    old = n_fixed + at
    live = live_set(recipient, n_fixed)
    after = [k for k in range(at + 1, len(nodes_in)) if n_fixed + k in live]
    # The nodes before ``at`` that ``after`` still reads.
    before = reached_nodes(nodes_in, n_fixed, {a for k in after for a in nodes_in[k].args if a < old}, old - 1)
    nodes: list[Node] = []
    remap = {s: s for s in range(n_fixed)}  # inputs and constants are the same slots in both programs
    donor_remap = dict(remap)

    def put(node: Node, slot: int, slots: dict[int, int]) -> None:
        slots[slot] = n_fixed + len(nodes)
        nodes.append(Node(node.op, tuple([slots[a] for a in node.args])))

    for k in reversed(before):
        put(nodes_in[k], n_fixed + k, remap)
    for d in cone(donor, root, n_fixed) if donor_cone is None else donor_cone:
        put(donor.nodes[d], n_fixed + d, donor_remap)
    remap[old] = n_fixed + len(nodes) - 1
    for k in after:
        put(nodes_in[k], n_fixed + k, remap)
    return Program(tuple(nodes))


def crossover(recipient: Program, donor: Program, space: SearchSpace, rng: np.random.Generator) -> Program | None:
    """A random subtree crossover of ``recipient`` with ``donor``, or None where none changes it.

    Recipient nodes are tried in a random order; for each, a random live
    donor node of its type is grafted. Where the child would be longer than
    ``space.max_nodes`` the next recipient node is tried. The result always
    validates against ``space``. For a tuple of programs (a composite space)
    one part, drawn uniformly, is crossed with the donor's same part (the
    next, in a random order, if that cannot change).
    """
    if composite.is_composite(space):
        parts = list(composite.zip_parts(recipient, space))
        donor_parts = [p for _, p, _ in composite.zip_parts(donor, space)]
        for i in rng.permutation(len(parts)):
            _, part, part_space = parts[i]
            child = crossover(part, donor_parts[i], part_space, rng)
            if child is not None:
                return composite.replace_part(recipient, int(i), child)
        return None
    n_fixed = space.n_fixed
    recipient_types, donor_types = node_types(recipient), node_types(donor)
    live, donor_live = live_nodes(recipient, n_fixed), live_nodes(donor, n_fixed)
    for k in rng.permutation(len(live)):
        at = live[k]
        roots = [j for j in donor_live if donor_types[j] == recipient_types[at]]
        if not roots:
            continue
        root = roots[rng.integers(len(roots))]
        part = cone(donor, root, n_fixed)
        if len(part) > space.max_nodes:
            continue
        child = graft(recipient, at, donor, root, n_fixed, part)
        if len(child) > space.max_nodes:
            continue
        child = ensure_required(child, space, rng)
        if child != recipient:
            return child
    return None
