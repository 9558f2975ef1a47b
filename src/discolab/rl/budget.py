"""How a run's env-step budget becomes iterations and log points (shared by the off-policy trainers' configs)."""

from __future__ import annotations

from discolab.rl import envs


class StepBudget:
    """Mixin of a trainer config with ``env_id``, ``total_steps``, ``num_envs``, ``num_logs`` and ``buffer_size``.

    One iteration steps ``num_envs`` envs; iterations are grouped into log
    points, so the run is a multiple of the log interval (a few trailing
    steps of an uneven budget are dropped rather than logged half).
    """

    env_id: str
    total_steps: int | None
    num_envs: int
    num_logs: int
    buffer_size: int

    def check_budget(self) -> None:
        """ValueError if the replay buffer does not tile the envs or the budget is under one iteration."""
        if self.buffer_size % self.num_envs:
            raise ValueError(f"buffer_size {self.buffer_size} must be a multiple of num_envs {self.num_envs}")
        if self.num_iterations < 1:
            raise ValueError(f"total_steps {self.steps} is less than one step of {self.num_envs} envs")

    @property
    def env_spec(self) -> envs.EnvSpec:
        return envs.spec(self.env_id)

    @property
    def steps(self) -> int:
        """Requested env transitions per agent."""
        return self.total_steps if self.total_steps is not None else self.env_spec.train_steps

    @property
    def num_iterations(self) -> int:
        """Vectorized env steps actually run: a multiple of the log interval."""
        whole = self.steps // self.num_envs
        return (whole // self.log_every) * self.log_every if whole else 0

    @property
    def log_every(self) -> int:
        """Iterations per log point."""
        return max(1, (self.steps // self.num_envs) // self.num_logs)

    @property
    def num_log_points(self) -> int:
        """Length of each metric curve (``num_logs``, fewer for tiny budgets)."""
        return self.num_iterations // self.log_every
