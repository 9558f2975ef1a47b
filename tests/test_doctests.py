"""Every docstring example in the package runs and is right (public APIs carry doctests)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import discolab

MODULES = sorted(m.name for m in pkgutil.walk_packages(discolab.__path__, "discolab.") if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
