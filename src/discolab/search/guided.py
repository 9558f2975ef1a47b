"""Guided evolution: a learned predictor screens children before they are evaluated (PAPERS.md section 3).

``guided`` wraps any searcher whose proposals name a parent (``Proposal.parent_id``;
regularized evolution by default). Each child the base searcher proposes is
compared with its parent by a predictor; a child predicted worse is discarded
unevaluated and the parent is mutated again, up to ``max_tries`` candidates.
With ``max_accepted = 1`` (the default) every candidate is a mutation of the
parent, so all of a batch's candidates are drawn at once and rated in ONE
batched call; the first accepted is proposed, or with ``pick = "best"`` the one
rated highest above the threshold. With ``max_accepted > 1`` an accepted child
is itself mutated and screened against itself, up to ``max_accepted`` times, so
the mutation strength grows while the predictor keeps predicting gains (the
adaptive mutation of PAM-RT, as read in PAPERS.md); slots then go in lock-step
rounds, one batched call per round. If no
candidate is accepted, the slot is dropped (``fallback = "skip"``, the default:
the batch is smaller and no evaluation is spent on a child predicted worse) or
the candidate rated highest is proposed (``"best"``, every slot filled). With
``fill``, dropped slots are replaced by further slots of the base searcher
until the batch is full: a domain that trains a batch of programs in one
padded call (the RL domains) pays for a full batch whatever its size. A
candidate structurally equal to a program of the archive or to its parent is
rejected without asking the predictor (``skip_known``): it would be a duplicate,
free but uninformative, and a predictor rates the programs it was trained on
best. When the study passes its fingerprint (``fingerprint``, the domain's
functional hash), a candidate that computes the same function as a program of
the archive or as its parent is rejected the same way: the study would dedupe
it, and its slot, in a domain that trains a padded batch, would be paid for and
wasted. Fresh random programs (no parent) pass unscreened; one that repeats a
known program or function is drawn again. Before the first fit nothing is
dropped: a slot whose candidates all repeat proposes one anyway.

Training pairs. A share ``parent_pairs`` of each training batch of the binary
discriminator is drawn from (child, parent) pairs of the archive, the question
the screen asks; the rest are random pairs of archive programs.

Predictors (``predictor``), for ablation:

- ``binary``: the pairwise GNN discriminator of :mod:`discolab.guide` ("is A better than B?").
- ``regression``: the same encoder regressed onto fitness ranks; pairs compared by score.
- ``nearest``: no training; a program's score is looked up from the archive programs whose outputs
  at ``probes`` fixed inputs (the study's fingerprint inputs) point most nearly the same way
  (:mod:`discolab.guide.nearest`; not in the paper). Cheap enough to refit after every batch.
- ``oracle``: the true fitness, from an ``oracle`` callable that only benchmark code passes (an
  upper bound; never available from a study config, which cannot pass one).
- ``random``: accepts a child with probability one half (a sanity check).

State and resume. The state stays JSON and small: the base searcher's state,
the RNG, an archive of the latest evaluated programs (``[id, program_json,
fitness]``) and the fit schedule. The network weights are NOT stored: a
predictor is retrained from scratch, with a seed derived from the search seed
and the fit count, each time ``retrain_every`` new evaluations have been told,
on the newest ``archive_size`` programs told before that point. It is
therefore a pure function of the stored state (on a given device), and the
searcher keeps it only in an in-memory cache keyed by that data; a resumed
search rebuilds it on its first ask and asks exactly what the uninterrupted
search would have asked. The archive keeps just the entries the current fit
and the next one need; parents are looked up there, so the base searcher's
population should not exceed ``archive_size`` (a parent that has left the
archive passes its child unscreened). Replay is exact on one device and JAX
version (XLA's CPU and GPU kernels are deterministic for a fixed program);
storing weights instead would cost hundreds of kilobytes per stored batch.

Metrics per ``tell`` (stored per batch by the study): ``guide_heldout_accuracy``
is the current predictor's pair accuracy on the batch just evaluated, which it
was not trained on (pairs of unequal fitness; a hard sample, since the screen
chose these children for looking better); ``guide_rejection_rate`` the
share of screened candidates discarded by the last ask;
``guide_child_beats_parent`` the share of screened, proposed children that
scored above their parent; ``guide_known_rate`` the share of screened
candidates rejected unasked as already in the archive (``skip_known``);
``guide_fallback_rate`` the share of slots where no candidate was accepted
and ``guide_skip_rate`` the share dropped for it (``fallback = "skip"``);
``guide_seconds`` the predictor's training and
inference time in this ask and tell (it is also in the study's batch seconds).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pydantic

from discolab import guide
from discolab.graph import Program, SearchSpace, mutate
from discolab.search import base as search_base
from discolab.search.base import (
    Fingerprint,
    FreshProgram,
    Proposal,
    Result,
    clean_fitness,
    register,
    rng_from_state,
    rng_state,
)
from discolab.search.repeats import Functions, Seen
from discolab.search.repeats import decoded as _decode

#: Times ``ask`` draws a fresh set of base proposals when the "skip" fallback dropped every slot
#: (with ``fill``: ``fill_rounds``).
MAX_SKIP_ROUNDS = 8

#: Bench code may pass ``oracle(programs) -> fitness`` for the ``oracle`` predictor (the true scores).
Oracle = Callable[[Sequence[Program]], Sequence[float]]


class GuidedConfig(pydantic.BaseModel, frozen=True, extra="forbid"):
    """Options of guided evolution: the base searcher, the screening and the predictor."""

    base: dict[str, Any] = pydantic.Field(
        default_factory=lambda: {"name": "regularized_evolution"},
        description="The searcher whose children are screened: its `name` and its own options.",
    )
    predictor: Literal["binary", "regression", "nearest", "oracle", "random"] = pydantic.Field(
        "binary", description="What screens children: the GNN discriminator, a GNN regressor, the scores of the "
                              "archive programs computing the most nearly the same function (`nearest`, not in "
                              "the paper; no training), the true score (benchmarks only) or a coin flip.",
    )
    max_tries: int = pydantic.Field(8, ge=1, le=1000, description="Candidates screened per proposal at most.")
    max_accepted: int = pydantic.Field(
        1, ge=1, le=100, description="Accepted mutations chained per proposal (each screened against the last).")
    pick: Literal["first", "best"] = pydantic.Field(
        "first", description="Which accepted candidate a slot proposes: the `first` one (then chained, see "
                             "max_accepted), or the `best`-rated of all max_tries candidates screened against "
                             "the parent (needs max_accepted = 1).")
    accept_threshold: float = pydantic.Field(
        0.5, ge=0.0, lt=1.0, description="A candidate is accepted when P(better than its parent) exceeds this. "
                                          "Just under 0.5 (e.g. 0.4999) also accepts a candidate predicted to tie "
                                          "its parent (the `nearest` look-up's P = 0.5): it can rate no child above "
                                          "the best program it has seen, so with `fallback = \"skip\"` that "
                                          "program's slots would otherwise always be dropped.")
    min_archive: int = pydantic.Field(
        256, ge=2, description="Evaluated programs needed before the first fit; until then children pass unscreened.")
    retrain_every: int = pydantic.Field(
        500, ge=1, description="New evaluations between fits (each fit starts from scratch).")
    archive_size: int = pydantic.Field(1024, ge=2, le=65536, description="Newest programs a fit trains on.")
    hidden: int = pydantic.Field(32, ge=4, le=1024, description="Width of the GNN's node states.")
    layers: int = pydantic.Field(2, ge=1, le=16, description="GraphGPS layers.")
    heads: int = pydantic.Field(4, ge=1, le=32, description="Attention heads per layer.")
    train_steps: int = pydantic.Field(200, ge=1, le=100_000, description="Optimizer steps per fit.")
    pair_batch: int = pydantic.Field(64, ge=1, le=65536, description="Training pairs per step.")
    learning_rate: float = pydantic.Field(2e-3, gt=0.0, le=1.0, description="AdamW step size.")
    parent_pairs: float = pydantic.Field(
        0.5, ge=0.0, le=1.0, description="Share of each training batch drawn from (child, parent) pairs of the "
                                         "archive, the pairs the screen asks about; the rest are random pairs.")
    fallback: Literal["skip", "best"] = pydantic.Field(
        "skip", description="A slot whose candidates were all rejected: `skip` drops it unevaluated (the batch is "
                            "smaller unless `fill`), `best` evaluates the candidate rated highest.")
    fill: bool = pydantic.Field(
        False, description="With `skip`: ask the base searcher for more slots until the batch is full (at most "
                           "`fill_rounds` rounds), for domains that evaluate a batch in one padded call, "
                           "where a smaller batch costs as much as a full one.")
    fill_rounds: int = pydantic.Field(
        MAX_SKIP_ROUNDS, ge=1, le=1000, description="With `fill`: rounds of base proposals at most per batch (each "
                                                    "costs one batched inference; an empty slot costs a padded "
                                                    "evaluation).")
    skip_known: bool = pydantic.Field(
        True, description="Reject, without asking the predictor, candidates structurally equal to a program of the "
                          "archive or to their parent, or computing the same function (the study's fingerprint): "
                          "they would be duplicates, evaluated at no cost and teaching nothing, whose slot a "
                          "padded batch still pays for; and a predictor rates the programs it was trained on best.")
    probes: int = pydantic.Field(
        0, ge=0, le=256, description="Probe points per node: each node's values at fixed random inputs join its "
                                     "features (not in the paper; FLOAT-only spaces with numpy ops; 0: off). "
                                     "With predictor `nearest`: the points its outputs are compared at (>= 1; "
                                     "the study's own fingerprint inputs when it passes them; more than they hold are "
                                     "drawn inside their range in a one-type space).")
    neighbours: int = pydantic.Field(
        1, ge=1, le=64, description="With predictor `nearest`: archive programs whose scores a prediction averages.")
    nearness: Literal["direction", "value"] = pydantic.Field(
        "direction", description="With predictor `nearest`: how near two programs' outputs are: `direction` "
                                 "(cosine, scale-free: a rule's step size is tuned away) or `value` (Euclidean "
                                 "distance of asinh outputs: scale and offset count, as in a regression's error).")
    heldout_pairs: int = pydantic.Field(
        512, ge=0, description="Pairs of each new batch scored for the held-out accuracy (0: off).")

    @pydantic.model_validator(mode="after")
    def _check(self) -> "GuidedConfig":
        name = self.base.get("name")
        if not isinstance(name, str):
            raise ValueError("base.name: the base searcher's name is required")
        if name == "guided":
            raise ValueError("base.name: guided cannot wrap itself")
        try:
            entry = search_base.entry(name)
        except KeyError as err:
            raise ValueError(f"base.name: {err.args[0]}") from None
        entry.config.model_validate({k: v for k, v in self.base.items() if k != "name"})
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be a multiple of heads ({self.heads})")
        if self.pick == "best" and self.max_accepted != 1:
            raise ValueError(f"pick = 'best' screens every candidate against the parent: max_accepted must be 1, "
                             f"not {self.max_accepted}")
        if self.predictor == "nearest" and not self.probes:
            raise ValueError("probes: predictor 'nearest' compares programs' outputs at `probes` points; set probes "
                             ">= 1 (e.g. 64)")
        if self.min_archive > self.archive_size:
            raise ValueError(f"min_archive ({self.min_archive}) exceeds archive_size ({self.archive_size})")
        return self

    def predictor_config(self) -> guide.PredictorConfig:
        return guide.PredictorConfig(
            kind="regression" if self.predictor == "regression" else "binary", dim=self.hidden, layers=self.layers,
            heads=self.heads, train_steps=self.train_steps, pair_batch=self.pair_batch,
            learning_rate=self.learning_rate, archive_size=self.archive_size, parent_pair_share=self.parent_pairs,
            probes=self.probes,
        )


class GuidedEvolution:
    """Ask/tell search that screens the base searcher's children with a predictor; JSON state.

    State: ``base`` (the base searcher's state), ``rng``, ``seed`` (the
    predictor seeds derive from it), ``archive`` (``[id, program_json,
    fitness, parent_id]`` of told programs with global indices from ``archive_start``),
    ``told``, ``fit_at`` (``told`` at the last fit, or None), ``fits`` and
    ``last_ask`` (screening counts and the screened children's parent fitness,
    for the next tell's metrics).
    """

    def __init__(
        self,
        space: SearchSpace,
        config: GuidedConfig,
        fitness_floor: float = 0.0,
        fresh: FreshProgram | None = None,
        oracle: Oracle | None = None,
        fingerprint: Fingerprint | None = None,
        inputs: Mapping[str, np.ndarray] | None = None,
    ):
        if config.predictor == "oracle" and oracle is None:
            raise ValueError("predictor 'oracle' needs an oracle callable; only benchmark code passes one")
        self.space = space
        self.config = config
        self.fitness_floor = fitness_floor
        self.oracle = oracle
        self.fingerprint = fingerprint
        self._functions = Functions(fingerprint) if fingerprint is not None else None  # a memo: pure
        self.fresh = search_base.default_fresh(space, fresh)
        base_options = {k: v for k, v in config.base.items() if k != "name"}
        self.base = search_base.make(config.base["name"], space, base_options, fitness_floor, fresh=fresh)
        # A space the predictor cannot read fails here, before any search.
        self._points = guide.nearest.probe_points(space, config.probes, inputs) if config.predictor == "nearest" \
            else None
        if config.probes and self._points is None:
            guide.Featurizer(space, config.probes)
        self._predictors: dict[str, guide.AnyPredictor] = {}  # in-memory only: a function of the state

    # ---------------------------------------------------------------------------- protocol

    def init(self, seed: int) -> dict[str, Any]:
        return {
            "base": self.base.init(seed), "rng": rng_state(np.random.default_rng([seed, 1])), "seed": seed,
            "archive": [], "archive_start": 0, "told": 0, "fit_at": None, "fits": 0, "last_ask": None,
        }

    def ask(self, state: dict[str, Any], n: int) -> tuple[list[Proposal], dict[str, Any]]:
        rng = rng_from_state(state)
        base_state = state["base"]
        parents = {m[0]: (m[1], m[2]) for m in state["archive"]}
        last_ask: dict[str, Any] = {"slots": 0, "screened": 0, "rejected": 0, "fallbacks": 0, "known": 0,
                                    "skipped": 0, "children": {}, "seconds": 0.0, "parent_of": {}}
        seen = self._seen(state)  # grows with each child this ask proposes
        out: list[Proposal] = []
        rounds = self.config.fill_rounds if self.config.fill else MAX_SKIP_ROUNDS
        for _ in range(rounds):  # "skip" drops slots: ask the base searcher again
            proposals, base_state = self.base.ask(base_state, n - len(out))
            out += self._screen_proposals(state, proposals, parents, rng, last_ask, seen)
            if len(out) >= n or (out and not self.config.fill):
                break
        if not out:  # every slot of every round skipped: propose the best-rated candidates after all
            out = self._screen_proposals(state, proposals, parents, rng, last_ask, seen, fallback="best")
        if not out:  # only repeats of known programs (a tiny space): the study dedupes them
            out = list(proposals)
        for proposal in out:
            if proposal.parent_id is not None:
                last_ask["parent_of"][proposal.program.to_json()] = proposal.parent_id
        return out, {**state, "base": base_state, "rng": rng_state(rng), "last_ask": last_ask}

    def _seen(self, state: dict[str, Any]) -> Seen | None:
        """The archive's programs, by structure and (with the study's fingerprint) by function; None
        when ``skip_known`` is off."""
        if not self.config.skip_known:
            return None
        return Seen(self.space, [m[1] for m in state["archive"]], self._functions)

    def _screen_proposals(self, state: dict[str, Any], proposals: list[Proposal], parents: dict[int, tuple],
                          rng: np.random.Generator, last_ask: dict[str, Any],
                          seen: Seen | None, fallback: str | None = None) -> list[Proposal]:
        """The base searcher's proposals with each screened child replaced, or dropped ("skip").

        Each proposed child joins ``seen``, so later slots of the ask do not repeat it.
        """
        proposals = self._replace_repeated_fresh(proposals, seen, rng, last_ask)
        slots = [k for k, p in enumerate(proposals) if p.parent_id is not None and p.parent_id in parents]
        screening = self._screening(state)
        if not slots or not (screening or seen is not None):
            return list(proposals)
        # Before the first fit only repeats are screened out (every new candidate is rated 1).
        last_ask["predicted"] = screening
        start = time.perf_counter()
        predictor = self._predictor(state) if self._learned else None
        chosen, accepted, counts = self._screen(
            [_decode(parents[proposals[k].parent_id][0]) for k in slots],
            [parents[proposals[k].parent_id][1] for k in slots],
            [proposals[k].program for k in slots], predictor, rng, seen)
        skip = (fallback or self.config.fallback) == "skip" and screening  # no predictor yet: drop nothing
        kept: dict[int, Proposal] = {}
        for k, child, ok in zip(slots, chosen, accepted):
            if ok or not skip:
                kept[k] = Proposal(child, proposals[k].parent_id)
                if screening:
                    last_ask["children"][child.to_json()] = parents[proposals[k].parent_id][1]
                if seen is not None:
                    seen.add(child)
            else:
                last_ask["skipped"] += 1
        for key, value in counts.items():
            last_ask[key] += value
        if self._learned:  # an oracle's time is not counted
            last_ask["seconds"] += time.perf_counter() - start
        screened = set(slots)
        return [kept[k] if k in screened else p for k, p in enumerate(proposals) if k not in screened or k in kept]

    def _replace_repeated_fresh(self, proposals: list[Proposal], seen: Seen | None, rng: np.random.Generator,
                                last_ask: dict[str, Any]) -> list[Proposal]:
        """Fresh programs (no parent: nothing to compare with) pass unscreened, but one that repeats
        a known program is drawn again, up to ``max_tries`` draws (then the last draw is kept, for
        the study to dedupe): in a small space random programs often repeat."""
        if seen is None:
            return proposals
        out = []
        for p in proposals:
            if p.parent_id is None:
                program = p.program
                for _ in range(self.config.max_tries - 1):
                    if not seen.repeats(program):
                        break
                    last_ask["fresh_repeats"] = last_ask.get("fresh_repeats", 0) + 1
                    program = self.fresh(rng)
                seen.add(program)
                p = Proposal(program)
            out.append(p)
        return out

    @property
    def _learned(self) -> bool:
        return self.config.predictor in ("binary", "regression", "nearest")

    def _screening(self, state: dict[str, Any]) -> bool:
        """Learned predictors screen once fitted; the oracle and the coin flip always do."""
        return state["fit_at"] is not None or not self._learned

    def tell(self, state: dict[str, Any], results: Sequence[Result]) -> tuple[dict[str, Any], dict[str, float]]:
        base_state, metrics = self.base.tell(state["base"], results)
        metrics = dict(metrics)
        seconds = 0.0
        cleaned = [clean_fitness(r.fitness, self.fitness_floor) for r in results]
        last = state.get("last_ask") or {}
        if last.get("screened"):
            metrics["guide_known_rate"] = last.get("known", 0) / last["screened"]
        if last.get("fresh_repeats"):
            metrics["guide_fresh_repeats"] = float(last["fresh_repeats"])
        if last.get("screened") and last.get("predicted", True):
            metrics["guide_rejection_rate"] = last["rejected"] / last["screened"]
            metrics["guide_fallback_rate"] = last["fallbacks"] / max(1, last["slots"])
            metrics["guide_skip_rate"] = last.get("skipped", 0) / max(1, last["slots"])
        seconds += last.get("seconds", 0.0)
        children = last.get("children") or {}
        beats = [f > children[r.program.to_json()] for r, f in zip(results, cleaned) if r.program.to_json() in children]
        if beats:
            metrics["guide_child_beats_parent"] = float(np.mean(beats))
        accuracy = self._heldout_accuracy(state, results, cleaned)
        if accuracy is not None:
            metrics["guide_heldout_accuracy"], metrics["guide_heldout_pairs"], spent = accuracy
            seconds += spent

        parent_of = last.get("parent_of") or {}
        archive = state["archive"] + [[r.id, r.program.to_json(), f, parent_of.get(r.program.to_json())]
                                      for r, f in zip(results, cleaned)]
        told = state["told"] + len(results)
        new = {**state, "base": base_state, "archive": archive, "told": told, "last_ask": None}
        due = new["fit_at"] is None or told - new["fit_at"] >= self.config.retrain_every
        if self._learned and due and told >= self.config.min_archive:
            new["fit_at"], new["fits"] = told, new["fits"] + 1
            fit_start = time.perf_counter()
            predictor = self._predictor(new)  # fits now; a resumed search refits the same on its first ask
            seconds += time.perf_counter() - fit_start
            if predictor.final_loss is not None:  # the nearest look-up trains nothing
                metrics["guide_train_loss"] = predictor.final_loss
            metrics["guide_fits"] = new["fits"]
        # Keep what the next fit and parent lookups need (the newest archive_size) and the current fit's data.
        keep_from = told - self.config.archive_size
        if new["fit_at"] is not None:
            keep_from = min(keep_from, new["fit_at"] - self.config.archive_size)
        keep_from = max(keep_from, new["archive_start"])
        new["archive"] = archive[keep_from - new["archive_start"]:]
        new["archive_start"] = keep_from
        metrics["guide_seconds"] = seconds
        return new, metrics

    # ---------------------------------------------------------------------------- predictor

    def _training_set(self, state: dict[str, Any]) -> list[list]:
        """The archive entries the current fit uses: the newest ``archive_size`` told before ``fit_at``."""
        fit_at, start = state["fit_at"], state["archive_start"]
        lo = max(start, fit_at - self.config.archive_size)
        return state["archive"][lo - start: fit_at - start]

    def _predictor(self, state: dict[str, Any]) -> guide.AnyPredictor | None:
        """The predictor of the state's last fit: from the cache, or refitted (deterministically)."""
        if state["fit_at"] is None:
            return None
        entries = self._training_set(state)
        lineage = _lineage(entries)
        digest = hashlib.blake2b(digest_size=16)
        for entry in entries:
            digest.update(f"{entry[1]}\x1f{entry[2]!r}\x1e".encode())
        digest.update(repr(lineage).encode())
        key = f"{state['seed']}:{state['fits']}:{digest.hexdigest()}"
        if key not in self._predictors:
            seed = int(np.random.SeedSequence([state["seed"], state["fits"], 7]).generate_state(1)[0] >> 1)
            if len(self._predictors) >= 4:
                self._predictors.pop(next(iter(self._predictors)))
            programs, fitness = [_decode(e[1]) for e in entries], [e[2] for e in entries]
            if self._points is not None:
                self._predictors[key] = guide.fit_nearest(self.space, programs, fitness, self._points,
                                                          self.config.neighbours, self.config.nearness)
            else:
                self._predictors[key] = guide.fit(self.space, self.config.predictor_config(), programs, fitness,
                                                  seed, lineage)
        return self._predictors[key]

    def _compare(self, candidates: list[Program], currents: list[Program], current_fitness: list[float | None],
                 predictor: guide.AnyPredictor | None, rng: np.random.Generator) -> tuple[np.ndarray, list[float | None]]:
        """P(candidate better than current) per pair, and the candidates' true fitness (oracle only)."""
        kind = self.config.predictor
        if kind == "random":
            return rng.random(len(candidates)), [None] * len(candidates)
        if kind == "oracle":
            assert self.oracle is not None
            truth = [clean_fitness(float(f), self.fitness_floor) for f in self.oracle(candidates)]
            p = np.array([1.0 if t > c else 0.5 if t == c else 0.0 for t, c in zip(truth, current_fitness)])
            return p, truth
        if predictor is None:  # not fitted yet: only repeats were screened out
            return np.ones(len(candidates)), [None] * len(candidates)
        return predictor.compare(candidates, currents), [None] * len(candidates)

    def _screen(self, parents: list[Program], parent_fitness: list[float], first: list[Program],
                predictor: guide.AnyPredictor | None, rng: np.random.Generator,
                seen: Seen | None = None) -> tuple[list[Program], list[bool], dict[str, int]]:
        """Screens every slot: the chosen candidate per slot, whether it was accepted, and counts.

        A candidate that repeats a program of ``seen`` or its current program, by structure or
        by function, is rejected unasked (rated -1, so it is proposed only if every candidate of
        its slot was known).
        """
        if self.config.max_accepted == 1:
            return self._screen_at_once(parents, parent_fitness, first, predictor, rng, seen)
        return self._screen_chained(parents, parent_fitness, first, predictor, rng, seen)

    def _screen_at_once(self, parents: list[Program], parent_fitness: list[float], first: list[Program],
                        predictor: guide.AnyPredictor | None, rng: np.random.Generator,
                        seen: Seen | None) -> tuple[list[Program], list[bool], dict[str, int]]:
        """One mutation per slot: all ``max_tries`` candidates (the base searcher's child, then fresh
        mutations of the parent) rated against the parent in ONE batched comparison.

        Every candidate is a mutation of the same parent, so drawing them together asks what a
        sequential screen asks, in one call instead of up to ``max_tries`` (a call's cost is
        mostly fixed). ``pick = "first"`` proposes the first accepted, ``"best"`` the best-rated.
        """
        cfg = self.config
        tries = cfg.max_tries
        flat: list[Program] = []
        for s, parent in enumerate(parents):
            flat.append(first[s])
            flat.extend(mutate(parent, self.space, rng) for _ in range(tries - 1))
        owner = [s for s in range(len(parents)) for _ in range(tries)]
        known = seen.mask(flat, [parents[s] for s in owner]) if seen is not None else [False] * len(flat)
        asked = [k for k, old in enumerate(known) if not old]
        rating = np.full(len(flat), -1.0)
        if asked:
            p, _ = self._compare([flat[k] for k in asked], [parents[owner[k]] for k in asked],
                                 [parent_fitness[owner[k]] for k in asked], predictor, rng)
            rating[asked] = p
        chosen, accepted = [], []
        for s in range(len(parents)):
            r = rating[s * tries:(s + 1) * tries]
            ok = np.nonzero(r > cfg.accept_threshold)[0]
            if cfg.pick == "best":
                ok = ok[np.argsort(-r[ok], kind="stable")]
            # Not a child an earlier slot of this ask already chose (two slots often share a parent).
            j = next((int(k) for k in ok if seen is None or not seen.repeats(flat[s * tries + k])), None)
            accepted.append(j is not None)
            if j is None:
                j = int(np.argmax(r))  # the best-rated, for the "best" fallback
            elif seen is not None:
                seen.add(flat[s * tries + j])
            chosen.append(flat[s * tries + j])
        counts = {"slots": len(parents), "screened": len(flat), "rejected": int((rating <= cfg.accept_threshold).sum()),
                  "fallbacks": accepted.count(False), "known": len(flat) - len(asked)}
        return chosen, accepted, counts

    def _screen_chained(self, parents: list[Program], parent_fitness: list[float], first: list[Program],
                        predictor: guide.AnyPredictor | None, rng: np.random.Generator,
                        seen: Seen | None) -> tuple[list[Program], list[bool], dict[str, int]]:
        """Chained mutations (``max_accepted > 1``), in lock-step rounds: one batched comparison per
        round, each accepted candidate becoming the program the next one is screened against."""
        cfg = self.config
        n = len(parents)
        current = list(parents)
        current_fitness: list[float | None] = list(parent_fitness)
        tries, accepted = [0] * n, [0] * n
        best: list[tuple[float, Program] | None] = [None] * n
        candidates = list(first)  # the base searcher's own child is the first candidate
        active = list(range(n))
        screened = rejected = skipped = 0
        while active:
            known = seen.mask([candidates[s] for s in active], [current[s] for s in active]) \
                if seen is not None else [False] * len(active)
            asked = [s for s, old in zip(active, known) if not old]
            p_asked, truth_asked = self._compare([candidates[s] for s in asked], [current[s] for s in asked],
                                                 [current_fitness[s] for s in asked], predictor, rng) \
                if asked else (np.zeros(0), [])
            answers = dict(zip(asked, zip(p_asked, truth_asked)))
            p = [answers[s][0] if s in answers else -1.0 for s in active]
            truth = [answers[s][1] if s in answers else None for s in active]
            skipped += len(active) - len(asked)
            still = []
            for s, ps, t in zip(active, p, truth):
                tries[s] += 1
                screened += 1
                if ps > cfg.accept_threshold:  # pick = "first" (the config refuses "best" with chains)
                    current[s], current_fitness[s] = candidates[s], t
                    accepted[s] += 1
                else:
                    rejected += 1
                    if best[s] is None or ps > best[s][0]:
                        best[s] = (float(ps), candidates[s])
                if accepted[s] < cfg.max_accepted and tries[s] < cfg.max_tries:
                    still.append(s)
            for s in still:  # in slot order: the RNG stream is a function of the state
                candidates[s] = mutate(current[s], self.space, rng)
            active = still
        chosen = []
        fallbacks = 0
        for s in range(n):
            if accepted[s]:
                chosen.append(current[s])
            else:
                fallbacks += 1
                chosen.append(best[s][1])  # type: ignore[index]
        return chosen, [bool(a) for a in accepted], {"slots": n, "screened": screened, "rejected": rejected,
                                                      "fallbacks": fallbacks, "known": skipped}

    def _heldout_accuracy(self, state: dict[str, Any], results: Sequence[Result],
                          cleaned: list[float]) -> tuple[float, int, float] | None:
        """The current predictor's pair accuracy on the new results (unseen in training), its pairs, seconds."""
        if self.config.heldout_pairs == 0 or len(results) < 2:
            return None
        if not self._learned or state["fit_at"] is None:
            return None
        start = time.perf_counter()
        predictor = self._predictor(state)
        rng = np.random.default_rng([state["seed"], state["told"], 11])
        accuracy, pairs = guide.pair_accuracy(predictor, [r.program for r in results], cleaned, rng,
                                              self.config.heldout_pairs)
        if not pairs or math.isnan(accuracy):
            return None
        return accuracy, pairs, time.perf_counter() - start


def _lineage(entries: list[list]) -> list[tuple[int, int]]:
    """``(child, parent)`` index pairs among archive entries (``[id, json, fitness, parent_id]``)."""
    row = {e[0]: k for k, e in enumerate(entries)}
    return [(k, row[e[3]]) for k, e in enumerate(entries) if len(e) > 3 and e[3] in row]


def make_guided(space: SearchSpace, config: GuidedConfig, fitness_floor: float = 0.0,
                fresh: FreshProgram | None = None, fingerprint: Fingerprint | None = None,
                inputs: Mapping[str, np.ndarray] | None = None) -> GuidedEvolution:
    return GuidedEvolution(space, config, fitness_floor, fresh=fresh, fingerprint=fingerprint, inputs=inputs)


register("guided", GuidedConfig, make_guided, uses_fingerprint=True)
