"""Candidate operations of a DARTS cell edge (RL-DARTS, PAPERS.md section 4).

Two op sets, as ordered tuples (the order is the last axis of the alpha arrays):

- ``small``: the RL-DARTS set ``zero, skip, conv3x3, relu, tanh``;
- ``darts``: the classic DARTS set ``zero, skip, conv3x3, conv5x5, dil_conv3x3,
  dil_conv5x5``. DARTS' pooling ops are left out: on 10x10 MinAtar frames a 3x3
  pool is most of the image, and the paper's list for RL has none.

Choices, and why:

- Every conv op is ReLU -> Conv (bias, SAME padding), with no BatchNorm: batch
  statistics couple the samples of a PPO minibatch and differ between rollout
  and update. Convs are plain (not DARTS' separable pairs), as the paper lists
  them; ``dil_*`` use dilation 2 (receptive fields 5x5 and 9x9).
- Stride 2 (reduction cells, edges from the two input states): convs use
  stride 2; ``skip`` becomes DARTS' factorized reduce (ReLU, two stride-2 1x1
  convs, the second on the input shifted by one pixel, concatenated);
  ``relu``/``tanh`` apply the nonlinearity then a 2x2 max pool of stride 2;
  ``zero`` subsamples. All give ``ceil(H / 2)``: 10x10 -> 5x5 -> 3x3.
- Inputs are NHWC with ``channels`` channels (cells preprocess their inputs to
  ``channels``), and every op returns ``channels`` channels.

Example:
    >>> import jax, jax.numpy as jnp
    >>> op = make_op("conv3x3", 8, 2)
    >>> x = jnp.ones((2, 10, 10, 8))
    >>> op.apply(op.init(jax.random.key(0), x), x).shape
    (2, 5, 5, 8)
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

OP_SETS: dict[str, tuple[str, ...]] = {
    "small": ("zero", "skip", "conv3x3", "relu", "tanh"),
    "darts": ("zero", "skip", "conv3x3", "conv5x5", "dil_conv3x3", "dil_conv5x5"),
}

#: ``name -> (kernel size, dilation)`` of the ReLU-conv ops.
_CONVS: dict[str, tuple[int, int]] = {
    "conv3x3": (3, 1),
    "conv5x5": (5, 1),
    "dil_conv3x3": (3, 2),
    "dil_conv5x5": (5, 2),
}
_ACTIVATIONS = {"relu": nn.relu, "tanh": jnp.tanh}


def op_names(op_set: str) -> tuple[str, ...]:
    """The ordered ops of ``op_set``, with an error that lists the known sets."""
    if op_set not in OP_SETS:
        raise ValueError(f"unknown op set {op_set!r}; known: {sorted(OP_SETS)}")
    return OP_SETS[op_set]


class Zero(nn.Module):
    """The absent edge: zeros of the output shape (strided subsampling keeps shapes right)."""

    stride: int = 1

    def __call__(self, x: jax.Array) -> jax.Array:
        return jnp.zeros_like(x[..., :: self.stride, :: self.stride, :])


class Identity(nn.Module):
    """``skip`` at stride 1."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return x


class ReLUConv(nn.Module):
    """ReLU -> Conv (SAME): the conv ops and the cells' 1x1 preprocessing."""

    channels: int
    kernel: int = 1
    stride: int = 1
    dilation: int = 1

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k, s, d = self.kernel, self.stride, self.dilation
        return nn.Conv(self.channels, (k, k), (s, s), padding="SAME", kernel_dilation=(d, d), name="conv")(nn.relu(x))


class FactorizedReduce(nn.Module):
    """DARTS' stride-2 skip: two 1x1 stride-2 convs on the input and on it shifted by a pixel.

    The shifted copy is padded back to the input size, so both halves have
    ``ceil(H / 2)`` rows for odd sizes too (DARTS' crop only works for even).
    """

    channels: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.relu(x)
        shifted = jnp.pad(x, [(0, 0)] * (x.ndim - 3) + [(0, 1), (0, 1), (0, 0)])[..., 1:, 1:, :]
        half = self.channels // 2
        a = nn.Conv(half, (1, 1), (2, 2), padding="SAME", name="conv_a")(x)
        b = nn.Conv(self.channels - half, (1, 1), (2, 2), padding="SAME", name="conv_b")(shifted)
        return jnp.concatenate([a, b], axis=-1)


class Activation(nn.Module):
    """``relu``/``tanh``; at stride 2 followed by a 2x2 max pool of stride 2."""

    fn: str
    stride: int = 1

    def __call__(self, x: jax.Array) -> jax.Array:
        y = _ACTIVATIONS[self.fn](x)
        if self.stride == 1:
            return y
        s = self.stride
        return nn.max_pool(y, (s, s), strides=(s, s), padding="SAME")


def make_op(name: str, channels: int, stride: int = 1, *, module_name: str | None = None) -> nn.Module:
    """The module of op ``name`` (see the module docstring); ``module_name`` names it in its parent."""
    if stride not in (1, 2):
        raise ValueError(f"stride must be 1 or 2, got {stride}")
    kw = {"name": module_name} if module_name is not None else {}
    if name == "zero":
        return Zero(stride, **kw)
    if name == "skip":
        return Identity(**kw) if stride == 1 else FactorizedReduce(channels, **kw)
    if name in _CONVS:
        kernel, dilation = _CONVS[name]
        return ReLUConv(channels, kernel, stride, dilation, **kw)
    if name in _ACTIVATIONS:
        return Activation(name, stride, **kw)
    known = sorted({op for ops in OP_SETS.values() for op in ops})
    raise ValueError(f"unknown op {name!r}; known: {known}")
