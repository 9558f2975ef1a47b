"""Type aliases and protocols of the RL substrate."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import jax

Params = Any  # a pytree of arrays (network weights, optimizer state)
LossParams = Any  # any pytree: unused by hand-written losses, an encoded program for a domain
LossInputs = Mapping[str, jax.Array]  # the named arrays of one sampled batch (see dqn.LOSS_INPUTS)
#: ``loss_fn(loss_params, inputs) -> loss``: per sample ``[B]`` or a scalar; the trainer takes the mean.
LossFn = Callable[[LossParams, LossInputs], jax.Array]


class JaxEnv(Protocol):
    """The gymnax 1.0 environment API the trainers use.

    ``step`` auto-resets: after an episode ends it returns the first
    observation of the next one and puts the last one of the finished
    episode in ``info["final_observation"]``.
    """

    @property
    def num_actions(self) -> int: ...

    def reset(self, key: jax.Array, params: Any) -> tuple[jax.Array, Any]: ...

    def step(
        self, key: jax.Array, state: Any, action: jax.Array, params: Any
    ) -> tuple[jax.Array, Any, jax.Array, jax.Array, jax.Array, dict[str, Any]]: ...

    def observation_space(self, params: Any) -> Any: ...
