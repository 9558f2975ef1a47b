"""The ``dqn_loss`` domain: search DQN-style losses (Evolving RL, PAPERS.md section 1).

A candidate is a loss program over the DQN trainer's loss inputs
(``discolab.rl.dqn.LOSS_INPUTS``): four Q-value lists ``q_tm1 = Q(theta, s_t)``,
``q_t_target = Q(theta', s_{t+1})``, ``q_t_online = Q(theta, s_{t+1})``,
``q_tm1_target = Q(theta', s_t)`` (LIST, ``[B, A]``), the action ``a_tm1``
(ACTION) and ``r_t``, ``discount_t`` (FLOAT, ``discount_t = gamma * (1 -
terminated)``). The program's output is the per-sample loss ``[B]``; the
trainer minimizes its mean. A loss must read ``q_tm1`` or ``q_t_online`` (the
inputs that depend on theta); one that does not is invalid. So is one that
reads them but whose gradient in them is exactly zero on two fixed input
sets (``q_t_online - q_t_online``, a path through ``argmax_a`` only): it
cannot change theta. The programs of a batch share their training keys, so
in a batch whose keys give the untrained network a good policy every such
"do nothing" loss scores well (``gradient_check``, on by default;
docs/reproductions.md, reproduction (a)).

Evaluation trains a DQN agent per program and seed with the interpreted
program as its loss. All programs of a batch (padded to ``program_batch``)
times all seeds train in ONE jitted call per environment; the compiled
function is built once per environment and domain instance, so a search
compiles once per environment and a new batch never recompiles.
Programs are encoded without their dead nodes, and the interpreter (see
``discolab.graph.interpret``) runs only as many nodes as the batch's longest
program, with its own reverse pass (docs/interpreter.md measures it).

Fitness: per environment, the mean over seeds of the normalized return of the
last training episodes, ``clip((R - r_min) / (r_max - r_min), 0, 1)`` (the
env table in ``discolab.rl.envs``), summed over ``train_envs``. Stages: first
the hurdle environment alone (CartPole, threshold 0.6 as in the paper), then
the other training environments for the programs that pass; the second
stage's fitness is cumulative (the hurdle's score included). A run whose loss
or gradient was ever non-finite gets status ``non_finite`` at the floor 0.0.

Modes: ``scratch`` draws random programs from the whole space; ``bootstrap``
starts every random program from DQN plus random nodes
(:func:`discolab.domains.dqn_programs.bootstrap_program`). The domain offers
both as :meth:`DQNLossDomain.random_program` and
:meth:`DQNLossDomain.initial_programs`; a searcher uses them once the study
hands them over (see the method docstrings).

Example:
    >>> domain = DQNLossDomain(DQNLossConfig(train_envs=("CartPole-v0",), max_nodes=12))
    >>> [s.name for s in domain.stages()], domain.fitness_floor
    (['CartPole-v0'], 0.0)
    >>> sorted(domain.named_programs)
    ['double_dqn', 'dqn', 'dqn_clipped', 'dqn_reg']
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
import zlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import pydantic
from pydantic import Field

from discolab.domains import dqn_programs
from discolab.domains.base import Evaluation, Stage, Status, check_op_names
from discolab.domains.registry import register
from discolab.graph import EncodedPrograms, Program, SearchSpace, ValueType, encode, random_inputs, random_program
from discolab.domains.dqn_runner import gradient_check, make_runner
from discolab.graph.program import is_valid

if TYPE_CHECKING:  # discolab.rl (gymnax, flax, optax) is imported lazily: about 3 s
    from discolab.rl import DQNConfig, Metrics

__all__ = [
    "DEFAULT_CONSTANTS", "DEFAULT_OPS", "DQNLossConfig", "DQNLossDomain", "EnvScores", "LOSS_INPUT_TYPES",
    "NAMED_PROGRAMS", "THETA_INPUTS", "make_runner", "make_space",
]

F, L, A = ValueType.FLOAT, ValueType.LIST, ValueType.ACTION

#: The program inputs: ``discolab.rl.dqn.LOSS_INPUTS`` in order, with their types (a test checks the names).
LOSS_INPUT_TYPES: tuple[tuple[str, ValueType], ...] = (
    ("q_tm1", L), ("q_t_target", L), ("q_t_online", L), ("q_tm1_target", L), ("a_tm1", A), ("r_t", F),
    ("discount_t", F),
)
#: The inputs that depend on theta: a loss must read one of them.
THETA_INPUTS = ("q_tm1", "q_t_online")
#: The op set of the public code (PAPERS.md section 1) without its random ops (no key in the interpreter).
DEFAULT_OPS: tuple[str, ...] = (
    "add", "sub", "mul", "div", "max", "min", "abs", "log", "exp", "square", "distance", "scale_0.1",
    "list_add", "list_sub", "list_max", "list_min", "list_add_float", "list_sub_float", "list_mul_float",
    "list_max_float", "max_a", "sum_a", "mean_a", "std_a", "logsumexp_a", "argmax_a", "select", "softmax", "kl",
    "entropy", "batch_mean", "batch_std",
)
DEFAULT_CONSTANTS: tuple[float, ...] = (0.5, 0.2, 0.1, 0.01)
#: Fingerprint inputs: 10 samples, floats uniform in [-100, 100], 4 actions (the paper's check).
FINGERPRINT_SEED = 20210401
FINGERPRINT_SAMPLES = 10
FINGERPRINT_ACTIONS = 4
#: The gradient check's second input set: the scale of Q-values at initialization (the first is the fingerprint's).
GRADIENT_CHECK_SCALE = 2.0
#: Programs per compiled gradient-check call (batches pad to it: one compile per space).
GRADIENT_CHECK_CHUNK = 64
#: DQNConfig fields the domain sets itself (per environment or at the top level of its config).
_OWN_DQN_FIELDS = ("env_id", "total_steps", "hidden")

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


def make_space(
    ops: Sequence[str] = DEFAULT_OPS, constants: Sequence[float] = DEFAULT_CONSTANTS, max_nodes: int = 20
) -> SearchSpace:
    """The paper's typed space over the DQN loss inputs; the loss must read ``q_tm1`` or ``q_t_online``.

    >>> space = make_space()
    >>> space.n_fixed, space.output_type.value, space.required_inputs
    (11, 'float', ('q_tm1', 'q_t_online'))
    """
    return SearchSpace(
        inputs=LOSS_INPUT_TYPES, ops=tuple(ops), constants=tuple(constants), max_nodes=max_nodes,
        required_inputs=THETA_INPUTS,
    )


#: DQN, Double DQN, DQNReg and DQNClipped in the default space.
NAMED_PROGRAMS: dict[str, Program] = dqn_programs.named_programs(make_space())


def _rl() -> Any:
    from discolab import rl

    return rl


class DQNLossConfig(pydantic.BaseModel, frozen=True, extra="forbid"):
    """Config of the ``dqn_loss`` domain (a ``[domain]`` section of a study).

    The DQN settings default to the paper's (256x256 MLP, Adam 1e-4, batch 32,
    target update every 100 updates; see ``discolab.rl.DQNConfig``) and the
    budgets to the env table's ``train_steps``: a CPU search sets smaller ones.
    """

    mode: Literal["scratch", "bootstrap"] = Field(
        "scratch", description="'scratch': random programs from the whole space; 'bootstrap': DQN plus random nodes."
    )
    train_envs: tuple[str, ...] = Field(
        ("CartPole-v0", "Acrobot-v1"), min_length=1,
        description="Training environments (discolab.rl.envs); fitness sums their normalized returns.",
    )
    hurdle_env: str | None = Field(
        "CartPole-v0", description="Environment trained first, alone; one of train_envs. None: no hurdle."
    )
    hurdle_threshold: float = Field(
        0.6, ge=0.0, le=1.0, description="Normalized return on hurdle_env needed to train on the other envs."
    )
    seeds: int = Field(1, ge=1, le=1024, description="Training seeds per program and env; scores are seed means.")
    total_steps: int | None = Field(
        None, gt=0, description="Env transitions per agent on every env; None: each env's train_steps."
    )
    env_steps: dict[str, int] = Field(
        default_factory=dict, description="Per-env budgets in transitions, overriding total_steps for those envs."
    )
    hidden: tuple[int, ...] = Field(
        (256, 256), min_length=1, description="Widths of the Q-network's hidden ReLU layers."
    )
    dqn: dict[str, Any] = Field(
        default_factory=dict,
        description="Other discolab.rl.DQNConfig settings (learning_rate, num_envs, buffer_size, ...) for every env.",
    )
    program_batch: int = Field(
        16, ge=1, le=4096,
        description="Programs per compiled training call; batches pad to it (one compile per env and search).",
    )
    ops: tuple[str, ...] = Field(DEFAULT_OPS, min_length=1, description="Ops a loss may use (discolab.graph.ops).")
    constants: tuple[FiniteFloat, ...] = Field(
        DEFAULT_CONSTANTS, max_length=64, description="FLOAT constants a loss may read."
    )
    max_nodes: int = Field(20, ge=1, le=256, description="Most op nodes in a loss (the paper: 20).")
    gradient_check: bool = Field(
        True, description="Invalidate, untrained, a loss whose gradient in Q(theta, .) is zero on the check inputs.",
    )

    @pydantic.field_validator("train_envs")
    @classmethod
    def _known_envs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        rl = _rl()
        for name in value:
            rl.envs.spec(name)  # ValueError listing the known environments
        if len(set(value)) != len(value):
            raise ValueError(f"train_envs repeat a name: {list(value)}")
        return value

    @pydantic.field_validator("ops")
    @classmethod
    def _known_ops(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        check_op_names(value)
        return value

    @pydantic.field_validator("dqn")
    @classmethod
    def _dqn_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        fields = set(_rl().DQNConfig.model_fields)
        for key in value:
            if key in _OWN_DQN_FIELDS:
                raise ValueError(f"dqn.{key} is set by the domain; use train_envs, total_steps/env_steps or hidden")
            if key not in fields:
                known = sorted(fields - set(_OWN_DQN_FIELDS))
                raise ValueError(f"unknown DQN setting {key!r}; known: {known}")
        return value

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> DQNLossConfig:
        if self.hurdle_env is not None and self.hurdle_env not in self.train_envs:
            raise ValueError(f"hurdle_env {self.hurdle_env!r} is not one of train_envs {list(self.train_envs)}")
        stray = sorted(set(self.env_steps) - set(self.train_envs))
        if stray:
            raise ValueError(f"env_steps names envs outside train_envs: {stray}")
        if any(v <= 0 for v in self.env_steps.values()):
            raise ValueError("env_steps must be positive")
        try:
            space = self.space()
        except ValueError as err:
            raise ValueError(str(err)) from None
        if self.mode == "bootstrap" and "dqn" not in dqn_programs.named_programs(space):
            raise ValueError("mode 'bootstrap' needs DQN in the space: ops select, max_a, mul, add, distance and "
                             f"max_nodes >= {len(NAMED_PROGRAMS['dqn'])}")
        for env_id in self.train_envs:
            self.dqn_config(env_id)  # buffer, budget and schedule checks of DQNConfig
        return self

    def space(self) -> SearchSpace:
        """The search space this config describes."""
        return make_space(self.ops, self.constants, self.max_nodes)

    def steps(self, env_id: str) -> int | None:
        """The budget of ``env_id``: env_steps, else total_steps, else None (the env table's)."""
        return self.env_steps.get(env_id, self.total_steps)

    def dqn_config(self, env_id: str) -> DQNConfig:
        """The trainer's settings on ``env_id`` (a training env or any other registered one)."""
        return _rl().DQNConfig(env_id=env_id, total_steps=self.steps(env_id), hidden=self.hidden, **self.dqn)


@dataclasses.dataclass(frozen=True)
class EnvScores:
    """Scores of ``n`` programs trained on one environment (each field ``[n]``, seed means).

    Attributes:
      env_id: the environment.
      normalized: mean over seeds of the normalized return of the last episodes.
      final_return: mean over seeds of the raw return (NaN: no episode finished).
      q_mean: mean over seeds of the last logged batch-mean ``max_a Q(theta, s_t)`` (NaN: no update).
      finite: every seed's losses and gradients were finite.
      nonfinite_updates: updates skipped for non-finite values, summed over seeds.
      per_seed: the normalized return of each seed ``[n, seeds]``.
    """

    env_id: str
    normalized: np.ndarray
    final_return: np.ndarray
    q_mean: np.ndarray
    finite: np.ndarray
    nonfinite_updates: np.ndarray
    per_seed: np.ndarray

    def details(self, i: int) -> dict[str, Any]:
        """Program ``i``'s scores as JSON-ready values (NaN becomes None)."""
        return {
            "normalized": _json_float(self.normalized[i]),
            "return": _json_float(self.final_return[i]),
            "q_mean": _json_float(self.q_mean[i]),
            "finite": bool(self.finite[i]),
            "nonfinite_updates": int(self.nonfinite_updates[i]),
            "per_seed": [_json_float(v) for v in self.per_seed[i]],
        }


def _json_float(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _last_finite(curves: np.ndarray) -> np.ndarray:
    """The last non-NaN entry of each curve ``[..., L]`` (NaN if none)."""
    ok = np.isfinite(curves)
    idx = np.where(ok.any(-1), curves.shape[-1] - 1 - np.argmax(ok[..., ::-1], axis=-1), 0)
    last = np.take_along_axis(curves, idx[..., None], axis=-1)[..., 0]
    return np.where(ok.any(-1), last, np.nan)


class DQNLossDomain:
    """Search for DQN losses: the typed space, a batched trainer per env and the hurdle stages.

    Attributes:
      name: ``"dqn_loss"``.
      config: the validated config.
      space: the loss language (see :func:`make_space`).
      named_programs: DQN, Double DQN, DQNReg and DQNClipped in this space (those it can express).
      fitness_floor: 0.0, the fitness of failed candidates.
    """

    name = "dqn_loss"
    fitness_floor = 0.0

    def __init__(self, config: DQNLossConfig | None = None) -> None:
        self.config = config or DQNLossConfig()
        self.space = self.config.space()
        self.named_programs = dqn_programs.named_programs(self.space)
        self._runners: dict[str, Callable[[EncodedPrograms, jax.Array], Metrics]] = {}
        self._fingerprint = random_inputs(
            self.space, seed=FINGERPRINT_SEED, n=FINGERPRINT_SAMPLES, low=-100.0, high=100.0,
            actions=FINGERPRINT_ACTIONS,
        )
        self._gradient_inputs = (self._fingerprint, random_inputs(
            self.space, seed=FINGERPRINT_SEED + 1, n=FINGERPRINT_SAMPLES, low=-GRADIENT_CHECK_SCALE,
            high=GRADIENT_CHECK_SCALE, actions=FINGERPRINT_ACTIONS,
        ))

    # ---- the Domain protocol ------------------------------------------------------------

    def stages(self) -> Sequence[Stage]:
        """The hurdle env alone (threshold ``hurdle_threshold``), then the other training envs."""
        cfg = self.config
        if cfg.hurdle_env is None:
            return (Stage("train", functools.partial(self.evaluate_envs, cfg.train_envs)),)
        hurdle = Stage(cfg.hurdle_env, functools.partial(self.evaluate_envs, (cfg.hurdle_env,)), cfg.hurdle_threshold)
        rest = tuple(e for e in cfg.train_envs if e != cfg.hurdle_env)
        if not rest:
            return (hurdle,)
        return (hurdle, Stage("train", functools.partial(self.evaluate_envs, rest)))

    def fingerprint_inputs(self) -> dict[str, np.ndarray]:
        """The paper's check: 10 fixed random samples, floats in [-100, 100], Q lists of 4 actions."""
        return {k: v.copy() for k, v in self._fingerprint.items()}

    # ---- search hooks (bootstrap) ------------------------------------------------------

    def random_program(self, rng: np.random.Generator) -> Program:
        """A random program of this domain's mode: DQN plus random nodes (bootstrap) or any (scratch).

        The study hands this method to the searcher, which draws every fresh
        program here instead of from ``discolab.graph.random_program``.
        """
        if self.config.mode == "bootstrap":
            return dqn_programs.bootstrap_program(self.space, rng)
        return random_program(self.space, rng)

    def initial_programs(self) -> list[Program]:
        """Programs to evaluate before any search proposal: DQN in bootstrap mode, none from scratch."""
        return [self.named_programs["dqn"]] if self.config.mode == "bootstrap" else []

    # ---- evaluation ---------------------------------------------------------------------

    def evaluate(
        self, programs: Sequence[Program], seed: int = 0, previous: Sequence[Evaluation] | None = None
    ) -> list[Evaluation]:
        """Trains and scores ``programs`` on every training env, without the hurdle."""
        return self.evaluate_envs(self.config.train_envs, programs, seed, previous)

    def evaluate_envs(
        self,
        env_ids: Sequence[str],
        programs: Sequence[Program],
        seed: int = 0,
        previous: Sequence[Evaluation] | None = None,
    ) -> list[Evaluation]:
        """Trains ``programs`` on ``env_ids``; fitness adds their normalized returns to ``previous``'s.

        Invalid programs are not trained (status ``invalid``); a program
        non-finite on any env gets ``non_finite`` at the floor. Objectives hold
        ``fitness`` and the normalized return per env; ``details["envs"]`` the
        per-env scores (:meth:`EnvScores.details`), merged with ``previous``'s.
        """
        if not programs:
            return []
        start = time.perf_counter()
        valid = [i for i, p in enumerate(programs) if is_valid(p, self.space)]
        frozen: set[int] = set()
        if valid and self.config.gradient_check and previous is None:  # a later stage's programs passed it
            moves = self.moves_theta([programs[i] for i in valid])
            frozen = {i for i, ok in zip(valid, moves) if not ok}
            valid = [i for i in valid if i not in frozen]
        scores = [self.train([programs[i] for i in valid], env_id, seed) for env_id in env_ids] if valid else []
        seconds = (time.perf_counter() - start) / len(programs)
        out: list[Evaluation] = []
        row = {i: k for k, i in enumerate(valid)}
        for i in range(len(programs)):
            before = previous[i] if previous is not None else None
            prior_fitness = before.fitness if before is not None else 0.0
            objectives = dict(before.objectives) if before is not None else {}
            env_details = dict(before.details.get("envs", {})) if before is not None else {}
            if i not in row:
                why = (f"zero gradient: the loss's gradient in {' and '.join(THETA_INPUTS)} is zero on the "
                       "check inputs, so it cannot train theta" if i in frozen else "invalid program")
                out.append(Evaluation(self.fitness_floor, Status.INVALID, {"fitness": self.fitness_floor},
                                      {"envs": env_details, "invalid": why}, seconds))
                continue
            k = row[i]
            total = prior_fitness
            bad = None
            for s in scores:
                env_details[s.env_id] = s.details(k)
                objectives[s.env_id] = float(s.normalized[k])
                total += float(s.normalized[k])
                if not s.finite[k] and bad is None:
                    bad = s.env_id
            if bad is not None:
                out.append(Evaluation(self.fitness_floor, Status.NON_FINITE, {"fitness": self.fitness_floor},
                                      {"envs": env_details, "non_finite_env": bad}, seconds))
                continue
            objectives["fitness"] = total
            out.append(Evaluation(total, Status.OK, objectives, {"envs": env_details}, seconds))
        return out

    def moves_theta(self, programs: Sequence[Program]) -> np.ndarray:
        """Per (valid) program: is the batch-mean loss's gradient in ``THETA_INPUTS`` nonzero on some check input?

        Checked on the fingerprint inputs and on a set at the scale of Q-values at
        initialization; a NaN gradient counts as nonzero (training decides).
        """
        check = gradient_check(self.space, THETA_INPUTS)
        out = []
        for lo in range(0, len(programs), GRADIENT_CHECK_CHUNK):
            chunk = programs[lo : lo + GRADIENT_CHECK_CHUNK]
            encoded = EncodedPrograms(*map(jnp.asarray, encode(chunk, self.space, pad_to=GRADIENT_CHECK_CHUNK)))
            moves = np.zeros(GRADIENT_CHECK_CHUNK, bool)
            for inputs in self._gradient_inputs:
                moves |= np.asarray(check(encoded, {k: jnp.asarray(v) for k, v in inputs.items()}))
            out.append(moves[: len(chunk)])
        return np.concatenate(out)

    def train(self, programs: Sequence[Program], env_id: str, seed: int = 0) -> EnvScores:
        """Trains every program x ``config.seeds`` on ``env_id``; one compiled call per ``program_batch``.

        Any registered env works (held-out evaluation included); its compiled
        function is built on first use and kept on this instance. The seeds
        depend on ``(seed, env_id)`` only, not on the batch, so a program's
        score does not depend on its neighbours.
        """
        n, batch = len(programs), self.config.program_batch
        run = self.runner(env_id)
        key = jax.random.fold_in(jax.random.key(seed), zlib.crc32(env_id.encode()) & 0x7FFFFFFF)
        keys = jax.random.split(key, self.config.seeds)
        chunks = []
        for lo in range(0, n, batch):
            encoded = encode(programs[lo : lo + batch], self.space, pad_to=batch, dead_nodes=False)
            metrics = run(EncodedPrograms(*map(jnp.asarray, encoded)), keys)
            chunks.append(jax.device_get(metrics))
        m = {f: np.concatenate([np.asarray(getattr(c, f)) for c in chunks])[:n]
             for f in ("fitness", "final_return", "q_mean", "finite", "nonfinite_updates")}
        with np.errstate(all="ignore"):
            final_return = _nanmean(m["final_return"])
            q_mean = _nanmean(_last_finite(m["q_mean"]))
        return EnvScores(
            env_id=env_id,
            normalized=m["fitness"].mean(axis=1),
            final_return=final_return,
            q_mean=q_mean,
            finite=m["finite"].all(axis=1),
            nonfinite_updates=m["nonfinite_updates"].sum(axis=1),
            per_seed=m["fitness"],
        )

    def runner(self, env_id: str) -> Callable[[EncodedPrograms, jax.Array], Metrics]:
        """The jitted ``(encoded [P, ...], keys [S]) -> Metrics [P, S, ...]`` of ``env_id``, built once."""
        if env_id not in self._runners:
            self._runners[env_id] = make_runner(self.space, self.config.dqn_config(env_id))
        return self._runners[env_id]


def _nanmean(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis ignoring NaN; NaN where every entry is NaN (no warning)."""
    ok = np.isfinite(values)
    total = np.where(ok, values, 0.0).sum(-1)
    count = ok.sum(-1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


register("dqn_loss", DQNLossConfig, DQNLossDomain)
