"""Programs as padded arrays: mutation, conversion, liveness and hashing agree with the Program code."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from graphtest_support import regression_space, tiny_space
from hypothesis import given, settings
from hypothesis import strategies as st

from discolab.graph import (
    Node, Program, SearchSpace, decode, encode, live_slots, prune, random_program, structural_hash, validate,
)
from discolab.graph import arrays as ar
from discolab.graph.program import depends_on, live_nodes

SPACE_NAMES = ("nguyen-9", "nguyen-5", "tiny", "one_op", "constants")
seeds = st.integers(0, 2**32 - 1)


@functools.cache
def space_of(name: str) -> SearchSpace:
    """Regression spaces (two inputs and a constant; one input and no constant) and three small ones."""
    from discolab.domains.regression import RegressionConfig, RegressionDomain

    if name == "nguyen-9":  # inputs x0, x1 (slots 0, 1), constant 1.0 (slot 2)
        return RegressionDomain(RegressionConfig(problem="nguyen-9")).space
    if name == "nguyen-5":
        return RegressionDomain(RegressionConfig(problem="nguyen-5", constants=())).space
    if name == "tiny":
        return SearchSpace(inputs=(("x", "float"),), ops=("add", "sub", "neg"), max_nodes=3, required_inputs=("x",))
    if name == "one_op":  # no op change possible: every change is a rewire, an insert or a delete
        return SearchSpace(inputs=(("x", "float"),), ops=("neg",), max_nodes=3, required_inputs=("x",))
    if name == "constants":  # one input among three constants: the required-input repair often undoes a rewire
        return SearchSpace(inputs=(("x", "float"),), ops=("add", "sub", "neg"), constants=(1.0, 2.0, 3.0),
                           max_nodes=3, required_inputs=("x",))
    raise KeyError(name)


def mutated_batches(name: str, seed: int, count: int = 200, rounds: int = 8) -> list[ar.ProgramArrays]:
    """A random batch and its mutations, round after round."""
    a = ar.array_space(space_of(name))
    rng = np.random.default_rng(seed)
    batches = [ar.random_arrays(rng, a, count)]
    for _ in range(rounds):
        batches.append(ar.mutate_arrays(rng, batches[-1], a))
    return batches


def assert_canonical(p: ar.ProgramArrays, a: ar.ArraySpace) -> None:
    n = p.op_ids.shape[1]
    assert p.op_ids.shape == (len(p), a.max_nodes) and p.args.shape == (len(p), a.max_nodes, a.max_arity)
    assert ((p.lengths >= 1) & (p.lengths <= a.max_nodes)).all()
    outside = np.arange(n)[None] >= p.lengths[:, None]
    assert (p.op_ids[outside] == 0).all() and (p.args[outside] == 0).all()
    unused = np.arange(a.max_arity)[None, None] >= a.arity[p.op_ids][:, :, None]
    assert (p.args[unused] == 0).all()
    assert ar.equal_rows(ar.canonical(p, a), p).all()


# -- 1. mutation chains ---------------------------------------------------------


@pytest.mark.parametrize("name", SPACE_NAMES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_long_mutation_chains_stay_valid_and_always_change(name, seed):
    space = space_of(name)
    a = ar.array_space(space)
    rng = np.random.default_rng(seed)
    parents = ar.random_arrays(rng, a, 300)
    for step in range(30):
        before = [x.copy() for x in parents]
        children = ar.mutate_arrays(rng, parents, a)
        for x, y in zip(before, parents):  # the parents are not modified in place
            np.testing.assert_array_equal(x, y)
        assert_canonical(children, a)
        # Every parent here can change: the op (two or more ops), else an insert (length < 3) or a delete.
        same = ar.equal_rows(children, parents)
        assert not same.any(), (step, np.flatnonzero(same))
        for program in ar.to_programs(children, a):
            validate(program, space)
            assert depends_on(program, space, space.required_inputs), program
        assert ar.reads_required(children, a).all()
        parents = children


def test_a_parent_no_kind_can_change_stays_as_it_is():
    space = tiny_space()  # neg over x, one node
    a = ar.array_space(space)
    rng = np.random.default_rng(0)
    parents = ar.random_arrays(rng, a, 20)
    assert [p.to_json() for p in ar.to_programs(parents, a)] == ['[["neg",[0]]]'] * 20
    assert ar.equal_rows(ar.mutate_arrays(rng, parents, a), parents).all()


def test_mutation_of_an_empty_batch_is_empty():
    a = ar.array_space(space_of("nguyen-9"))
    rng = np.random.default_rng(0)
    empty = ar.random_arrays(rng, a, 0)
    assert len(empty) == 0 and len(ar.mutate_arrays(rng, empty, a)) == 0


# -- 2. round trips -------------------------------------------------------------


@pytest.mark.parametrize("name", SPACE_NAMES)
def test_programs_and_json_round_trip(name):
    space = space_of(name)
    a = ar.array_space(space)
    for p in mutated_batches(name, seed=11):
        programs = ar.to_programs(p, a)
        assert ar.equal_rows(ar.from_programs(programs, a), p).all()
        texts = ar.to_json(p, a)
        assert texts == [q.to_json() for q in programs]
        assert ar.equal_rows(ar.from_programs([decode(t) for t in texts], a), p).all()


@pytest.mark.parametrize("space", [regression_space(), SearchSpace(inputs=(("x", "float"),), ops=("neg", "sin"),
                                                                    max_nodes=4)], ids=["graph_regression", "unary"])
def test_programs_of_the_program_generator_round_trip(space):
    """Programs made by ``random_program`` (three constants, 19 ops; or unary ops only) go to arrays and back."""
    a = ar.array_space(space)
    rng = np.random.default_rng(5)
    programs = [random_program(space, rng) for _ in range(200)]
    p = ar.from_programs(programs, a)
    assert_canonical(p, a)
    assert ar.to_programs(p, a) == programs
    assert ar.to_json(p, a) == [q.to_json() for q in programs]


def test_encoded_is_the_interpreters_encoding():
    space = space_of("nguyen-9")
    a = ar.array_space(space)
    p = mutated_batches("nguyen-9", seed=3, count=50, rounds=2)[-1]
    for pad_to in (None, 64):
        mine, theirs = p.encoded(a.n_fixed, pad_to), encode(ar.to_programs(p, a), space, pad_to=pad_to)
        for x, y in zip(mine, theirs):
            np.testing.assert_array_equal(x, y)


# -- 3. structural hash ---------------------------------------------------------


@pytest.mark.parametrize("name", SPACE_NAMES)
def test_structural_hashes_have_the_classes_of_structural_hash(name):
    space = space_of(name)
    a = ar.array_space(space)
    by_array: dict[int, set[str]] = {}
    by_program: dict[str, set[int]] = {}
    total = 0
    for p in mutated_batches(name, seed=7, count=300, rounds=10):
        for h, program in zip(ar.structural_hashes(p, a).tolist(), ar.to_programs(p, a)):
            s = structural_hash(program, space)
            by_array.setdefault(h, set()).add(s)
            by_program.setdefault(s, set()).add(h)
            total += 1
    assert all(len(v) == 1 for v in by_array.values())
    assert all(len(v) == 1 for v in by_program.values())
    assert len(by_array) == len(by_program) < total  # some programs share a structure: the test means something


@pytest.mark.parametrize("name", ["nguyen-9", "nguyen-5"])
def test_structural_hashes_ignore_dead_nodes(name):
    space = space_of(name)
    a = ar.array_space(space)
    p = mutated_batches(name, seed=2, count=300, rounds=6)[-1]
    programs = ar.to_programs(p, a)
    pruned = [prune(q, space) for q in programs]
    assert sum(len(q) for q in pruned) < sum(len(q) for q in programs)  # some programs had dead nodes
    np.testing.assert_array_equal(ar.structural_hashes(ar.from_programs(pruned, a), a), ar.structural_hashes(p, a))


def _hashes(space: SearchSpace, nodes_list: list[list[tuple[str, tuple[int, ...]]]]) -> tuple[list[int], list[str]]:
    programs = [Program(tuple(Node(op, args) for op, args in nodes)) for nodes in nodes_list]
    for program in programs:
        validate(program, space)
    a = ar.array_space(space)
    mine = ar.structural_hashes(ar.from_programs(programs, a), a).tolist()
    return mine, [structural_hash(q, space) for q in programs]


def test_structural_hashes_by_hand():
    """nguyen-9: x0 is slot 0, x1 slot 1, the constant 1.0 slot 2, node i slot 3 + i."""
    space = space_of("nguyen-9")
    same_groups = {
        "dead nodes": [
            [("sin", (0,)), ("add", (3, 2))],
            [("cos", (1,)), ("sin", (0,)), ("add", (4, 2))],
            [("sin", (0,)), ("mul", (0, 1)), ("add", (3, 2))],
            [("exp", (1,)), ("sin", (0,)), ("log", (4,)), ("add", (4, 2))],
        ],
        "commutative add": [[("sin", (0,)), ("add", (3, 2))], [("sin", (0,)), ("add", (2, 3))]],
        "commutative mul": [[("mul", (0, 1))], [("mul", (1, 0))]],
        "node order and commutative mul": [
            [("sin", (0,)), ("cos", (1,)), ("mul", (3, 4))],
            [("cos", (1,)), ("sin", (0,)), ("mul", (4, 3))],
            [("cos", (1,)), ("sin", (0,)), ("mul", (3, 4))],
        ],
        "shared and repeated subexpressions": [
            [("sin", (0,)), ("add", (3, 3))],
            [("sin", (0,)), ("sin", (0,)), ("add", (3, 4))],
        ],
    }
    for label, group in same_groups.items():
        mine, theirs = _hashes(space, group)
        assert len(set(theirs)) == 1, label  # the reference agrees that these are one structure
        assert len(set(mine)) == 1, label
    different = [
        [("sub", (0, 2))],  # x0 - 1
        [("sub", (2, 0))],  # 1 - x0
        [("div", (0, 1))],
        [("div", (1, 0))],
        [("add", (0, 2))],
        [("mul", (0, 2))],
        [("sin", (0,))],
        [("cos", (0,))],
        [("sin", (1,))],
        [("sin", (0,)), ("sin", (3,))],
        [("sin", (0,)), ("sub", (3, 0))],
        [("sin", (0,)), ("sub", (0, 3))],
    ]
    mine, theirs = _hashes(space, different)
    assert len(set(theirs)) == len(different)
    assert len(set(mine)) == len(different)


# -- 4. liveness ------------------------------------------------------------------


@pytest.mark.parametrize("name", SPACE_NAMES)
def test_live_mask_is_live_slots(name):
    space = space_of(name)
    a = ar.array_space(space)
    for p in mutated_batches(name, seed=4, count=200, rounds=6):
        live = ar.live_mask(p, a)
        assert live.shape == (len(p), space.n_fixed + space.max_nodes)
        programs = ar.to_programs(p, a)
        for row, program in zip(live, programs):
            assert set(np.flatnonzero(row).tolist()) == live_slots(program, space)
        reads = [depends_on(q, space, space.required_inputs) for q in programs]
        np.testing.assert_array_equal(ar.reads_required(p, a, live), reads)


def test_ensure_required_repairs_only_the_programs_that_need_it():
    space = space_of("nguyen-9")  # requires x0 or x1; the constant alone is not enough
    a = ar.array_space(space)
    programs = [
        Program((Node("sin", (2,)),)),  # sin(1): reads no input
        Program((Node("sin", (0,)), Node("cos", (2,)))),  # cos(1): the read of x0 is dead
        Program((Node("add", (1, 2)),)),  # x1 + 1: fine
    ]
    p = ar.from_programs(programs, a)
    assert ar.reads_required(p, a).tolist() == [False, False, True]
    for seed in range(20):
        fixed = ar.ensure_required(np.random.default_rng(seed), p, a)
        assert ar.reads_required(fixed, a).all()
        np.testing.assert_array_equal(fixed.op_ids, p.op_ids)
        np.testing.assert_array_equal(fixed.lengths, p.lengths)
        assert ar.equal_rows(fixed, p).tolist() == [False, False, True]
        for program in ar.to_programs(fixed, a):
            validate(program, space)


# -- 5. generation and canonical form -------------------------------------------


@pytest.mark.parametrize("name", SPACE_NAMES)
def test_random_arrays_have_the_given_lengths_and_are_canonical(name):
    space = space_of(name)
    a = ar.array_space(space)
    rng = np.random.default_rng(9)
    lengths = rng.integers(1, space.max_nodes + 1, 500)
    p = ar.random_arrays(rng, a, 500, lengths)
    np.testing.assert_array_equal(p.lengths, lengths)
    assert_canonical(p, a)
    for program in ar.to_programs(p, a):
        validate(program, space)
    drawn = ar.random_arrays(rng, a, 2000)
    assert_canonical(drawn, a)
    assert set(drawn.lengths.tolist()) == set(range(1, space.max_nodes + 1))


def test_canonical_zeroes_what_lies_past_lengths_and_arities():
    space = space_of("nguyen-9")
    a = ar.array_space(space)
    rng = np.random.default_rng(0)
    p = ar.random_arrays(rng, a, 100)
    noisy = ar.ProgramArrays(
        np.where(np.arange(a.max_nodes)[None] < p.lengths[:, None], p.op_ids, rng.integers(0, a.n_ops, p.op_ids.shape)),
        p.args + np.where(np.arange(a.max_arity)[None, None] < a.arity[p.op_ids][:, :, None], 0, 1)
        + np.where(np.arange(a.max_nodes)[None, :, None] < p.lengths[:, None, None], 0, 1),
        p.lengths,
    )
    assert not ar.equal_rows(noisy, p).all()
    clean = ar.canonical(noisy, a)
    assert ar.equal_rows(clean, p).all()
    assert ar.to_json(noisy, a) == ar.to_json(p, a)  # the padding never reaches the JSON


# -- 6. spaces the arrays cannot hold --------------------------------------------


def test_array_space_names_the_input_or_op_of_another_type():
    from discolab.domains.dqn_loss import make_space

    with pytest.raises(ar.NotOneTypeSpace, match="'q_tm1'"):
        ar.array_space(make_space(max_nodes=12))
    assert issubclass(ar.NotOneTypeSpace, ValueError)
    with pytest.raises(ar.NotOneTypeSpace, match="'max_a'"):
        ar.array_space(SearchSpace(inputs=(("x", "float"),), ops=("add", "max_a")))
    with pytest.raises(ar.NotOneTypeSpace, match="'list_add'"):
        ar.array_space(SearchSpace(inputs=(("x", "float"),), ops=("neg", "list_add")))
    with pytest.raises(ar.NotOneTypeSpace, match="'q'"):
        ar.array_space(SearchSpace(inputs=(("x", "float"), ("q", "list")), ops=("add",)))
    assert ar.array_space(space_of("tiny")).n_fixed == 1


# -- 7. the mutation kinds --------------------------------------------------------


def _without_one(longer: list[int], shorter: list[int]) -> bool:
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


@settings(max_examples=15, deadline=None)
@given(seed=seeds)
def test_each_mutation_kind_occurs(seed):
    """From programs of 5 to 12 of 20 nodes every kind applies: each is drawn about a quarter of the time."""
    space = space_of("nguyen-9")
    a = ar.array_space(space)
    rng = np.random.default_rng(seed)
    count = 400
    parents = ar.random_arrays(rng, a, count, rng.integers(5, 13, count))
    children = ar.mutate_arrays(rng, parents, a)
    up = children.lengths == parents.lengths + 1
    down = children.lengths == parents.lengths - 1
    level = children.lengths == parents.lengths
    op_diff = (children.op_ids != parents.op_ids).sum(axis=1)
    op_change = level & (op_diff > 0)
    arg_only = level & (op_diff == 0)
    assert (up | down | level).all()
    assert not ar.equal_rows(children, parents).any()
    for kind, rows in {"insert": up, "delete": down, "change_op": op_change, "rewire": arg_only}.items():
        assert 0.12 * count < rows.sum() < 0.40 * count, (kind, rows.sum())
    assert (op_diff[op_change] == 1).all()  # one node changes its op
    # A rewire moves one argument; the required-input repair may move one more.
    arg_diff = (children.args != parents.args).sum(axis=(1, 2))
    assert ((arg_diff[arg_only] >= 1) & (arg_diff[arg_only] <= 2)).all()
    for r in np.flatnonzero(up):  # the parent's ops with a new node among them
        length = children.lengths[r]
        assert _without_one(children.op_ids[r, :length].tolist(), parents.op_ids[r, : length - 1].tolist())
    for r in np.flatnonzero(down):
        length = parents.lengths[r]
        assert _without_one(parents.op_ids[r, :length].tolist(), children.op_ids[r, : length - 1].tolist())
    # An op that gains an argument reads a random earlier slot there, not the padding's slot 0.
    rows = np.flatnonzero(op_change)
    node = (children.op_ids[rows] != parents.op_ids[rows]).argmax(axis=1)
    grew = (a.arity[parents.op_ids[rows, node]] == 1) & (a.arity[children.op_ids[rows, node]] == 2)
    assert grew.sum() >= 5
    assert len(set(children.args[rows[grew], node[grew], 1].tolist())) > 1


def _delete_node(nodes: tuple[Node, ...], k: int, reader: int, n_fixed: int) -> tuple[Node, ...]:
    """``nodes`` without node ``k``: reads of its slot become ``reader``, later slots move down one."""
    slot = n_fixed + k
    return tuple(
        Node(n.op, tuple(reader if x == slot else x - 1 if x > slot else x for x in n.args))
        for i, n in enumerate(nodes) if i != k
    )


def _explain(parent: Program, child: Program, n_fixed: int) -> set[str]:
    """The mutation kinds (as ``discolab.graph.mutate`` defines them) that turn ``parent`` into ``child``."""
    p, c = parent.nodes, child.nodes
    live = set(live_nodes(parent, n_fixed))
    kinds = set()
    if len(c) == len(p):
        diffs = [i for i in range(len(p)) if p[i] != c[i]]
        if len(diffs) == 1 and diffs[0] in live:
            old, new = p[diffs[0]], c[diffs[0]]
            keep = min(len(old.args), len(new.args))
            if old.op != new.op and old.args[:keep] == new.args[:keep]:
                kinds.add("change_op")
            if old.op == new.op and sum(x != y for x, y in zip(old.args, new.args)) == 1:
                kinds.add("rewire")
    elif len(c) == len(p) + 1:
        for k in range(len(c) - 1):  # the new node, fed to exactly one argument of a live consumer after it
            readers = [(i, j) for i in range(k + 1, len(c)) for j, x in enumerate(c[i].args) if x == n_fixed + k]
            if len(readers) != 1 or readers[0][0] - 1 not in live:
                continue
            i, j = readers[0]
            masked = list(p)
            masked[i - 1] = Node(p[i - 1].op, tuple(-1 if jj == j else x for jj, x in enumerate(p[i - 1].args)))
            if _delete_node(c, k, -1, n_fixed) == tuple(masked):
                kinds.add("insert")
    elif len(c) == len(p) - 1:
        for k in range(len(p) - 1):  # a non-output node goes, its readers read one earlier slot
            if any(_delete_node(p, k, r, n_fixed) == c for r in range(n_fixed + k)):
                kinds.add("delete")
    return kinds


@pytest.mark.parametrize("seed", [0, 1])
def test_every_child_is_one_mutation_of_its_parent(seed):
    """nguyen-5 has one fixed slot, x0, so every program reads it and the repair never acts: each child
    is exactly one kind's change, on a live node, as ``discolab.graph.mutate`` describes the kinds."""
    space = space_of("nguyen-5")
    a = ar.array_space(space)
    rng = np.random.default_rng(seed)
    parents = ar.random_arrays(rng, a, 400, rng.integers(1, space.max_nodes + 1, 400))
    parents = ar.concat([parents, ar.random_arrays(rng, a, 50, np.full(50, space.max_nodes))])  # at the cap
    children = ar.mutate_arrays(rng, parents, a)
    seen: dict[str, int] = {}
    for parent, child in zip(ar.to_programs(parents, a), ar.to_programs(children, a)):
        kinds = _explain(parent, child, a.n_fixed)
        assert kinds, (parent, child)
        for kind in kinds:
            seen[kind] = seen.get(kind, 0) + 1
    assert set(seen) == {"change_op", "rewire", "insert", "delete"}
    assert min(seen.values()) > 50, seen


def test_lengths_move_both_ways_at_the_cap_and_floor():
    """At max_nodes a program cannot grow, at one node it cannot shrink; the tiny space sees both."""
    space = space_of("tiny")
    a = ar.array_space(space)
    rng = np.random.default_rng(1)
    for length in (1, 3):
        parents = ar.random_arrays(rng, a, 300, np.full(300, length))
        children = ar.mutate_arrays(rng, parents, a)
        if length == 1:
            assert (children.lengths >= 1).all() and (children.lengths == 2).any()
        else:
            assert (children.lengths <= 3).all() and (children.lengths == 2).any()
