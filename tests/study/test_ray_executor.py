"""The Ray executor on a local 2-CPU cluster: same results as local, a killed worker loses nothing,
a hung batch part times out and the study goes on."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from study_helpers import make_config, sequence

from discolab.study import Store, StudyError, create_study, run_study
from discolab.study.config import ExecutorSection

ray = pytest.importorskip("ray")

from discolab.study.ray_executor import RayExecutor  # noqa: E402

HERE = Path(__file__).parent


def test_an_unreachable_cluster_is_one_clear_error(tmp_path):
    assert not ray.is_initialized()  # runs before the module's Ray starts
    config = make_config().with_executor(ExecutorSection(name="ray", address="127.0.0.1:1"))
    create_study(tmp_path / "s.db", config)
    before = sequence(tmp_path / "s.db")
    with pytest.raises(StudyError, match="cannot start or reach 127.0.0.1:1"):
        run_study(tmp_path / "s.db")
    assert sequence(tmp_path / "s.db") == before


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray (2 CPUs) for the module; workers find ``fake_domain`` through PYTHONPATH."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(HERE), "JAX_PLATFORMS": "cpu"}})
    yield
    ray.shutdown()


def ray_config(study=None, domain=None, **executor):
    config = make_config({"evaluations": 24, "batch_size": 6, **(study or {})},
                         {"max_nodes": 6, "ops": ["add", "mul", "sin", "sub", "cos"], **(domain or {})})
    return config.with_executor(ExecutorSection(name="ray", workers=2, imports=("fake_domain",), **executor))


def executor_for(config) -> RayExecutor:
    return RayExecutor(config.to_dict(), config.executor, fitness_floor=0.0)


def test_a_ray_study_equals_the_local_one(local_ray, tmp_path):
    config = ray_config()
    create_study(tmp_path / "ray.db", config)
    progress = run_study(tmp_path / "ray.db")  # the executor comes from the [executor] table
    assert progress.finished and progress.evaluations == 24

    local = tmp_path / "local.db"
    create_study(local, config.with_executor(ExecutorSection()))
    run_study(local)
    assert sequence(tmp_path / "ray.db") == sequence(local)


def test_a_worker_killed_mid_batch_loses_nothing(local_ray, tmp_path):
    config = ray_config(domain={"sleep": 0.6})
    path = tmp_path / "killed.db"
    create_study(path, config)
    executor = executor_for(config)
    victims: list[int] = []

    def kill_one_worker_mid_batch() -> None:
        time.sleep(2.0)  # actors built; a batch part is sleeping inside the domain
        pid = executor.worker_pids()[0]
        victims.append(pid)
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_one_worker_mid_batch)
    killer.start()
    try:
        progress = run_study(path, executor=executor)
    finally:
        killer.join()
        executor.close()
    assert victims and executor.retries >= 1
    rows = sequence(path)
    evaluated = [r for r in rows if r[7] is None]
    assert progress.finished and len(evaluated) == progress.evaluations == 24
    assert len({r[5] for r in evaluated}) == 24  # no function evaluated (or stored) twice
    assert all(r[8] != "error" for r in rows)  # the retried part was scored, not failed
    with Store.open(path, readonly=True) as store:
        assert store.counts().proposals == len(rows)
        assert store.batches()[-1].metrics["executor_retries"] == executor.retries  # kept for reports

    reference = tmp_path / "reference.db"
    create_study(reference, config.with_executor(ExecutorSection()))
    run_study(reference)
    assert rows == sequence(reference)  # the kill changed nothing


def test_a_hung_part_times_out_and_the_study_goes_on(local_ray, tmp_path):
    # Odd batch seeds sleep past the timeout: those candidates are `timeout`, the others are scored.
    config = ray_config({"evaluations": 18}, {"sleep": 30.0, "sleep_on": "odd_seed"}, timeout_s=3.0)
    path = tmp_path / "hung.db"
    create_study(path, config)
    start = time.monotonic()
    progress = run_study(path)
    assert time.monotonic() - start < 120
    rows = sequence(path)
    statuses = {r[8] for r in rows if r[7] is None}
    assert progress.finished and progress.evaluations == 18
    assert "timeout" in statuses and "ok" in statuses
    assert all(r[9] == 0.0 for r in rows if r[8] == "timeout")  # scored at the floor
