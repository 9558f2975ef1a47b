"""Functional fingerprint: hash of a program's rounded outputs on fixed random inputs.

Two programs with the same fingerprint compute the same function on those
inputs (x + x and 2 * x, say), so a study reuses the stored fitness instead of
training again (Evolving RL, section 1 of PAPERS.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from discolab.graph import composite
from discolab.graph.interpret import Inputs, batched_interpreter, encode
from discolab.graph.interpret_host import interpret_host, runs_on_host
from discolab.graph.program import Program
from discolab.graph.space import SearchSpace
from discolab.graph.types import ValueType

DIGITS = 6


def random_inputs(
    space: SearchSpace, seed: int = 0, n: int = 10, low: float = -100.0, high: float = 100.0, actions: int = 4
) -> dict[str, np.ndarray]:
    """Fixed random inputs for fingerprints: floats uniform in [low, high].

    LIST inputs get ``actions`` values per sample, PROB inputs a softmax of
    such a list, ACTION inputs a random action index.
    """
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for name, t in space.inputs:
        if t == ValueType.FLOAT:
            out[name] = rng.uniform(low, high, n)
        elif t == ValueType.LIST:
            out[name] = rng.uniform(low, high, (n, actions))
        elif t == ValueType.PROB:
            z = rng.normal(size=(n, actions))
            out[name] = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
        else:
            out[name] = rng.integers(0, actions, n).astype(np.float64)
    return {k: v.astype(np.float32) for k, v in out.items()}


def round_significant(values: np.ndarray, digits: int = DIGITS) -> np.ndarray:
    """Rounds to ``digits`` significant digits; NaN and inf are kept as they are."""
    values = np.asarray(values, np.float64)
    finite = np.isfinite(values) & (values != 0)
    exponent = np.floor(np.log10(np.abs(np.where(finite, values, 1.0))))
    scale = 10.0 ** (digits - 1 - exponent)
    rounded = np.where(finite, np.round(values * scale) / scale, values)
    return np.where(rounded == 0, 0.0, rounded)  # -0.0 and 0.0 hash alike


def hash_outputs(outputs: np.ndarray) -> str:
    """Hash of values rounded to DIGITS significant digits; NaN and inf hash as such."""
    rounded = np.array(round_significant(outputs))
    rounded[np.isnan(rounded)] = np.nan  # one NaN bit pattern
    return hashlib.sha256(np.ascontiguousarray(rounded).tobytes()).hexdigest()[:32]


def fingerprints(programs: Sequence[Program], space: SearchSpace, inputs: Inputs, pad_to: int | None = None) -> list[str]:
    """The fingerprint of each program on ``inputs``, in one batched call.

    Spaces the host interpreter runs (one value type, numpy forms for every op: regression) run
    there, with no compile; the others run the jitted interpreter (``pad_to`` sizes its batch).

    For a composite space, ``inputs`` maps each part's name to its inputs; a
    tuple's fingerprint combines its parts' (one batched call per part), so
    two tuples match only if every part computes the same function.
    """
    if not programs:
        return []
    if composite.is_composite(space):
        per_part = []
        for i, (name, part_space) in enumerate(space.parts):
            parts = [list(composite.zip_parts(p, space))[i][1] for p in programs]
            per_part.append(fingerprints(parts, part_space, inputs[name], pad_to=pad_to))
        return [hashlib.sha256("|".join(fps).encode()).hexdigest()[:32] for fps in zip(*per_part)]
    return hash_rows(program_outputs(programs, space, inputs, pad_to=pad_to))


def program_outputs(programs: Sequence[Program], space: SearchSpace, inputs: Inputs,
                    pad_to: int | None = None) -> np.ndarray:
    """``[len(programs), ...]`` outputs of a single-program space's programs on ``inputs``, in one call.

    On the host where the host interpreter runs the space (no compile), else through the jitted
    interpreter with the batch padded to ``pad_to``. The fingerprints and the ``nearest`` look-up
    (:mod:`discolab.guide.nearest`) both read programs through here.
    """
    if runs_on_host(space):
        # A few dozen points: numpy runs them in less time than one compile of the jitted interpreter takes.
        return np.asarray(interpret_host(space, encode(list(programs), space), inputs))
    encoded = encode(list(programs), space, pad_to=pad_to)
    # Forward only: the reference interpreter is the faster one without gradients (docs/interpreter.md).
    # Host arrays go to the jitted call as they are: jnp.asarray first would add a transfer per array.
    return np.asarray(batched_interpreter(space, naive=True)(encoded, inputs))[: len(programs)]


def hash_rows(outputs: np.ndarray) -> list[str]:
    """``hash_outputs`` of each row of ``outputs [P, ...]``, rounding the whole batch at once (a batch's fingerprints)."""
    rounded = round_significant(outputs)  # elementwise: the same values as row by row
    rounded[np.isnan(rounded)] = np.nan
    rounded = np.ascontiguousarray(rounded)
    return [hashlib.sha256(row.tobytes()).hexdigest()[:32] for row in rounded]
