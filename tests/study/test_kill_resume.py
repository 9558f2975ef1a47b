"""Kill -9 a running study, resume it: nothing lost, nothing repeated, the same study as one run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from study_helpers import make_config, sequence

from discolab.study import Store, create_study, run_study

HERE = Path(__file__).parent


def wait_for_batches(path: Path, proc: subprocess.Popen, batches: int, timeout: float = 120.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the study process exited early:\n{proc.stderr.read().decode()}")
        with Store.open(path, readonly=True) as store:
            done = store.completed_batches()
        if done >= batches:
            return done
        time.sleep(0.02)
    raise AssertionError(f"no {batches} batches committed in {timeout} s")


def kill_after_batches(path: Path, code: str, batches: int) -> subprocess.Popen:
    """Runs ``code`` in a fresh Python, SIGKILLs it once ``batches`` batches are committed."""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_batches(path, proc, batches)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    return proc


def test_kill_and_resume(tmp_path):
    # Each batch sleeps, so the kill lands inside a batch, after some have committed.
    config = make_config({"evaluations": 40, "batch_size": 6},
                         {"sleep": 0.15, "max_nodes": 6, "ops": ["add", "mul", "sin", "sub", "cos"]})
    path = tmp_path / "killed.db"
    create_study(path, config)
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import fake_domain; " \
           f"from discolab.study import run_study; run_study({str(path)!r})"
    proc = kill_after_batches(path, code, 2)
    assert proc.returncode == -signal.SIGKILL
    before = sequence(path)
    with Store.open(path, readonly=True) as store:
        committed = store.completed_batches()
    assert committed >= 2 and sorted({row[1] for row in before}) == list(range(committed))  # whole batches only

    progress = run_study(path)  # resume to the end
    after = sequence(path)
    assert progress.finished and after[: len(before)] == before  # nothing lost or rewritten
    evaluated = [row for row in after if row[7] is None]  # duplicate_of is None
    assert len(evaluated) == config.study.evaluations == progress.evaluations
    assert len({row[4] for row in evaluated}) == len(evaluated)  # no structure evaluated twice
    assert len({row[5] for row in evaluated}) == len(evaluated)  # no function evaluated twice

    reference = tmp_path / "uninterrupted.db"
    create_study(reference, config)
    run_study(reference)
    assert after == sequence(reference)
    assert committed < len({row[1] for row in after})  # the kill did land mid-study
