"""The study: config, loop, dedupe, hurdles, executors and the SQLite store."""

from discolab.study.config import ConfigError, StudyConfig, load_config, parse_config
from discolab.study.executor import (
    Executor, LocalExecutor, StageFailure, StagedEvaluation, make_executor, register_executor, run_stages,
)
from discolab.study.loop import (
    MAX_FAILED_BATCHES, DedupeIndex, Progress, StudyError, batch_seed, create_study, plan_batch, run_study,
)
from discolab.study.store import SCHEMA_VERSION, BatchRecord, Counts, ProgramRecord, Store, StoreError

__all__ = [
    "MAX_FAILED_BATCHES", "SCHEMA_VERSION", "BatchRecord", "ConfigError", "Counts", "DedupeIndex", "Executor",
    "LocalExecutor", "ProgramRecord", "Progress", "StageFailure", "StagedEvaluation", "Store", "StoreError",
    "StudyConfig", "StudyError", "batch_seed", "create_study", "load_config", "make_executor", "parse_config",
    "plan_batch", "register_executor", "run_stages", "run_study",
]
