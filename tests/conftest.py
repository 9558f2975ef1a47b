"""Test-session set-up: discolab first (its XLA flags), and an opt-in one-CPU mode.

With two or more CPUs, XLA:CPU (jaxlib 0.10.2) parked every worker thread
when two batched LAPACK QRs (a vmapped orthogonal init) ran at once; the
networks now avoid batched QRs (docs/reproductions.md, "Known problem").
Pinning to one CPU stays available, opt-in, for any hang not yet understood:
``DISCOLAB_TEST_ONE_CPU=1 pytest`` (11.7 minutes instead of about 5 when
measured; the suite has grown since, to 8 minutes on two CPUs).
XLA sizes its thread pools when its CPU backend starts, after this file is
imported; subprocesses inherit it.

The kill-and-resume tests start fresh processes that compile the same
programs again: the ``subprocess_env`` fixture gives them one persistent
compilation cache for the session, in its temporary folder (never the
user's ``~/.cache``). The test process itself keeps the cache off: with
it on, the whole suite ran slower (every compile is also hashed and written).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import discolab  # noqa: F401  (sets XLA_FLAGS before anything starts JAX)

if hasattr(os, "sched_setaffinity") and os.environ.get("DISCOLAB_TEST_ONE_CPU") == "1":
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

# Hypothesis draws the same examples on every run: a flaky float-precision
# corner found by a fresh random draw must not fail CI (a test's own
# ``@settings`` keeps this unless it says otherwise).
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("discolab", derandomize=True, print_blob=True)
_hypothesis_settings.load_profile("discolab")


@pytest.fixture(scope="session")
def subprocess_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment for a test's subprocesses: one compilation cache shared by all of them.

    The CLI reads ``DISCOLAB_CACHE_DIR``; a plain ``python -c`` child reads JAX's own variables.
    """
    folder = str(tmp_path_factory.mktemp("jax-cache"))
    yield {**os.environ, "DISCOLAB_CACHE_DIR": folder, "JAX_COMPILATION_CACHE_DIR": folder,
           "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0.1"}
