"""The arrays engine: the study loop with each batch held as integer arrays from mutation to store.

``[study] engine = "arrays"`` runs the same loop as :mod:`discolab.study.loop`
(ask, dedupe by structural hash then fingerprint reusing the stored score,
evaluate, tell, commit) for regularized evolution on
a one-type space whose domain offers an ``array_scorer`` (regression). Where
the Program loop spends about 100 microseconds of Python per proposal on
objects (mutation, validation, hashing, a record), here a batch is a few dozen
numpy operations (:mod:`discolab.graph.arrays`), ONE compiled interpreter call
that scores the batch and runs it on the fingerprint points together, and one
bulk insert of prebuilt rows.

The store holds what the Program loop stores, row for row (program JSON,
hashes, parent, duplicate link, status, scores), with one difference: the
structural hash is the 64-bit digest of :func:`discolab.graph.arrays.structural_hashes`
(16 hex digits) rather than blake2b; fingerprints are the same. A study keeps
its engine (the config is stored), and a killed one resumes exactly: the
searcher state and the rows commit together.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from discolab.domains.base import Domain, Status
from discolab.graph import decode, to_infix
from discolab.graph.arrays import NotOneTypeSpace, array_space, structural_hashes, to_json, to_programs
from discolab.graph.fingerprint import hash_rows
from discolab.search.array_evolution import ArrayEvolution
from discolab.study.config import ConfigError, StudyConfig
from discolab.study.store import BatchRows, Store, json_dumps

#: Consecutive batches committed in one transaction (each index page they touch is written once).
COMMIT_GROUP = 8
#: Groups computed but not yet committed, at most (the writer thread's queue).
WRITE_AHEAD = 2
_OK, _NON_FINITE = Status.OK.value, Status.NON_FINITE.value
_NOT_RECOVERED, _RECOVERED = json_dumps({"recovered": False}), json_dumps({"recovered": True})


def check_arrays_engine(config: StudyConfig, domain: Domain) -> None:
    """Raises ConfigError (naming ``study.engine``) unless the arrays engine can run this domain."""
    if not hasattr(domain, "array_scorer"):
        raise ConfigError(f"study.engine: domain {config.domain.name!r} has no array scorer; use engine = \"programs\"")
    try:
        array_space(domain.space)
    except NotOneTypeSpace as err:
        raise ConfigError(f"study.engine: {err}") from None


def bucket(n: int) -> int:
    """The padded batch size: the next power of two, at least 32 (one compile per study)."""
    return max(32, 1 << max(n - 1, 0).bit_length())


def run_arrays(
    store: Store,
    config: StudyConfig,
    domain: Domain,
    start: float,
    on_batch: Callable[[Any], None] | None,
    max_batches: int | None,
    progress: Any,
    advance: Callable[..., Any],
) -> Any:
    """The batch loop of ``run_study`` for ``engine = "arrays"``; returns the final ``Progress``.

    Batches commit ``COMMIT_GROUP`` at a time (one transaction, with the
    searcher state after the last) on a writer thread with its own
    connection, at most ``WRITE_AHEAD`` groups behind the loop, so the
    commit overlaps the next batches' work. A kill loses only batches not yet
    committed, which a resume replays exactly from the stored searcher state
    (as the Program loop replays its batch in flight).
    """
    from discolab.study.loop import batch_seed  # a function of (seed, batch) only: the same as the Program loop

    check_arrays_engine(config, domain)
    study = config.study
    space = domain.space
    arrays = array_space(space)
    searcher = ArrayEvolution(space, config.searcher_config(), domain.fitness_floor)
    stored = store.searcher_state()
    state = searcher.init(study.seed) if stored is None else searcher.from_dict(stored)
    index = _Index(store)
    score = domain.array_scorer(domain.fingerprint_inputs())
    pad = bucket(study.batch_size)
    next_id = store.next_id()
    ran = 0
    pending: list[BatchRows] = []
    with _Writer(store.path) as writer:
        while not progress.finished and (max_batches is None or ran < max_batches):
            batch = progress.batches
            batch_start = time.perf_counter()
            n = min(study.batch_size, study.proposal_cap - progress.proposals)
            children, parents, state = searcher.ask(state, n)
            scores, fp_outputs = score(children.encoded(arrays.n_fixed, pad_to=max(pad, n)), n)
            hashes = [f"{h:016x}" for h in structural_hashes(children, arrays).tolist()]
            fingerprints = hash_rows(fp_outputs)
            original, kept = _plan(hashes, fingerprints, index.by_hash, index.by_fingerprint,
                                   progress.evaluations_target - progress.evaluations)
            evaluated = np.flatnonzero(np.array([o is None for o in original], bool))
            recovered = np.zeros(n, bool)
            check = evaluated[scores.close[evaluated]]
            if len(check):
                programs = to_programs(children.take(check), arrays)
                recovered[check] = domain.recovery_flags(programs, np.ones(len(check), bool))
            seconds = (time.perf_counter() - batch_start) / max(len(evaluated), 1)
            json = to_json(children.take(np.arange(kept)), arrays)
            rows, fitness = _rows(batch, next_id, json, hashes, fingerprints, parents, original, scores,
                                  recovered, seconds)
            told = np.arange(kept) if study.tell_duplicates else evaluated
            state, metrics = searcher.tell(state, next_id + told, children.take(told), [json[k] for k in told],
                                           fitness[told])
            pending.append(BatchRows(batch, rows, len(evaluated), batch_seed(study.seed, batch),
                                     time.perf_counter() - batch_start, metrics))
            next_id += kept
            index.add_rows(rows)
            best_row = _best(rows, progress.best_fitness)
            best = None if best_row is None else (best_row[9], to_infix(decode(best_row[3]), space))
            progress = advance(progress, len(rows), len(evaluated), best, start)
            ran += 1
            last = progress.finished or (max_batches is not None and ran >= max_batches)
            if len(pending) >= COMMIT_GROUP or last:
                writer.submit(pending, state.to_dict())
                pending = []
            if on_batch is not None:
                on_batch(progress)
    return progress


class _Writer:
    """Commits batches in order on a thread with its own connection to the study.

    The store's lookup indexes are dropped while it writes and rebuilt when it
    ends (``Store.lookup_indexes_deferred``): the indexes cost more than half of
    the insert time at the rate this engine writes rows.

    ``submit`` blocks while ``WRITE_AHEAD`` groups wait; a failed commit is
    raised from the next ``submit`` or from leaving the ``with`` block, which
    first waits for every submitted batch to commit.
    """

    def __init__(self, path: Any) -> None:
        self._path = path
        self._queue: queue.Queue = queue.Queue(maxsize=WRITE_AHEAD)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="discolab-store-writer", daemon=True)

    def __enter__(self) -> _Writer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None and exc[0] is None:
            raise self._error

    def submit(self, batches: list[BatchRows], state: dict) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((batches, state))

    def _work(self) -> None:
        try:
            with Store.open(self._path) as store, store.lookup_indexes_deferred():
                while (item := self._queue.get()) is not None:
                    store.commit_batches(*item)
        except BaseException as err:  # noqa: BLE001  (re-raised in the study's thread)
            self._error = err
            while self._queue.get() is not None:  # drain, so submit and exit never block
                pass


class _Index:
    """Structural hash and fingerprint -> the original's ``(id, status, fitness, objectives JSON)``.

    The rule of ``loop.DedupeIndex``: the earliest row with a key wins, a
    duplicate row indexes its keys to its original, and originals with status
    ``error`` are not indexed (they are evaluated again).
    """

    def __init__(self, store: Store) -> None:
        self.by_hash: dict[str, tuple] = {}
        self.by_fingerprint: dict[str, tuple] = {}
        self._originals: dict[int, tuple] = {}
        # Stored rows as the loop's row tuples (only the columns read below are filled).
        self.add_rows([(r.id, None, None, None, r.struct_hash, r.fingerprint, None, r.duplicate_of,
                        Status(r.status).value, float(r.fitness), json_dumps(dict(r.objectives)))
                       for r in store.scores()])

    def add_rows(self, rows: list[tuple]) -> None:
        """Indexes rows in id order (tuples in ``store.COLUMNS`` order); runs per row, so kept flat."""
        by_hash, by_fingerprint, originals = self.by_hash, self.by_fingerprint, self._originals
        error = Status.ERROR.value
        for row in rows:
            dup = row[7]
            if dup is None:
                if row[8] == error:
                    continue
                original = originals[row[0]] = (row[0], row[8], row[9], row[10])
            else:
                original = originals.get(dup)
                if original is None:
                    continue
            by_hash.setdefault(row[4], original)
            by_fingerprint.setdefault(row[5], original)


def _plan(
    hashes: list[str], fingerprints: list[str], by_hash: dict, by_fingerprint: dict, budget: int
) -> tuple[list[tuple | int | None], int]:
    """Per proposal: a stored original, the batch position of an earlier one, or None (evaluate it).

    Also the number of proposals kept: the longest prefix that evaluates at
    most ``budget`` programs, ending at the last one it needs (``loop.trim``).
    """
    original: list[tuple | int | None] = []
    first_hash: dict[str, int] = {}
    first_fp: dict[str, int] = {}
    evaluated = 0
    for k, (h, f) in enumerate(zip(hashes, fingerprints)):
        if evaluated == budget:
            return original, k  # ``original`` holds the kept prefix
        found = by_hash.get(h)
        if found is None:
            found = first_hash.get(h)
        if found is None:
            found = by_fingerprint.get(f)
        if found is None:
            found = first_fp.get(f)
        if isinstance(found, int):
            found = original[found] if original[found] is not None else found  # point at the batch's original
        first_hash.setdefault(h, k)
        first_fp.setdefault(f, k)
        original.append(found)
        evaluated += found is None
    return original, len(hashes)


def _rows(
    batch: int, first_id: int, json: list[str], hashes: list[str], fingerprints: list[str], parents: np.ndarray,
    original: list, scores: Any, recovered: np.ndarray, seconds: float,
) -> tuple[list[tuple], np.ndarray]:
    """Store rows (column order of ``store.COLUMNS``) and each row's fitness."""
    now = time.time()
    finite = scores.finite.tolist()
    fitness = scores.fitness.tolist()
    train, test = scores.nrmse_train.tolist(), scores.nrmse_test.tolist()
    flags = recovered.tolist()
    details = (_NOT_RECOVERED, _RECOVERED) if scores.recovery_checked else ("{}", "{}")
    parent_ids = [None if p < 0 else p for p in parents.tolist()]
    rows: list[tuple] = []
    out_fitness = np.empty(len(json))
    for k, text in enumerate(json):
        o = original[k]
        if o is None:
            if finite[k]:
                status, fit = _OK, fitness[k]
                objectives = f'{{"fitness":{fit!r},"nrmse_test":{test[k]!r},"nrmse_train":{train[k]!r}}}'
            else:
                status, fit = _NON_FINITE, fitness[k]
                objectives = f'{{"fitness":{fit!r}}}'
            rows.append((first_id + k, batch, k, text, hashes[k], fingerprints[k], parent_ids[k], None, status,
                         fit, objectives, details[flags[k]], seconds, now))
        else:
            if isinstance(o, int):
                src = rows[o]
                o = (src[0], src[8], src[9], src[10])
            rows.append((first_id + k, batch, k, text, hashes[k], fingerprints[k], parent_ids[k], o[0], o[1],
                         o[2], o[3], "{}", 0.0, now))
        out_fitness[k] = rows[-1][9]
    return rows, out_fitness


def _best(rows: list[tuple], best: float | None) -> tuple | None:
    """The batch's best evaluated row if it beats ``best`` (ties keep the earlier), else None."""
    found = None
    for row in rows:
        if row[7] is None and (best is None or row[9] > best):
            best, found = row[9], row
    return found
