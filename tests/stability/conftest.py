"""Tiny proxy settings shared by the stability tests: one compile costs seconds, not minutes."""

from __future__ import annotations

import pytest

from discolab.stability import CorpusConfig, ModelConfig, TrainConfig

TINY = TrainConfig(
    model=ModelConfig(vocab=32, seq_len=16, width=32, depth=1, head_dim=16),
    data=CorpusConfig(rows=8, row_len=128, candidates=8, branching=2),
    batch_size=8, num_steps=40, log_every=10, warmup_steps=5,
)


@pytest.fixture(scope="session")
def tiny() -> TrainConfig:
    return TINY
