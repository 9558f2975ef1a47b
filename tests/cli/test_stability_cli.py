"""`discolab stability sweep`: a tiny sweep end to end, and one clear line with exit code 2 for bad input."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli_support import one_error_line

from discolab.cli import app
from discolab.stability.figures import have_matplotlib

runner = CliRunner()

#: Two groups of two rates on a one-block width-16 model: seconds, mostly compile.
TINY = """
widths = [16]
lr_min = 1e-2
lr_max = 1e4
num_lrs = 2
variants = ["baseline", "qk_layernorm+z_loss"]
final_window = 2

[train]
batch_size = 8
num_steps = 40
log_every = 10
warmup_steps = 5

[train.model]
vocab = 32
seq_len = 16
depth = 1
head_dim = 16

[train.data]
rows = 8
row_len = 128
candidates = 8
branching = 2
"""


def write(tmp_path: Path, text: str, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def invoke(*args: object):
    return runner.invoke(app, ["stability", "sweep", *(str(a) for a in args)])


def test_tiny_sweep_through_the_cli_writes_store_summary_figures_and_resumes(tmp_path):
    out = tmp_path / "out"
    result = invoke(write(tmp_path, TINY), "--out", out)
    assert result.exit_code == 0, result.output
    assert "width   16 baseline" in result.output and "width   16 qk_layernorm+z_loss" in result.output
    assert f"results: {out / 'sweep.sqlite'}" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert [(g["width"], g["variant"]) for g in summary["groups"]] == [(16, "baseline"), (16, "qk_layernorm+z_loss")]
    assert all(g["diverged"] == [False, True] for g in summary["groups"])  # lr 1e4 blows up, and is scored
    with sqlite3.connect(out / "sweep.sqlite") as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 4
    if have_matplotlib():
        assert {p.name for p in out.glob("*.png")} == {"loss_vs_lr.png", "max_attn_logit.png", "log_z.png"}
        assert "figures: " in result.output

    again = invoke(write(tmp_path, TINY), "--out", out, "--quiet")
    assert again.exit_code == 0, again.output
    assert "width " not in again.output  # both groups stored: nothing retrained
    assert "2 groups in" in again.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (TINY.replace('"baseline"', '"nope"'), "unknown variant"),
        (TINY.replace("num_lrs = 2", "num_lrs = 2\nlr_mx = 3.0"), "lr_mx"),
        (TINY.replace("num_steps = 40", "num_steps = 45"), "not a multiple of log_every"),
        (TINY.replace("depth = 1", "depth = 0"), "train.model.depth"),
        (TINY.replace("widths = [16]", "widths = [24]"), "multiples of head_dim"),
        (TINY.replace("widths = [16]", "widths = [16"), "not valid TOML"),
        (TINY.replace('"baseline",', '{name = "x", adam_eps = -1.0},'), "adam_eps"),
    ],
)
def test_bad_config_is_one_line_exit_2_and_writes_nothing(tmp_path, text, expected):
    out = tmp_path / "out"
    line = one_error_line(invoke(write(tmp_path, text), "--out", out))
    assert expected in line
    assert not out.exists()


def test_missing_config_and_bad_out_folder_are_one_line(tmp_path):
    assert "config not found" in one_error_line(invoke(tmp_path / "absent.toml"))
    config = write(tmp_path, TINY)
    a_file = write(tmp_path, "x", name="a_file")
    assert "not a folder" in one_error_line(invoke(config, "--out", a_file))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "sweep.sqlite").write_text("not a database, but long enough to be read as one" * 20)
    assert "not a sweep store" in one_error_line(invoke(config, "--out", foreign))
