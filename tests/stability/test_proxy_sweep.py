"""Sweeps: the LR-sensitivity metric by hand, variants, lr_sensitivity on any optax factory, a tiny sweep."""

from __future__ import annotations

import json
import math
import sqlite3

import numpy as np
import optax
import pytest

from discolab.stability import (
    Metrics, SweepConfig, Variant, final_losses, load_sweep_config, lr_sensitivity, make_variant, run_sweep,
    sensitivity_from_losses,
)
from discolab.stability.figures import have_matplotlib

NAN, INF = math.nan, math.inf


def test_sensitivity_matches_a_hand_computed_example_with_diverged_runs():
    # init 5.0; losses capped at 5; NaN and inf (diverged) count as 5; 7.0 (worse than init) counts as 5.
    losses = [4.0, 2.5, 3.0, NAN, INF, 7.0]
    capped = [4.0, 2.5, 3.0, 5.0, 5.0, 5.0]
    expected = sum(capped) / 6 - 2.5  # 24.5 / 6 - 2.5
    assert sensitivity_from_losses(losses, 5.0) == pytest.approx(expected)
    assert sensitivity_from_losses([NAN, NAN], 5.0) == 0.0  # all diverged: nothing to be sensitive about
    rows = sensitivity_from_losses(np.array([losses, [3.0] * 6]), 5.0)  # over the last axis
    np.testing.assert_allclose(rows, [expected, 0.0])


def test_final_losses_average_the_last_logs_and_flag_divergence():
    loss = np.array([[4.0, 3.0, 2.0, 1.0], [4.0, 5.0, 6.0, 7.0], [4.0, 3.0, NAN, 1.0]])
    z = np.zeros_like(loss)
    final, diverged = final_losses(Metrics(loss, z, z, z, z, z, init_loss=np.full(3, 4.5)), window=2)
    np.testing.assert_allclose(final[:2], [1.5, 6.5])
    assert math.isnan(final[2]) and diverged.tolist() == [False, True, True]


def test_variant_overrides_only_what_it_sets(tiny):
    cfg = make_variant("qk_layernorm+z_loss").apply(tiny, width=48)
    assert (cfg.model.width, cfg.model.qk_layernorm, cfg.z_loss_coef) == (48, True, 1e-4)
    assert cfg.model.depth == tiny.model.depth and cfg.adam_eps == tiny.adam_eps
    custom = Variant(name="long_warmup", warmup_steps=20, adam_eps=1e-12).apply(tiny, width=32)
    assert (custom.warmup_steps, custom.adam_eps, custom.model.qk_layernorm) == (20, 1e-12, False)
    with pytest.raises(KeyError, match="known: .*baseline"):
        make_variant("nope")


def test_sweep_config_reads_toml_with_inline_variants(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text(
        'widths = [32, 64]\nnum_lrs = 4\n'
        'variants = ["baseline", {name = "long_warmup", warmup_steps = 300}]\n'
        '[train]\nnum_steps = 600\n[train.model]\ndepth = 3\n'
    )
    cfg = load_sweep_config(path)
    assert [v.name for v in cfg.variant_list] == ["baseline", "long_warmup"]
    assert cfg.variant_list[1].apply(cfg.train, 64).warmup_steps == 300
    assert (cfg.train.model.depth, len(cfg.lrs), cfg.lrs[0], cfg.lrs[-1]) == (3, 4, 3e-4, pytest.approx(3e-1))
    with pytest.raises(ValueError, match="unknown variant"):
        SweepConfig(variants=("baseline", "nope"))
    with pytest.raises(ValueError, match=r"widths \[24\] are not positive multiples of head_dim 16"):
        SweepConfig(widths=(32, 24))  # caught when the config loads, not when width 24 starts training


def test_lr_sensitivity_takes_any_optax_factory(tiny):
    result = lr_sensitivity(lambda lr: optax.adam(lr), lrs=[1e-2, 1e4], task=tiny, final_window=2)
    assert result.diverged.tolist() == [False, True]
    capped = [result.final_losses[0], result.init_loss]
    assert result.sensitivity == pytest.approx(sensitivity_from_losses(capped, result.init_loss))
    assert result.sensitivity > 0.1


def test_tiny_sweep_runs_end_to_end_writes_its_store_and_resumes(tiny, tmp_path):
    cfg = SweepConfig(
        train=tiny, widths=(16,), lr_min=1e-2, lr_max=1e4, num_lrs=2,
        variants=("baseline", Variant(name="qk_ln_z", qk_layernorm=True, z_loss_coef=1e-4)), final_window=2,
    )
    trained = []
    result = run_sweep(cfg, tmp_path, on_group=lambda w, v, g: trained.append((w, v)))
    assert trained == [(16, "baseline"), (16, "qk_ln_z")]
    with sqlite3.connect(result.store_path) as db:
        rows = db.execute("SELECT width, variant, lr, seed, final_loss, diverged, metrics_json FROM runs").fetchall()
    assert len(rows) == 4
    assert {(r[1], r[2] > 1.0, bool(r[5])) for r in rows} == {
        ("baseline", False, False), ("baseline", True, True), ("qk_ln_z", False, False), ("qk_ln_z", True, True)
    }
    assert set(json.loads(rows[0][6])) >= {"loss", "max_attn_logit", "attn_entropy", "log_z", "grad_rms"}
    summary = json.loads(result.summary_path.read_text())
    assert [g["variant"] for g in summary["groups"]] == ["baseline", "qk_ln_z"]
    assert all(g["sensitivity"] > 0 for g in summary["groups"])
    assert summary["optimal_loss"] < summary["log_vocab"]
    if have_matplotlib():
        assert {p.name for p in result.figures} == {"loss_vs_lr.png", "max_attn_logit.png", "log_z.png"}
    else:
        assert result.figures == []  # figures are optional; the summary holds their numbers

    again = run_sweep(cfg, tmp_path, on_group=lambda w, v, g: trained.append((w, v)))
    assert len(trained) == 2  # resumed: both groups were complete, nothing retrained
    assert again.summary["groups"][0]["final_loss"] == result.summary["groups"][0]["final_loss"]
    with pytest.raises(ValueError, match="another config"):
        run_sweep(cfg.model_copy(update={"seeds": 2}), tmp_path)
