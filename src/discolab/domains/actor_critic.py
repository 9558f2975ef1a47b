"""MetaPG: search SAC's actor loss and critic loss together, scored on three objectives.

A candidate is a ``ProgramTuple`` of two programs over the same typed inputs
(``discolab.rl.SAC_LOSS_INPUTS``: the critic's value at (s, a), the online
critics' minimum at (s, a~pi), the target critics' minimum at (s', a'~pi),
log pi at both, the temperature, r and the done-masked discount). Each
candidate trains ``seeds`` SAC agents on the training configuration of one
environment; every agent is then evaluated zero-shot on held-out
configurations (other masses, lengths, actuator strengths: one line of
config each). The objectives, all stored per candidate:

- ``performance`` (max): normalized return on the training configuration,
  mean over seeds;
- ``generalizability`` (max): normalized return on the held-out
  configurations, mean over configurations and seeds;
- ``instability`` (min): the standard deviation over seeds (ddof 0) of
  performance plus that of generalizability, so erratic losses lose.

``fitness`` is performance (what single-objective searchers and the progress
line read); NSGA-II reads the three objectives. Scores are clipped to
[0, 1] by the environment's ``r_min``/``r_max``. A candidate whose loss or
gradient is ever non-finite is scored at the floor on every objective
(performance 0, generalizability 0, instability 1) with status
``non_finite``; the batch goes on.

The population starts from SAC (PAPERS.md section 2): a fresh candidate is
the SAC pair with 0-2 random mutations, so SAC itself is evaluated early and
every other fresh candidate is a near neighbour of it.
"""

from __future__ import annotations

import functools
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

import jax
import jax.numpy as jnp
import numpy as np
import pydantic
from pydantic import Field

from discolab.domains.base import Evaluation, Stage, Status, check_op_names
from discolab.domains.registry import register
from discolab.graph import CompositeSpace, EncodedPrograms, Program, ProgramTuple, SearchSpace, encode, mutate
from discolab.graph.fingerprint import random_inputs
from discolab.graph.interpret import BatchPlan, interpret_one, plan_batch

F = "float"
#: The typed inputs of both losses, in order (the names of ``discolab.rl.SAC_LOSS_INPUTS``).
LOSS_INPUTS: tuple[str, ...] = ("q_sa", "q_pi", "q_next", "logp_pi", "logp_next", "alpha", "r", "discount")
#: Inputs through which the actor's parameters reach the actor loss: it must read one.
ACTOR_REQUIRED = ("q_pi", "logp_pi")
#: The input through which the critic's parameters reach the critic loss: it must read it.
CRITIC_REQUIRED = ("q_sa",)
DEFAULT_OPS: tuple[str, ...] = (
    "add", "sub", "mul", "div", "max", "min", "neg", "abs", "square", "sqrt", "log", "exp", "tanh", "distance",
    "batch_mean", "batch_std",
)
DEFAULT_CONSTANTS: tuple[float, ...] = (0.5, 1.0, 2.0, 0.1, 0.01)
#: Held-out Pendulum configurations (gymnax defaults: m = l = 1, g = 10, max_torque = 2).
DEFAULT_HELDOUT: tuple[dict[str, float], ...] = ({"m": 1.3}, {"l": 1.3}, {"max_torque": 1.6})
FLOORS = {"performance": 0.0, "generalizability": 0.0, "instability": 1.0}
SENSES = {"performance": "max", "generalizability": "max", "instability": "min"}
FINGERPRINT_SEED = 20220408
FINGERPRINT_SAMPLES = 16

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


def _rl() -> Any:
    from discolab import rl

    return rl


def make_space(
    ops: Sequence[str] = DEFAULT_OPS, constants: Sequence[float] = DEFAULT_CONSTANTS, max_nodes: int = 12
) -> CompositeSpace:
    """The (actor, critic) pair of spaces over the SAC loss inputs.

    >>> space = make_space()
    >>> space.names, space.part("critic").required_inputs
    (('actor', 'critic'), ('q_sa',))
    """
    inputs = tuple((name, F) for name in LOSS_INPUTS)

    def part(required: tuple[str, ...]) -> SearchSpace:
        return SearchSpace(inputs=inputs, ops=tuple(ops), constants=tuple(constants), max_nodes=max_nodes,
                           required_inputs=required)

    return CompositeSpace((("actor", part(ACTOR_REQUIRED)), ("critic", part(CRITIC_REQUIRED))))


def _slot(space: SearchSpace, name: str) -> int:
    return [n for n, _ in space.inputs].index(name)


def sac_pair(space: CompositeSpace) -> ProgramTuple:
    """SAC's losses as a candidate of ``space``.

    Actor: ``alpha * logp_pi - q_pi``. Critic (per twin critic):
    ``0.5 * (q_sa - (r + discount * (q_next - alpha * logp_next)))^2``.
    Raises ValueError if the space lacks an op these need.
    """
    a, c = space.part("actor"), space.part("critic")
    need = {"mul", "sub", "add", "distance"}
    for name, s in (("actor", a), ("critic", c)):
        missing = sorted(need - set(s.ops))
        if missing or s.max_nodes < 5:
            raise ValueError(f"the {name} space cannot hold SAC: needs ops {sorted(need)} (missing {missing}) "
                             "and max_nodes >= 5")
    sa = {n: _slot(a, n) for n in LOSS_INPUTS}
    actor = Program.from_nodes([
        ("mul", [sa["alpha"], sa["logp_pi"]]),
        ("sub", [a.n_fixed, sa["q_pi"]]),
    ])
    sc = {n: _slot(c, n) for n in LOSS_INPUTS}
    n0 = c.n_fixed
    critic = Program.from_nodes([
        ("mul", [sc["alpha"], sc["logp_next"]]),  # n0
        ("sub", [sc["q_next"], n0]),  # n0 + 1: soft target value
        ("mul", [sc["discount"], n0 + 1]),  # n0 + 2
        ("add", [sc["r"], n0 + 2]),  # n0 + 3: the Bellman target
        ("distance", [sc["q_sa"], n0 + 3]),  # 0.5 * (q_sa - target)^2
    ])
    return ProgramTuple((actor, critic))


class ActorCriticConfig(pydantic.BaseModel, frozen=True, extra="forbid"):
    """Config of the ``actor_critic`` domain (the ``[domain]`` section of a MetaPG study).

    The SAC settings default to ``discolab.rl.SACConfig``'s; a CPU search
    sets a small ``total_steps``.
    """

    env: str = Field("Pendulum-v1", description="Training environment (a continuous one of discolab.rl.envs).")
    train_params: dict[str, FiniteFloat] = Field(
        default_factory=dict, description="Physical parameters of the training configuration (env defaults if empty)."
    )
    heldout: tuple[dict[str, FiniteFloat], ...] = Field(
        DEFAULT_HELDOUT, min_length=1,
        description="Held-out configurations for generalizability, each a dict of physical parameters.",
    )
    seeds: int = Field(3, ge=2, le=64, description="Independent SAC runs per candidate (instability needs >= 2).")
    total_steps: int = Field(5_000, gt=0, description="Env transitions per agent, summed over its envs.")
    hidden: tuple[int, ...] = Field((64, 64), min_length=1, description="Widths of the actor's and critics' MLPs.")
    sac: dict[str, Any] = Field(
        default_factory=dict, description="Other discolab.rl.SACConfig settings (actor_lr, batch_size, alpha, ...)."
    )
    program_batch: int = Field(
        4, ge=1, le=1024, description="Candidates per compiled training call; batches pad to it."
    )
    ops: tuple[str, ...] = Field(DEFAULT_OPS, min_length=1, description="Ops a loss may use (discolab.graph.ops).")
    constants: tuple[FiniteFloat, ...] = Field(DEFAULT_CONSTANTS, max_length=64, description="FLOAT constants.")
    max_nodes: int = Field(12, ge=5, le=128, description="Most op nodes in each loss (SAC's critic needs 5).")

    @pydantic.field_validator("ops")
    @classmethod
    def _known_ops(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        check_op_names(value)
        return value

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> ActorCriticConfig:
        rl = _rl()
        if not rl.envs.spec(self.env).continuous:  # an unknown name lists the known environments
            continuous = [n for n, r in rl.envs.table().items() if r.continuous]
            raise ValueError(f"env {self.env!r} has discrete actions; SAC needs a continuous one: {continuous}")
        for params in (self.train_params, *self.heldout):
            rl.envs.with_params(self.env, params)  # ValueError naming an unknown physical parameter
        fields = set(rl.SACConfig.model_fields)
        own = {"env_id", "total_steps", "hidden", "env_overrides"}
        for key in self.sac:
            if key in own:
                raise ValueError(f"sac.{key} is set by the domain; use env, train_params, total_steps or hidden")
            if key not in fields:
                raise ValueError(f"unknown SAC setting {key!r}; known: {sorted(fields - own)}")
        self.sac_config()  # SACConfig's own checks
        sac_pair(self.space())  # the space must hold SAC, the seed of the population
        return self

    def space(self) -> CompositeSpace:
        return make_space(self.ops, self.constants, self.max_nodes)

    def sac_config(self) -> Any:
        return _rl().SACConfig(env_id=self.env, env_overrides=tuple(sorted(self.train_params.items())),
                               total_steps=self.total_steps, hidden=self.hidden, **self.sac)


def interpreted_loss(space: SearchSpace, index: int) -> Callable[[Any, Mapping[str, jax.Array]], jax.Array]:
    """The loss ``loss_params[index]`` = (encoded program, batch plan) interpreted on a sampled batch."""

    def loss(loss_params: Any, inputs: Mapping[str, jax.Array]) -> jax.Array:
        encoded, plan = loss_params[index]
        return interpret_one(space, encoded.op_ids, encoded.args, encoded.output, inputs, plan=plan)

    return loss


def make_runner(space: CompositeSpace, sac_config: Any, eval_params: Sequence[Any] | None) -> Callable[..., Any]:
    """``jit((actor [P, ...], critic [P, ...], keys [S]) -> SACMetrics [P, S, ...])``: one SAC agent per pair x seed."""
    rl = _rl()
    actor_space, critic_space = space.part("actor"), space.part("critic")
    train = rl.make_sac(sac_config, interpreted_loss(actor_space, 0), interpreted_loss(critic_space, 1),
                        eval_params=eval_params)
    per_pair = jax.vmap(train, (None, 0))
    batched = jax.vmap(per_pair, (((0, None), (0, None)), None))

    def run(actor: EncodedPrograms, critic: EncodedPrograms, keys: jax.Array) -> Any:
        plans = (plan_batch(actor, actor_space), plan_batch(critic, critic_space))
        return batched(((actor, plans[0]), (critic, plans[1])), keys)

    return jax.jit(run)


def hand_written_runner(sac_config: Any, eval_params: Sequence[Any]) -> Callable[[jax.Array], Any]:
    """``jit(keys [S] -> SACMetrics [S, ...])`` of SAC with its hand-written losses (the reference)."""
    rl = _rl()
    train = rl.make_sac(sac_config, rl.sac_actor_loss, rl.sac_critic_loss, eval_params=eval_params)
    return jax.jit(jax.vmap(functools.partial(train, None)))


def objectives_of(perf: np.ndarray, gen: np.ndarray) -> dict[str, float]:
    """The three objectives from per-seed normalized returns ``perf [S]`` and ``gen [S]``."""
    return {
        "performance": float(np.mean(perf)),
        "generalizability": float(np.mean(gen)),
        "instability": float(np.std(perf) + np.std(gen)),
    }


class ActorCriticDomain:
    """The ``actor_critic`` domain: SAC's two losses as one candidate, three objectives."""

    name = "actor_critic"
    fitness_floor = 0.0
    #: The objectives and their senses (reports read them; NSGA-II's config names them too).
    senses = SENSES

    def __init__(self, config: ActorCriticConfig | None = None) -> None:
        self.config = config or ActorCriticConfig()
        self.space = self.config.space()
        self.sac = sac_pair(self.space)
        #: Reference candidates: reports show SAC's row beside the front.
        self.named_programs = {"sac": self.sac}
        rl = _rl()
        self.env_spec = rl.envs.spec(self.config.env)
        self.eval_params = [rl.envs.with_params(self.config.env, p) for p in self.config.heldout]
        self._runner: Callable[..., Any] | None = None
        self._fingerprint = {
            name: random_inputs(s, seed=FINGERPRINT_SEED + k, n=FINGERPRINT_SAMPLES)
            for k, (name, s) in enumerate(self.space.parts)
        }

    # ---- the Domain protocol ------------------------------------------------------------

    def stages(self) -> Sequence[Stage]:
        return (Stage("train", self.evaluate),)

    def fingerprint_inputs(self) -> dict[str, dict[str, np.ndarray]]:
        """Per part: 16 fixed random samples of every input, uniform in [-100, 100]."""
        return {n: {k: v.copy() for k, v in d.items()} for n, d in self._fingerprint.items()}

    def random_program(self, rng: np.random.Generator) -> ProgramTuple:
        """SAC with 0, 1 or 2 random mutations: the population starts from SAC."""
        candidate = self.sac
        for _ in range(int(rng.integers(0, 3))):
            candidate = mutate(candidate, self.space, rng)
        return candidate

    # ---- evaluation ---------------------------------------------------------------------

    def runner(self) -> Callable[..., Any]:
        if self._runner is None:
            self._runner = make_runner(self.space, self.config.sac_config(), self.eval_params)
        return self._runner

    def keys(self, seed: int) -> jax.Array:
        """The training keys of a batch: a function of ``(seed, env)`` only, not of the batch's contents."""
        key = jax.random.fold_in(jax.random.key(seed), zlib.crc32(self.config.env.encode()) & 0x7FFFFFFF)
        return jax.random.split(key, self.config.seeds)

    def train(self, candidates: Sequence[ProgramTuple], seed: int = 0) -> dict[str, np.ndarray]:
        """Raw metrics of every candidate x seed: ``final_return [n, S]``, ``eval_returns [n, S, H]``,
        ``finite [n, S]``, ``nonfinite_updates [n, S]``; one compiled call per ``program_batch``."""
        n, batch = len(candidates), self.config.program_batch
        actor_space, critic_space = self.space.part("actor"), self.space.part("critic")
        run, keys = self.runner(), self.keys(seed)
        chunks = []
        for lo in range(0, n, batch):
            part = candidates[lo : lo + batch]
            actor = encode([c.parts[0] for c in part], actor_space, pad_to=batch, dead_nodes=False)
            critic = encode([c.parts[1] for c in part], critic_space, pad_to=batch, dead_nodes=False)
            metrics = run(EncodedPrograms(*map(jnp.asarray, actor)), EncodedPrograms(*map(jnp.asarray, critic)), keys)
            chunks.append(jax.device_get(metrics))
        fields = ("final_return", "eval_returns", "finite", "nonfinite_updates")
        return {f: np.concatenate([np.asarray(getattr(c, f)) for c in chunks])[:n] for f in fields}

    def evaluate(
        self, candidates: Sequence[ProgramTuple], seed: int = 0, previous: Sequence[Evaluation] | None = None
    ) -> list[Evaluation]:
        """Trains ``seeds`` agents per candidate and scores the three objectives."""
        if not candidates:
            return []
        start = time.perf_counter()
        m = self.train(candidates, seed)
        seconds = (time.perf_counter() - start) / len(candidates)
        with np.errstate(all="ignore"):
            perf = np.asarray(self.env_spec.normalize(m["final_return"]))  # [n, S]
            gen = np.asarray(self.env_spec.normalize(m["eval_returns"])).mean(-1)  # [n, S]
        out = []
        for i in range(len(candidates)):
            details = {
                "train_return": [_json_float(v) for v in m["final_return"][i]],
                "heldout_return": [[_json_float(v) for v in row] for row in m["eval_returns"][i]],
                "nonfinite_updates": int(m["nonfinite_updates"][i].sum()),
            }
            finite = bool(m["finite"][i].all()) and np.isfinite(perf[i]).all() and np.isfinite(gen[i]).all()
            if not finite:
                out.append(Evaluation(self.fitness_floor, Status.NON_FINITE, dict(FLOORS), details, seconds))
                continue
            objectives = objectives_of(perf[i], gen[i])
            out.append(Evaluation(objectives["performance"], Status.OK, objectives, details, seconds))
        return out


def _json_float(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


register("actor_critic", ActorCriticConfig, ActorCriticDomain)
