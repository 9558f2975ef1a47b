"""Guided evolution: config, screening by each predictor, metrics, and exact replay after a resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pydantic
import pytest

from discolab import search
from discolab.domains.regression import RegressionConfig, RegressionDomain
from discolab.graph import Program, is_valid, live_slots, mutate
from discolab.search import Result
from discolab.search import base as search_base
from discolab.search.guided import GuidedConfig, GuidedEvolution

#: The study test's domain; the other tests use its space, so one predictor engine compiles for all.
DOMAIN = {"name": "regression", "problem": "nguyen-1", "ops": ["add", "sub", "mul", "sin", "cos", "exp"],
          "constants": [1.0], "max_nodes": 10}
SPACE = RegressionDomain(RegressionConfig(**{k: v for k, v in DOMAIN.items() if k != "name"})).space
ROOT = Path(__file__).resolve().parents[2]
#: A small search whose predictor is fitted after two batches and refitted every batch.
SMALL = {
    "base": {"name": "regularized_evolution", "population_size": 16, "tournament_size": 4,
             "mutation_probability": 1.0},
    "min_archive": 24, "retrain_every": 12, "archive_size": 64, "hidden": 8, "heads": 2, "layers": 1,
    "train_steps": 30, "pair_batch": 16, "max_tries": 4, "fallback": "best",
}


def size(program: Program) -> float:
    return float(len(live_slots(program, SPACE)))


def guided(oracle=None, **overrides) -> GuidedEvolution:
    config = GuidedConfig.model_validate({**SMALL, **overrides})
    return GuidedEvolution(SPACE, config, fitness_floor=0.0, oracle=oracle)


def loop(searcher, state, rounds: int, batch: int = 12, start_id: int = 0, fitness=size):
    asked, metrics_seen, next_id = [], [], start_id
    for _ in range(rounds):
        proposals, state = searcher.ask(state, batch)
        asked.append([(p.program, p.parent_id) for p in proposals])
        results = [Result(next_id + k, p.program, fitness(p.program)) for k, p in enumerate(proposals)]
        next_id += len(results)
        state, metrics = searcher.tell(state, results)
        metrics_seen.append(metrics)
        json.dumps(state, allow_nan=False)  # strict JSON at every step
    return asked, metrics_seen, state


def test_registered_and_configured_from_a_study_table():
    assert "guided" in search.known()
    searcher = search.make("guided", SPACE, {"predictor": "regression", "base": {"name": "regularized_evolution",
                                                                                 "population_size": 10,
                                                                                 "tournament_size": 2}})
    assert isinstance(searcher, GuidedEvolution) and searcher.config.predictor == "regression"


@pytest.mark.parametrize(
    ("config", "pattern"),
    [
        ({"base": {"name": "annealing"}}, "unknown searcher 'annealing'"),
        ({"base": {"population_size": 5}}, "base searcher's name"),
        ({"base": {"name": "guided"}}, "cannot wrap itself"),
        ({"base": {"name": "regularized_evolution", "population_size": 4, "tournament_size": 9}}, "tournament_size"),
        ({"predictor": "gnn"}, "predictor"),
        ({"hidden": 30, "heads": 4}, "multiple of heads"),
        ({"min_archive": 500, "archive_size": 100}, "min_archive"),
        ({"max_trys": 3}, "max_trys"),
        ({"pick": "best", "max_accepted": 2}, "max_accepted must be 1"),
        ({"predictor": "nearest"}, "probes"),
        ({"predictor": "nearest", "probes": 8, "neighbours": 0}, "neighbours"),
    ],
)
def test_config_validation(config, pattern):
    with pytest.raises((pydantic.ValidationError, ValueError), match=pattern):
        search.make("guided", SPACE, config)


def test_the_oracle_needs_a_callable_that_no_config_can_give():
    with pytest.raises(ValueError, match="oracle callable"):
        search.make("guided", SPACE, {"predictor": "oracle"})


def test_state_survives_a_resume_with_the_predictor_active():
    searcher = guided()
    _, metrics, state = loop(searcher, searcher.init(0), rounds=4)
    assert state["fits"] >= 2 and "guide_heldout_accuracy" in metrics[-1]
    restored = json.loads(json.dumps(state))
    live, live_metrics, live_final = loop(searcher, state, rounds=3, start_id=100)
    # A new searcher object has no fitted predictor in memory: it refits from the state alone.
    resumed, resumed_metrics, resumed_final = loop(guided(), restored, rounds=3, start_id=100)
    assert live == resumed
    assert live_final == resumed_final
    drop = {"guide_seconds"}  # wall time differs; everything else replays exactly
    assert [{k: v for k, v in m.items() if k not in drop} for m in live_metrics] == \
        [{k: v for k, v in m.items() if k not in drop} for m in resumed_metrics]


def test_the_archive_records_each_childs_parent_and_a_resume_with_parent_pairs_replays():
    searcher = guided(parent_pairs=0.5)
    asked, _, state = loop(searcher, searcher.init(3), rounds=3)
    parent_of = {program.to_json(): parent for batch in asked for program, parent in batch}
    assert all(entry[3] == parent_of[entry[1]] for entry in state["archive"])
    assert sum(entry[3] is not None for entry in state["archive"]) > len(state["archive"]) // 2
    restored = json.loads(json.dumps(state))
    live, _, live_final = loop(searcher, state, rounds=2, start_id=36)
    resumed, _, resumed_final = loop(guided(parent_pairs=0.5), restored, rounds=2, start_id=36)
    assert live == resumed and live_final == resumed_final


def test_skip_drops_slots_with_no_accepted_child_and_replays_after_a_resume():
    searcher = guided(fallback="skip", max_tries=2)
    asked, metrics, state = loop(searcher, searcher.init(4), rounds=4)
    screened = [m for m in metrics if "guide_skip_rate" in m]
    assert screened and any(m["guide_skip_rate"] > 0 for m in screened)
    assert any(len(batch) < 12 for batch in asked)  # skipped slots are not proposed at all
    assert all(len(batch) >= 1 for batch in asked)
    # Every proposed child of a screened slot was accepted: rated above its parent.
    predictor = searcher._predictor(state)
    parents = {m[0]: Program.from_json(m[1]) for m in state["archive"]}
    proposals, _ = searcher.ask(state, 30)
    screened = [p for p in proposals if p.parent_id in parents]
    assert screened
    p_better = predictor.compare([p.program for p in screened], [parents[p.parent_id] for p in screened])
    assert (p_better > 0.5).all()
    restored = json.loads(json.dumps(state))
    live, _, live_final = loop(searcher, state, rounds=2, start_id=100)
    resumed, _, resumed_final = loop(guided(fallback="skip", max_tries=2), restored, rounds=2, start_id=100)
    assert live == resumed and live_final == resumed_final


def test_fill_replaces_skipped_slots_until_the_batch_is_full_and_replays_after_a_resume():
    searcher = guided(fallback="skip", max_tries=3, fill=True)
    asked, metrics, state = loop(searcher, searcher.init(4), rounds=4)
    assert any(m.get("guide_skip_rate", 0) > 0 for m in metrics)  # slots were skipped ...
    assert all(len(batch) == 12 for batch in asked)  # ... and replaced
    restored = json.loads(json.dumps(state))
    live, _, live_final = loop(searcher, state, rounds=2, start_id=100)
    resumed, _, resumed_final = loop(guided(fallback="skip", max_tries=3, fill=True), restored, rounds=2,
                                     start_id=100)
    assert live == resumed and live_final == resumed_final


def test_fill_rounds_bound_the_refills():
    def sizes(rounds: int) -> list[int]:
        searcher = guided(fallback="skip", max_tries=2, fill=True, fill_rounds=rounds)
        asked, _, _ = loop(searcher, searcher.init(4), rounds=4)
        return [len(batch) for batch in asked]

    assert min(sizes(1)) < 12  # one round: the skipped slots stay empty
    assert sizes(8) == [12] * 4


def test_the_oracle_with_skip_proposes_no_child_worse_than_its_parent():
    calls = []

    def oracle(programs):
        calls.append(len(programs))
        return [size(p) for p in programs]

    searcher = guided(oracle=oracle, predictor="oracle", fallback="skip", max_tries=3)
    state = searcher.init(5)
    _, _, state = loop(searcher, state, rounds=2)
    parents = {m[0]: m[2] for m in state["archive"]}
    proposals, _ = searcher.ask(state, 40)
    screened = [p for p in proposals if p.parent_id in parents]
    assert calls and screened
    assert all(size(p.program) > parents[p.parent_id] for p in screened)


def test_children_are_screened_and_metrics_report_it():
    searcher = guided()
    asked, metrics, state = loop(searcher, searcher.init(1), rounds=6)
    screened = [m for m in metrics if "guide_rejection_rate" in m]
    assert len(screened) >= 3
    for m in screened:
        assert 0.0 <= m["guide_rejection_rate"] <= 1.0 and math.isfinite(m["guide_seconds"])
        assert 0.0 <= m["guide_heldout_accuracy"] <= 1.0
    assert all(is_valid(program, SPACE) for batch in asked for program, _ in batch)
    # Only what the next fit and parent lookups need stays in the state.
    assert len(state["archive"]) <= 2 * SMALL["archive_size"]


def test_screened_children_beat_unscreened_ones_on_a_learned_ordering():
    # Fitness is the live size. From the same state, the base searcher's own children (what plain
    # evolution would evaluate) against the screened ones: the screen should pass bigger children.
    searcher = guided(max_tries=6)
    _, metrics, state = loop(searcher, searcher.init(2), rounds=3)
    assert state["fit_at"] is not None
    parents = {m[0]: size(Program.from_json(m[1])) for m in state["archive"]}
    plain, _ = searcher.base.ask(state["base"], 60)
    screened, _ = searcher.ask(state, 60)
    gain = lambda proposals: np.mean([size(p.program) - parents[p.parent_id] for p in proposals])  # noqa: E731
    assert all(p.parent_id in parents for p in plain)
    assert [p.parent_id for p in plain] == [p.parent_id for p in screened]  # same parents, other children
    assert gain(screened) > gain(plain) + 0.3, (gain(screened), gain(plain))  # 0.43-0.88 over seeds 2-7


def test_picking_the_best_rated_of_all_tries_passes_bigger_children_than_the_first_accepted():
    # Same state, same tournament winners: the best-rated accepted child of 6 candidates should beat
    # the first accepted one on the learned ordering (live size). Slots with no accepted child are
    # dropped (skip), so both sides propose only accepted children.
    # The pick alone: without skip_known, whose in-ask dedupe moves slots that share a parent
    # off the candidate rated highest, in both arms.
    first = guided(max_tries=6, fallback="skip", skip_known=False)
    _, _, state = loop(first, first.init(2), rounds=3)
    parents = {m[0]: size(Program.from_json(m[1])) for m in state["archive"]}
    gain = lambda proposals: np.mean([size(p.program) - parents[p.parent_id] for p in proposals])  # noqa: E731
    by_first, _ = first.ask(state, 60)
    by_best, _ = guided(max_tries=6, fallback="skip", pick="best", skip_known=False).ask(state, 60)
    assert by_first and by_best
    assert gain(by_best) > gain(by_first) + 0.1, (gain(by_best), gain(by_first))


def test_the_oracle_proposes_only_children_at_least_as_good_when_one_exists():
    calls = []

    def oracle(programs):
        calls.append(len(programs))
        return [size(p) for p in programs]

    searcher = guided(oracle=oracle, predictor="oracle", max_tries=8)
    asked, metrics, state = loop(searcher, searcher.init(3), rounds=5)
    assert calls  # screening from the first batch with parents: nothing to fit
    screened = [m for m in metrics if "guide_child_beats_parent" in m]
    assert len(screened) >= 3
    # Only children the oracle found better are proposed, unless no candidate was (a fallback).
    for m in screened:
        assert m["guide_child_beats_parent"] >= 1.0 - m["guide_fallback_rate"] - 1e-9, m
    assert screened[0]["guide_child_beats_parent"] > 0.5  # before the population tops out at max_nodes
    assert "guide_heldout_accuracy" not in metrics[-1]  # nothing learned, nothing to score


def test_with_the_studys_fingerprint_no_screened_child_repeats_a_known_function():
    # x * 1, x + x - x and x are one function: the study would dedupe them, and in a domain that
    # trains a padded batch their slot would be paid for and wasted.
    from discolab.graph import fingerprints

    domain = RegressionDomain(RegressionConfig(**{k: v for k, v in DOMAIN.items() if k != "name"}))
    inputs = domain.fingerprint_inputs()
    fingerprint = lambda programs: fingerprints(programs, SPACE, inputs)  # noqa: E731

    def duplicated(fingerprint_or_none) -> tuple[int, int]:
        searcher = GuidedEvolution(SPACE, GuidedConfig.model_validate({**SMALL, "predictor": "random",
                                                                       "fallback": "skip", "max_tries": 8}),
                                   oracle=None, fingerprint=fingerprint_or_none)
        _, _, state = loop(searcher, searcher.init(6), rounds=4)
        known = set(fingerprint([Program.from_json(m[1]) for m in state["archive"]]))
        parents = {m[0]: Program.from_json(m[1]) for m in state["archive"]}
        proposals, _ = searcher.ask(state, 60)
        screened = [p for p in proposals if p.parent_id in parents]
        twins = [p for p in screened if fingerprint([p.program])[0] in known
                 or fingerprint([p.program]) == fingerprint([parents[p.parent_id]])]
        functions = fingerprint([p.program for p in screened])
        return len(twins) + len(functions) - len(set(functions)), len(screened)  # + repeats within the ask

    twins, screened = duplicated(fingerprint)
    assert screened > 20 and twins == 0
    twins_without, _ = duplicated(None)
    assert twins_without > 0  # structure alone lets functional twins through


def test_fresh_programs_repeating_a_told_function_are_drawn_again():
    # Random programs of a small space often repeat one another ("x0", "x0 * 1"), and the study
    # would dedupe them after their slot of a padded batch was paid for.
    from discolab.graph import fingerprints

    domain = RegressionDomain(RegressionConfig(**{k: v for k, v in DOMAIN.items() if k != "name"}))
    inputs = domain.fingerprint_inputs()
    fingerprint = lambda programs: fingerprints(programs, SPACE, inputs)  # noqa: E731
    config = {**SMALL, "predictor": "random", "base": {**SMALL["base"], "mutation_probability": 0.5}}
    searcher = GuidedEvolution(SPACE, GuidedConfig.model_validate(config), fingerprint=fingerprint)
    asked, metrics, _ = loop(searcher, searcher.init(9), rounds=6)
    told: set[str] = set()
    fresh = 0
    for batch in asked:
        functions = fingerprint([program for program, _ in batch])
        for (program, parent), function in zip(batch, functions):
            fresh += parent is None
            assert parent is not None or function not in told
        told.update(functions)
    assert fresh > 20 and sum(m.get("guide_fresh_repeats", 0) for m in metrics) > 0


def test_the_fingerprint_cache_starting_over_changes_nothing(monkeypatch):
    from discolab.graph import fingerprints
    from discolab.search import repeats as repeats_module

    domain = RegressionDomain(RegressionConfig(**{k: v for k, v in DOMAIN.items() if k != "name"}))
    inputs = domain.fingerprint_inputs()

    def run() -> list:
        searcher = GuidedEvolution(SPACE, GuidedConfig.model_validate({**SMALL, "predictor": "random"}),
                                   fingerprint=lambda programs: fingerprints(programs, SPACE, inputs))
        asked, _, _ = loop(searcher, searcher.init(8), rounds=4)
        return asked

    roomy = run()
    monkeypatch.setattr(repeats_module, "FINGERPRINT_CACHE", 30)
    assert run() == roomy


def test_only_searchers_that_ask_for_it_get_the_fingerprint():
    assert search_base.entry("guided").uses_fingerprint
    assert not search_base.entry("regularized_evolution").uses_fingerprint
    searcher = search.make("regularized_evolution", SPACE, {"population_size": 4, "tournament_size": 2},
                           fingerprint=lambda programs: ["f"] * len(programs))
    assert searcher.ask(searcher.init(0), 3)[0]
    assert search.make("guided", SPACE, SMALL, fingerprint=len).fingerprint is len


def outputs_near_sin(program: Program) -> float:
    """A functional fitness: how nearly the program's output points the way sin(x) does on [-2, 2]."""
    x = np.linspace(-2.0, 2.0, 16)
    from discolab.guide.nearest import directions
    target = np.sin(x) / np.linalg.norm(np.sin(x))
    return float(directions(SPACE, [program], x[None, :])[0] @ target)


def test_the_nearest_look_up_screens_from_its_first_fit_and_replays_after_a_resume():
    # The study passes its fingerprint inputs; here, points of our own. No training: a fit is a look-up table.
    inputs = {"x0": np.linspace(-2.0, 2.0, 16)}
    make = lambda: GuidedEvolution(SPACE, GuidedConfig.model_validate(  # noqa: E731
        {**SMALL, "predictor": "nearest", "probes": 16, "max_tries": 6}), inputs=inputs)
    searcher = make()
    _, metrics, state = loop(searcher, searcher.init(4), rounds=4, fitness=outputs_near_sin)
    assert state["fits"] >= 2 and "guide_heldout_accuracy" in metrics[-1] and "guide_train_loss" not in metrics[-1]
    parents = {m[0]: outputs_near_sin(Program.from_json(m[1])) for m in state["archive"]}
    plain, _ = searcher.base.ask(state["base"], 60)
    screened, _ = searcher.ask(state, 60)
    gain = lambda proposals: np.mean([outputs_near_sin(p.program) - parents[p.parent_id]  # noqa: E731
                                      for p in proposals])
    assert gain(screened) > gain(plain) + 0.1, (gain(screened), gain(plain))  # 0.07-0.29 over seeds 3-7
    restored = json.loads(json.dumps(state))
    live = loop(searcher, state, rounds=2, start_id=100, fitness=outputs_near_sin)
    resumed = loop(make(), restored, rounds=2, start_id=100, fitness=outputs_near_sin)
    drop = {"guide_seconds"}
    assert live[0] == resumed[0] and live[2] == resumed[2]
    assert [{k: v for k, v in m.items() if k not in drop} for m in live[1]] == \
        [{k: v for k, v in m.items() if k not in drop} for m in resumed[1]]


def test_the_random_predictor_rejects_about_half():
    searcher = guided(predictor="random", max_tries=1)
    _, metrics, _ = loop(searcher, searcher.init(4), rounds=6, batch=40)
    rates = [m["guide_rejection_rate"] for m in metrics if "guide_rejection_rate" in m]
    assert rates and 0.3 < np.mean(rates) < 0.7


def test_a_study_killed_and_resumed_asks_what_an_uninterrupted_one_asks(tmp_path):
    from discolab.study import Store, create_study, run_study
    from discolab.study.config import parse_config

    config = parse_config({
        "study": {"name": "guided", "seed": 0, "evaluations": 100, "batch_size": 20},
        "domain": DOMAIN,
        "searcher": {"name": "guided", **SMALL, "min_archive": 30, "retrain_every": 30},
    })

    def rows(path):
        with Store.open(path, readonly=True) as store:
            return [(r.id, r.program.to_json(), r.parent_id, r.duplicate_of, r.fitness) for r in store.rows()], \
                [{k: v for k, v in b.metrics.items() if k != "guide_seconds"} for b in store.batches()]

    interrupted, whole = tmp_path / "interrupted.db", tmp_path / "whole.db"
    create_study(interrupted, config)
    run_study(interrupted, max_batches=3)  # the searcher object, and its fitted predictor, die here
    run_study(interrupted)
    create_study(whole, config)
    run_study(whole)
    a, b = rows(interrupted), rows(whole)
    assert a == b
    assert any("guide_heldout_accuracy" in m for m in a[1])


@pytest.mark.parametrize("name", ["guided_nguyen.toml", "guided_dqn.toml", "guided_optimizer.toml"])
def test_the_examples_are_valid_guided_configs(name):
    from discolab.study.config import load_config

    config = load_config(ROOT / "examples" / name)
    assert config.searcher.name == "guided"
    assert config.searcher_config().predictor == "binary"


def test_a_look_up_on_a_composite_space_is_a_config_error_and_nothing_is_stored(tmp_path):
    import tomllib

    from discolab.study import create_study
    from discolab.study.config import ConfigError, parse_config

    raw = tomllib.loads((ROOT / "examples" / "metapg_pendulum_small.toml").read_text())
    raw["searcher"] = {"name": "guided", "base": {"name": "regularized_evolution", "population_size": 8,
                                                    "tournament_size": 2},
                       "predictor": "nearest", "probes": 8}
    path = tmp_path / "metapg.db"
    with pytest.raises(ConfigError, match="searcher 'guided' on domain 'actor_critic': predictor 'nearest'"):
        create_study(path, parse_config(raw))
    assert not path.exists()


def test_the_look_up_screens_dqn_losses_at_the_study_fingerprint_inputs():
    # Q-value lists and actions: the look-up runs the jitted interpreter at the domain's fingerprint inputs.
    import tomllib

    from discolab.guide.nearest import directions
    from discolab.study.config import parse_config

    domain = parse_config(tomllib.loads((ROOT / "examples" / "guided_dqn.toml").read_text())).make_domain()
    inputs = domain.fingerprint_inputs()
    points = {k: np.asarray(v) for k, v in inputs.items()}
    chosen = np.take_along_axis(points["q_tm1"], points["a_tm1"].astype(int)[:, None], axis=1)[:, 0]
    td = (points["r_t"] + points["discount_t"] * points["q_t_target"].max(axis=1) - chosen) ** 2
    td = td / np.linalg.norm(td)

    def near_td(program: Program) -> float:  # a functional fitness: how nearly it computes the squared TD error
        return float(directions(domain.space, [program], points)[0] @ td)

    searcher = GuidedEvolution(domain.space, GuidedConfig.model_validate(
        {**SMALL, "predictor": "nearest", "probes": 10, "max_tries": 8}), fresh=domain.random_program,
        inputs=inputs)
    _, metrics, state = loop(searcher, searcher.init(0), rounds=4, fitness=near_td)
    assert state["fits"] >= 2 and "guide_heldout_accuracy" in metrics[-1]
    parents = {m[0]: near_td(Program.from_json(m[1])) for m in state["archive"]}
    plain, _ = searcher.base.ask(state["base"], 60)
    screened, _ = searcher.ask(state, 60)
    gain = lambda proposals: np.mean([near_td(p.program) - parents[p.parent_id]  # noqa: E731
                                      for p in proposals if p.parent_id is not None])
    assert gain(screened) > gain(plain) + 0.05, (gain(screened), gain(plain))  # 0.18 here; 0.01-0.20, seeds 0-4


def test_a_threshold_just_under_one_half_lets_the_look_up_pass_ties_so_its_best_program_has_children():
    # With one neighbour the look-up predicts no child above the best program it was fitted on, so in
    # the skip design that program's slots are always dropped. A child nearest to its own parent is
    # predicted to tie it (exactly one half), and a threshold just under one half lets it through.
    inputs = {"x0": np.linspace(-2.0, 2.0, 16)}

    def make(threshold: float) -> GuidedEvolution:
        config = {**SMALL, "predictor": "nearest", "probes": 16, "nearness": "value", "fallback": "skip",
                  "max_tries": 8, "accept_threshold": threshold}
        return GuidedEvolution(SPACE, GuidedConfig.model_validate(config), inputs=inputs)

    strict, ties = make(0.5), make(0.4999)
    _, _, state = loop(strict, strict.init(4), rounds=4, fitness=outputs_near_sin)
    _, best_json, best_fitness, _ = max(strict._training_set(state), key=lambda entry: entry[2])
    best = Program.from_json(best_json)
    predictor = strict._predictor(state)
    rng = np.random.default_rng(0)
    children = [mutate(best, SPACE, rng) for _ in range(20)]

    def accepted(searcher: GuidedEvolution) -> list[Program]:
        chosen, ok, _ = searcher._screen([best] * 20, [best_fitness] * 20, children, predictor,
                                         np.random.default_rng(1), None)
        return [child for child, kept in zip(chosen, ok) if kept]

    assert accepted(strict) == []
    passed = accepted(ties)
    assert passed, "no child of the best program was predicted to tie it"
    assert (predictor.compare(passed, [best] * len(passed)) == 0.5).all()
