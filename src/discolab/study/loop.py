"""The study loop: ask, dedupe, evaluate, tell, commit; one store transaction per batch.

Everything a batch does is a function of the stored searcher state, the
stored rows and ``(seed, batch index)``, so a study killed at any moment and
resumed replays the interrupted batch exactly: no finished evaluation is
lost, none is repeated, and the final table equals an uninterrupted run's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from discolab import search
from discolab.search.base import Fingerprint
from discolab.domains.base import Domain, Evaluation, Status
from discolab.graph import Program, SearchSpace, fingerprints, structural_hash, to_infix
from discolab.search import Proposal, Result
from discolab.study.array_loop import check_arrays_engine, run_arrays
from discolab.study.config import ConfigError, ExecutorSection, StudyConfig, parse_config
from discolab.study.executor import Executor, make_executor, run_stages
from discolab.study.ray_executor import RayUnavailable
from discolab.study.store import ProgramRecord, ScoreRow, Store, json_dumps

#: A study stops when this many batches in a row fail entirely with a stage exception.
MAX_FAILED_BATCHES = 3
#: Net container allocations between collections of the youngest generation while a study runs.
YOUNG_GC_THRESHOLD = 10_000


class StudyError(RuntimeError):
    """A study that cannot go on; the message is one line saying why."""


@dataclasses.dataclass(frozen=True)
class Progress:
    """Where a study stands after a batch (totals over the whole study, resumes included).

    Attributes:
      evaluations: evaluated (non-duplicate) programs; the budget counts these.
      evaluations_target: ``study.evaluations``.
      proposals: stored proposals, duplicates included.
      proposal_cap: ``study.proposal_cap``; the study also stops there.
      duplicates: proposals that reused a stored score.
      hurdle_failed, errors: evaluated programs with those statuses.
      best_fitness, best_formula: the best evaluated program (None before any).
      batches: committed batches.
      elapsed: wall seconds of this ``run_study`` call.
    """

    evaluations: int
    evaluations_target: int
    proposals: int
    proposal_cap: int
    duplicates: int
    hurdle_failed: int
    errors: int
    best_fitness: float | None
    best_formula: str | None
    batches: int
    elapsed: float

    @property
    def finished(self) -> bool:
        return self.evaluations >= self.evaluations_target or self.proposals >= self.proposal_cap


@dataclasses.dataclass(frozen=True)
class Score:
    """What a duplicate reuses from its original row (a slim cache entry)."""

    id: int
    status: Status
    fitness: float
    objectives: Mapping[str, float]
    fingerprint: str


class DedupeIndex:
    """Structural hash and fingerprint -> the stored original whose score a duplicate reuses.

    Mirrors ``Store.lookup_hash``/``lookup_fingerprint`` in memory: built from
    the store's rows at open and extended after each commit by the same rule,
    so a resumed study dedupes exactly as the uninterrupted one. Originals
    with status ``error`` are not indexed: a failed run says nothing about the
    program, so it is evaluated again.
    """

    def __init__(self) -> None:
        self.by_hash: dict[str, Score] = {}
        self.by_fingerprint: dict[str, Score] = {}
        self._originals: dict[int, Score] = {}

    @classmethod
    def from_rows(cls, rows: Iterable[ProgramRecord | ScoreRow]) -> DedupeIndex:
        index = cls()
        index.add(rows)
        return index

    def add(self, rows: Iterable[ProgramRecord | ScoreRow]) -> None:
        """Indexes rows, which must come in id order."""
        for r in rows:
            if r.duplicate_of is None:
                if r.status == Status.ERROR:
                    continue
                original = Score(r.id, r.status, r.fitness, dict(r.objectives), r.fingerprint)
                self._originals[r.id] = original
            else:
                found = self._originals.get(r.duplicate_of)
                if found is None:
                    continue
                original = found
            self.by_hash.setdefault(r.struct_hash, original)
            self.by_fingerprint.setdefault(r.fingerprint, original)


@dataclasses.dataclass(frozen=True)
class Planned:
    """A proposal after dedupe: ``original`` is None (evaluate it), a stored Score, or
    the position of an earlier proposal of the same batch that will be evaluated."""

    proposal: Proposal
    struct_hash: str
    fingerprint: str
    original: Score | int | None


def batch_seed(seed: int, batch: int) -> int:
    """The evaluation seed of a batch: a function of the study seed and the batch index only."""
    return int(np.random.SeedSequence([seed, batch]).generate_state(1, np.uint32)[0] >> 1)


def plan_batch(
    proposals: Sequence[Proposal],
    space: SearchSpace,
    fingerprint_inputs: Mapping[str, np.ndarray],
    index: DedupeIndex,
    pad_to: int | None = None,
) -> list[Planned]:
    """Marks duplicates, against the store and within the batch.

    The structural hash is checked first (free); fingerprints are computed in
    ONE batched call, only for programs whose structure is new. The first
    proposal of a function in the batch is evaluated; later ones point at it.
    """
    hashes = [structural_hash(p.program, space) for p in proposals]
    first: dict[str, int] = {}
    new = [i for i, h in enumerate(hashes) if h not in index.by_hash and first.setdefault(h, i) == i]
    fps = dict(zip(new, fingerprints([proposals[i].program for i in new], space, fingerprint_inputs, pad_to=pad_to)))
    planned: list[Planned] = []
    in_batch: dict[str, int] = {}  # fingerprint -> position of the batch's original
    for i, (proposal, h) in enumerate(zip(proposals, hashes)):
        if h in index.by_hash:
            stored = index.by_hash[h]
            planned.append(Planned(proposal, h, stored.fingerprint, stored))
        elif first[h] != i:
            earlier = planned[first[h]]
            original = earlier.original if earlier.original is not None else first[h]
            planned.append(Planned(proposal, h, earlier.fingerprint, original))
        else:
            f = fps[i]
            original = index.by_fingerprint.get(f, in_batch.get(f))
            if original is None:
                in_batch[f] = i
            planned.append(Planned(proposal, h, f, original))
    return planned


def trim(planned: Sequence[Planned], budget: int) -> list[Planned]:
    """The longest prefix that evaluates at most ``budget`` programs, ending at the last one it needs."""
    kept: list[Planned] = []
    evaluated = 0
    for p in planned:
        if evaluated == budget:
            break
        kept.append(p)
        evaluated += p.original is None
    return kept


def create_study(path: str | Path, config: StudyConfig) -> None:
    """Creates a study file; builds the domain and searcher first so bad data fails before any write."""
    domain = config.make_domain()
    _make_searcher(config, domain)
    if config.study.engine == "arrays":
        check_arrays_engine(config, domain)
    Store.create(path, config.to_dict(), domain.space.to_dict()).close()


def run_study(
    path: str | Path,
    *,
    on_batch: Callable[[Progress], None] | None = None,
    max_batches: int | None = None,
    executor: Executor | None = None,
    executor_settings: ExecutorSection | None = None,
) -> Progress:
    """Runs (or resumes) the study at ``path`` until its budget is spent.

    Args:
      path: a study made by ``create_study``; a killed run resumes from its
        last committed batch.
      on_batch: called with the progress after each committed batch.
      max_batches: stop after this many batches of this call (None: no limit).
      executor: where stages run (default: the one the config's ``[executor]``
        table names, built here and closed on return).
      executor_settings: replaces the stored ``[executor]`` table for this
        call (resume a local study on a Ray cluster, or the reverse).

    Returns:
      The progress when the call stopped; ``progress.finished`` says whether the
      study's budget is spent.

    Raises:
      StudyError: the stored config or space no longer fits this code, or
        ``MAX_FAILED_BATCHES`` batches in a row failed with a stage exception.
      StoreError: the file is not a study of this version.
    """
    start = time.perf_counter()
    with Store.open(path) as store, _collector_tuned_for_the_loop():
        config, domain = _rebuild(store)
        if config.study.engine == "arrays":  # one process scores each batch in one call: no executor
            progress = _initial_progress(store, config, domain.space, start)
            return run_arrays(store, config, domain, start, on_batch, max_batches, progress, _advance_counts)
        if executor is not None:
            return _run(store, config, domain, executor, start, on_batch, max_batches)
        if executor_settings is not None:
            config = config.with_executor(executor_settings)
        owned = _make_executor(config, domain)
        try:
            return _run(store, config, domain, owned, start, on_batch, max_batches)
        finally:
            owned.close()


def _run(
    store: Store,
    config: StudyConfig,
    domain: Domain,
    executor: Executor,
    start: float,
    on_batch: Callable[[Progress], None] | None,
    max_batches: int | None,
) -> Progress:
    """The batch loop of ``run_study`` on an open store."""
    path = store.path
    study = config.study
    searcher = _make_searcher(config, domain)
    state = store.searcher_state()
    state = _roundtrip(searcher.init(study.seed) if state is None else state)
    index = DedupeIndex.from_rows(store.scores())
    inputs = domain.fingerprint_inputs()
    progress = _initial_progress(store, config, domain.space, start)
    failed_streak = 0
    ran = 0
    while not progress.finished and (max_batches is None or ran < max_batches):
        batch = progress.batches
        batch_start = time.perf_counter()
        n = min(study.batch_size, study.proposal_cap - progress.proposals)
        proposals, state = searcher.ask(state, n)
        if not proposals:
            raise StudyError(f"{path}: searcher {config.searcher.name!r} proposed nothing")
        planned = trim(plan_batch(proposals, domain.space, inputs, index, pad_to=study.batch_size),
                       progress.evaluations_target - progress.evaluations)
        seed = batch_seed(study.seed, batch)
        originals = [p.proposal.program for p in planned if p.original is None]
        staged = run_stages(domain.stages(), originals, seed, executor, domain.fitness_floor)
        rows = _records(planned, staged.evaluations, batch, store.next_id())
        told = [r for r in rows if study.tell_duplicates or r.duplicate_of is None]
        state, metrics = searcher.tell(state, [Result(r.id, r.program, r.fitness, r.objectives) for r in told])
        state = _roundtrip(state)
        stats = executor.stats() if hasattr(executor, "stats") else {}
        store.commit_batch(batch, rows, state, seed=seed, seconds=time.perf_counter() - batch_start,
                           metrics=_floats({**metrics, **stats}))
        index.add(rows)
        progress = _advance(progress, rows, domain.space, start)
        ran += 1
        if on_batch is not None:
            on_batch(progress)
        evaluated = [r for r in rows if r.duplicate_of is None]
        if staged.failure is not None and evaluated and all(r.status == Status.ERROR for r in evaluated):
            failed_streak += 1
        elif evaluated:
            failed_streak = 0
        if failed_streak >= MAX_FAILED_BATCHES:
            raise StudyError(
                f"{path}: stopped after {failed_streak} consecutive failed batches: {staged.failure}"
            )
    return progress


@contextlib.contextmanager
def _collector_tuned_for_the_loop() -> Iterator[None]:
    """Makes the cyclic garbage collector cheaper while a study runs; restores it on return.

    The loop allocates and frees many small containers (nodes, rows, dicts), which set off
    collections that find almost nothing. So the objects made before the study are frozen
    (a full collection then walks only what the study made, not JAX, sympy and the caller's
    data), and the youngest generation waits for ``YOUNG_GC_THRESHOLD`` net allocations
    instead of 700. Together they took a Nguyen study's collection time (in a process that
    imports gplearn) from about 15% of its CPU time to under 2%. Nothing else changes; a
    caller's own freeze is left alone.
    """
    threshold = gc.get_threshold()
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    gc.set_threshold(max(threshold[0], YOUNG_GC_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        if freeze:
            gc.unfreeze()


def _make_executor(config: StudyConfig, domain: Domain) -> Executor:
    try:
        return make_executor(config.to_dict(), config.executor, domain.fitness_floor)
    except RayUnavailable as err:
        raise StudyError(str(err)) from None


def _make_searcher(config: StudyConfig, domain: Domain) -> search.Searcher:
    """The configured searcher; a domain's own ``random_program(rng)``, if any, draws fresh programs.

    A searcher that screens candidates gets the study's own fingerprint (the domain's inputs, the
    batch padded as the study pads it), so what it rejects as a known function is what the study
    would have deduped, and those inputs (where a look-up compares what programs compute).
    """
    fresh = getattr(domain, "random_program", None)
    try:
        return search.make(config.searcher.name, domain.space, config.searcher_config(), domain.fitness_floor,
                           fresh=fresh, fingerprint=study_fingerprint(config, domain),
                           inputs=domain.fingerprint_inputs())
    except ValueError as err:  # options valid alone that this domain's space cannot serve
        raise ConfigError(f"searcher {config.searcher.name!r} on domain {config.domain.name!r}: {err}") from None


def study_fingerprint(config: StudyConfig, domain: Domain) -> Fingerprint:
    """The study's functional hash of programs: the domain's inputs, in chunks of one compiled shape
    (the batch size), so it names what the study's dedupe would call the same function."""
    inputs = domain.fingerprint_inputs()
    size = config.study.batch_size

    def fingerprint(programs: Sequence[Program]) -> list[str]:
        return [f for k in range(0, len(programs), size)
                for f in fingerprints(programs[k:k + size], domain.space, inputs, pad_to=size)]

    return fingerprint


def _rebuild(store: Store) -> tuple[StudyConfig, Domain]:
    try:
        config = parse_config(store.config())
    except ConfigError as err:
        raise StudyError(f"{store.path}: the stored config is not valid for this discolab: {err}") from None
    domain = config.make_domain()
    space = _roundtrip(domain.space.to_dict())
    if space != store.space():
        raise StudyError(
            f"{store.path}: domain {config.domain.name!r} now builds a different search space than "
            "the study was created with; resume with the discolab version that created it"
        )
    return config, domain


def _records(
    planned: Sequence[Planned], evaluations: Sequence[Evaluation], batch: int, first_id: int
) -> list[ProgramRecord]:
    """Rows of a batch: evaluated programs in order, duplicates copying their original's scores."""
    now = time.time()
    scores = iter(evaluations)
    rows: list[ProgramRecord] = []
    for position, p in enumerate(planned):
        program, parent = p.proposal.program, p.proposal.parent_id
        if p.original is None:
            e = next(scores)
            rows.append(ProgramRecord(
                id=first_id + position, batch=batch, position=position, program=program, struct_hash=p.struct_hash,
                fingerprint=p.fingerprint, parent_id=parent, duplicate_of=None, status=e.status,
                fitness=float(e.fitness), objectives={k: float(v) for k, v in e.objectives.items()},
                details=dict(e.details), seconds=float(e.seconds), created=now,
            ))
            continue
        o = rows[p.original] if isinstance(p.original, int) else p.original
        rows.append(ProgramRecord(
            id=first_id + position, batch=batch, position=position, program=program, struct_hash=p.struct_hash,
            fingerprint=p.fingerprint, parent_id=parent, duplicate_of=o.id, status=o.status, fitness=o.fitness,
            objectives=dict(o.objectives), details={}, seconds=0.0, created=now,
        ))
    return rows


def _initial_progress(store: Store, config: StudyConfig, space: SearchSpace, start: float) -> Progress:
    counts = store.counts()
    best = store.top(1)
    return Progress(
        evaluations=counts.evaluated,
        evaluations_target=config.study.evaluations,
        proposals=counts.proposals,
        proposal_cap=config.study.proposal_cap,
        duplicates=counts.duplicates,
        hurdle_failed=counts.by_status.get(Status.HURDLE_FAILED.value, 0),
        errors=counts.by_status.get(Status.ERROR.value, 0),
        best_fitness=best[0].fitness if best else None,
        best_formula=to_infix(best[0].program, space) if best else None,
        batches=store.completed_batches(),
        elapsed=time.perf_counter() - start,
    )


def _advance(progress: Progress, rows: Sequence[ProgramRecord], space: SearchSpace, start: float) -> Progress:
    evaluated = [r for r in rows if r.duplicate_of is None]
    best_fitness, best_formula = progress.best_fitness, progress.best_formula
    for r in evaluated:  # ties keep the earliest, as Store.top does
        if best_fitness is None or r.fitness > best_fitness:
            best_fitness, best_formula = r.fitness, to_infix(r.program, space)
    return dataclasses.replace(
        progress,
        evaluations=progress.evaluations + len(evaluated),
        proposals=progress.proposals + len(rows),
        duplicates=progress.duplicates + len(rows) - len(evaluated),
        hurdle_failed=progress.hurdle_failed + sum(r.status == Status.HURDLE_FAILED for r in evaluated),
        errors=progress.errors + sum(r.status == Status.ERROR for r in evaluated),
        best_fitness=best_fitness,
        best_formula=best_formula,
        batches=progress.batches + 1,
        elapsed=time.perf_counter() - start,
    )


def _advance_counts(
    progress: Progress, proposals: int, evaluated: int, best: tuple[float, str] | None, start: float
) -> Progress:
    """``_advance`` from counts (the arrays engine's batches have no failed or hurdle rows)."""
    best_fitness, best_formula = best if best is not None else (progress.best_fitness, progress.best_formula)
    return dataclasses.replace(
        progress,
        evaluations=progress.evaluations + evaluated,
        proposals=progress.proposals + proposals,
        duplicates=progress.duplicates + proposals - evaluated,
        best_fitness=best_fitness,
        best_formula=best_formula,
        batches=progress.batches + 1,
        elapsed=time.perf_counter() - start,
    )


def _roundtrip(value: Any) -> Any:
    """The value as the store gives it back, so a resumed searcher sees exactly what a running one sees."""
    return json.loads(json_dumps(value))


def _floats(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {str(k): float(v) for k, v in metrics.items() if isinstance(v, int | float | np.number)}
