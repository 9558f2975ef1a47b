"""Registry of domains: each name maps to a pydantic config model and a factory."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import pydantic

from discolab.domains.base import Domain


@dataclasses.dataclass(frozen=True)
class DomainEntry:
    config: type[pydantic.BaseModel]
    factory: Callable[[Any], Domain]


_DOMAINS: dict[str, DomainEntry] = {}


def register(name: str, config: type[pydantic.BaseModel], factory: Callable[[Any], Domain]) -> None:
    """Registers a domain; a name can be registered once."""
    if name in _DOMAINS:
        raise ValueError(f"domain {name!r} is already registered")
    _DOMAINS[name] = DomainEntry(config, factory)


def entry(name: str) -> DomainEntry:
    try:
        return _DOMAINS[name]
    except KeyError:
        raise KeyError(f"unknown domain {name!r}; known: {', '.join(sorted(_DOMAINS))}") from None


def known() -> tuple[str, ...]:
    return tuple(sorted(_DOMAINS))


def validate_config(name: str, fields: Mapping[str, Any]) -> pydantic.BaseModel:
    """Validates a domain's config section (raises pydantic.ValidationError)."""
    return entry(name).config.model_validate(dict(fields))


def make(name: str, config: pydantic.BaseModel | Mapping[str, Any] | None = None) -> Domain:
    """Builds the domain ``name`` from its (validated or raw) config."""
    e = entry(name)
    if not isinstance(config, pydantic.BaseModel):
        config = e.config.model_validate(dict(config or {}))
    return e.factory(config)
