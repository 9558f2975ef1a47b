"""The RL-DARTS study: resumable supernet phase, retrain arms, analysis and the CLI's errors."""

from __future__ import annotations

import math
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from typer.testing import CliRunner

from discolab.cli import app
from discolab.darts.analysis import bootstrap_ci, random_search_to_match
from discolab.darts.config import DartsConfig
from discolab.darts.store import DartsStore
from discolab.darts.study import open_study, retrain, search, stored_genotypes

TINY = {
    "env": "Breakout-MinAtar",
    "search": {"channels": 4, "nodes": 2, "checkpoint_updates": 2, "seeds": 1},
    "ppo": {"num_envs": 4, "rollout_steps": 8, "total_steps": 4 * 8 * 6, "num_minibatches": 2, "update_epochs": 1},
    "retrain": {"seeds": 2, "random_cells": 1, "total_steps": 4 * 8 * 2},
}


def _cfg(**search) -> DartsConfig:
    raw = {**TINY, "search": {**TINY["search"], **search}}
    return DartsConfig.model_validate(raw)


def _toml(**overrides: dict) -> str:
    """TINY with one search seed, as TOML; ``overrides`` update whole sections' keys."""
    lines = [f'env = "{TINY["env"]}"']
    for section in ("search", "ppo", "retrain"):
        lines.append(f"[{section}]")
        values = {**TINY[section], **overrides.get(section, {})}
        lines += [f"{key} = {value}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def _final_alphas(path: Path) -> bytes:
    with DartsStore(path) as store:
        done, blob = store.checkpoint()
    return blob


class Interrupt(Exception):
    pass


def test_interrupted_search_resumes_to_identical_state(tmp_path):
    cfg = _cfg()
    _, store = open_study(tmp_path / "whole.db", cfg)
    with store:
        whole = search(cfg, store)
        segments = store.segments()
    assert whole.updates_done == 6 and [s.update_end for s in segments] == [2, 4, 6]
    tracked = np.asarray(segments[0].metrics["tracked"]["normal"])
    assert tracked.shape[:2] == (1, 2)  # [search seeds, updates, edges, ops]
    np.testing.assert_allclose(tracked.sum(-1), 1.0, atol=1e-5)

    def stop_after_first(done, total, segment):
        if done == 2:
            raise Interrupt

    _, store = open_study(tmp_path / "cut.db", cfg)
    with store, pytest.raises(Interrupt):
        search(cfg, store, stop_after_first)
    with DartsStore(tmp_path / "cut.db", cfg.model_dump_json()) as store:
        assert store.checkpoint()[0] == 2
        resumed = search(cfg, store)
    assert _final_alphas(tmp_path / "cut.db") == _final_alphas(tmp_path / "whole.db")
    assert resumed.genotypes == whole.genotypes


def test_alternating_updates_step_in_turn():
    """``arch_updates = "alternate"``: weights step on even optimizer steps, alphas on odd ones."""
    import jax.numpy as jnp

    from discolab.darts.study import make_search_tx

    cfg = _cfg(arch_updates="alternate")
    tx = make_search_tx(cfg, cfg.ppo.to_ppo())
    params = {"params": {"w": jnp.ones(3)}, "arch": {"alpha_normal": jnp.ones(2)}}
    grads = jax.tree.map(jnp.ones_like, params)
    state = tx.init(params)
    moved = []
    for _ in range(4):
        updates, state = tx.update(grads, state, params)
        moved.append((bool(jnp.any(updates["params"]["w"] != 0)), bool(jnp.any(updates["arch"]["alpha_normal"] != 0))))
    assert moved == [(True, False), (False, True), (True, False), (False, True)]
    joint = make_search_tx(_cfg(), cfg.ppo.to_ppo())
    updates, _ = joint.update(grads, joint.init(params), params)
    assert jnp.all(updates["params"]["w"] != 0) and jnp.all(updates["arch"]["alpha_normal"] != 0)


def test_retrain_stores_every_arm_once_and_resumes(tmp_path):
    cfg = _cfg()
    path = tmp_path / "study.db"
    _, store = open_study(path, cfg)
    with store:
        with pytest.raises(ValueError, match="not finished"):
            retrain(cfg, store)
        search(cfg, store)
        seen = []
        arms = retrain(cfg, store, lambda arm, i, n: seen.append(arm.name))
        assert seen == ["darts-0", "baseline", "random-000"]
        assert [a.kind for a in arms] == ["darts", "baseline", "random"]
        assert all(a.seeds == [1000, 1001] and len(a.curves) == 2 for a in arms)
        assert arms[0].genotype is not None and arms[1].genotype is None
        assert retrain(cfg, store, lambda arm, i, n: seen.append(arm.name)) == arms  # nothing left to train
        assert len(seen) == 3
        assert stored_genotypes(cfg, store)[0].to_json() == arms[0].genotype


def test_bootstrap_interval_and_random_search_expectation():
    mean, low, high = bootstrap_ci([1.0, 2.0, 3.0, math.nan])
    assert mean == 2.0 and low < 2.0 < high
    assert math.isnan(bootstrap_ci([math.nan])[0])
    # 1 good cell of 4: its position is uniform over 1..4, expectation 2.5.
    expected, curve = random_search_to_match([0.0, 5.0, 1.0, 2.0], target=4.0)
    assert expected == pytest.approx(2.5)
    assert curve == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert random_search_to_match([0.0, 1.0], target=4.0)[0] is None


def test_cli_search_retrain_show(tmp_path, monkeypatch):
    monkeypatch.setenv("DISCOLAB_CACHE_DIR", "off")
    config = tmp_path / "tiny.toml"
    config.write_text(_toml())
    study = tmp_path / "tiny.db"
    runner = CliRunner()
    result = runner.invoke(app, ["darts", "search", str(config), "--study", str(study), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "cell of search seed 0" in result.output
    result = runner.invoke(app, ["darts", "retrain", str(study), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "baseline" in result.output and "random-000" in result.output
    result = runner.invoke(app, ["darts", "show", str(study), "--figures", str(tmp_path / "fig")])
    assert result.exit_code == 0, result.output
    for name in ("cell.png", "alphas.png", "arms.png"):
        assert (tmp_path / "fig" / name).stat().st_size > 1000


@pytest.mark.parametrize("text, needle", [
    ('env = "Pong"\n', "Pong"),
    ('[search]\nop_set = "huge"\n', "search.op_set"),
    ('[ppo]\nnum_envs = 0\n', "ppo.num_envs"),
    ('[retrain]\nseeds = -1\n', "retrain.seeds"),
    ('[search]\nwidth = 3\n', "search.width"),
])
def test_cli_bad_config_names_the_field(tmp_path, text, needle):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    result = CliRunner().invoke(app, ["darts", "search", str(config), "--study", str(tmp_path / "s.db")])
    assert result.exit_code == 2
    assert needle in result.output
    assert not (tmp_path / "s.db").exists()


def test_cli_refuses_foreign_and_missing_studies(tmp_path):
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE t (x)")
    before = foreign.read_bytes()
    runner = CliRunner()
    result = runner.invoke(app, ["darts", "show", str(foreign)])
    assert result.exit_code == 2 and "not an RL-DARTS study" in result.output
    assert foreign.read_bytes() == before
    result = runner.invoke(app, ["darts", "retrain", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and "no such study" in result.output


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkilled_search_resumes_to_the_uninterrupted_alphas(tmp_path, subprocess_env):
    """The real CLI killed after its first checkpoint; the resumed run ends on the same state bytes."""
    config = tmp_path / "tiny.toml"
    updates = 60  # enough that the kill lands between the first and the last checkpoint
    config.write_text(_toml(ppo={"total_steps": 4 * 8 * updates}))
    env = subprocess_env  # one compilation cache (tests/conftest.py): the resume compiles nothing
    cmd = [sys.executable, "-m", "discolab.cli", "darts", "search", str(config), "--quiet", "--study"]
    raw = {**TINY, "ppo": {**TINY["ppo"], "total_steps": 4 * 8 * updates}}
    cfg = DartsConfig.model_validate(raw)
    _, store = open_study(tmp_path / "whole.db", cfg)  # the uninterrupted run, in this process
    with store:
        search(cfg, store)

    cut = tmp_path / "cut.db"
    proc = subprocess.Popen([*cmd, str(cut)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if cut.exists():
            try:
                with sqlite3.connect(f"file:{cut}?mode=ro", uri=True) as db:
                    if db.execute("SELECT COUNT(*) FROM segments").fetchone()[0] >= 1:
                        break
            except sqlite3.Error:
                pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with DartsStore(cut) as store:
        stored = store.checkpoint()
    assert stored is not None and stored[0] < updates, "the kill came too late to test a resume"
    subprocess.run([*cmd, str(cut)], check=True, env=env, capture_output=True)
    assert _final_alphas(cut) == _final_alphas(tmp_path / "whole.db")
