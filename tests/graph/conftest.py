"""Fixtures of the graph tests: test-only ops registered per module, and shared spaces."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from graphtest_support import TEST_OPS, dqn_space, prob_chain_space, regression_space, tiny_space

from discolab.graph import SearchSpace
from discolab.graph import ops as ops_lib


@pytest.fixture(scope="module")
def mixed_ops() -> Iterator[dict[str, ops_lib.Op]]:
    """Registers the test-only ops for one module and unregisters them after it."""
    for op in TEST_OPS:
        ops_lib.register(op)
    try:
        yield {op.name: op for op in TEST_OPS}
    finally:
        for op in TEST_OPS:
            ops_lib._OPS.pop(op.name, None)


@pytest.fixture(scope="module")
def spaces(mixed_ops: dict) -> dict[str, SearchSpace]:
    return {
        "regression": regression_space(),
        "dqn": dqn_space(),
        "prob_chain": prob_chain_space(),
        "tiny": tiny_space(),
    }
