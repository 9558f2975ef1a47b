"""Study configuration: TOML validated into frozen pydantic models.

The ``[domain]`` and ``[searcher]`` tables name a registered domain and
searcher; their other fields are validated by that entry's own config model,
so an unknown field or a bad value is reported with its full path
(``domain.ops.3``) and nothing runs.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

import pydantic

from discolab import domains, search


class ConfigError(ValueError):
    """A config that cannot be used; the message is one line naming the field."""


class StudySection(pydantic.BaseModel, frozen=True, extra="forbid"):
    """How long the search runs and how it is batched."""

    name: str = pydantic.Field("study", min_length=1, description="A label for reports.")
    seed: int = pydantic.Field(0, ge=0, le=2**63 - 1, description="Seed of the searcher and evaluations.")
    evaluations: int = pydantic.Field(
        1000, ge=1, le=100_000_000, description="Programs to evaluate (duplicates reuse a stored score and do not count)."
    )
    batch_size: int = pydantic.Field(
        100, ge=1, le=1_000_000, description="Proposals per batch: one compiled call, one store transaction."
    )
    max_proposals: int | None = pydantic.Field(
        None, ge=1, le=10_000_000_000,
        description="Stop after this many proposals, duplicates included (default: 20 x evaluations).",
    )

    tell_duplicates: bool = pydantic.Field(
        False,
        description=(
            "Tell the searcher about duplicates too (they join the population with the stored score). "
            "Off by default: clones of the best crowd the population and most later proposals are "
            "duplicates again (docs/benchmarks.md measures both)."
        ),
    )

    engine: Literal["programs", "arrays"] = pydantic.Field(
        "programs",
        description=(
            "`programs`: any domain and searcher, a Program object per proposal. `arrays`: a batch lives as "
            "integer arrays from mutation to store (regularized evolution on one-type spaces such as "
            "regression; several times less host time per proposal, docs/benchmarks.md)."
        ),
    )

    @property
    def proposal_cap(self) -> int:
        return self.max_proposals if self.max_proposals is not None else 20 * self.evaluations


class Section(pydantic.BaseModel, frozen=True, extra="allow"):
    """A named registry entry plus its own options."""

    name: str

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ExecutorSection(pydantic.BaseModel, frozen=True, extra="forbid"):
    """Where the stages of a batch run: in this process (``local``) or on a Ray cluster (``ray``).

    The study process alone writes the store whatever the executor, so a
    worker that dies takes no stored evaluation with it.
    """

    name: Literal["local", "ray"] = pydantic.Field("local", description="`local` or `ray`.")
    address: str | None = pydantic.Field(
        None, min_length=1,
        description="Ray cluster address (`ray://host:10001` or `auto`); default: start a local Ray.",
    )
    workers: int | None = pydantic.Field(
        None, ge=1, le=100_000,
        description="Ray actors a batch is split across (default: the cluster's CPUs).",
    )
    timeout_s: float | None = pydantic.Field(
        None, gt=0, le=7 * 24 * 3600,
        description="Seconds a worker may spend on its part of a batch; its candidates are then `timeout`.",
    )
    max_retries: int = pydantic.Field(
        2, ge=0, le=100, description="Times a part of a batch is resubmitted after its worker died.",
    )
    imports: tuple[str, ...] = pydantic.Field(
        (), description="Modules each worker imports first (ones that register your own domains).",
    )

    @pydantic.model_validator(mode="after")
    def _ray_only(self) -> "ExecutorSection":
        if self.name == "local":
            for field in ("address", "workers", "timeout_s"):
                if getattr(self, field) is not None:
                    raise ValueError(
                        f"{field} needs name = \"ray\" (the local executor runs in this process and cannot "
                        "interrupt a compiled call)" if field == "timeout_s" else f"{field} needs name = \"ray\""
                    )
        return self


class StudyConfig(pydantic.BaseModel, frozen=True, extra="forbid"):
    """A whole study: ``[study]``, ``[domain]``, ``[searcher]`` and ``[executor]`` tables."""

    study: StudySection = StudySection()
    domain: Section
    searcher: Section = Section(name="regularized_evolution")
    executor: ExecutorSection = ExecutorSection()

    @pydantic.model_validator(mode="after")
    def _validate_entries(self) -> "StudyConfig":
        for table, registry in (("domain", domains.registry), ("searcher", search.base)):
            section: Section = getattr(self, table)
            try:
                registry.entry(section.name)
            except KeyError as err:
                raise ConfigError(f"{table}.name: {err.args[0]}") from None
            try:
                registry.entry(section.name).config.model_validate(section.options)
            except pydantic.ValidationError as err:
                raise ConfigError(_first_error(err, prefix=table)) from None
        if self.study.engine == "arrays":
            if self.searcher.name != "regularized_evolution":
                raise ConfigError(f"study.engine: the arrays engine runs regularized_evolution, not {self.searcher.name!r}")
            if self.executor.name != "local":
                raise ConfigError("study.engine: the arrays engine scores each batch in one call in this process; "
                                  "use executor.name = \"local\"")
            if self.searcher_config().crossover_probability:
                raise ConfigError("study.engine: the arrays engine has no crossover; "
                                  "set searcher.crossover_probability = 0")
        return self

    def domain_config(self) -> pydantic.BaseModel:
        return domains.registry.entry(self.domain.name).config.model_validate(self.domain.options)

    def searcher_config(self) -> pydantic.BaseModel:
        return search.base.entry(self.searcher.name).config.model_validate(self.searcher.options)

    def make_domain(self) -> domains.Domain:
        return domains.make(self.domain.name, self.domain_config())

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def with_executor(self, executor: ExecutorSection) -> "StudyConfig":
        return self.model_copy(update={"executor": executor})

    def with_seed(self, seed: int) -> "StudyConfig":
        return self.model_copy(update={"study": self.study.model_copy(update={"seed": seed})})


def _first_error(err: pydantic.ValidationError, prefix: str = "") -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in (prefix, *first["loc"]) if p != "")
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown field"
    return f"{loc}: {msg}" if loc else msg


def parse_config(data: dict[str, Any]) -> StudyConfig:
    """Validates a config dict; raises ConfigError with one line naming the field."""
    try:
        return StudyConfig.model_validate(data)
    except ConfigError:
        raise
    except pydantic.ValidationError as err:
        cause = err.errors()[0].get("ctx", {}).get("error")
        if isinstance(cause, ConfigError):
            raise cause from None
        raise ConfigError(_first_error(err)) from None


def load_config(path: str | Path) -> StudyConfig:
    """Reads and validates a TOML config file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: malformed TOML: {err}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file") from None
    return parse_config(data)
