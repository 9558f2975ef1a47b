"""The regression domain: Nguyen truths recover, failures score at the floor, CSVs are checked."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pydantic
import pytest

from discolab import domains
from discolab.domains import Status, nguyen
from discolab.domains.regression import (
    DataError, RegressionConfig, RegressionDomain, bucket_size, simplifies_to,
)
from discolab.graph import Program, fingerprints, to_sympy
from discolab.graph.interpret_forward import forward_interpreter

# Default space: slots x0 (x1), then the constant 1.0, then nodes.
# 1-D: x0 = 0, one = 1, first node = 2.  2-D: x0 = 0, x1 = 1, one = 2, first node = 3.
TRUTHS: dict[str, list[tuple[str, tuple[int, ...]]]] = {
    "nguyen-1": [("mul", (0, 0)), ("mul", (2, 0)), ("add", (3, 2)), ("add", (4, 0))],
    "nguyen-2": [("mul", (0, 0)), ("mul", (2, 0)), ("mul", (3, 0)), ("add", (4, 3)), ("add", (5, 2)),
                 ("add", (6, 0))],
    "nguyen-3": [("mul", (0, 0)), ("mul", (2, 0)), ("mul", (3, 0)), ("mul", (4, 0)), ("add", (5, 4)),
                 ("add", (6, 3)), ("add", (7, 2)), ("add", (8, 0))],
    "nguyen-4": [("mul", (0, 0)), ("mul", (2, 0)), ("mul", (3, 0)), ("mul", (4, 0)), ("mul", (5, 0)),
                 ("add", (6, 5)), ("add", (7, 4)), ("add", (8, 3)), ("add", (9, 2)), ("add", (10, 0))],
    "nguyen-5": [("mul", (0, 0)), ("sin", (2,)), ("cos", (0,)), ("mul", (3, 4)), ("sub", (5, 1))],
    "nguyen-6": [("mul", (0, 0)), ("add", (0, 2)), ("sin", (3,)), ("sin", (0,)), ("add", (5, 4))],
    "nguyen-7": [("add", (0, 1)), ("log", (2,)), ("mul", (0, 0)), ("add", (4, 1)), ("log", (5,)),
                 ("add", (3, 6))],
    # sqrt(x) = exp(log|x| / 2) on [0, 4]
    "nguyen-8": [("log", (0,)), ("add", (1, 1)), ("div", (2, 3)), ("exp", (4,))],
    "nguyen-9": [("sin", (0,)), ("mul", (1, 1)), ("sin", (4,)), ("add", (3, 5))],
    "nguyen-10": [("sin", (0,)), ("cos", (1,)), ("mul", (3, 4)), ("add", (5, 5))],
    # x0 ** x1 = exp(x1 * log|x0|) on [0, 1]^2
    "nguyen-11": [("log", (0,)), ("mul", (1, 3)), ("exp", (4,))],
    "nguyen-12": [("mul", (0, 0)), ("mul", (3, 3)), ("mul", (3, 0)), ("sub", (4, 5)), ("mul", (1, 1)),
                  ("add", (2, 2)), ("div", (7, 8)), ("add", (6, 9)), ("sub", (10, 1))],
}

# 1-D programs shared by several tests.
X_PLUS_X = Program.from_nodes([("add", (0, 0))])
TWO_X = Program.from_nodes([("add", (1, 1)), ("mul", (0, 2))])
SIN_X = Program.from_nodes([("sin", (0,))])
# exp(exp(exp(exp(x)))) is clipped at e^50 ~ 5e21 for x > 0.31; its square overflows float32.
OVERFLOW = Program.from_nodes([("exp", (0,)), ("exp", (2,)), ("exp", (3,)), ("exp", (4,)), ("mul", (5, 5))])
# (x - x) * overflow = 0 * inf = NaN
NAN = Program.from_nodes([*((n.op, n.args) for n in OVERFLOW.nodes), ("sub", (0, 0)), ("mul", (6, 7))])


def small(problem: str = "nguyen-1", **kw) -> RegressionDomain:
    return RegressionDomain(RegressionConfig(**{"problem": problem, "n_test": 50, **kw}))


@pytest.mark.parametrize("name", sorted(nguyen.PROBLEMS, key=lambda n: int(n.split("-")[1])))
def test_every_nguyen_truth_recovers(name: str) -> None:
    domain = small(name)
    program = Program.from_nodes(TRUTHS[name])
    assert domain.is_recovered(program)
    (ev,) = domain.evaluate([program], seed=0)
    assert ev.status == Status.OK
    assert ev.fitness == pytest.approx(1.0, abs=1e-4)
    assert ev.objectives["nrmse_test"] < 1e-4 and ev.objectives["nrmse_train"] < 1e-4
    assert ev.details == {"recovered": True}


def test_problem_table_matches_definitions() -> None:
    assert len(nguyen.PROBLEMS) == 12
    n8, n11 = nguyen.get("nguyen-8"), nguyen.get("nguyen-11")
    assert (n8.low, n8.high, n8.n_train, n8.variables) == (0.0, 4.0, 20, ("x0",))
    assert (n11.low, n11.high, n11.n_train, n11.variables) == (0.0, 1.0, 100, ("x0", "x1"))
    domain = small("nguyen-10")
    assert domain.train.inputs["x0"].shape == (100,) and domain.test.target.shape == (50,)
    x0, x1 = domain.train.inputs["x0"], domain.train.inputs["x1"]
    np.testing.assert_allclose(domain.train.target, 2 * np.sin(x0) * np.cos(x1))
    assert x0.min() >= -1 and x0.max() <= 1


def test_points_are_seeded_and_test_is_fresh() -> None:
    a, b, c = small(data_seed=3), small(data_seed=3), small(data_seed=4)
    np.testing.assert_array_equal(a.train.inputs["x0"], b.train.inputs["x0"])
    assert not np.array_equal(a.train.inputs["x0"], c.train.inputs["x0"])
    assert not np.isin(a.test.inputs["x0"], a.train.inputs["x0"]).any()
    # the held-out count does not change the training set
    np.testing.assert_array_equal(a.train.inputs["x0"], small(data_seed=3, n_test=7).train.inputs["x0"])


def test_wrong_programs_do_not_recover() -> None:
    domain = small("nguyen-1")
    # x^3 + x^2 (the "+ x" is missing)
    almost = Program.from_nodes(TRUTHS["nguyen-1"][:3])
    assert not domain.is_recovered(almost)
    assert not domain.is_recovered(SIN_X)
    evs = domain.evaluate([almost, SIN_X])
    assert all(ev.status == Status.OK and ev.details == {"recovered": False} for ev in evs)
    assert all(0.0 < ev.fitness < 0.99 for ev in evs)
    # sin(x) is close to x^3 + x^2 + x nowhere near exactly: NRMSE well above zero
    assert evs[1].objectives["nrmse_test"] > 0.1


def test_near_miss_passes_the_cheap_filter_but_does_not_recover() -> None:
    # truth + exp(1 - 12) ~ truth + 1.7e-5: close enough to be checked, not the truth.
    constant = [("add", (1, 1)), ("add", (6, 6)), ("add", (7, 7)), ("add", (8, 6)), ("add", (9, 6)),
                ("sub", (1, 10)), ("exp", (11,)), ("add", (5, 12))]
    near = Program.from_nodes(TRUTHS["nguyen-1"] + constant)
    domain = small("nguyen-1")
    (ev,) = domain.evaluate([near])
    assert ev.objectives["nrmse_test"] < 1e-3
    assert ev.details == {"recovered": False}
    # a looser tolerance accepts it; the exact truth recovers under any tolerance
    assert small("nguyen-1", recovery_tolerance=1e-4).is_recovered(near)
    assert small("nguyen-1", recovery_tolerance=1e-12).is_recovered(Program.from_nodes(TRUTHS["nguyen-1"]))


def test_fingerprint_inputs_identify_x_plus_x_with_two_x() -> None:
    domain = small()
    inputs = domain.fingerprint_inputs()
    assert set(inputs) == {"x0"} and inputs["x0"].dtype == np.float32 and inputs["x0"].shape == (16,)
    assert inputs["x0"].min() >= -1 and inputs["x0"].max() <= 1
    a, b, c = fingerprints([X_PLUS_X, TWO_X, SIN_X], domain.space, inputs)
    assert a == b != c
    two_d = small("nguyen-9").fingerprint_inputs()
    assert set(two_d) == {"x0", "x1"} and two_d["x1"].shape == (32,)


def test_non_finite_programs_score_at_the_floor() -> None:
    domain = small()
    evs = domain.evaluate([OVERFLOW, SIN_X, NAN])
    assert [ev.status for ev in evs] == [Status.NON_FINITE, Status.OK, Status.NON_FINITE]
    assert evs[0].fitness == evs[2].fitness == domain.fitness_floor == 0.0
    assert evs[1].fitness > 0
    assert all(math.isfinite(v) for ev in evs for v in ev.objectives.values())
    assert evs[0].details == {"recovered": False}


def test_invalid_programs_are_marked_not_raised() -> None:
    domain = small()
    constant = Program.from_nodes([("add", (1, 1))])  # reads no variable
    unknown = Program.from_nodes([("tanh", (0,))])  # not in the space's ops
    evs = domain.evaluate([constant, SIN_X, unknown])
    assert [ev.status for ev in evs] == [Status.INVALID, Status.OK, Status.INVALID]
    assert evs[0].fitness == 0.0
    assert not domain.is_recovered(constant)


def test_batches_reuse_bucketed_compiles() -> None:
    # max_nodes=9 gives this test a space of its own, so the cache starts empty here.
    domain = small(max_nodes=9, interpreter="jax")
    interpreter = forward_interpreter(domain.space)  # the forward-only function the domain uses
    before = interpreter._cache_size()
    programs = [SIN_X, X_PLUS_X, TWO_X, OVERFLOW] * 10
    for n in (3, 7, 40, 5, 33):
        evs = domain.evaluate(programs[:n])
        assert len(evs) == n
        assert [ev.status for ev in evs] == [
            Status.NON_FINITE if p is OVERFLOW else Status.OK for p in programs[:n]
        ]
    assert interpreter._cache_size() - before == 2  # buckets 32 and 64
    assert (bucket_size(1), bucket_size(32), bucket_size(33), bucket_size(100)) == (32, 32, 64, 128)


def test_a_small_batch_reuses_a_larger_compiled_bucket() -> None:
    # max_nodes=11: a space of its own. After a batch of 100 (bucket 128), batches of 3 and 40 pad
    # to 128 too (no compile), and score exactly as a domain that pads them to 32 and 64.
    domain, alone = small(max_nodes=11, interpreter="jax"), small(max_nodes=11, interpreter="jax")
    interpreter = forward_interpreter(domain.space)
    programs = [SIN_X, X_PLUS_X, TWO_X, OVERFLOW] * 25
    domain.evaluate(programs)
    compiled = interpreter._cache_size()
    padded = [domain.evaluate(programs[:n]) for n in (3, 40)]
    assert interpreter._cache_size() == compiled
    unpadded = [alone.evaluate(programs[:n]) for n in (3, 40)]
    assert interpreter._cache_size() == compiled + 2  # the other domain's buckets 32 and 64
    for ours, theirs in zip(padded, unpadded):
        assert [(e.status, e.objectives) for e in ours] == [(e.status, e.objectives) for e in theirs]
    # The padded size, for a fresh domain: a bucket used before is reused up to 16x the batch's own.
    fresh = small(max_nodes=11, interpreter="jax")
    assert [fresh._bucket(n) for n in (600, 1, 100, 40, 3000)] == [1024, 32, 1024, 1024, 4096]


def test_results_do_not_depend_on_the_batch() -> None:
    domain = small()
    alone = domain.evaluate([TWO_X])[0]
    mixed = domain.evaluate([SIN_X, OVERFLOW, TWO_X])[2]
    assert alone.objectives == mixed.objectives
    assert domain.evaluate([]) == []


def test_stages_and_registry() -> None:
    domain = domains.make("regression", {"problem": "nguyen-5", "n_test": 10})
    assert isinstance(domain, RegressionDomain) and domain.name == "regression"
    (stage,) = domain.stages()
    assert stage.name == "heldout"
    (ev,) = stage.evaluate([Program.from_nodes(TRUTHS["nguyen-5"])], 0, None)
    assert ev.details["recovered"]
    assert domain.space.required_inputs == ("x0",)
    assert "regression" in domains.known()


def test_simplify_proves_equal_forms_and_respects_the_op_cap() -> None:
    domain = small("nguyen-1")
    expr = to_sympy(Program.from_nodes(TRUTHS["nguyen-1"]), domain.space)
    assert simplifies_to(expr, domain.truth)
    assert not simplifies_to(to_sympy(SIN_X, domain.space), domain.truth)
    (x,) = nguyen.symbols(1)
    horner = x * (x * (x + 1) + 1)  # the truth, in a form sympy does not cancel unasked
    assert simplifies_to(horner, domain.truth)
    assert not simplifies_to(horner, domain.truth, max_ops=2)  # too big to try


def test_float64_on_the_grid_decides() -> None:
    # x^3 + x^2 + x is exact; adding 2e-5 is a candidate (held-out NRMSE < 1e-4) but misses 1e-6.
    domain = RegressionDomain(RegressionConfig(problem="nguyen-1", constants=(1.0, 2e-5)))
    exact = Program.from_nodes([("mul", [0, 0]), ("mul", [3, 0]), ("add", [4, 3]), ("add", [5, 0])])
    shifted = Program.from_nodes([*((n.op, n.args) for n in exact.nodes), ("add", [6, 2])])
    assert domain.is_recovered(exact)
    assert not domain.is_recovered(shifted)
    near, exact_eval = domain.evaluate([shifted, exact])
    assert near.objectives["nrmse_test"] < 1e-4 and not near.details["recovered"]
    assert exact_eval.details["recovered"]


# --- config -----------------------------------------------------------------------------------


def test_unknown_op_fails_validation_with_the_known_list() -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        RegressionConfig(ops=("add", "sinh"))
    assert "unknown op 'sinh'; known: abs, add," in str(info.value)


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"problem": "nguyen-13"}, "unknown problem 'nguyen-13'; known: nguyen-1, nguyen-2"),
        ({"problem": None}, "exactly one of"),
        ({"problem": "nguyen-1", "csv": "a.csv"}, "exactly one of"),
        ({"features": ["a"]}, "apply to `csv` data only"),
        ({"max_nodes": 0}, "max_nodes"),
        ({"max_nodes": 10_000}, "max_nodes"),
        ({"n_test": 0}, "n_test"),
        ({"test_fraction": 1.0, "csv": "a.csv"}, "test_fraction"),
        ({"constants": [float("nan")]}, "constants"),
        ({"ops": []}, "ops"),
        ({"ops": ["add", "add"]}, "repeat"),
        ({"data_seed": -1}, "data_seed"),
        ({"recovery_tolerance": 0.0}, "recovery_tolerance"),
        ({"bogus": 1}, "bogus"),
        ({"interpreter": "torch"}, "interpreter"),
        ({"interpreter": "numpy", "ops": ["add", "batch_mean"]}, "ops ['batch_mean'] have no numpy form"),
    ],
)
def test_config_rejects(fields: dict, words: str) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        RegressionConfig(**fields)
    assert words in str(info.value)


def test_csv_replaces_the_default_problem() -> None:
    config = RegressionConfig(csv="data.csv")
    assert config.problem is None and config.csv == "data.csv"
    assert RegressionConfig().problem == "nguyen-1"
    as_list = RegressionConfig(csv="d.csv", features=["a", "b"])
    assert as_list == RegressionConfig(csv="d.csv", features=("a", "b"))
    assert hash(as_list) == hash(RegressionConfig(csv="d.csv", features=("a", "b")))  # keys compile caches


# --- CSV data ---------------------------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = "data.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_csv_round_trip_recovers_the_true_formula(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (40, 2))
    y = x[:, 0] * x[:, 1] + x[:, 0]
    rows = "\n".join(",".join(repr(float(v)) for v in row) for row in np.column_stack([x, y]))
    path = write(tmp_path, f"x0,x1,y\n{rows}\n")
    domain = domains.make("regression", {"csv": path, "test_fraction": 0.25, "recovery_tolerance": 1e-5})
    assert domain.variables == ("x0", "x1") and domain.truth is None
    assert len(domain.train.target) == 30 and len(domain.test.target) == 10
    truth = Program.from_nodes([("mul", (0, 1)), ("add", (3, 0))])
    product = Program.from_nodes([("mul", (0, 1))])
    ev, wrong = domain.evaluate([truth, product])
    assert ev.status == Status.OK and ev.fitness == pytest.approx(1.0, abs=1e-5)
    assert ev.details == {"recovered": True} and domain.is_recovered(truth)
    assert wrong.details == {"recovered": False} and not domain.is_recovered(product)
    fp = domain.fingerprint_inputs()
    assert fp["x0"].shape == (32,) and fp["x0"].min() >= x[:, 0].min()


def test_csv_features_and_target_are_selectable(tmp_path: Path) -> None:
    path = write(tmp_path, "speed,noise,time,dist\n1,9,2,2\n2,8,2,4\n3,7,1,3\n4,6,3,12\n5,5,2,10\n")
    domain = RegressionDomain(RegressionConfig(csv=path, target="dist", features=["speed", "time"]))
    assert domain.variables == ("speed", "time")
    assert [n for n, _ in domain.space.inputs] == ["speed", "time"]
    (ev,) = domain.evaluate([Program.from_nodes([("mul", (0, 1))])])
    assert ev.details["recovered"] and ev.fitness == pytest.approx(1.0)


@pytest.mark.parametrize(
    "text, fields, words",
    [
        (None, {}, "no such file"),
        ("", {}, "empty"),
        ("\n\n", {}, "empty"),
        ("a,b\n1,2\n3,4\n5,6\n7,8\n", {}, "no target column 'y'; columns: a, b"),
        ("x0,y\n1,2\n3,4\n5,abc\n7,8\n", {}, "row 3 (line 4), column 'y': 'abc' is not a number"),
        ("x0,y\n1,2\n3,4\n5,6\n", {}, "has 3 data rows; need at least 4"),
        ("my var,y\n1,2\n3,4\n5,6\n7,8\n", {}, "feature name 'my var' is not a valid identifier"),
        ("x0,y\n1,2\nnan,4\n5,6\n7,8\n", {}, "row 2 (line 3), column 'x0': 'nan' is not finite"),
        ("x0,y\n1,2\n3,inf\n5,6\n7,8\n", {}, "column 'y': 'inf' is not finite"),
        ("x0,y\n1,2\n3\n5,6\n7,8\n", {}, "row 2 (line 3) has 1 cells"),
        ("x0,y\n1,2\n3,2\n5,2\n7,2\n", {}, "is constant"),
        ("x0,x0,y\n1,1,2\n3,3,4\n5,5,6\n7,7,8\n", {}, "repeats column names ['x0']"),
        ("y\n1\n2\n3\n4\n", {}, "no feature columns"),
        ("x0,y\n1,2\n3,4\n5,6\n7,8\n", {"features": ["x9"]}, "no feature column 'x9'; columns: x0, y"),
        ("x0,y\n1,2\n3,4\n5,6\n7,8\n", {"features": ["y"]}, "cannot also be a feature"),
    ],
)
def test_bad_csv_raises_one_line_data_error(
    tmp_path: Path, text: str | None, fields: dict, words: str
) -> None:
    path = str(tmp_path / "missing.csv") if text is None else write(tmp_path, text)
    with pytest.raises(DataError) as info:
        RegressionDomain(RegressionConfig(csv=path, **fields))
    message = str(info.value)
    assert message.startswith(path + ": ") and "\n" not in message
    assert words in message
    assert isinstance(info.value, ValueError)


def test_recovery_check_off_computes_the_fitness_only() -> None:
    truth = Program.from_nodes(TRUTHS["nguyen-1"])
    checked = RegressionDomain(RegressionConfig(problem="nguyen-1")).evaluate([truth])[0]
    unchecked = RegressionDomain(RegressionConfig(problem="nguyen-1", recovery_check=False)).evaluate([truth])[0]
    assert checked.details == {"recovered": True} and unchecked.details == {}
    assert unchecked.fitness == checked.fitness and unchecked.objectives == checked.objectives
    assert RegressionDomain(RegressionConfig(problem="nguyen-1", recovery_check=False)).is_recovered(truth)


# --- interpreters ------------------------------------------------------------------------------


def test_auto_runs_numpy_on_the_cpu_unless_an_op_has_no_numpy_form() -> None:
    assert small().interpreter == "numpy"  # the tests run JAX on the CPU
    assert small(ops=("add", "sin", "batch_mean")).interpreter == "jax"
    assert small(interpreter="jax").interpreter == "jax"


def test_numpy_and_jax_interpreters_score_alike() -> None:
    # The truths, near misses, a wrong formula and the failure cases: the same statuses, recovery
    # verdicts (the numpy grid check screens on a subset first) and scores to float32 rounding.
    near = Program.from_nodes([*TRUTHS["nguyen-1"], ("add", (1, 1)), ("div", (0, 6)), ("mul", (7, 7)),
                               ("sub", (8, 8)), ("sin", (9,)), ("add", (5, 10))])  # truth + sin(0) = truth
    for problem in ("nguyen-1", "nguyen-5", "nguyen-10"):
        programs = [Program.from_nodes(TRUTHS[problem]), SIN_X, X_PLUS_X, TWO_X, OVERFLOW, NAN]
        if problem == "nguyen-1":
            programs += [near, Program.from_nodes(TRUTHS[problem][:3])]
        ours, theirs = small(problem, interpreter="numpy"), small(problem, interpreter="jax")
        a, b = ours.evaluate(programs), theirs.evaluate(programs)
        assert [(e.status, e.details) for e in a] == [(e.status, e.details) for e in b]
        for x, y in zip(a, b):
            assert x.fitness == pytest.approx(y.fitness, rel=1e-5)
            for key in x.objectives:
                assert x.objectives[key] == pytest.approx(y.objectives[key], rel=1e-3, abs=1e-6)
        assert [ours.is_recovered(p) for p in programs] == [theirs.is_recovered(p) for p in programs]
    assert small("nguyen-1", interpreter="numpy").is_recovered(near)


def test_the_grid_screen_gives_the_full_grid_verdicts(monkeypatch: pytest.MonkeyPatch) -> None:
    # The screen only rejects (a miss on a subset of the grid is a miss on the grid): the shifted
    # formula and sin(x) stop there, the exact ones pass it and the full grid.
    import discolab.domains.regression as regression

    domain = RegressionDomain(RegressionConfig(problem="nguyen-1", constants=(1.0, 2e-5), interpreter="numpy"))
    exact = Program.from_nodes([("mul", [0, 0]), ("mul", [3, 0]), ("add", [4, 3]), ("add", [5, 0])])
    shifted = Program.from_nodes([*((n.op, n.args) for n in exact.nodes), ("add", [6, 2])])
    programs = [exact, shifted, exact, SIN_X]
    screened = domain._exact_on_grid(programs)
    monkeypatch.setattr(regression, "GRID_SCREEN_STRIDE", 1)  # the screen is the whole grid
    assert screened.tolist() == domain._exact_on_grid(programs).tolist() == [True, False, True, False]
