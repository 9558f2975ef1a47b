"""Importing discolab turns off XLA:CPU's multithreaded Eigen pool (it can deadlock long vmapped runs)."""

from __future__ import annotations

import os
import subprocess
import sys


def _flags_after_import(env: dict[str, str]) -> str:
    code = "import os, discolab; print(os.environ.get('XLA_FLAGS', ''))"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_import_sets_the_flag_and_keeps_the_users_flags():
    base = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "DISCOLAB_EIGEN_THREADS")}
    assert _flags_after_import(base) == "--xla_cpu_multi_thread_eigen=false"
    kept = _flags_after_import({**base, "XLA_FLAGS": "--xla_dump_to=/tmp/x"})
    assert kept == "--xla_dump_to=/tmp/x --xla_cpu_multi_thread_eigen=false"
    mine = "--xla_cpu_multi_thread_eigen=true"
    assert _flags_after_import({**base, "XLA_FLAGS": mine}) == mine
    assert _flags_after_import({**base, "DISCOLAB_EIGEN_THREADS": "1"}) == ""


def test_this_test_process_runs_with_the_flag():
    import discolab  # noqa: F401

    assert "xla_cpu_multi_thread_eigen" in os.environ.get("XLA_FLAGS", "")
