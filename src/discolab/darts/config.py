"""The RL-DARTS study config: one TOML file, validated, with errors that name the field.

A study has three tables:

- ``[search]``: the supernet (op set, channels, nodes, cell layout, softmax
  temperature), the architecture optimizer (its learning rate, joint or
  alternating updates) and how often the run is checkpointed.
- ``[ppo]``: the PPO settings of the supernet phase (``PPOConfig`` fields).
- ``[retrain]``: the fixed-cell phase: seeds per arm, the training budget,
  whether to train the hand-designed encoder and how many random cells.

Example (``examples/darts_breakout_small.toml``)::

    env = "Breakout-MinAtar"
    [search]
    op_set = "small"
    [ppo]
    total_steps = 300_000
    [retrain]
    seeds = 10
    random_cells = 20
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

import pydantic
from pydantic import Field

from discolab.rl import envs
from discolab.rl.ppo import PPOConfig

__all__ = ["DartsConfig", "PPOSection", "RetrainSection", "SearchSection", "load_config"]


class SearchSection(pydantic.BaseModel, frozen=True, extra="forbid"):
    """The supernet phase."""

    op_set: Literal["small", "darts"] = Field("small", description="Candidate ops of every edge (PAPERS.md 4).")
    channels: int = Field(16, ge=1, le=256, description="Channels of every cell state.")
    nodes: int = Field(3, ge=2, le=6, description="Intermediate nodes per cell.")
    layout: tuple[Literal["normal", "reduce"], ...] = Field(
        ("normal", "reduce"), min_length=1, description="Cell types from input to output.")
    temperature: float = Field(1.0, gt=0, description="Mixing weights are softmax(alpha / temperature).")
    arch_lr: float = Field(3e-3, gt=0, description="Adam learning rate of the architecture weights.")
    arch_updates: Literal["joint", "alternate"] = Field(
        "joint", description="joint: alphas and weights step on every minibatch; alternate: in turn.")
    seeds: int = Field(1, ge=1, le=64, description="Supernets trained side by side (a vmap axis).")
    seed: int = Field(0, ge=0, description="First search seed.")
    checkpoint_updates: int = Field(10, ge=1, description="PPO updates between checkpoints in the store.")


class PPOSection(pydantic.BaseModel, frozen=True, extra="forbid"):
    """``PPOConfig`` fields; the supernet phase uses them as given."""

    num_envs: int = Field(64, ge=1)
    rollout_steps: int = Field(128, ge=1)
    total_steps: int = Field(500_000, ge=1)
    update_epochs: int = Field(4, ge=1)
    num_minibatches: int = Field(8, ge=1)
    gamma: float = Field(0.99, gt=0, le=1)
    gae_lambda: float = Field(0.95, ge=0, le=1)
    clip_eps: float = Field(0.2, gt=0)
    ent_coef: float = Field(0.01, ge=0)
    vf_coef: float = Field(0.5, ge=0)
    max_grad_norm: float = Field(0.5, gt=0)
    lr: float = Field(5e-4, gt=0)
    anneal_lr: bool = True

    def to_ppo(self, total_steps: int | None = None) -> PPOConfig:
        fields = self.model_dump()
        if total_steps is not None:
            fields["total_steps"] = total_steps
        return PPOConfig(**fields)


class RetrainSection(pydantic.BaseModel, frozen=True, extra="forbid"):
    """The fixed-cell phase: every arm trains ``seeds`` agents from scratch in one vmapped call."""

    seeds: int = Field(10, ge=1, le=256, description="Fresh seeds per arm.")
    seed: int = Field(1000, ge=0, description="First retrain seed (distinct from the search seeds).")
    total_steps: int | None = Field(None, ge=1, description="Budget per agent; default: the search budget.")
    baseline: bool = Field(True, description="Also train the hand-designed encoder (ImpalaSmall).")
    baseline_channels: tuple[int, int] = Field(
        (16, 32), description="ImpalaSmall's two stage widths; size it to the cells' parameter count.")
    random_cells: int = Field(20, ge=0, le=1000, description="Random cells of the same space to train.")
    random_seed: int = Field(7, ge=0, description="Seed of the random-cell draw.")
    random_seeds: int | None = Field(
        None, ge=1, le=256, description="Seeds per random cell (the first of the arm seeds); default: seeds.")


class DartsConfig(pydantic.BaseModel, frozen=True, extra="forbid"):
    """A whole RL-DARTS study."""

    env: str = Field("Breakout-MinAtar", description="A registered environment (discolab.rl.envs).")
    search: SearchSection = Field(default_factory=SearchSection)
    ppo: PPOSection = Field(default_factory=PPOSection)
    retrain: RetrainSection = Field(default_factory=RetrainSection)

    @pydantic.field_validator("env")
    @classmethod
    def _known_env(cls, name: str) -> str:
        envs.spec(name)  # raises with the known names
        return name

    @pydantic.model_validator(mode="after")
    def _ppo_is_valid(self) -> DartsConfig:
        try:
            self.ppo.to_ppo()
            self.ppo.to_ppo(self.retrain_steps)
        except ValueError as err:
            raise ValueError(f"ppo: {err}") from None
        return self

    @property
    def retrain_steps(self) -> int:
        return self.retrain.total_steps or self.ppo.total_steps


def load_config(path: str | Path) -> DartsConfig:
    """Reads and validates a TOML study config."""
    with open(path, "rb") as f:
        return DartsConfig.model_validate(tomllib.load(f))
