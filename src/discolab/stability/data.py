"""A generated corpus: a seeded sparse second-order Markov language, so no download is needed.

Why this language: the loss of a run must fall well below ``log(vocab)`` and
be comparable across runs, and attention must matter (the instabilities under
study live in attention). Token ``x[t]`` depends on the two tokens before it:

- each token ``b`` has ``candidates`` allowed successors (a bigram model can
  learn these, bringing the loss from ``log(vocab)`` to about
  ``log(candidates)``);
- each pair ``(a, b)`` picks ``branching`` of b's candidates with Dirichlet
  weights (only a model that attends to the previous-but-one token can go
  further, down to the entropy rate, reported as ``Corpus.optimal_loss``).

The corpus is ``rows`` independent chains of ``row_len`` tokens, fully
determined by ``seed``; training windows are drawn inside the jitted loop.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np
import pydantic
from pydantic import Field

__all__ = ["Corpus", "CorpusConfig", "make_corpus", "sample_batch"]


class CorpusConfig(pydantic.BaseModel, frozen=True, extra="forbid"):
    """The generated language and corpus size (the vocabulary is the model's)."""

    seed: int = Field(0, description="Seed of the language and of the sampled corpus.")
    rows: int = Field(256, ge=1, description="Number of independent chains.")
    row_len: int = Field(2048, ge=4, description="Tokens per chain.")
    candidates: int = Field(16, ge=1, description="Allowed successors of each token (bigram structure).")
    branching: int = Field(4, ge=1, description="Successors of each token pair, drawn from the candidates.")
    concentration: float = Field(1.0, gt=0, description="Dirichlet concentration of the successor weights.")

    @pydantic.model_validator(mode="after")
    def _branching_fits(self) -> CorpusConfig:
        if self.branching > self.candidates:
            raise ValueError(f"branching {self.branching} exceeds candidates {self.candidates}")
        return self


class Corpus(NamedTuple):
    tokens: np.ndarray  # [rows, row_len] int32
    optimal_loss: float  # mean -log p(x_t | x_{t-2}, x_{t-1}) of the sampled tokens, t >= 2 (nats)


def make_corpus(cfg: CorpusConfig, vocab: int) -> Corpus:
    """Samples the corpus of ``cfg`` over ``vocab`` tokens; the same arguments give the same tokens.

    >>> c = make_corpus(CorpusConfig(rows=4, row_len=64, candidates=4, branching=2), vocab=16)
    >>> c.tokens.shape, bool(c.optimal_loss < np.log(2))
    ((4, 64), True)
    """
    if cfg.candidates > vocab:
        raise ValueError(f"candidates {cfg.candidates} exceeds vocab {vocab}")
    rng = np.random.default_rng(cfg.seed)
    # candidates[b]: b's allowed successors; successors[a, b]: the pair's subset of them.
    candidates = np.argsort(rng.random((vocab, vocab)), axis=1)[:, : cfg.candidates]
    pick = np.argsort(rng.random((vocab, vocab, cfg.candidates)), axis=2)[..., : cfg.branching]
    successors = np.take_along_axis(np.broadcast_to(candidates[None], (vocab, vocab, cfg.candidates)), pick, 2)
    weights = rng.dirichlet(np.full(cfg.branching, cfg.concentration), size=(vocab, vocab))
    cumulative = np.cumsum(weights, axis=-1)

    tokens = np.empty((cfg.rows, cfg.row_len), dtype=np.int32)
    tokens[:, :2] = rng.integers(0, vocab, size=(cfg.rows, 2))
    neg_log_p = np.empty((cfg.rows, cfg.row_len - 2))
    for t in range(2, cfg.row_len):  # vectorized over rows: row_len steps of numpy, not rows * row_len
        a, b = tokens[:, t - 2], tokens[:, t - 1]
        slot = (cumulative[a, b] < rng.random((cfg.rows, 1))).sum(axis=1).clip(max=cfg.branching - 1)
        tokens[:, t] = successors[a, b, slot]
        neg_log_p[:, t - 2] = -np.log(weights[a, b, slot])
    return Corpus(tokens=tokens, optimal_loss=float(neg_log_p.mean()))


def sample_batch(key: jax.Array, tokens: jax.Array, batch: int, seq_len: int) -> tuple[jax.Array, jax.Array]:
    """Random windows of ``seq_len + 1`` tokens -> (inputs, next-token targets), each [batch, seq_len]."""
    rows, row_len = tokens.shape
    key_row, key_start = jax.random.split(key)
    row = jax.random.randint(key_row, (batch,), 0, rows)
    start = jax.random.randint(key_start, (batch,), 0, row_len - seq_len)

    def window(r: jax.Array, s: jax.Array) -> jax.Array:
        return jax.lax.dynamic_slice(tokens[r], (s,), (seq_len + 1,))

    windows = jax.vmap(window)(row, start)
    return windows[:, :-1], windows[:, 1:]

