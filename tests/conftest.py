"""Test-session set-up: one CPU for XLA, so jaxlib 0.10's CPU runtime cannot wedge a test.

With two or more CPUs, XLA:CPU (jaxlib 0.10.2) sometimes parks every worker
thread while the host waits in ``BlockUntilReady``: a long vmapped training
call never returns (seen here on PPO and RL-DARTS runs, with and without the
persistent compilation cache and ``--xla_cpu_multi_thread_eigen=false``).
Pinned to one CPU, the same runs finish. XLA sizes its thread pools when its
CPU backend starts, which happens after this file is imported. The tests are
small, so one CPU costs them little; subprocesses inherit the pinning.
"""

from __future__ import annotations

import os

import discolab  # noqa: F401  (sets XLA_FLAGS before anything starts JAX)

if hasattr(os, "sched_setaffinity") and os.environ.get("DISCOLAB_TEST_ALL_CPUS") != "1":
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
