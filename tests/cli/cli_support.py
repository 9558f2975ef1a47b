"""Helpers shared by the CLI tests (a uniquely named module: ``conftest`` names clash across folders)."""

from __future__ import annotations


def one_error_line(result) -> str:
    """Asserts the promised failure: exit code 2 and exactly one ``error:`` line; returns it."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error:")
    return lines[0]
