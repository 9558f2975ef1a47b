"""Small-scale proxies for transformer training instabilities (Wortsman et al. 2023; PAPERS.md section 5).

A small pre-LN transformer trained on a generated language, with the paper's
diagnostics (max attention logit, attention entropy, output log Z, gradient
and update RMS) and interventions (qk-layernorm, z-loss, warm-up, independent
weight decay, muParam, AdamW epsilon); learning-rate sweeps with every rate a
``vmap`` lane of one compiled call; the LR-sensitivity metric, also for any
optax optimizer (``lr_sensitivity``).

>>> from discolab.stability import sensitivity_from_losses
>>> sensitivity_from_losses([2.0, 2.0], init_loss=4.0)
0.0
"""

from discolab.stability.data import Corpus, CorpusConfig, make_corpus, sample_batch
from discolab.stability.lab import SweepResult, run_sweep, summarize
from discolab.stability.model import ModelConfig, ModelOutput, Transformer
from discolab.stability.optim import OptimizerFactory, proxy_adamw, scheduled, warmup_cosine
from discolab.stability.store import RunRecord, SweepStore
from discolab.stability.sweep import (
    PROXY_TASK, VARIANTS, SensitivityResult, SweepConfig, Variant, final_losses, load_sweep_config,
    lr_sensitivity, make_variant, register_variant, run_group, sensitivity_from_losses,
)
from discolab.stability.train import Metrics, TrainConfig, make_train

__all__ = [
    "PROXY_TASK", "VARIANTS", "Corpus", "CorpusConfig", "Metrics", "ModelConfig", "ModelOutput",
    "OptimizerFactory", "RunRecord", "SensitivityResult", "SweepConfig", "SweepResult", "SweepStore",
    "TrainConfig", "Transformer", "Variant", "final_losses", "load_sweep_config", "lr_sensitivity",
    "make_corpus", "make_train", "make_variant", "proxy_adamw", "register_variant", "run_group", "run_sweep",
    "sample_batch", "scheduled", "sensitivity_from_losses", "summarize", "warmup_cosine",
]
