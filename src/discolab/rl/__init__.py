"""The JAX RL substrate: environments, networks, replay, and trainers whose loss is a parameter.

Every algorithm is ``make_train(cfg, loss_fn) -> train(loss_params, key) -> Metrics``:
a pure function whose whole run is one ``lax.scan``, vmappable over loss
params (programs) and over seeds. ``rl`` never imports ``graph``: a domain
passes an interpreter as ``loss_fn`` and encoded programs as ``loss_params``.
"""

from discolab.rl import envs, losses, replay
from discolab.rl.dqn import LOSS_INPUTS, DQNConfig, Metrics, TrainState, make_train
from discolab.rl.envs import EnvSpec
from discolab.rl.networks import QNetwork
from discolab.rl.types import JaxEnv, LossFn, LossInputs, LossParams

__all__ = [
    "LOSS_INPUTS",
    "DQNConfig",
    "EnvSpec",
    "JaxEnv",
    "LossFn",
    "LossInputs",
    "LossParams",
    "Metrics",
    "QNetwork",
    "TrainState",
    "envs",
    "losses",
    "make_train",
    "replay",
]
