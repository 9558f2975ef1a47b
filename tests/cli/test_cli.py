"""The `discolab` command: a search end to end, and one clear line with exit code 2 for bad input."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli_support import one_error_line

from discolab.cli import app
from discolab.study import Store

runner = CliRunner()

SMALL = """
[study]
name = "tiny"
seed = {seed}
evaluations = {evaluations}
batch_size = {batch}

[domain]
name = "regression"
problem = "nguyen-1"
max_nodes = 12

[searcher]
name = "regularized_evolution"
population_size = 50
tournament_size = 5
"""


@pytest.fixture(autouse=True)
def _no_compile_cache(monkeypatch):
    monkeypatch.setenv("DISCOLAB_CACHE_DIR", "off")


def write_config(tmp_path: Path, text: str = SMALL, name: str = "c.toml", **fields) -> Path:
    values = {"seed": 0, "evaluations": 300, "batch": 100, **fields}
    path = tmp_path / name
    path.write_text(text.format(**values) if values else text)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_search_show_export_resume(tmp_path):
    study = tmp_path / "s.db"
    result = invoke("search", write_config(tmp_path), "--study", study, "--quiet")
    assert result.exit_code == 0, result.output
    assert "300 evaluations" in result.output and "best program #" in result.output
    with Store.open(study, readonly=True) as store:
        assert store.counts().evaluated == 300

    shown = invoke("show", study, "--top", "3")
    assert shown.exit_code == 0 and "x0" in shown.output and "duplicates" in shown.output
    assert "hurdle_failed 0" in shown.output and "error 0" in shown.output

    source = invoke("export", study)
    assert source.exit_code == 0 and "def program(x0):" in source.output
    namespace: dict = {}
    exec(compile(source.output, "exported", "exec"), namespace)  # the export is a working module
    import numpy as np

    best = Store.open(study, readonly=True).top(1)[0]
    x = np.linspace(-1, 1, 20, dtype=np.float32)
    y = np.asarray(namespace["program"](x))
    truth = x**3 + x**2 + x
    nrmse = np.sqrt(np.mean((y - truth) ** 2)) / np.std(truth)
    assert abs(1 / (1 + nrmse) - best.fitness) < 0.05  # the exported function is the stored best

    assert invoke("export", study, "--format", "sympy").exit_code == 0
    figure = invoke("show", study, "--figure", tmp_path / "front.png")  # one objective: no front to draw
    assert figure.exit_code == 2 and "--figure is for multi-objective studies" in one_error_line(figure)
    assert not (tmp_path / "front.png").exists()
    exported = invoke("export", study, "--format", "json", "--out", tmp_path / "best.json")
    assert exported.exit_code == 0 and '"program"' in (tmp_path / "best.json").read_text()

    before = digest(study)
    again = invoke("resume", study, "--quiet")  # a finished study resumes to nothing new
    assert again.exit_code == 0
    with Store.open(study, readonly=True) as store:
        assert store.counts().evaluated == 300


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SMALL.replace("evaluations = {evaluations}", "evaluations = -5"), "study.evaluations"),
        (SMALL.replace("batch_size = {batch}", "batch_size = 10000000000"), "study.batch_size"),
        (SMALL.replace('name = "tiny"', 'name = "tiny"\ncolour = "red"'), "study.colour: unknown field"),
        (SMALL.replace('problem = "nguyen-1"', 'problem = "nguyen-1"\nops = ["add", "sinh"]'), "unknown op 'sinh'"),
        (SMALL.replace('name = "regression"', 'name = "astrology"'), "domain.name: unknown domain 'astrology'"),
        (SMALL.replace('name = "regularized_evolution"', 'name = "annealing"'), "searcher.name: unknown searcher"),
        (SMALL.replace("tournament_size = 5", "tournament_size = 500"), "tournament_size (500) exceeds"),
        (SMALL.replace('problem = "nguyen-1"', 'problem = "nguyen-99"'), "nguyen-99"),
        ("[study\nname = 1", "malformed TOML"),
    ],
)
def test_bad_config_is_one_line_exit_2_and_writes_nothing(tmp_path, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text.replace("{seed}", "0").replace("{evaluations}", "10").replace("{batch}", "5"))
    study = tmp_path / "never.db"
    line = one_error_line(invoke("search", path, "--study", study))
    assert expected in line
    assert not study.exists()


def test_missing_config_and_missing_csv(tmp_path):
    assert "config file not found" in one_error_line(invoke("search", tmp_path / "nope.toml"))
    config = write_config(tmp_path, SMALL.replace('problem = "nguyen-1"', f'csv = "{tmp_path / "gone.csv"}"'))
    line = one_error_line(invoke("search", config, "--study", tmp_path / "s.db"))
    assert "gone.csv" in line and not (tmp_path / "s.db").exists()


def test_bad_csv_names_the_cell(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("x0,y\n1,2\n2,oops\n3,4\n4,5\n5,6\n")
    config = write_config(tmp_path, SMALL.replace('problem = "nguyen-1"', f'csv = "{data}"'))
    line = one_error_line(invoke("search", config, "--study", tmp_path / "s.db"))
    assert "data.csv" in line and "oops" in line


def test_existing_and_foreign_studies_are_left_untouched(tmp_path):
    study = tmp_path / "s.db"
    assert invoke("search", write_config(tmp_path), "--study", study, "--quiet").exit_code == 0
    before = digest(study)
    assert "already exists" in one_error_line(invoke("search", write_config(tmp_path), "--study", study))
    assert digest(study) == before

    foreign = tmp_path / "notes.db"
    foreign.write_text("not a database\n")
    for command in ("resume", "show", "export"):
        one_error_line(invoke(command, foreign))
        assert foreign.read_text() == "not a database\n"
    assert "study not found" in one_error_line(invoke("show", tmp_path / "missing.db"))
    assert "--seed" in one_error_line(invoke("search", write_config(tmp_path), "--seed", "-1"))


def test_unwritable_study_path_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder\n")
    line = one_error_line(invoke("search", write_config(tmp_path), "--study", blocker / "s.db"))
    assert "file" in line
    assert blocker.read_text() == "a file, not a folder\n"


def test_kill_9_then_resume_from_the_command_line(tmp_path):
    """SIGKILL the real CLI mid-search; `discolab resume` ends with exactly the budget, no repeats."""
    config = write_config(tmp_path, evaluations=4000, batch=50)
    study = tmp_path / "killed.db"
    env = {**os.environ, "DISCOLAB_CACHE_DIR": "off"}
    proc = subprocess.Popen([sys.executable, "-m", "discolab.cli", "search", str(config), "--study", str(study),
                             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode()
            if study.exists():
                with Store.open(study, readonly=True) as store:
                    if store.completed_batches() >= 3:
                        break
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with Store.open(study, readonly=True) as store:
        kept = [(r.id, r.program.to_json(), r.fitness) for r in store.rows()]
        assert store.counts().evaluated < 4000
    result = subprocess.run([sys.executable, "-m", "discolab.cli", "resume", str(study), "--quiet"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    with Store.open(study, readonly=True) as store:
        rows = list(store.rows())
        assert store.counts().evaluated == 4000
    assert [(r.id, r.program.to_json(), r.fitness) for r in rows[: len(kept)]] == kept  # nothing lost
    evaluated = [r for r in rows if not r.is_duplicate]
    assert len({r.struct_hash for r in evaluated}) == len(evaluated)  # nothing evaluated twice
    assert len({r.fingerprint for r in evaluated}) == len(evaluated)


def test_formulas_and_errors_print_brackets_verbatim(tmp_path):
    """`q_tm1[a_tm1]` is a formula, not rich markup: show and errors print it as written."""
    from discolab.domains.dqn_loss import NAMED_PROGRAMS, make_space
    from discolab.study import ProgramRecord, parse_config

    config = parse_config({"domain": {"name": "dqn_loss", "train_envs": ["CartPole-v0"]}})
    study = tmp_path / "dqn.db"
    with Store.create(study, config.to_dict(), make_space().to_dict()) as store:
        row = ProgramRecord(1, 0, 0, NAMED_PROGRAMS["dqn"], "h", "f", None, None, "ok", 0.9, {"fitness": 0.9}, {},
                            1.0, 0.0)
        store.commit_batch(0, [row], {})
    shown = invoke("show", study)
    assert shown.exit_code == 0 and "q_tm1[a_tm1]" in shown.output.replace("\n", "")
    (tmp_path / "bad.toml").write_text('[domain]\nname = "dqn_loss"\ntrain_envs = ["[bold]Pong"]\n')
    assert "[bold]Pong" in one_error_line(invoke("search", tmp_path / "bad.toml", "--study", tmp_path / "x.db"))
