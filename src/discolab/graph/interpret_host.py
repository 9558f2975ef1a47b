"""A numpy interpreter for spaces of one value type: scoring with no compile.

The jitted interpreters pay an XLA compile per (space, shapes), 0.2-0.4 s on
a CPU, while a symbolic-regression batch (512 formulas on a few hundred
points) runs in a few milliseconds. On the host, only the nodes the output
reads need to run, each with its own op alone, and each distinct
subexpression of the batch once (the children of a few tournament winners
share most of their nodes: 43% of the live nodes were distinct in a
converged Nguyen-10 search). Programs are grouped by (node position, op), one
numpy call per group. A batch then costs about what the compiled call costs
and no compile (docs/benchmarks.md). The ops' numpy forms (``Op.host``) are
written once with their JAX forms; outputs agree with the jitted
interpreters to within float rounding (transcendentals differ in the last
bits; IEEE arithmetic agrees bit for bit). No gradients: use
:mod:`discolab.graph.interpret` for those.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from discolab.graph.arrays import NotOneTypeSpace, ProgramArrays, array_space, live_mask, node_digests
from discolab.graph.encoding import EncodedPrograms
from discolab.graph.space import SearchSpace

#: The largest value bank one pass allocates; bigger batches run in chunks of programs.
BANK_BYTES = 64 << 20


def missing_host_ops(space: SearchSpace) -> list[str]:
    """The space's ops with no numpy form (empty when the host interpreter can run the space's ops)."""
    return [op.name for op in space.op_defs if op.host is None]


def runs_on_host(space: SearchSpace) -> bool:
    """Whether :func:`interpret_host` can run ``space``: one value type, and every op has a numpy form."""
    try:
        array_space(space)
    except NotOneTypeSpace:
        return False
    return not missing_host_ops(space)


def interpret_host(space: SearchSpace, encoded: EncodedPrograms, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """Outputs ``[P, n]`` of ``P`` encoded programs of a one-type space on inputs of shape ``[n]``.

    Computes in the inputs' dtype (at least float32), as the jitted interpreters do.
    """
    missing = missing_host_ops(space)
    if missing:
        raise ValueError(f"ops {missing} have no numpy form; run this space with a jitted interpreter")
    absent = [name for name, _ in space.inputs if name not in inputs]
    if absent:
        raise KeyError(f"missing program inputs {absent}")
    xs = [np.asarray(inputs[name]) for name, _ in space.inputs]
    dtype = np.result_type(*xs, np.float32)
    n = xs[0].shape[0]
    fixed = np.stack([x.astype(dtype) for x in xs] + [np.full(n, c, dtype) for c in space.constants])
    op_ids, args, output = (np.asarray(a) for a in encoded)
    count, slots = len(op_ids), space.n_fixed + space.max_nodes
    chunk = max(1, BANK_BYTES // max(1, slots * n * dtype.itemsize))
    parts = [
        _run_chunk(space, op_ids[i : i + chunk], args[i : i + chunk], output[i : i + chunk], fixed)
        for i in range(0, count, chunk)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, n), dtype)


def _run_chunk(
    space: SearchSpace, op_ids: np.ndarray, args: np.ndarray, output: np.ndarray, fixed: np.ndarray
) -> np.ndarray:
    """Runs each distinct live subexpression of a few programs once, one numpy call per (position, op)."""
    shape = array_space(space)
    n_fixed, n_ops = space.n_fixed, len(space.ops)
    # Encoded programs end at their output node (graph.encoding): their length follows from it.
    programs = ProgramArrays(op_ids, args, output - n_fixed + 1)
    live = live_mask(programs, shape)[:, n_fixed:]
    # Live nodes by position: a subexpression's first occurrence is then its earliest position, and
    # the subexpressions it reads sit at earlier positions still, so they are computed before it.
    # Equal digests are equal subexpressions (the 64-bit structural digest; a collision is as unlikely
    # as in the structural-hash dedupe): a converged population shares most of its nodes.
    nodes, rows = np.nonzero(live.T)
    digests = node_digests(programs, shape)[rows, n_fixed + nodes]
    _, first, inverse = np.unique(digests, return_index=True, return_inverse=True)
    # The value table: the fixed slots, then one row per distinct subexpression.
    table_slot = np.zeros(op_ids.shape, np.intp)
    table_slot[rows, nodes] = n_fixed + inverse
    at_rows, at_nodes = rows[first], nodes[first]
    arg_slots = args[at_rows, at_nodes]  # [U, A] program slots of the arguments
    arg_nodes = np.maximum(arg_slots - n_fixed, 0)
    sources = np.where(arg_slots < n_fixed, arg_slots, table_slot[at_rows[:, None], arg_nodes])
    keys = at_nodes * n_ops + op_ids[at_rows, at_nodes]
    order = np.argsort(keys, kind="stable")
    keys, sources = keys[order], sources[order]
    targets = n_fixed + order
    starts = np.flatnonzero(np.diff(keys, prepend=-1))
    ends = np.append(starts[1:], len(keys))
    table = np.empty((n_fixed + len(first), fixed.shape[1]), fixed.dtype)
    table[:n_fixed] = fixed
    ops = space.op_defs
    with np.errstate(all="ignore"):  # inf and NaN are results here; the caller scores them
        for start, end, key in zip(starts.tolist(), ends.tolist(), keys[starts].tolist()):
            op = ops[key % n_ops]
            operands = [table.take(sources[start:end, j], axis=0) for j in range(op.arity)]
            table[targets[start:end]] = op.host(*operands)
    return table.take(table_slot[np.arange(len(op_ids)), output - n_fixed], axis=0)
