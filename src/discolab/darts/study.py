"""The two phases of an RL-DARTS study, each resumable from its store.

``search``: PPO trains the actor-critic whose encoder is the supernet; the
architecture weights (flax collection ``"arch"``) and the network weights are
updated by the same RL loss with their own optimizers (``optax.multi_transform``
keyed on the collection), jointly on every minibatch or in turn. The softmax of
every alpha is recorded after every PPO update. ``seeds`` supernets train in
one vmapped call; the state is checkpointed every ``checkpoint_updates``.

``retrain``: the final alphas of every supernet are discretized (top-2
incoming edges per node, strongest non-zero op) and the fixed cell is trained
from scratch on ``retrain.seeds`` fresh seeds; the hand-designed encoder and
``random_cells`` random cells of the same space train on the SAME seeds, at the
same budget, so the arms are paired. One arm is one vmapped call and one
stored transaction.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

from discolab.darts.config import DartsConfig
from discolab.darts.encoders import ImpalaSmall
from discolab.darts.fixed import FixedCellEncoder
from discolab.darts.genotype import Genotype, discretize, random_genotype
from discolab.darts.store import ArmRecord, DartsStore, Segment
from discolab.darts.supernet import SupernetEncoder
from discolab.rl import envs
from discolab.rl.networks import ActorCritic
from discolab.rl.ppo import PPOConfig, default_tx, final_return, make_ppo

__all__ = [
    "ArmSpec", "SearchProgress", "arch_softmax", "arms_of", "final_genotypes", "make_search_tx", "retrain",
    "search", "search_network", "train_arm",
]

#: Called after each stored segment with (updates done, total updates, segment).
SegmentCallback = Callable[[int, int, Segment], None]
#: Called after each stored arm.
ArmCallback = Callable[[ArmRecord, int, int], None]
_CURVE_POINTS = 100


class SearchProgress(NamedTuple):
    updates_done: int
    total_updates: int
    genotypes: list[Genotype]


class ArmSpec(NamedTuple):
    """One retrain arm: a name, its kind (darts, baseline, random) and its cell (None for the baseline)."""

    name: str
    kind: str
    genotype: Genotype | None


# -- the supernet phase -----------------------------------------------------------------
def search_network(cfg: DartsConfig, num_actions: int) -> nn.Module:
    s = cfg.search
    encoder = SupernetEncoder(op_set=s.op_set, channels=s.channels, nodes=s.nodes, layout=s.layout,
                              temperature=s.temperature)
    return ActorCritic(encoder=encoder, num_actions=num_actions)


def _in_turn(tx: optax.GradientTransformation, phase: int) -> optax.GradientTransformation:
    """``tx`` on every other step (``step % 2 == phase``), zero updates and a frozen state otherwise."""

    def init(params):
        return (jnp.zeros((), jnp.int32), tx.init(params))

    def update(updates, state, params=None):
        count, inner = state
        stepped, new_inner = tx.update(updates, inner, params)
        active = count % 2 == phase
        pick = functools.partial(jax.tree.map, lambda a, b: jnp.where(active, a, b))
        out = pick(stepped, jax.tree.map(jnp.zeros_like, stepped))
        return out, (count + 1, pick(new_inner, inner))

    return optax.GradientTransformation(init, update)


def make_search_tx(cfg: DartsConfig, ppo_cfg: PPOConfig) -> optax.GradientTransformation:
    """Weights: PPO's own optimizer; alphas: Adam(arch_lr, b1=0.5) as in DARTS; joint or in turn."""
    weights = default_tx(ppo_cfg)
    arch = optax.adam(cfg.search.arch_lr, b1=0.5, b2=0.999)
    if cfg.search.arch_updates == "alternate":
        weights, arch = _in_turn(weights, 0), _in_turn(arch, 1)

    def labels(variables):
        return {c: jax.tree.map(lambda _, c=c: "arch" if c == "arch" else "weights", sub)
                for c, sub in variables.items()}

    return optax.multi_transform({"weights": weights, "arch": arch}, labels)


def _alpha_leaves(variables: Any) -> dict[str, jax.Array]:
    """``{"normal": alpha, "reduce": alpha}`` from the variables (wherever the encoder sits)."""
    flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(variables["arch"]))
    found = {}
    for path, leaf in flat.items():
        for kind in ("normal", "reduce"):
            if path[-1] == f"alpha_{kind}":
                found[kind] = leaf
    return found


def arch_softmax(variables: Any, temperature: float) -> dict[str, jax.Array]:
    """The mixing weights softmax(alpha / T) of both cell types (what the study records)."""
    return {k: jax.nn.softmax(a / temperature, axis=-1) for k, a in _alpha_leaves(variables).items()}


@functools.lru_cache(maxsize=8)
def _search_ppo(cfg: DartsConfig):
    env, env_params = envs.make(cfg.env)
    ppo_cfg = cfg.ppo.to_ppo()
    network = search_network(cfg, env.num_actions)
    track = functools.partial(arch_softmax, temperature=cfg.search.temperature)
    return make_ppo(env, env_params, network, ppo_cfg, tx=make_search_tx(cfg, ppo_cfg), track=track), ppo_cfg


def _search_keys(cfg: DartsConfig) -> jax.Array:
    return jnp.stack([jax.random.PRNGKey(cfg.search.seed + i) for i in range(cfg.search.seeds)])


def _to_lists(tree: Any) -> Any:
    return jax.tree.map(lambda a: np.asarray(a, np.float64).tolist(), tree)


def search(cfg: DartsConfig, store: DartsStore, on_segment: SegmentCallback | None = None) -> SearchProgress:
    """Trains the supernets to ``ppo.total_steps``, continuing from the store's checkpoint."""
    ppo, ppo_cfg = _search_ppo(cfg)
    total = ppo_cfg.num_updates
    state = jax.jit(jax.vmap(ppo.init))(_search_keys(cfg))
    done = 0
    stored = store.checkpoint()
    if stored is not None:
        done, blob = stored
        state = flax.serialization.from_bytes(state, blob)
    while done < total:
        n = min(cfg.search.checkpoint_updates, total - done)
        start = time.perf_counter()
        state, metrics = _segment_runner(cfg, n)(state)
        metrics = jax.device_get(metrics)
        seconds = time.perf_counter() - start
        done += n
        segment = Segment(done, n, seconds, _to_lists(metrics))
        store.add_segment(segment, flax.serialization.to_bytes(state))
        if on_segment is not None:
            on_segment(done, total, segment)
    return SearchProgress(done, total, final_genotypes(cfg, state.variables))


@functools.lru_cache(maxsize=16)
def _segment_runner(cfg: DartsConfig, num_updates: int) -> Callable:
    """One jitted segment per (config, length): a resumed search in the same process compiles nothing."""
    ppo, _ = _search_ppo(cfg)
    return jax.jit(jax.vmap(functools.partial(ppo.run, num_updates=num_updates)))


def final_genotypes(cfg: DartsConfig, variables: Any) -> list[Genotype]:
    """The discretized cell of every supernet (variables with a leading search-seed axis)."""
    alphas = _alpha_leaves(variables)
    s = cfg.search
    out = []
    for i in range(s.seeds):
        normal = np.asarray(alphas["normal"][i])
        reduce = np.asarray(alphas["reduce"][i]) if "reduce" in alphas else normal
        out.append(discretize(normal, reduce, s.op_set, s.nodes))
    return out


def stored_genotypes(cfg: DartsConfig, store: DartsStore) -> list[Genotype]:
    """The cells of a finished search, from the stored final state."""
    ppo, ppo_cfg = _search_ppo(cfg)
    stored = store.checkpoint()
    if stored is None or stored[0] < ppo_cfg.num_updates:
        done = 0 if stored is None else stored[0]
        raise ValueError(f"{store.path}: the supernet phase is not finished ({done}/{ppo_cfg.num_updates} "
                         "updates); run `discolab darts search` on its config first")
    template = jax.eval_shape(jax.vmap(ppo.init), _search_keys(cfg))
    template = jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), template)
    state = flax.serialization.from_bytes(template, stored[1])
    return final_genotypes(cfg, state.variables)


# -- the retrain phase ------------------------------------------------------------------
def arms_of(cfg: DartsConfig, darts_cells: list[Genotype]) -> list[ArmSpec]:
    """Every arm of the study, in training order: DARTS cells, the baseline, then the random cells."""
    arms = [ArmSpec(f"darts-{cfg.search.seed + i}", "darts", g) for i, g in enumerate(darts_cells)]
    if cfg.retrain.baseline:
        arms.append(ArmSpec("baseline", "baseline", None))
    rng = np.random.default_rng(cfg.retrain.random_seed)
    for i in range(cfg.retrain.random_cells):
        arms.append(ArmSpec(f"random-{i:03d}", "random", random_genotype(rng, cfg.search.op_set, cfg.search.nodes)))
    return arms


def arm_network(cfg: DartsConfig, arm: ArmSpec, num_actions: int) -> nn.Module:
    if arm.genotype is None:
        encoder = ImpalaSmall(channels=tuple(cfg.retrain.baseline_channels))
    else:
        encoder = FixedCellEncoder(genotype=arm.genotype, channels=cfg.search.channels, layout=cfg.search.layout)
    return ActorCritic(encoder=encoder, num_actions=num_actions)


def _downsample(curve: np.ndarray, points: int = _CURVE_POINTS) -> list[float]:
    """Mean returns over ``points`` equal stretches of updates (NaN-aware)."""
    chunks = np.array_split(curve, min(points, len(curve)))
    with np.errstate(all="ignore"):
        return [float(np.nanmean(c)) if np.isfinite(c).any() else float("nan") for c in chunks]


@functools.lru_cache(maxsize=8)
def _arm_ppo(cfg: DartsConfig, arm: ArmSpec):
    env, env_params = envs.make(cfg.env)
    network = arm_network(cfg, arm, env.num_actions)
    ppo = make_ppo(env, env_params, network, cfg.ppo.to_ppo(cfg.retrain_steps))
    return ppo, jax.jit(jax.vmap(ppo.init))


@functools.lru_cache(maxsize=16)
def _arm_segment(cfg: DartsConfig, arm: ArmSpec, num_updates: int) -> Callable:
    ppo, _ = _arm_ppo(cfg, arm)
    return jax.jit(jax.vmap(functools.partial(ppo.run, num_updates=num_updates)))


def train_arm(cfg: DartsConfig, arm: ArmSpec) -> ArmRecord:
    """Trains one arm on every retrain seed in one vmapped call per segment of updates.

    Segments of ``search.checkpoint_updates`` updates, as in the supernet
    phase (one whole-run call of ``vmap(ppo.train)`` wedged XLA:CPU here).
    ``compile_s`` is the first segment's time beyond a later one's.
    """
    count = cfg.retrain.random_seeds if arm.kind == "random" and cfg.retrain.random_seeds else cfg.retrain.seeds
    seeds = list(range(cfg.retrain.seed, cfg.retrain.seed + count))
    keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    ppo, init = _arm_ppo(cfg, arm)
    total = cfg.ppo.to_ppo(cfg.retrain_steps).num_updates
    start = time.perf_counter()
    state = init(keys)
    parts, times, done = [], [], 0
    while done < total:
        n = min(cfg.search.checkpoint_updates, total - done)
        tick = time.perf_counter()
        state, metrics = _arm_segment(cfg, arm, n)(state)
        parts.append(jax.device_get(metrics))
        times.append((n, time.perf_counter() - tick))
        done += n
    wall = time.perf_counter() - start
    per_update = [t / n for n, t in times[1:]] or [0.0]
    compile_s = max(0.0, times[0][1] - times[0][0] * float(np.median(per_update))) if len(times) > 1 else 0.0
    metrics = jax.tree.map(lambda *xs: np.concatenate(xs, axis=1), *parts)
    returns = np.asarray(metrics["return"])
    final = np.asarray(final_return(metrics))
    params = sum(int(np.prod(x.shape[1:])) for x in jax.tree.leaves(state.variables))
    return ArmRecord(
        name=arm.name, kind=arm.kind, genotype=None if arm.genotype is None else arm.genotype.to_json(),
        param_count=params, compile_s=compile_s, run_s=wall - compile_s, seeds=seeds,
        final_returns=[float(x) for x in final], curves=[_downsample(r) for r in returns],
    )


def retrain(cfg: DartsConfig, store: DartsStore, on_arm: ArmCallback | None = None) -> list[ArmRecord]:
    """Trains every arm not yet in the store; returns all stored arms."""
    arms = arms_of(cfg, stored_genotypes(cfg, store))
    have = store.arm_names()
    todo = [a for a in arms if a.name not in have]
    for i, arm in enumerate(todo):
        record = train_arm(cfg, arm)
        store.add_arm(record)
        if on_arm is not None:
            on_arm(record, i + 1, len(todo))
    return store.arms()


def open_study(path: str | Path, cfg: DartsConfig | None = None) -> tuple[DartsConfig, DartsStore]:
    """Opens (or, given ``cfg``, creates) a study; an existing one must hold the same config."""
    if cfg is None:
        store = DartsStore(path)
        return DartsConfig.model_validate_json(store.config()), store
    return cfg, DartsStore(path, cfg.model_dump_json())
