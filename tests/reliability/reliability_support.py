"""Shared by the reliability tests (a few trials, in CI) and bench/reliability_soak.py (many).

Two checks:
  - ``kill_trial``: `discolab search` SIGKILLed at a random moment, then
    `discolab resume` (or a fresh `search` if the kill landed before the study
    existed); the study must open, end with exactly its budget, evaluate no
    program twice and equal an uninterrupted run row for row.
  - ``check_program``: arbitrary node lists (hypothesis) through validation,
    the batched interpreter on extreme inputs, fingerprints and every
    rendering; only ``InvalidProgram`` may come out, and only of validation.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st

from discolab.graph import (
    EncodedPrograms, InvalidProgram, Program, SearchSpace, batched_interpreter, encode, fingerprints, mutate,
    random_inputs, random_program, to_infix, to_source, to_sympy, validate,
)
from discolab.study import Store

CONFIG = """
[study]
seed = {seed}
evaluations = {evaluations}
batch_size = 50

[domain]
name = "regression"
problem = "nguyen-{problem}"
max_nodes = 12

[searcher]
name = "regularized_evolution"
population_size = 60
tournament_size = 6
"""


@dataclasses.dataclass(frozen=True)
class KillTrial:
    """What one kill-and-resume trial saw."""

    kill_after_s: float
    committed_at_kill: int  # batches; -1: the study did not exist yet
    evaluations: int
    proposals: int
    equal_to_uninterrupted: bool


def cli(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "discolab.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def stored_rows(path: Path) -> list[tuple]:
    with Store.open(path, readonly=True) as store:
        return [(r.id, r.batch, r.program.to_json(), r.struct_hash, r.fingerprint, r.parent_id, r.duplicate_of,
                 str(r.status), r.fitness) for r in store.rows()]


def reference_study(folder: Path, seed: int, evaluations: int, problem: int, env: dict[str, str]) -> list[tuple]:
    """The rows of an uninterrupted run of the trial config."""
    config = folder / f"config-{seed}.toml"
    config.write_text(CONFIG.format(seed=seed, evaluations=evaluations, problem=problem))
    study = folder / f"reference-{seed}.db"
    done = cli("search", str(config), "--study", str(study), "--quiet", env=env)
    assert done.returncode == 0, done.stderr
    return stored_rows(study)


def kill_trial(folder: Path, seed: int, kill_after_s: float, reference: list[tuple], *, evaluations: int,
               problem: int, env: dict[str, str]) -> KillTrial:
    """Starts a search, SIGKILLs it after ``kill_after_s``, resumes it, and checks the result."""
    config = folder / f"config-{seed}.toml"
    config.write_text(CONFIG.format(seed=seed, evaluations=evaluations, problem=problem))
    study = folder / f"killed-{seed}-{kill_after_s:.3f}.db"
    proc = subprocess.Popen([sys.executable, "-m", "discolab.cli", "search", str(config), "--study", str(study),
                             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    time.sleep(kill_after_s)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    if study.exists():
        with Store.open(study, readonly=True) as store:  # the store always opens
            committed = store.completed_batches()
        before = stored_rows(study)
        done = cli("resume", str(study), "--quiet", env=env)
    else:  # killed before the study was created: nothing to resume, start again
        committed, before = -1, []
        done = cli("search", str(config), "--study", str(study), "--quiet", env=env)
    assert done.returncode == 0, done.stderr
    after = stored_rows(study)
    assert after[: len(before)] == before, "a committed row changed"
    evaluated = [r for r in after if r[6] is None]
    assert len(evaluated) == evaluations, f"{len(evaluated)} evaluations, configured {evaluations}"
    assert len({r[3] for r in evaluated}) == len(evaluated), "a structure was evaluated twice"
    assert len({r[4] for r in evaluated}) == len(evaluated), "a function was evaluated twice"
    return KillTrial(kill_after_s, committed, len(evaluated), len(after), after == reference)


# -- programs ------------------------------------------------------------------------------------------


def node_lists(space: SearchSpace, max_extra: int = 2) -> st.SearchStrategy[list[tuple[str, tuple[int, ...]]]]:
    """Arbitrary node lists: ops of the space and one unknown, arities and slots right or wrong."""
    ops = st.sampled_from([*space.ops, "no_such_op"])
    n_slots = len(space.inputs) + len(space.constants) + space.max_nodes
    args = st.lists(st.integers(-2, n_slots + 2), min_size=0, max_size=3).map(tuple)
    return st.lists(st.tuples(ops, args), min_size=0, max_size=space.max_nodes + max_extra)


def valid_node_lists(space: SearchSpace) -> st.SearchStrategy[list[tuple[str, tuple[int, ...]]]]:
    """Valid programs of the space (random, then 0-3 random mutations), as node lists: most arbitrary
    lists are invalid, so these make the interpreter, fingerprints and renderings see real programs."""

    def valid(seed: int) -> list[tuple[str, tuple[int, ...]]]:
        rng = np.random.default_rng(seed)
        program = random_program(space, rng)
        for _ in range(int(rng.integers(0, 4))):
            program = mutate(program, space, rng)
        return [(node.op, tuple(node.args)) for node in program.nodes]

    return st.integers(0, 2**32 - 1).map(valid)


def extreme_inputs(space: SearchSpace, n: int = 16) -> dict[str, np.ndarray]:
    """Fingerprint-style inputs with zeros, huge values, infinities and NaN mixed in."""
    inputs = random_inputs(space, seed=1, n=n)
    specials = np.array([0.0, -0.0, 1e30, -1e30, np.inf, -np.inf, np.nan, 1e-30], np.float32)
    out = {}
    for name, value in inputs.items():
        value = value.copy()
        if value.dtype.kind == "f" and name not in ("a_tm1",):
            flat = value.reshape(-1)
            flat[: len(specials)] = specials[: flat.size]
        out[name] = value
    return out


def check_program(nodes: list[tuple[str, tuple[int, ...]]], space: SearchSpace) -> str:
    """Runs one node list through the whole program pipeline; returns ``invalid`` or ``valid``."""
    try:
        program = Program.from_nodes(nodes)
        validate(program, space)
    except InvalidProgram as err:
        assert str(err), "an InvalidProgram must say what is wrong"
        return "invalid"
    encoded = EncodedPrograms(*map(jnp.asarray, encode([program], space, pad_to=4)))
    inputs = {k: jnp.asarray(v) for k, v in extreme_inputs(space).items()}
    out = np.asarray(batched_interpreter(space)(encoded, inputs))
    assert out.shape[0] == 4
    finite = random_inputs(space, seed=0)
    (fp,) = fingerprints([program], space, finite, pad_to=4)
    assert isinstance(fp, str) and fp
    assert to_infix(program, space)
    source = to_source(program, space)
    compile(source, "<program>", "exec")  # the rendered Python parses
    to_sympy(program, space)  # None where not algebraic; never raises
    return "valid"
