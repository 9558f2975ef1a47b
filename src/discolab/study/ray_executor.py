"""The Ray executor: a batch's stage split across Ray actors, results back to the study process.

Each actor builds the study's domain once (so it compiles once) from the
stored config, and evaluates the part of a batch it is given. The study
process alone writes the store, so a dying worker cannot lose or duplicate a
stored evaluation; its part is resubmitted to a fresh actor, up to
``max_retries`` times. A part that takes longer than ``timeout_s`` is
abandoned (its actor is killed and replaced) and its candidates are scored
``timeout`` at the domain's floor: a hung candidate costs its batch part,
never the study.

Ray is optional (``pip install 'discolab[ray]'``); this module imports it
only when an executor is built.
"""

from __future__ import annotations

import importlib
import math
import os
import socket
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from discolab.domains.base import Evaluation, Stage, Status
from discolab.graph import Program
from discolab.study.config import ExecutorSection


class RayUnavailable(RuntimeError):
    """Ray is not installed or the cluster cannot be reached; the message says what to do."""


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayUnavailable("executor 'ray' needs Ray: pip install 'discolab[ray]'") from None
    return ray


class DomainWorker:
    """One Ray actor: the study's domain, built once, evaluating parts of batches."""

    def __init__(self, config: Mapping[str, Any], imports: Sequence[str]) -> None:
        for module in imports:
            importlib.import_module(module)
        from discolab.study.config import parse_config

        self.domain = parse_config(dict(config)).make_domain()
        self.stages = {stage.name: stage for stage in self.domain.stages()}

    def evaluate(
        self, stage: str, programs: Sequence[Program], seed: int, previous: Sequence[Evaluation] | None
    ) -> list[Evaluation]:
        return list(self.stages[stage].evaluate(programs, seed, previous))

    def pid(self) -> int:
        return os.getpid()


class RayExecutor:
    """Splits each stage call into ``workers`` contiguous parts, one per actor.

    Args:
      config: the study config (``StudyConfig.to_dict()``): each actor builds
        the domain from it.
      settings: the ``[executor]`` table (address, workers, timeout_s,
        max_retries, imports).
      fitness_floor: the score of a candidate that timed out.

    A part's evaluations depend only on its programs, the seed and the
    previous stage (the domains score each program independently), so the
    split never changes a study's results. ``retries`` and ``timeouts``
    count what happened, for reports and tests.
    """

    def __init__(self, config: Mapping[str, Any], settings: ExecutorSection, fitness_floor: float) -> None:
        ray = _ray()
        self._ray = ray
        self.settings = settings
        self.fitness_floor = fitness_floor
        if not ray.is_initialized():
            _check_reachable(settings.address)
            try:
                with warnings.catch_warnings():  # Ray forks its daemons once, before any JAX thread matters
                    warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
                    ray.init(
                        address=settings.address, include_dashboard=False, log_to_driver=False,
                        configure_logging=False, ignore_reinit_error=True,
                    )
            except (ConnectionError, RuntimeError, ValueError) as err:
                where = settings.address or "a local Ray"
                raise RayUnavailable(f"executor 'ray': cannot start or reach {where}: {err}") from None
        workers = settings.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._remote = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(DomainWorker)
        self._config = dict(config)
        self._actors = [self._new_actor() for _ in range(workers)]
        self._wait_ready(self._actors)
        self.retries = 0
        self.timeouts = 0

    @property
    def workers(self) -> int:
        return len(self._actors)

    def worker_pids(self) -> list[int]:
        """The process ids of the live actors (the reliability tests kill them)."""
        return self._ray.get([a.pid.remote() for a in self._actors])

    def stats(self) -> dict[str, float]:
        """Totals since this executor started: parts resubmitted after a worker died, candidates timed out."""
        return {"executor_retries": float(self.retries), "executor_timeouts": float(self.timeouts)}

    def close(self) -> None:
        """Stops the actors; the Ray runtime itself stays up for the next study in this process."""
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []

    def evaluate(
        self, stage: Stage, programs: Sequence[Program], seed: int, previous: Sequence[Evaluation] | None
    ) -> list[Evaluation]:
        if not programs:
            return []
        ray = self._ray
        parts = _split(len(programs), self.workers)
        results: dict[int, list[Evaluation]] = {}
        attempts = [0] * len(parts)
        pending: dict[Any, int] = {}  # object ref -> part

        def submit(k: int) -> None:
            lo, hi = parts[k]
            prev = None if previous is None else list(previous[lo:hi])
            ref = self._actors[k].evaluate.remote(stage.name, list(programs[lo:hi]), seed, prev)
            pending[ref] = k

        for k in range(len(parts)):
            submit(k)
        deadline = None if self.settings.timeout_s is None else time.monotonic() + self.settings.timeout_s
        while pending:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=wait)
            if not ready:  # the deadline passed: the parts still running time out
                for k in pending.values():
                    lo, hi = parts[k]
                    results[k] = [self._timed_out() for _ in range(lo, hi)]
                    self.timeouts += hi - lo
                self._replace(*pending.values())
                pending.clear()
                break
            ref = ready[0]
            k = pending.pop(ref)
            try:
                results[k] = ray.get(ref)
            except ray.exceptions.RayActorError:
                if attempts[k] >= self.settings.max_retries:
                    raise RuntimeError(
                        f"a Ray worker died on the same batch part {attempts[k] + 1} times"
                    ) from None
                attempts[k] += 1
                self.retries += 1
                self._replace(k)
                submit(k)
            except ray.exceptions.RayTaskError as err:  # the domain raised: the stage runner scores it
                raise err.as_instanceof_cause() from None
        return [e for k in range(len(parts)) for e in results[k]]

    def _new_actor(self) -> Any:
        return self._remote.remote(self._config, self.settings.imports)

    def _replace(self, *ks: int) -> None:
        """New actors in slots ``ks``, started together (each start imports and builds the domain)."""
        for k in ks:
            self._ray.kill(self._actors[k], no_restart=True)
            self._actors[k] = self._new_actor()
        self._wait_ready([self._actors[k] for k in ks])

    def _wait_ready(self, actors: Sequence[Any]) -> None:
        """Waits until the actors have built the domain, so a timeout never counts a worker's start."""
        try:
            self._ray.get([a.pid.remote() for a in actors])
        except self._ray.exceptions.RayActorError as err:
            self.close()
            cause = str(err).strip().splitlines()
            raise RayUnavailable(
                "executor 'ray': a worker could not build the domain (check executor.imports): "
                + next((line for line in reversed(cause) if line.strip()), type(err).__name__)
            ) from None

    def _timed_out(self) -> Evaluation:
        return Evaluation(
            self.fitness_floor, Status.TIMEOUT, details={"timeout_s": self.settings.timeout_s}
        )


def _check_reachable(address: str | None, seconds: float = 5.0) -> None:
    """Fails fast on a ``host:port`` nobody listens on (Ray itself retries for minutes)."""
    if address is None or address == "auto":
        return
    hostport = address.removeprefix("ray://").rsplit(":", 1)
    if len(hostport) != 2 or not hostport[1].isdigit():
        raise RayUnavailable(f"executor.address {address!r}: expected host:port, ray://host:port or auto")
    try:
        socket.create_connection((hostport[0], int(hostport[1])), timeout=seconds).close()
    except OSError as err:
        raise RayUnavailable(f"executor 'ray': cannot start or reach {address}: {err}") from None


def _split(n: int, workers: int) -> list[tuple[int, int]]:
    """``n`` items in at most ``workers`` contiguous, non-empty, balanced parts."""
    size = math.ceil(n / max(1, min(workers, n)))
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]
