"""Bad input at the command line: each case is one `error:` line, exit code 2, and no stored byte changes.

Complements test_cli.py (bad config fields, CSVs, foreign files): unknown
environments, absurd sizes, damaged and other-version studies, read-only
study paths and bad executor options.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli_support import one_error_line

from discolab.cli import app
from discolab.study import SCHEMA_VERSION

runner = CliRunner()

TINY = """
[study]
evaluations = 60
batch_size = 30

[domain]
name = "regression"
problem = "nguyen-1"
max_nodes = 8

[searcher]
name = "regularized_evolution"
population_size = 20
tournament_size = 4
"""

DQN = """
[domain]
name = "dqn_loss"
train_envs = ["CartPole-v0", "{env}"]
"""


@pytest.fixture(autouse=True)
def _no_compile_cache(monkeypatch):
    monkeypatch.setenv("DISCOLAB_CACHE_DIR", "off")


def invoke(*args) -> object:
    return runner.invoke(app, [str(a) for a in args])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("finished")
    (folder / "c.toml").write_text(TINY)
    assert invoke("search", folder / "c.toml", "--study", folder / "s.db", "--quiet").exit_code == 0
    return folder / "s.db"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (DQN.format(env="Pong-v5"), "Pong-v5"),
        (TINY.replace("max_nodes = 8", "max_nodes = 100000"), "domain.max_nodes"),
        (TINY.replace("population_size = 20", "population_size = -3"), "searcher.population_size"),
        (TINY.replace("evaluations = 60", "evaluations = 1000000000000"), "study.evaluations"),
        (TINY.replace("batch_size = 30", "batch_size = 0"), "study.batch_size"),
        (TINY + '\n[executor]\nname = "dask"\n', "executor.name"),
        (TINY + '\n[executor]\ntimeout_s = 5\n', 'timeout_s needs name = "ray"'),
    ],
)
def test_bad_configs(tmp_path, text, expected):
    (tmp_path / "c.toml").write_text(text)
    line = one_error_line(invoke("search", tmp_path / "c.toml", "--study", tmp_path / "s.db"))
    assert expected in line and not (tmp_path / "s.db").exists()


def damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    if how == "scrambled":  # every page after the schema page overwritten
        data[page:] = bytes((i * 7919) % 251 for i in range(len(data) - page))
    elif how == "truncated":
        del data[page + page // 2:]
    elif how == "other_version":
        data[60:64] = (SCHEMA_VERSION + 98).to_bytes(4, "big")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("how", "expected"),
    [("scrambled", "damaged"), ("truncated", "damaged"), ("other_version", f"schema version {SCHEMA_VERSION + 98}")],
)
def test_damaged_and_other_version_studies(tmp_path, finished_study, how, expected):
    study = tmp_path / "s.db"
    shutil.copy(finished_study, study)
    damage(study, how)
    before = digest(study)
    for command in ("resume", "show", "export"):
        line = one_error_line(invoke(command, study))
        assert expected in line and str(study) in line, (command, line)
        assert digest(study) == before
    assert {p.name for p in tmp_path.iterdir()} == {"s.db"}  # no -wal or -shm left beside it


def test_a_foreign_sqlite_file(tmp_path):
    foreign = tmp_path / "notes.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    before = digest(foreign)
    for command in ("resume", "show", "export"):
        assert "another application" in one_error_line(invoke(command, foreign))
    assert digest(foreign) == before


def test_bad_executor_options_on_resume(finished_study, tmp_path):
    study = tmp_path / "s.db"
    shutil.copy(finished_study, study)
    before = digest(study)
    assert "--executor" in one_error_line(invoke("resume", study, "--executor", "dask"))
    assert "--workers" in one_error_line(invoke("resume", study, "--executor", "ray", "--workers", "0"))
    assert 'timeout_s needs name = "ray"' in one_error_line(invoke("resume", study, "--timeout", "3"))
    assert digest(study) == before


def test_a_read_only_study(finished_study):
    """Resume refuses a study it cannot write with one line; show still reads it. Run as an unprivileged
    user when the tests run as root (root writes through any file mode)."""
    folder = Path(tempfile.mkdtemp(prefix="discolab-ro-"))
    try:
        study = folder / "s.db"
        shutil.copy(finished_study, study)
        study.chmod(0o444)
        folder.chmod(0o555)
        before = digest(study)
        env = {**os.environ, "DISCOLAB_CACHE_DIR": "off", "HOME": str(folder)}
        drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
        if drop and shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a path read-only")
        if drop and subprocess.run([*drop, sys.executable, "-c", "import discolab"], capture_output=True,
                                   env=env, timeout=120).returncode != 0:
            # A checkout inside a private folder (mktemp -d is mode 700) is unreadable to that user.
            pytest.skip("the unprivileged user cannot import discolab from this checkout")

        def cli(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([*drop, sys.executable, "-m", "discolab.cli", *args], capture_output=True,
                                  text=True, env=env, timeout=120)

        resumed = cli("resume", str(study), "--quiet")
        lines = [line for line in resumed.stderr.strip().splitlines() if line.strip()]
        assert resumed.returncode == 2 and len(lines) == 1, resumed.stderr
        assert "read-only" in lines[0] and str(study) in lines[0]
        shown = cli("show", str(study))
        assert shown.returncode == 0 and "evaluated" in shown.stdout, shown.stderr
        assert digest(study) == before and {p.name for p in folder.iterdir()} == {"s.db"}
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)
