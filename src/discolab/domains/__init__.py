"""Search domains: a search space plus a batched evaluator with named objectives."""

from discolab.domains import actor_critic as _actor_critic  # noqa: F401  (registers "actor_critic")
from discolab.domains import dqn_loss as _dqn_loss  # noqa: F401  (registers "dqn_loss")
from discolab.domains import optimizer as _optimizer  # noqa: F401  (registers "optimizer")
from discolab.domains import regression as _regression  # noqa: F401  (registers "regression")
from discolab.domains.base import Domain, Evaluation, Stage, Status
from discolab.domains.registry import known, make, register, validate_config

__all__ = ["Domain", "Evaluation", "Stage", "Status", "known", "make", "register", "validate_config"]
