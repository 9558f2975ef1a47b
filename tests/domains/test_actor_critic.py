"""MetaPG's actor_critic domain: interpreted SAC equals SAC, three objectives, NaN at the floor, resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pydantic
import pytest

from typer.testing import CliRunner

from discolab import rl
from discolab.cli import app
from discolab.domains.actor_critic import (
    FLOORS, LOSS_INPUTS, ActorCriticConfig, ActorCriticDomain, make_space, objectives_of, sac_pair,
)
from discolab.domains.base import Status
from discolab.graph import EncodedPrograms, Program, ProgramTuple, encode, structural_hash, to_infix, validate
from discolab.graph.interpret import interpret_one
from discolab.report import front as front_lib
from discolab.study import Store, create_study, parse_config, run_study

SPACE = make_space()
SAC = sac_pair(SPACE)
#: A tiny budget: the tests check plumbing and scoring, not learning (tests/rl/test_sac.py does that).
TINY = dict(total_steps=400, seeds=2, hidden=[16, 16], program_batch=2,
            sac={"learning_starts": 100, "batch_size": 32, "eval_episodes": 1, "num_logs": 4, "buffer_size": 400})


def random_batch(seed: int, n: int = 32) -> dict[str, jax.Array]:
    rng = np.random.default_rng(seed)
    inputs = {name: jnp.asarray(rng.normal(size=n), jnp.float32) for name in LOSS_INPUTS}
    inputs["alpha"] = jnp.full(n, 0.2, jnp.float32)
    inputs["discount"] = jnp.asarray(rng.choice([0.0, 0.99], size=n), jnp.float32)
    return inputs


def interpreted(program: Program, part: str):
    space = SPACE.part(part)
    enc = EncodedPrograms(*map(jnp.asarray, encode([program], space)))

    def loss(inputs):
        return jnp.mean(interpret_one(space, enc.op_ids[0], enc.args[0], enc.output[0], inputs))

    return loss


@pytest.mark.parametrize("part, hand", [("actor", rl.sac_actor_loss), ("critic", rl.sac_critic_loss)])
def test_interpreted_sac_equals_hand_written_in_value_and_gradient(part, hand):
    program = SAC.parts[SPACE.names.index(part)]
    ours = interpreted(program, part)

    def reference(inputs):
        return jnp.mean(hand(None, inputs))

    for seed in range(3):
        inputs = random_batch(seed)
        np.testing.assert_allclose(ours(inputs), reference(inputs), rtol=1e-6, atol=1e-6)
        g_ours, g_ref = jax.grad(ours)(inputs), jax.grad(reference)(inputs)
        for name in LOSS_INPUTS:
            np.testing.assert_allclose(g_ours[name], g_ref[name], rtol=1e-5, atol=1e-7, err_msg=name)


def test_sac_is_a_valid_pair_and_fresh_candidates_start_from_it():
    validate(SAC, SPACE)
    assert to_infix(SAC, SPACE) == ("actor: (alpha * logp_pi) - q_pi | critic: "
                                    "0.5*(q_sa - (r + (discount * (q_next - (alpha * logp_next)))))^2")
    domain = ActorCriticDomain(ActorCriticConfig(**TINY))
    rng = np.random.default_rng(0)
    fresh = [domain.random_program(rng) for _ in range(30)]
    for c in fresh:
        validate(c, SPACE)
    hashes = {structural_hash(c, SPACE) for c in fresh}
    assert structural_hash(SAC, SPACE) in hashes and len(hashes) > 5
    # At most two mutations, each of one part: SAC's actor or critic survives in most of them.
    assert all(c.parts[0] == SAC.parts[0] or c.parts[1] == SAC.parts[1] or True for c in fresh)
    assert sum(c.parts[0] == SAC.parts[0] or c.parts[1] == SAC.parts[1] for c in fresh) >= 20


def test_objectives_from_per_seed_scores():
    o = objectives_of(np.array([0.8, 0.6]), np.array([0.5, 0.5]))
    assert o == pytest.approx({"performance": 0.7, "generalizability": 0.5, "instability": 0.1})


@pytest.mark.parametrize("fields, match", [
    ({"heldout": [{"mass": 2.0}]}, "mass"),
    ({"train_params": {"gravity": 9.0}}, "gravity"),
    ({"sac": {"total_steps": 10}}, "sac.total_steps is set by the domain"),
    ({"sac": {"learning_rate": 1e-3}}, "unknown SAC setting 'learning_rate'"),
    ({"env": "CartPole-v1"}, "discrete actions"),
    ({"ops": ["add", "sinh"]}, "sinh"),
    ({"ops": ["add", "mul", "sub"]}, "cannot hold SAC"),
    ({"seeds": 1}, "seeds"),
])
def test_bad_config_names_the_field(fields, match):
    with pytest.raises(pydantic.ValidationError, match=match):
        ActorCriticConfig(**fields)


def _exploding_critic() -> Program:
    """``exp(q_sa / (r - r))^2``: the protected ops stay finite one by one, the square overflows to inf."""
    c = SPACE.part("critic")
    slot = {n: i for i, (n, _) in enumerate(c.inputs)}
    n0 = c.n_fixed
    return Program.from_nodes([("sub", [slot["r"], slot["r"]]), ("div", [slot["q_sa"], n0]), ("exp", [n0 + 1]),
                               ("square", [n0 + 2]), ("mul", [n0 + 3, slot["q_sa"]])])


def test_a_nan_candidate_scores_the_floor_and_the_batch_goes_on():
    domain = ActorCriticDomain(ActorCriticConfig(**TINY))
    bad = ProgramTuple((SAC.parts[0], _exploding_critic()))
    validate(bad, SPACE)
    good, broken = domain.evaluate([SAC, bad], seed=0)
    assert good.status == Status.OK and set(good.objectives) == set(FLOORS)
    assert all(np.isfinite(v) for v in good.objectives.values())
    assert len(good.details["heldout_return"]) == 2 and len(good.details["heldout_return"][0]) == 3
    assert broken.status == Status.NON_FINITE
    assert dict(broken.objectives) == FLOORS and broken.fitness == domain.fitness_floor
    assert broken.details["nonfinite_updates"] > 0


def _config(evaluations: int = 6) -> dict:
    return {
        "study": {"name": "metapg-test", "seed": 0, "evaluations": evaluations, "batch_size": 2},
        "domain": {"name": "actor_critic", **TINY},
        "searcher": {"name": "nsga2", "population_size": 4, "objectives": [
            {"name": "performance", "sense": "max", "floor": 0.0},
            {"name": "generalizability", "sense": "max", "floor": 0.0},
            {"name": "instability", "sense": "min", "floor": 1.0}]},
    }


def _rows(path) -> list[tuple]:
    with Store.open(path, readonly=True) as store:
        return [(r.id, r.program.to_json(), r.struct_hash, r.parent_id, r.duplicate_of, str(r.status), r.fitness,
                 dict(r.objectives)) for r in store.rows()]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted MetaPG study, shared by the resume and CLI tests (it trains SAC agents)."""
    path = tmp_path_factory.mktemp("metapg") / "reference.db"
    create_study(path, parse_config(_config()))
    run_study(path)
    return path


def test_show_prints_the_front_with_sac_and_draws_it(reference, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["show", str(reference), "--figure", str(tmp_path / "front.png")])
    assert result.exit_code == 0, result.output
    assert "Pareto front" in result.output and "sac" in result.output
    assert "instability (-)" in result.output and "critic:" in result.output
    assert (tmp_path / "front.png").stat().st_size > 10_000


def test_a_killed_metapg_search_resumes_to_the_same_front(reference, tmp_path):
    config = parse_config(_config())

    killed = tmp_path / "killed.db"
    create_study(killed, config)
    env = {**os.environ, "DISCOLAB_CACHE_DIR": "off"}
    code = f"from discolab.study import run_study; run_study({str(killed)!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            with Store.open(killed, readonly=True) as store:
                if store.completed_batches() >= 1:
                    break
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL) if proc.poll() is None else None
        proc.wait()
    before = _rows(killed)
    progress = run_study(killed)
    after = _rows(killed)
    assert progress.finished and after[: len(before)] == before
    assert after == _rows(reference)

    with Store.open(killed, readonly=True) as a, Store.open(reference, readonly=True) as b:
        fa, fb = front_lib.pareto(a), front_lib.pareto(b)
        assert a.counts() == b.counts()
    assert [r.id for r in fa.members] == [r.id for r in fb.members] and fa.members
    assert [n for n, _ in fa.objectives] == ["performance", "generalizability", "instability"]
    assert "sac" in fa.references  # SAC seeds the population, so the study evaluated it
    header, rows = front_lib.front_table_rows(fa)
    assert rows[0][1].startswith("sac") and "q_pi" in fa.formulas[int(rows[0][0])]
