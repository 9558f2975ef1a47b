"""Known DQN-style losses as programs of the ``dqn_loss`` space, and the bootstrap generator.

The Q-network evaluations of the paper's programs (``Q(theta, s_t)``,
``Q(theta', s_{t+1})``, ...) are precomputed LIST inputs here (PAPERS.md
section 1 allows it), so DQN, 7 nodes in the paper's language, is 5 op nodes:

    select(q_tm1, a_tm1) -> Q;  max_a(q_t_target) -> times discount_t -> plus r_t = Y;
    distance(Q, Y) = 0.5 * (Q - Y)^2

Each program here computes exactly the per-sample loss of its hand-written
twin in ``discolab.rl.losses`` (values and gradients; a test checks both).

Programs are written with :class:`ProgramBuilder`, which names slots by input
name or constant value, so they fit any space with the DQN inputs, whatever
its constants are.

Example:
    >>> from discolab.domains.dqn_loss import make_space
    >>> from discolab.graph import to_infix
    >>> space = make_space()
    >>> to_infix(dqn(space), space)
    '0.5*(q_tm1[a_tm1] - (r_t + (discount_t * max_a(q_t_target))))^2'
    >>> len(dqn(space)), len(dqn_clipped(space))
    (5, 12)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from discolab.graph import Node, Program, SearchSpace, ValueType
from discolab.graph import ops as ops_lib
from discolab.graph.generate import by_type, candidate_ops, ensure_required, pick_one, random_node

__all__ = [
    "NAMED", "ProgramBuilder", "bootstrap_program", "double_dqn", "dqn", "dqn_clipped", "dqn_reg", "named_programs",
    "scaled_equivalent", "td_equivalent", "td_without_discount",
]

Slot = int | str | float


class ProgramBuilder:
    """Writes a program node by node; arguments are slots, input names or constant values.

    >>> from discolab.domains.dqn_loss import make_space
    >>> b = ProgramBuilder(make_space())
    >>> q = b("select", "q_tm1", "a_tm1")
    >>> out = b("scale_0.1", q)
    >>> b.program().nodes[-1].op
    'scale_0.1'
    """

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.nodes: list[Node] = []

    def slot(self, ref: Slot) -> int:
        """The slot of an input name, a constant value, or a node slot (int, returned as is)."""
        if isinstance(ref, str):
            names = [n for n, _ in self.space.inputs]
            if ref not in names:
                raise ValueError(f"no input {ref!r} in this space; inputs: {names}")
            return names.index(ref)
        if isinstance(ref, float):
            if ref not in self.space.constants:
                raise ValueError(f"constant {ref!r} is not in this space; constants: {list(self.space.constants)}")
            return len(self.space.inputs) + self.space.constants.index(ref)
        return int(ref)

    def __call__(self, op: str, *args: Slot) -> int:
        """Appends ``op(args)``; returns the new node's slot."""
        if op not in self.space.ops:
            raise ValueError(f"op {op!r} is not in this space; ops: {list(self.space.ops)}")
        self.nodes.append(Node(op, tuple(self.slot(a) for a in args)))
        return self.space.n_fixed + len(self.nodes) - 1

    def program(self) -> Program:
        return Program(tuple(self.nodes))


def _q_and_target(b: ProgramBuilder) -> tuple[int, int, int]:
    """``Q(s_t, a_t)``, ``max_a Q'(s_{t+1}, a)`` and ``Y = r_t + discount_t * max_a Q'``."""
    q = b("select", "q_tm1", "a_tm1")
    best_next = b("max_a", "q_t_target")
    y = b("add", "r_t", b("mul", "discount_t", best_next))
    return q, best_next, y


def dqn(space: SearchSpace) -> Program:
    """DQN: ``0.5 * (Q(s_t, a_t) - (r_t + discount_t * max_a Q'(s_{t+1}, a)))^2`` (5 nodes)."""
    b = ProgramBuilder(space)
    q, _, y = _q_and_target(b)
    b("distance", q, y)
    return b.program()


def double_dqn(space: SearchSpace) -> Program:
    """Double DQN: the online net picks ``a* = argmax_a Q(s_{t+1}, a)``, the target net values it (6 nodes)."""
    b = ProgramBuilder(space)
    q = b("select", "q_tm1", "a_tm1")
    value = b("select", "q_t_target", b("argmax_a", "q_t_online"))
    y = b("add", "r_t", b("mul", "discount_t", value))
    b("distance", q, y)
    return b.program()


def dqn_reg(space: SearchSpace) -> Program:
    """DQNReg (public code): ``0.5 * delta^2 + 0.1 * Q(s_t, a_t)`` (7 nodes)."""
    b = ProgramBuilder(space)
    q, _, y = _q_and_target(b)
    b("add", b("distance", q, y), b("scale_0.1", q))
    return b.program()


def dqn_clipped(space: SearchSpace) -> Program:
    """DQNClipped: ``max[Q, delta^2 + Y] + max[Q - Y, discount_t * (max_a Q')^2]`` (12 nodes)."""
    b = ProgramBuilder(space)
    q, best_next, y = _q_and_target(b)
    delta = b("sub", q, y)
    first = b("max", q, b("add", b("square", delta), y))
    second = b("max", delta, b("mul", "discount_t", b("square", best_next)))
    b("add", first, second)
    return b.program()


#: The known losses by name (the names of ``discolab.rl.losses.REFERENCE_LOSSES``).
NAMED: dict[str, Callable[[SearchSpace], Program]] = {
    "dqn": dqn,
    "double_dqn": double_dqn,
    "dqn_reg": dqn_reg,
    "dqn_clipped": dqn_clipped,
}


def named_programs(space: SearchSpace) -> dict[str, Program]:
    """Every known loss that ``space`` can express (its ops and constants permitting)."""
    out = {}
    for name, build in NAMED.items():
        try:
            out[name] = build(space)
        except ValueError:  # an op or constant this space lacks
            continue
    return out


def td_equivalent(programs: list[Program], space: SearchSpace, inputs: dict[str, np.ndarray],
                  rtol: float = 1e-4) -> np.ndarray:
    """Whether each program computes the TD loss up to a positive scale, on ``inputs``.

    The TD loss is :func:`dqn`'s per-sample ``0.5 * (Q(s_t, a_t) - (r_t + discount_t *
    max_a Q'(s_{t+1}, a)))^2``. A positive multiple trains the same way under
    Adam, which is scale-invariant, so ``(Q - Y)^2`` counts and ``|Q - Y|``
    (another function) does not. ``inputs`` are the domain's fingerprint
    inputs, where the paper's functional check looks. Returns ``[len(programs)]`` bool.
    """
    return scaled_equivalent(programs, dqn(space), space, inputs, rtol)


def td_without_discount(space: SearchSpace) -> Program:
    """``0.5 * (Q(s_t, a_t) - (r_t + max_a Q'(s_{t+1}, a)))^2``: what the paper's search finds on CartPole alone."""
    b = ProgramBuilder(space)
    q = b("select", "q_tm1", "a_tm1")
    b("distance", q, b("add", "r_t", b("max_a", "q_t_target")))
    return b.program()


def scaled_equivalent(programs: list[Program], reference: Program, space: SearchSpace,
                      inputs: dict[str, np.ndarray], rtol: float = 1e-4) -> np.ndarray:
    """Whether each program's outputs on ``inputs`` are a positive multiple ``c * reference``'s.

    ``c`` is the least-squares scale; every output must match ``c *
    reference`` to ``rtol``. Returns ``[len(programs)]`` bool.
    """
    from discolab.graph import batched_interpreter, encode

    if not programs:
        return np.zeros(0, bool)
    run = batched_interpreter(space, naive=True)
    ref = np.asarray(run(encode([reference], space), inputs), np.float64)[0].reshape(-1)
    out = np.asarray(run(encode(list(programs), space), inputs), np.float64)[: len(programs)]
    out = np.broadcast_to(out.reshape(len(programs), -1), (len(programs), ref.size))
    with np.errstate(all="ignore"):
        scale = (out @ ref) / (ref @ ref)
        close = np.isclose(out, scale[:, None] * ref[None, :], rtol=rtol, atol=0.0).all(axis=1)
    return close & (scale > 0) & np.isfinite(scale)


def bootstrap_program(space: SearchSpace, rng: np.random.Generator, extra: int | None = None) -> Program:
    """DQN followed by ``extra`` random nodes (random in [0, max_nodes - 5] if None).

    The random nodes may read any earlier slot, DQN's nodes included; the last
    one, the output, is a FLOAT op with a FLOAT argument wired to DQN's loss,
    so DQN stays live and the tail modifies it (``DQN + 0.1 * Q`` is such a
    program). With ``extra = 0`` the program is DQN itself.

    >>> from discolab.domains.dqn_loss import make_space
    >>> space = make_space()
    >>> p = bootstrap_program(space, np.random.default_rng(0), extra=3)
    >>> len(p), p.nodes[:5] == dqn(space).nodes
    (8, True)
    """
    prefix = dqn(space)
    room = space.max_nodes - len(prefix)
    if room < 0:
        raise ValueError(f"max_nodes {space.max_nodes} cannot hold DQN's {len(prefix)} nodes")
    extra = int(rng.integers(0, room + 1)) if extra is None else min(int(extra), room)
    if extra == 0:
        return prefix
    types = list(space.slot_types) + [ops_lib.get(n.op).out_type for n in prefix.nodes]
    dqn_slot = len(types) - 1
    nodes = list(prefix.nodes)
    for _ in range(extra - 1):
        node = random_node(space, types, rng)
        assert node is not None  # DQN's own ops fit
        nodes.append(node)
        types.append(ops_lib.get(node.op).out_type)
    # The output: a FLOAT op with a FLOAT argument (DQN's ``distance`` is one), that argument DQN's loss.
    groups = by_type(types)
    ops = [op for op in candidate_ops(space, frozenset(groups), ValueType.FLOAT) if ValueType.FLOAT in op.in_types]
    op = pick_one(ops, rng)
    args = [pick_one(groups[t], rng) for t in op.in_types]
    floats = [j for j, t in enumerate(op.in_types) if t == ValueType.FLOAT]
    args[floats[int(rng.integers(len(floats)))]] = dqn_slot
    nodes.append(Node(op.name, tuple(args)))
    return ensure_required(Program(tuple(nodes)), space, rng)
