"""The dqn_loss domain: the paper's space, the named losses, fingerprints, staged batched training."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pydantic
import pytest

from discolab import domains
from discolab.domains import Status
from discolab.domains.dqn_loss import (
    DEFAULT_OPS, LOSS_INPUT_TYPES, NAMED_PROGRAMS, DQNLossConfig, DQNLossDomain, make_space,
)
from discolab.domains.dqn_programs import ProgramBuilder, bootstrap_program, dqn
from discolab.graph import (
    EncodedPrograms, InvalidProgram, Program, batched_interpreter, encode, fingerprints, mutate, random_program,
    validate,
)
from discolab.graph.interpret import interpret_one
from discolab.graph.program import live_slots
from discolab.rl import LOSS_INPUTS, losses
from discolab.study.config import load_config
from discolab.study.executor import LocalExecutor, run_stages

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SPACE = make_space()

# A small space and a small budget for training tests: the interpreter computes every op of the
# space at every node, so few ops and nodes keep a CPU run short. Measured on CartPole-v0 with
# 16k transitions, 16 seeds: DQN scores 0.32-1.0 normalized per seed (median 0.95), so above 0.4
# for any 2-seed mean; two random losses 0.05-0.08, and a frozen network (no update applied)
# 0.05-0.4. At 8k transitions DQN's seed mean was 0.33 once, below a random loss's 0.38.
TRAIN_OPS = ("add", "sub", "mul", "div", "max", "exp", "square", "distance", "scale_0.1", "select", "max_a",
             "argmax_a")
TRAIN_CONFIG = dict(
    train_envs=("CartPole-v0", "Acrobot-v1"), hurdle_env="CartPole-v0", total_steps=16_000,
    env_steps={"Acrobot-v1": 1_000}, hidden=(32, 32), seeds=2, program_batch=4, ops=TRAIN_OPS, max_nodes=8,
    dqn=dict(learning_rate=1e-3, num_envs=4, learning_starts=500, buffer_size=4_000, target_update=50, num_logs=10),
)


def batch_inputs(seed: int, batch: int = 32, actions: int = 3) -> dict[str, jax.Array]:
    """A replay batch as the trainer builds it (a_tm1 int32, discount masked by done)."""
    rng = np.random.default_rng(seed)
    q = lambda: jnp.asarray(rng.normal(size=(batch, actions)) * 5, jnp.float32)  # noqa: E731
    return {
        "q_tm1": q(), "q_t_target": q(), "q_t_online": q(), "q_tm1_target": q(),
        "a_tm1": jnp.asarray(rng.integers(0, actions, batch), jnp.int32),
        "r_t": jnp.asarray(rng.normal(size=batch), jnp.float32),
        "discount_t": jnp.asarray(0.99 * (rng.random(batch) > 0.2), jnp.float32),
    }


def nan_program(space) -> Program:
    """``(x - x) + Q(s_t, a_t)`` with ``x = exp(0.5 / 0)^2 = inf``: a NaN loss that reads theta."""
    b = ProgramBuilder(space)
    zero = b("sub", 0.5, 0.5)
    huge = b("square", b("exp", b("div", 0.5, zero)))
    b("add", b("sub", huge, huge), b("select", "q_tm1", "a_tm1"))
    return b.program()


# ---- the space and the named programs --------------------------------------------------


def test_space_inputs_are_the_trainers_loss_inputs():
    assert tuple(n for n, _ in LOSS_INPUT_TYPES) == LOSS_INPUTS
    assert SPACE.max_nodes == 20 and SPACE.constants == (0.5, 0.2, 0.1, 0.01)
    assert SPACE.required_inputs == ("q_tm1", "q_t_online")
    assert DQNLossDomain(DQNLossConfig(max_nodes=12)).space.max_nodes == 12


@jax.jit
def _interpreted(encoded: EncodedPrograms, q_tm1, q_t_online, x):
    """Mean interpreted loss and its gradients: one compile for every named program (they are data)."""

    def loss(q, qo):
        return jnp.mean(interpret_one(SPACE, *encoded, {**x, "q_tm1": q, "q_t_online": qo}))

    per_sample = interpret_one(SPACE, *encoded, {**x, "q_tm1": q_tm1, "q_t_online": q_t_online})
    return per_sample, jax.grad(loss, argnums=(0, 1))(q_tm1, q_t_online)


@pytest.mark.parametrize("name", sorted(NAMED_PROGRAMS))
def test_named_programs_equal_the_hand_written_losses(name):
    """Values and gradients (w.r.t. q_tm1 and q_t_online) equal rl.losses' on random batches."""
    program = NAMED_PROGRAMS[name]
    validate(program, SPACE)
    encoded = EncodedPrograms(*(jnp.asarray(a[0]) for a in encode([program], SPACE)))
    reference = losses.get(name)

    def hand_written(q, qo, x):
        return reference(None, {**x, "q_tm1": q, "q_t_online": qo})

    for seed in range(3):
        x = batch_inputs(seed)
        values, grads = _interpreted(encoded, x["q_tm1"], x["q_t_online"], x)
        np.testing.assert_allclose(values, hand_written(x["q_tm1"], x["q_t_online"], x), rtol=1e-6, atol=1e-6)
        want = jax.grad(lambda q, qo: jnp.mean(hand_written(q, qo, x)), argnums=(0, 1))(x["q_tm1"], x["q_t_online"])
        for got, w in zip(grads, want):
            np.testing.assert_allclose(got, w, rtol=1e-6, atol=1e-7)


def test_dqn_is_five_op_nodes():
    """The paper's 7 nodes less the two Q-network calls, which are inputs here."""
    assert [n.op for n in NAMED_PROGRAMS["dqn"].nodes] == ["select", "max_a", "mul", "add", "distance"]


def test_random_and_mutated_programs_validate_and_interpret():
    rng = np.random.default_rng(0)
    programs = [random_program(SPACE, rng) for _ in range(24)]
    programs += [mutate(programs[i % 24], SPACE, rng) for i in range(24)]
    programs += [mutate(NAMED_PROGRAMS["dqn_clipped"], SPACE, rng) for _ in range(16)]
    for p in programs:
        validate(p, SPACE)
    x = batch_inputs(1)
    encoded = EncodedPrograms(*map(jnp.asarray, encode(programs, SPACE)))
    out = np.asarray(batched_interpreter(SPACE)(encoded, x))
    assert out.shape == (len(programs), 32)
    # Protected ops keep most outputs finite; the rest (inf - inf, say) train at the floor, never raise.
    assert np.isfinite(out).all(axis=1).mean() > 0.8


def test_a_loss_that_ignores_theta_is_invalid():
    b = ProgramBuilder(SPACE)  # TD on the target net's values only: no theta anywhere
    y = b("add", "r_t", b("mul", "discount_t", b("max_a", "q_t_target")))
    b("distance", b("select", "q_tm1_target", "a_tm1"), y)
    with pytest.raises(InvalidProgram, match="does not depend"):
        validate(b.program(), SPACE)
    rng = np.random.default_rng(5)
    for _ in range(50):  # the generator repairs instead
        p = random_program(SPACE, rng)
        assert live_slots(p, SPACE) & {0, 2}


def test_fingerprint_identifies_equal_losses():
    domain = DQNLossDomain(DQNLossConfig(train_envs=("CartPole-v0",)))
    b = ProgramBuilder(domain.space)  # DQN with every commutative op's arguments swapped
    q = b("select", "q_tm1", "a_tm1")
    y = b("add", b("mul", b("max_a", "q_t_target"), "discount_t"), "r_t")
    b("distance", y, q)
    commuted = b.program()
    b = ProgramBuilder(domain.space)  # 0.5 * (Q - Y)^2 spelled with mul, square and sub
    q = b("select", "q_tm1", "a_tm1")
    y = b("add", "r_t", b("mul", "discount_t", b("max_a", "q_t_target")))
    b("mul", 0.5, b("square", b("sub", q, y)))
    spelled = b.program()
    named = domain.named_programs
    inputs = domain.fingerprint_inputs()
    assert inputs["q_tm1"].shape == (10, 4) and np.abs(inputs["r_t"]).max() <= 100
    fps = fingerprints([named["dqn"], commuted, spelled, named["dqn_reg"], named["double_dqn"]], domain.space, inputs)
    assert fps[0] == fps[1] == fps[2]
    assert len({fps[0], fps[3], fps[4]}) == 3


# ---- config ----------------------------------------------------------------------------


def test_config_validation():
    with pytest.raises(pydantic.ValidationError, match="known:.*CartPole-v0"):
        DQNLossConfig(train_envs=("CartPole-v9",))
    with pytest.raises(pydantic.ValidationError, match="not one of train_envs"):
        DQNLossConfig(train_envs=("Acrobot-v1",), hurdle_env="CartPole-v0")
    with pytest.raises(pydantic.ValidationError, match="unknown DQN setting 'lr'"):
        DQNLossConfig(dqn={"lr": 1e-3})
    with pytest.raises(pydantic.ValidationError, match="set by the domain"):
        DQNLossConfig(dqn={"hidden": [8]})
    with pytest.raises(pydantic.ValidationError, match="multiple of num_envs"):
        DQNLossConfig(dqn={"buffer_size": 1_001})
    with pytest.raises(pydantic.ValidationError, match="bootstrap"):
        DQNLossConfig(mode="bootstrap", ops=("add", "select", "max_a"))
    with pytest.raises(pydantic.ValidationError, match="env_steps"):
        DQNLossConfig(env_steps={"MountainCar-v0": 10})
    with pytest.raises(pydantic.ValidationError, match="extra"):
        DQNLossConfig(batch=3)
    cfg = DQNLossConfig(**TRAIN_CONFIG)
    assert cfg.dqn_config("Acrobot-v1").steps == 1_000 and cfg.dqn_config("CartPole-v0").steps == 16_000
    assert DQNLossConfig().dqn_config("Acrobot-v1").hidden == (256, 256)  # the paper's network by default
    assert isinstance(domains.make("dqn_loss", {"train_envs": ["CartPole-v0"]}), DQNLossDomain)


@pytest.mark.parametrize("name", ["dqn_cartpole_scratch.toml", "dqn_cartpole_scratch_gpu.toml", "dqn_bootstrap.toml"])
def test_example_configs_validate(name):
    config = load_config(EXAMPLES / name)
    assert config.domain.name == "dqn_loss"
    domain_config = config.domain_config()
    assert domain_config.mode == ("bootstrap" if "bootstrap" in name else "scratch")
    assert set(config.domain_config().ops) <= set(DEFAULT_OPS)


def test_make_runner_names_the_known_interpreters():
    from discolab.domains.dqn_loss import make_runner

    with pytest.raises(ValueError, match=r"unknown interpreter 'switch'; known: \['naive', 'static', 'unrolled', 'vjp'\]"):
        make_runner(DQNLossDomain(DQNLossConfig()).space, DQNLossConfig().dqn_config("CartPole-v0"), "switch")


def test_stages_follow_the_hurdle():
    stages = DQNLossDomain(DQNLossConfig(train_envs=("CartPole-v0", "Acrobot-v1", "MountainCar-v0"))).stages()
    assert [(s.name, s.threshold) for s in stages] == [("CartPole-v0", 0.6), ("train", None)]
    assert len(DQNLossDomain(DQNLossConfig(hurdle_env=None)).stages()) == 1


def test_bootstrap_programs_start_from_dqn():
    domain = DQNLossDomain(DQNLossConfig(mode="bootstrap", train_envs=("CartPole-v0",)))
    prefix = domain.named_programs["dqn"]
    assert domain.initial_programs() == [prefix]
    rng = np.random.default_rng(0)
    programs = [domain.random_program(rng) for _ in range(100)]
    dqn_slot = domain.space.n_fixed + len(prefix) - 1
    for p in programs:
        validate(p, domain.space)
        assert p.nodes[: len(prefix)] == prefix.nodes
    assert len({p for p in programs}) > 50
    assert all(dqn_slot in live_slots(p, domain.space) for p in programs)  # DQN stays live
    assert bootstrap_program(domain.space, rng, extra=0) == prefix
    assert DQNLossDomain(DQNLossConfig(train_envs=("CartPole-v0",))).initial_programs() == []


# ---- training (one compiled function per env, shared by the tests below) ----------------


@pytest.fixture(scope="module")
def domain() -> DQNLossDomain:
    return DQNLossDomain(DQNLossConfig(**TRAIN_CONFIG))


@pytest.fixture(scope="module")
def trio(domain: DQNLossDomain) -> tuple[list[Program], list]:
    """DQN, a NaN-producing loss and a random loss, scored by the hurdle stage."""
    programs = [dqn(domain.space), nan_program(domain.space), random_program(domain.space, np.random.default_rng(7))]
    return programs, domain.stages()[0].evaluate(programs, 0, None)


def test_evaluate_scores_dqn_above_random_and_floors_nan(domain, trio):
    programs, evaluations = trio
    assert len(evaluations) == 3
    good, bad, rand = evaluations
    assert good.status == Status.OK and rand.status == Status.OK
    assert good.fitness > 0.3 and good.fitness > rand.fitness + 0.2, (good.fitness, rand.fitness)
    assert bad.status == Status.NON_FINITE and bad.fitness == domain.fitness_floor
    assert bad.details["non_finite_env"] == "CartPole-v0"
    details = good.details["envs"]["CartPole-v0"]
    assert details["normalized"] == pytest.approx(good.fitness) and good.objectives["CartPole-v0"] == good.fitness
    assert details["finite"] and details["q_mean"] is not None and details["return"] > 0
    assert len(details["per_seed"]) == 2 and good.seconds > 0


def test_a_new_batch_never_recompiles(domain, trio):
    run = domain.runner("CartPole-v0")
    assert run._cache_size() == 1
    rng = np.random.default_rng(11)
    others = [random_program(domain.space, rng) for _ in range(6)]  # two chunks of program_batch=4
    evaluations = domain.stages()[0].evaluate(others, 3, None)
    assert len(evaluations) == 6 and all(np.isfinite(e.fitness) for e in evaluations)
    assert run._cache_size() == 1


def test_invalid_program_is_not_trained(domain):
    b = ProgramBuilder(domain.space)
    b("max_a", "q_t_target")  # a FLOAT loss that ignores theta
    [e] = domain.evaluate_envs(("CartPole-v0",), [b.program()], 0)
    assert e.status == Status.INVALID and e.fitness == domain.fitness_floor


def test_a_loss_with_zero_gradient_in_theta_is_invalid_and_untrained(domain, monkeypatch):
    b = ProgramBuilder(domain.space)
    q = b("select", "q_tm1", "a_tm1")
    b("add", b("sub", q, q), "r_t")  # reads Q(theta, s_t), but its gradient there is zero
    frozen = b.program()
    b = ProgramBuilder(domain.space)
    b("select", "q_t_target", b("argmax_a", "q_t_online"))  # theta only through argmax: piecewise constant
    through_argmax = b.program()
    assert domain.moves_theta([frozen, dqn(domain.space), through_argmax]).tolist() == [False, True, False]

    trained: list[int] = []
    train = domain.train

    def spy(progs, env_id, seed=0):
        trained.append(len(progs))
        return train(progs, env_id, seed)

    monkeypatch.setattr(domain, "train", spy)
    evaluations = domain.evaluate_envs(("CartPole-v0",), [frozen, through_argmax], 0)
    assert trained == []  # neither trains
    for e in evaluations:
        assert e.status == Status.INVALID and e.fitness == domain.fitness_floor
        assert e.details["invalid"].startswith("zero gradient: the loss's gradient in q_tm1 and q_t_online")
    monkeypatch.setattr(domain, "config", domain.config.model_copy(update={"gradient_check": False}))
    [e] = domain.evaluate_envs(("CartPole-v0",), [frozen], 0)
    assert trained == [1] and e.status == Status.OK  # with the check off it trains


def test_hurdle_stops_programs_before_the_other_envs(domain, trio, monkeypatch):
    """run_stages trains on Acrobot only the programs that pass the CartPole hurdle."""
    programs, first = trio
    threshold = (first[0].fitness + first[2].fitness) / 2  # between DQN's and the random loss's scores
    stages = list(domain.stages())
    stages[0] = dataclasses.replace(stages[0], threshold=threshold)
    trained: list[tuple[str, int]] = []
    train = domain.train

    def spy(progs, env_id, seed=0):
        trained.append((env_id, len(progs)))
        return train(progs, env_id, seed)

    monkeypatch.setattr(domain, "train", spy)
    result = run_stages(stages, programs, 0, LocalExecutor(), domain.fitness_floor)
    assert result.failure is None
    assert trained == [("CartPole-v0", 3), ("Acrobot-v1", 1)]
    good, bad, rand = result.evaluations
    assert good.status == Status.OK and set(good.details["envs"]) == {"CartPole-v0", "Acrobot-v1"}
    assert good.fitness == pytest.approx(first[0].fitness + good.objectives["Acrobot-v1"])
    assert bad.status == Status.NON_FINITE
    assert rand.status == Status.HURDLE_FAILED and rand.fitness == first[2].fitness


def test_td_equivalence_accepts_positive_multiples_of_td_only():
    from discolab.domains.dqn_loss import DQNLossConfig, DQNLossDomain
    from discolab.domains.dqn_programs import ProgramBuilder, td_equivalent

    domain = DQNLossDomain(DQNLossConfig(mode="scratch"))
    space = domain.space

    def td_like(final: str, swap: bool = False, scale: bool = False, online: bool = False):
        b = ProgramBuilder(space)
        q = b("select", "q_tm1", "a_tm1")
        y = b("add", "r_t", b("mul", "discount_t", b("max_a", "q_t_online" if online else "q_t_target")))
        out = b(final, *((y, q) if swap else (q, y))) if final != "square" else b("square", b("sub", q, y))
        if scale:
            out = b("scale_0.1", out)
        return b.program()

    programs = [
        domain.named_programs["dqn"], td_like("square"), td_like("distance", swap=True), td_like("square", scale=True),
        td_like("sub"), td_like("distance", online=True), domain.named_programs["double_dqn"],
        domain.named_programs["dqn_reg"],
    ]
    got = td_equivalent(programs, space, domain.fingerprint_inputs()).tolist()
    assert got == [True, True, True, True, False, False, False, False]


def test_td_without_discount_is_its_own_reference():
    from discolab.domains.dqn_loss import DQNLossConfig, DQNLossDomain
    from discolab.domains.dqn_programs import scaled_equivalent, td_equivalent, td_without_discount

    domain = DQNLossDomain(DQNLossConfig(mode="scratch"))
    space, inputs = domain.space, domain.fingerprint_inputs()
    no_gamma = td_without_discount(space)
    assert not td_equivalent([no_gamma], space, inputs)[0]
    both = [no_gamma, domain.named_programs["dqn"]]
    assert scaled_equivalent(both, no_gamma, space, inputs).tolist() == [True, False]
