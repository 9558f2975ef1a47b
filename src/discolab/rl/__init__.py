"""The JAX RL substrate: environments, networks, replay, and trainers whose loss is a parameter.

Every algorithm is ``make_train(cfg, loss_fn) -> train(loss_params, key) -> Metrics``:
a pure function whose whole run is one ``lax.scan``, vmappable over loss
params (programs) and over seeds. SAC (``make_sac``) takes two losses, the
actor's and the critic's, for a search over SAC's losses (MetaPG). PPO
(``make_ppo``) has the same shape with the network and optimizer as
parameters and an explicit, resumable state. ``rl`` never imports ``graph``:
a domain passes an interpreter as ``loss_fn`` and encoded programs as
``loss_params``.
"""

from discolab.rl import envs, losses, replay
from discolab.rl.dqn import LOSS_INPUTS, DQNConfig, Metrics, TrainState, make_train
from discolab.rl.envs import EnvSpec
from discolab.rl.networks import (
    ActorCritic,
    ContinuousQNetwork,
    MinAtarCNN,
    MLPEncoder,
    QNetwork,
    TanhGaussianActor,
)
from discolab.rl.ppo import PPO, PPOConfig, PPOState, default_tx, final_return, make_ppo
from discolab.rl.sac import (
    SAC_LOSS_INPUTS,
    SACConfig,
    SACMetrics,
    SACState,
    make_sac,
    sac_actor_loss,
    sac_critic_loss,
)
from discolab.rl.types import JaxEnv, LossFn, LossInputs, LossParams

__all__ = [
    "LOSS_INPUTS",
    "PPO",
    "ActorCritic",
    "ContinuousQNetwork",
    "DQNConfig",
    "EnvSpec",
    "JaxEnv",
    "LossFn",
    "LossInputs",
    "LossParams",
    "MLPEncoder",
    "Metrics",
    "MinAtarCNN",
    "PPOConfig",
    "PPOState",
    "QNetwork",
    "SACConfig",
    "SACMetrics",
    "SACState",
    "SAC_LOSS_INPUTS",
    "TanhGaussianActor",
    "TrainState",
    "default_tx",
    "envs",
    "final_return",
    "losses",
    "make_ppo",
    "make_sac",
    "make_train",
    "replay",
    "sac_actor_loss",
    "sac_critic_loss",
]
